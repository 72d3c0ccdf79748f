//! The sending side: one DEALER connection per remote server address, kept while it lives.
//!
//! The connection speaks ZMTP 3.0 (the NULL mechanism, as a DEALER) to the server's `zeromq` ROUTER
//! itself, on a tokio TCP stream: a sender writes its request's frames straight into the socket, as a
//! REQ socket does, where the `zeromq` crate's DEALER would hand each message to a writer task (a task
//! hop, and from a thread outside the runtime a wake-up of a worker thread, per message). One task per
//! connection reads the answers: ACK or NACK for each request, then the replies of calls, handed to the
//! waiter registered under the message id (a call's first reply, when it comes before the ACK, stands
//! for it). When the peer goes away every waiter is released at once (a waiting call fails instead of
//! hanging) and the connection is dropped; the next send opens a new one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::FastMap;
use super::protocol::{self, Kind};
use super::zmtp::{self, Inbound, SocketType};
use crate::wire::ReplyBody;
use crate::{Error, Result};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the receiver said about a request.
#[derive(Debug)]
pub(crate) enum Answer {
    Ack,
    Nack(String),
}

/// What the sender of one request waits on: the answer (ACK or NACK) and, for a call, its replies.
/// One allocation and no channel per request.
#[derive(Debug, Default)]
pub(crate) struct Waiter {
    state: Mutex<WaiterState>,
    /// Wakes the one task waiting (a permit is kept when it is not waiting yet).
    wake: Notify,
    wants_replies: bool,
}

#[derive(Debug, Default)]
struct WaiterState {
    answer: Option<Answer>,
    replies: VecDeque<ReplyBody>,
    /// Nothing more comes: the connection broke.
    closed: bool,
}

impl Waiter {
    pub(crate) fn new(wants_replies: bool) -> Waiter {
        Waiter {
            wants_replies,
            ..Waiter::default()
        }
    }

    /// What the waiter holds: its answer, its replies, whether it was released.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn describe(&self) -> String {
        format!("{:?}", lock(&self.state))
    }

    fn update(&self, f: impl FnOnce(&mut WaiterState)) {
        f(&mut lock(&self.state));
        self.wake.notify_one();
    }

    /// The receiver's answer; `None` when the connection broke first.
    pub(crate) async fn answer(&self) -> Option<Answer> {
        loop {
            {
                let mut st = lock(&self.state);
                if let Some(a) = st.answer.take() {
                    return Some(a);
                }
                if st.closed {
                    return None;
                }
            }
            self.wake.notified().await;
        }
    }

    /// The next reply of a call; `None` when the connection broke first.
    pub(crate) async fn reply(&self) -> Option<ReplyBody> {
        loop {
            {
                let mut st = lock(&self.state);
                if let Some(r) = st.replies.pop_front() {
                    return Some(r);
                }
                if st.closed {
                    return None;
                }
            }
            self.wake.notified().await;
        }
    }
}

pub(crate) type Waiters = Arc<Mutex<FastMap<String, Arc<Waiter>>>>;

/// Releases every waiter of a broken connection: their waits end at once.
fn release_all(waiters: &Waiters) {
    let all: Vec<Arc<Waiter>> = lock(waiters).drain().map(|(_, p)| p).collect();
    for p in all {
        p.update(|st| st.closed = true);
    }
}

/// A connection to one server address.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) addr: String,
    /// Senders write the socket themselves, one whole request at a time; the kernel's socket buffer
    /// bounds what waits for a slow peer, so a slow peer makes them wait rather than memory grow.
    send: tokio::sync::Mutex<OwnedWriteHalf>,
    limit: Duration,
    waiters: Waiters,
    dead: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads more bytes into `inbound`; false at the end of the stream.
async fn fill(rd: &mut OwnedReadHalf, inbound: &mut Inbound) -> std::io::Result<bool> {
    Ok(rd.read_buf(inbound.buf()).await? > 0)
}

/// The greeting and READY exchange; leaves what came after them in `inbound`.
async fn handshake(
    rd: &mut OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    inbound: &mut Inbound,
) -> Result<()> {
    let io = |e: std::io::Error| Error::Connection {
        reason: e.to_string(),
    };
    wr.write_all(&zmtp::hello(SocketType::Dealer))
        .await
        .map_err(io)?;
    while !inbound.handshake()? {
        if !fill(rd, inbound).await.map_err(io)? {
            return Err(zmtp::not_a(
                SocketType::Router,
                &format!("the connection closed before {}", inbound.waiting_for()),
            ));
        }
    }
    Ok(())
}

impl Conn {
    /// Connects to `addr` (`host:port`) within `limit`; the server's messages may be at most
    /// `max_message` bytes.
    pub(crate) async fn open(addr: &str, limit: Duration, max_message: usize) -> Result<Conn> {
        let fail = |reason: String| Error::Connection {
            reason: format!("cannot connect to `{addr}`: {reason}"),
        };
        let stream = match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(fail(e.to_string())),
            Err(_) => return Err(fail("timed out".into())),
        };
        stream.set_nodelay(true).map_err(|e| fail(e.to_string()))?;
        let (mut rd, mut wr) = stream.into_split();
        let mut inbound = Inbound::new(SocketType::Router, max_message);
        match tokio::time::timeout(limit, handshake(&mut rd, &mut wr, &mut inbound)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(fail(e.to_string())),
            Err(_) => return Err(fail("no ZMTP handshake in time".into())),
        }
        let waiters: Waiters = Arc::default();
        let dead = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (waiters, dead, addr) = (waiters.clone(), dead.clone(), addr.to_owned());
            async move {
                if let Err(e) = read_loop(rd, inbound, &waiters).await {
                    tracing::info!(%addr, error = %e, "zmq connection failed");
                } else {
                    tracing::info!(%addr, "zmq peer disconnected");
                }
                dead.store(true, Ordering::SeqCst);
                release_all(&waiters);
            }
        });
        Ok(Conn {
            addr: addr.to_owned(),
            send: tokio::sync::Mutex::new(wr),
            limit,
            waiters,
            dead,
            task,
        })
    }

    /// Whether the connection broke.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst) || self.task.is_finished()
    }

    /// Sends a request (its frames from [`RequestRef::to_wire`](protocol::RequestRef::to_wire), for
    /// `msg_id`); the answer (ACK or NACK) and, when `wants_replies`, the replies come to the returned
    /// [`Waiter`]. A call's first reply stands for its ACK: it is queued, then the answer is ACK.
    pub(crate) async fn request(
        &self,
        msg_id: &str,
        wire: &[u8],
        wants_replies: bool,
    ) -> Result<Arc<Waiter>> {
        if self.is_dead() {
            return Err(Error::Connection {
                reason: format!("the connection to `{}` is closed", self.addr),
            });
        }
        let pending = Arc::new(Waiter::new(wants_replies));
        lock(&self.waiters).insert(msg_id.to_owned(), pending.clone());
        // A write cut short (by the time limit, or the sender dropping this future) leaves part of a
        // message on the stream: the connection is then dropped, never written again.
        let cut = CutShort(&self.dead);
        let sent = tokio::time::timeout(self.limit, async {
            self.send.lock().await.write_all(wire).await
        })
        .await;
        std::mem::forget(cut);
        match sent {
            Ok(Ok(())) => Ok(pending),
            Ok(Err(e)) => {
                self.forget(msg_id);
                self.dead.store(true, Ordering::SeqCst);
                Err(Error::Connection {
                    reason: format!("sending to `{}` failed: {e}", self.addr),
                })
            }
            Err(_) => {
                self.forget(msg_id);
                self.dead.store(true, Ordering::SeqCst);
                Err(Error::Connection {
                    reason: format!(
                        "`{}` takes no more messages (its socket stayed full for {:?})",
                        self.addr, self.limit
                    ),
                })
            }
        }
    }

    /// Stops waiting for anything about `msg_id`.
    pub(crate) fn forget(&self, msg_id: &str) {
        lock(&self.waiters).remove(msg_id);
    }
}

/// Marks the connection dead when dropped: forgotten once a write completed.
struct CutShort<'a>(&'a AtomicBool);

impl Drop for CutShort<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Reads the peer's messages and hands them out, until the stream ends (`Ok`) or breaks.
async fn read_loop(mut rd: OwnedReadHalf, mut inbound: Inbound, waiters: &Waiters) -> Result<()> {
    loop {
        inbound.messages(|frames| dispatch(waiters, frames))?;
        if !fill(&mut rd, &mut inbound)
            .await
            .map_err(|e| Error::Connection {
                reason: e.to_string(),
            })?
        {
            return Ok(());
        }
    }
}

/// Hands a server's message (its frames) to the waiter it is for.
pub(crate) fn dispatch(waiters: &Waiters, frames: &[&[u8]]) {
    let d = match protocol::decode(frames.iter().copied()) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "malformed zmq answer ignored");
            return;
        }
    };
    match d.kind {
        Kind::Ack | Kind::Nack => {
            let pending = {
                let mut w = lock(waiters);
                let Some(p) = w.get(d.msg_id) else {
                    return;
                };
                let p = p.clone();
                if d.kind == Kind::Nack || !p.wants_replies {
                    w.remove(d.msg_id);
                }
                p
            };
            let answer = if d.kind == Kind::Ack {
                Answer::Ack
            } else {
                Answer::Nack(String::from_utf8_lossy(d.body).into_owned())
            };
            pending.update(|st| {
                if st.answer.is_none() {
                    st.answer = Some(answer);
                }
            });
        }
        Kind::Reply => {
            // Decoded before taking the lock, which the senders share.
            let reply = match protocol::decode_reply(d.body) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "malformed zmq reply ignored");
                    return;
                }
            };
            let last = matches!(reply, ReplyBody::Final(_));
            let pending = {
                let mut w = lock(waiters);
                let Some(p) = w.get(d.msg_id) else {
                    tracing::debug!(msg_id = %d.msg_id, "reply for no waiting call dropped");
                    return;
                };
                if !p.wants_replies {
                    return;
                }
                let p = p.clone();
                if last {
                    w.remove(d.msg_id);
                }
                p
            };
            // A reply before any ACK confirms the delivery: the server took the call and answered.
            pending.update(|st| {
                // A heartbeat behind another says nothing more: a waiter holds at most one, then the
                // final reply (after which it is gone from the map), however fast a server sends.
                let repeated = matches!(reply, ReplyBody::Heartbeat)
                    && matches!(st.replies.back(), Some(ReplyBody::Heartbeat));
                if !repeated {
                    st.replies.push_back(reply);
                }
                if st.answer.is_none() {
                    st.answer = Some(Answer::Ack);
                }
            });
        }
        Kind::Call | Kind::Cast | Kind::Fanout | Kind::Notify => {
            tracing::warn!("a server sent a request on a client connection, ignored");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::zmq::protocol::{FLAG_COMMAND, FLAG_MORE};
    use crate::transport::zmq::zmtp::{READ_CHUNK, greeting, ready_from};

    fn ready() -> Vec<u8> {
        zmtp::ready(SocketType::Dealer)
    }

    fn ready_from_router(body: &[u8]) -> bool {
        ready_from(body, SocketType::Router)
    }

    #[test]
    fn ready_is_a_dealers_and_only_a_routers_is_taken() {
        let ours = ready();
        assert_eq!(ours[0], FLAG_COMMAND);
        assert_eq!(usize::from(ours[1]), ours.len() - 2);
        assert!(!ready_from_router(&ours[2..]), "a DEALER's READY");
        let router = ours[2..]
            .strip_suffix(b"\x00\x00\x00\x06DEALER")
            .map(|head| [head, b"\x00\x00\x00\x06ROUTER"].concat())
            .unwrap();
        assert!(ready_from_router(&router));
        let mut with_identity = router.clone();
        with_identity.extend_from_slice(b"\x08Identity\x00\x00\x00\x01x");
        assert!(ready_from_router(&with_identity));
        for bad in [
            &b""[..],
            b"\x05READ",
            b"\x05READY\x0bSocket-Type\x00\x00\x00\x09ROUTER",
        ] {
            assert!(!ready_from_router(bad));
        }
        let g = greeting();
        assert_eq!(
            (g[0], g[9], g[10], &g[12..16]),
            (0xff, 0x7f, 3, &b"NULL"[..])
        );
    }

    /// A ROUTER's greeting and READY, as a DEALER reads them.
    fn router_hello() -> Vec<u8> {
        let mut hello = greeting().to_vec();
        let ours = ready();
        hello.extend_from_slice(&ours[..ours.len() - 6]);
        hello.extend_from_slice(b"ROUTER");
        hello
    }

    /// An [`Inbound`] past the handshake, given `bytes` to read; the messages it hands out, or its error.
    fn read_after_handshake(inbound: &mut Inbound, bytes: &[u8]) -> Result<Vec<Vec<Vec<u8>>>> {
        if !inbound.greeted() {
            inbound.buf().extend_from_slice(&router_hello());
            assert!(inbound.handshake().unwrap());
        }
        inbound.buf().extend_from_slice(bytes);
        let mut got = Vec::new();
        inbound.messages(|frames| got.push(frames.iter().map(|f| f.to_vec()).collect()))?;
        Ok(got)
    }

    fn long_header(flags: u8, len: u64) -> Vec<u8> {
        let mut h = vec![flags | protocol::FLAG_LONG];
        h.extend_from_slice(&len.to_be_bytes());
        h
    }

    /// A peer announcing a large frame makes nothing be reserved for it: the buffer holds what came.
    /// Past the caps (a frame or a message over `MAX_FRAME`, a command over `MAX_COMMAND`, a third
    /// frame) the connection breaks at the header, before the bytes.
    #[test]
    fn lengths_announced_reserve_nothing_and_past_the_caps_break_at_the_header() {
        let max = protocol::MAX_FRAME as u64;
        let mut inbound = Inbound::new(SocketType::Router, protocol::MAX_FRAME);
        let mut start = long_header(0, max);
        start.extend_from_slice(b"2.06k");
        assert!(
            read_after_handshake(&mut inbound, &start)
                .unwrap()
                .is_empty()
        );
        assert!(inbound.capacity() < 64 * 1024, "{}", inbound.capacity());

        for bad in [
            long_header(0, max + 1),
            long_header(0, u64::MAX),
            long_header(FLAG_COMMAND, protocol::MAX_COMMAND as u64 + 1),
            // A header frame and a body announced, over the cap together.
            [frames(&[(b"2.05c", FLAG_MORE)]), long_header(0, max - 4)].concat(),
            // A second frame that says more follow.
            frames(&[(b"2.05c", FLAG_MORE), (b"{}", FLAG_MORE)]),
        ] {
            let mut inbound = Inbound::new(SocketType::Router, protocol::MAX_FRAME);
            let e = read_after_handshake(&mut inbound, &bad).unwrap_err();
            assert!(matches!(e, Error::Malformed(_)), "{bad:?}: {e}");
        }
        // Exactly at the caps is fine.
        for fine in [
            [frames(&[(b"2.05c", FLAG_MORE)]), long_header(0, max - 5)].concat(),
            long_header(FLAG_COMMAND, protocol::MAX_COMMAND as u64),
        ] {
            let mut inbound = Inbound::new(SocketType::Router, protocol::MAX_FRAME);
            assert!(
                read_after_handshake(&mut inbound, &fine)
                    .unwrap()
                    .is_empty()
            );
        }
    }

    /// A large message read, the buffer gives its room back.
    #[test]
    fn the_room_of_a_large_message_is_given_back() {
        let mut inbound = Inbound::new(SocketType::Router, protocol::MAX_FRAME);
        let body = vec![b' '; 4 << 20];
        let mut wire = frames(&[(b"2.05c", FLAG_MORE)]);
        protocol::put_frame_header(&mut wire, body.len(), false);
        let (head, tail) = body.split_at(1 << 20);
        wire.extend_from_slice(head);
        assert!(
            read_after_handshake(&mut inbound, &wire)
                .unwrap()
                .is_empty()
        );
        let got = read_after_handshake(&mut inbound, tail).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0][1].len(), body.len());
        assert!(
            inbound.capacity() <= READ_CHUNK * 2,
            "{}",
            inbound.capacity()
        );
    }

    /// Heartbeats coming faster than a call reads them are held once.
    #[test]
    fn heartbeats_are_held_once() {
        let waiters: Waiters = Arc::default();
        let call = Arc::new(Waiter::new(true));
        lock(&waiters).insert("c".into(), call.clone());
        let beat = protocol::encode_reply(&ReplyBody::Heartbeat).unwrap();
        for _ in 0..1000 {
            dispatch(&waiters, &[b"2.05c", &beat]);
        }
        assert_eq!(lock(&call.state).replies.len(), 1);
        let last = protocol::encode_reply(&ReplyBody::Final(Ok(serde_json::Value::Null))).unwrap();
        dispatch(&waiters, &[b"2.05c", &last]);
        dispatch(&waiters, &[b"2.05c", &beat]);
        assert_eq!(lock(&call.state).replies.len(), 2);
        assert!(lock(&waiters).is_empty());
    }

    /// A ROUTER played by hand: greets, reads the DEALER's greeting and READY, then writes `answer`
    /// one byte at a time and closes.
    async fn fake_router(answer: Vec<u8>) -> (String, JoinHandle<Vec<u8>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let ours = ready();
            s.write_all(&router_hello()).await.unwrap();
            let mut got = vec![0u8; 64 + ours.len()];
            s.read_exact(&mut got).await.unwrap();
            for b in answer {
                s.write_all(&[b]).await.unwrap();
                s.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            // What the DEALER sent after the handshake, until it closes.
            let mut rest = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_millis(200), s.read_to_end(&mut rest)).await;
            rest
        });
        (addr, task)
    }

    fn frames(parts: &[(&[u8], u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (data, flags) in parts {
            out.push(*flags);
            out.push(data.len() as u8);
            out.extend_from_slice(data);
        }
        out
    }

    #[tokio::test]
    async fn answers_are_read_across_any_read_boundary() {
        let reply = protocol::encode_reply(&ReplyBody::Final(Ok(serde_json::json!(42)))).unwrap();
        // A command between messages (a ZMTP 3.1 PING, say), an ACK for a cast, a NACK for another, a
        // reply standing for a call's ACK, an answer nobody waits for.
        let answer = [
            frames(&[(b"\x04PING\x00\x00", FLAG_COMMAND)]),
            frames(&[(b"2.06cast1", 0)]),
            frames(&[(b"2.07cast2", FLAG_MORE), (b"busy", 0)]),
            frames(&[(b"2.05call1", FLAG_MORE), (&reply, 0)]),
            frames(&[(b"2.06nobody", 0)]),
        ]
        .concat();
        let (addr, router) = fake_router(answer).await;
        let conn = Conn::open(&addr, Duration::from_secs(5), protocol::MAX_FRAME)
            .await
            .unwrap();
        let cast1 = conn.request("cast1", b"", false).await.unwrap();
        let cast2 = conn.request("cast2", b"", false).await.unwrap();
        let call1 = conn.request("call1", b"", true).await.unwrap();
        let call2 = conn.request("call2", b"", true).await.unwrap();
        assert!(matches!(cast1.answer().await, Some(Answer::Ack)));
        assert!(matches!(cast2.answer().await, Some(Answer::Nack(why)) if why == "busy"));
        assert!(matches!(call1.answer().await, Some(Answer::Ack)));
        assert!(matches!(call1.reply().await, Some(ReplyBody::Final(Ok(v))) if v == 42));
        // The peer closes: the waiter that got nothing is released, and the connection is dead.
        assert!(call2.answer().await.is_none());
        assert!(call2.reply().await.is_none());
        assert!(conn.is_dead());
        assert!(conn.request("late", b"", false).await.is_err());
        drop(conn);
        assert!(
            router.await.unwrap().is_empty(),
            "the empty requests wrote nothing"
        );
    }

    #[tokio::test]
    async fn a_peer_that_is_no_router_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                .await
                .unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink).await;
        });
        let e = Conn::open(&addr, Duration::from_secs(5), protocol::MAX_FRAME)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not a ZeroMQ ROUTER"), "{e}");
    }

    /// Splits `wire` (what follows the handshake) into its messages' bytes.
    fn message_spans(wire: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let (mut at, mut from) = (0, 0);
        while let Some((flags, _, end)) = protocol::frame_at(&wire[at..]).unwrap() {
            at += end;
            if flags & FLAG_MORE == 0 {
                out.push(&wire[from..at]);
                from = at;
            }
        }
        assert_eq!(at, wire.len());
        out
    }

    /// The frames of `wire` behind the ROUTER identity `peer`, for a real `zeromq` ROUTER to send.
    fn to_zmq(peer: &[u8], wire: &[u8]) -> zeromq::ZmqMessage {
        let mut m = zeromq::ZmqMessage::from(peer.to_vec());
        let mut at = 0;
        while let Some((_, start, end)) = protocol::frame_at(&wire[at..]).unwrap() {
            m.push_back(wire[at + start..at + end].to_vec().into());
            at += end;
        }
        m
    }

    /// What a real `zeromq` ROUTER sends a DEALER: its greeting and READY, then the answers our server
    /// writes (`protocol::answer`) to the requests our client writes (`RequestRef::to_wire`), read back
    /// through [`Inbound`] and `dispatch`. With `OSLO_FUZZ_SEEDS_DIR` set, the bytes are written there
    /// as the seeds of the fuzz target `messaging_zmq_frames` (a first byte, the read size less one,
    /// then the stream).
    #[tokio::test]
    async fn a_real_routers_bytes_are_read_and_make_the_fuzz_seeds() {
        use zeromq::prelude::*;
        let mut router = zeromq::RouterSocket::new();
        let zeromq::Endpoint::Tcp(_, port) = router.bind("tcp://127.0.0.1:0").await.unwrap() else {
            panic!("a tcp endpoint");
        };
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let (ctxt, message) = (
            serde_json::Map::new(),
            serde_json::json!({"method": "m", "args": {"x": 1}}),
        );
        let request = |server| protocol::RequestRef {
            exchange: "ex",
            topic: "t",
            server,
            pool: None,
            timeout: Some(30.0),
            ctxt: &ctxt,
            message: message.as_object().unwrap(),
        };
        let requests = [
            request(Some("s")).to_wire(Kind::Call, "c").unwrap(),
            request(None).to_wire(Kind::Cast, "k").unwrap(),
        ]
        .concat();
        let mut hello = greeting().to_vec();
        hello.extend_from_slice(&ready());
        hello.extend_from_slice(&requests);
        s.write_all(&hello).await.unwrap();
        // The server side reads them as its receiving task does.
        let mut peer = None;
        for want in [Kind::Call, Kind::Cast] {
            let m = router.recv().await.unwrap();
            let frames: Vec<&[u8]> = m.iter().skip(1).map(|b| &b[..]).collect();
            let d = protocol::decode(frames.into_iter()).unwrap();
            assert_eq!(d.kind, want);
            protocol::RequestBody::decode(d.body).unwrap();
            peer = Some(m.get(0).unwrap().to_vec());
        }
        let peer = peer.unwrap();
        let reply = |r: &ReplyBody| protocol::encode_reply(r).unwrap();
        let answers = [
            to_zmq(&peer, &protocol::answer(Kind::Ack, "k", b"")),
            to_zmq(
                &peer,
                &protocol::answer(Kind::Reply, "c", &reply(&ReplyBody::Heartbeat)),
            ),
            to_zmq(
                &peer,
                &protocol::answer(Kind::Reply, "c", &reply(&ReplyBody::Heartbeat)),
            ),
            to_zmq(
                &peer,
                &protocol::answer(
                    Kind::Reply,
                    "c",
                    &reply(&ReplyBody::Final(Ok(serde_json::json!({"r": [1, "two"]})))),
                ),
            ),
            to_zmq(&peer, &protocol::answer(Kind::Nack, "x", b"busy")),
        ];
        for a in answers {
            router.send(a).await.unwrap();
        }
        // Read until the five answers came.
        let mut stream = Vec::new();
        let mut inbound = Inbound::new(SocketType::Router, protocol::MAX_FRAME);
        let mut got = Vec::new();
        let waiters: Waiters = Arc::default();
        let call = Arc::new(Waiter::new(true));
        let cast = Arc::new(Waiter::new(false));
        lock(&waiters).insert("c".into(), call.clone());
        lock(&waiters).insert("k".into(), cast.clone());
        while got.len() < 5 {
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "the ROUTER closed");
            stream.extend_from_slice(&chunk[..n]);
            inbound.buf().extend_from_slice(&chunk[..n]);
            if inbound.handshake().unwrap() {
                inbound
                    .messages(|frames| {
                        got.push(protocol::decode(frames.iter().copied()).unwrap().kind);
                        dispatch(&waiters, frames);
                    })
                    .unwrap();
            }
        }
        assert_eq!(
            got,
            [Kind::Ack, Kind::Reply, Kind::Reply, Kind::Reply, Kind::Nack]
        );
        assert!(matches!(cast.answer().await, Some(Answer::Ack)));
        assert!(matches!(call.answer().await, Some(Answer::Ack)));
        // The second heartbeat behind the first adds nothing.
        assert!(matches!(call.reply().await, Some(ReplyBody::Heartbeat)));
        assert!(matches!(call.reply().await, Some(ReplyBody::Final(Ok(v))) if v["r"][1] == "two"));
        assert!(lock(&call.state).replies.is_empty());
        assert!(lock(&waiters).is_empty(), "answered waiters are forgotten");

        let Some(dir) = std::env::var_os("OSLO_FUZZ_SEEDS_DIR") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ready_end = 64 + protocol::frame_at(&stream[64..]).unwrap().unwrap().2;
        let (handshake, after) = stream.split_at(ready_end);
        let answers = message_spans(after);
        let seed = |name: &str, read: u8, parts: &[&[u8]]| {
            let mut bytes = vec![read];
            for p in parts {
                bytes.extend_from_slice(p);
            }
            std::fs::write(dir.join(name), bytes).unwrap();
        };
        seed("handshake", 255, &[handshake]);
        seed("handshake_bytewise", 0, &[handshake]);
        seed("ack", 255, &[handshake, answers[0]]);
        seed(
            "call_replies_split",
            4,
            &[handshake, answers[1], answers[2], answers[3]],
        );
        seed("nack", 255, &[handshake, answers[4]]);
        seed("all_merged", 255, &[&stream]);
        seed("all_split", 6, &[&stream]);
        // What a client writes, read as messages (the server side's decoding runs on each).
        seed("requests", 255, &[handshake, &requests]);
    }
}
