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

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::FastHasher;
use super::protocol::{self, FLAG_COMMAND, FLAG_MORE, Kind};
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

type Waiters = Arc<Mutex<HashMap<String, Arc<Waiter>, BuildHasherDefault<FastHasher>>>>;

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

/// Our ZMTP 3.0 greeting: the signature, version 3.0, the NULL mechanism, not a server.
fn greeting() -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = 3;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// The READY command of a DEALER (`Socket-Type` only: the ROUTER gives the connection an identity).
fn ready() -> Vec<u8> {
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&6u32.to_be_bytes());
    body.extend_from_slice(b"DEALER");
    let mut out = vec![FLAG_COMMAND, body.len() as u8];
    out.extend_from_slice(&body);
    out
}

/// Whether a READY command body comes from a ROUTER (the only socket type a DEALER talks to here).
fn ready_from_router(body: &[u8]) -> bool {
    let Some(rest) = body.strip_prefix(b"\x05READY") else {
        return false;
    };
    let mut rest = rest;
    while let Some((&n, r)) = rest.split_first() {
        let Some((name, r)) = r.split_at_checked(usize::from(n)) else {
            return false;
        };
        let Some((len, r)) = r.split_at_checked(4) else {
            return false;
        };
        let mut l = [0u8; 4];
        l.copy_from_slice(len);
        let Some((value, r)) = r.split_at_checked(u32::from_be_bytes(l) as usize) else {
            return false;
        };
        if name.eq_ignore_ascii_case(b"Socket-Type") {
            return value == b"ROUTER";
        }
        rest = r;
    }
    false
}

/// Reads more bytes into `buf`; false at the end of the stream.
async fn fill(rd: &mut OwnedReadHalf, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.reserve(8192);
    Ok(rd.read_buf(buf).await? > 0)
}

/// The greeting and READY exchange; leaves what came after them in `buf`.
async fn handshake(
    rd: &mut OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let io = |e: std::io::Error| Error::Connection {
        reason: e.to_string(),
    };
    let bad = |what: &str| Error::Connection {
        reason: format!("not a ZeroMQ ROUTER: {what}"),
    };
    let mut hello = greeting().to_vec();
    hello.extend_from_slice(&ready());
    wr.write_all(&hello).await.map_err(io)?;
    while buf.len() < 64 {
        if !fill(rd, buf).await.map_err(io)? {
            return Err(bad("the connection closed during the greeting"));
        }
        // Something else than ZMTP shows in its first bytes: refuse it then, not at the time limit.
        if buf.first().is_some_and(|b| *b != 0xff) || buf.get(9).is_some_and(|b| *b != 0x7f) {
            return Err(bad("no ZMTP greeting"));
        }
    }
    let g = buf.get(..64).unwrap_or_default();
    if g.first() != Some(&0xff) || g.get(9) != Some(&0x7f) || g.get(10).is_none_or(|v| *v < 3) {
        return Err(bad("no ZMTP 3 greeting"));
    }
    if g.get(12..32)
        .is_none_or(|m| !m.starts_with(b"NULL") || m[4..].iter().any(|b| *b != 0))
    {
        return Err(bad("a security mechanism other than NULL"));
    }
    buf.drain(..64);
    let (flags, start, end) = loop {
        if let Some(f) = protocol::frame_at(buf)? {
            break f;
        }
        if !fill(rd, buf).await.map_err(io)? {
            return Err(bad("the connection closed before READY"));
        }
    };
    if flags & FLAG_COMMAND == 0 || !ready_from_router(buf.get(start..end).unwrap_or_default()) {
        return Err(bad("no READY from a ROUTER"));
    }
    buf.drain(..end);
    Ok(())
}

impl Conn {
    /// Connects to `addr` (`host:port`) within `limit`.
    pub(crate) async fn open(addr: &str, limit: Duration) -> Result<Conn> {
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
        let mut buf = Vec::with_capacity(8192);
        match tokio::time::timeout(limit, handshake(&mut rd, &mut wr, &mut buf)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(fail(e.to_string())),
            Err(_) => return Err(fail("no ZMTP handshake in time".into())),
        }
        let waiters: Waiters = Arc::default();
        let dead = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (waiters, dead, addr) = (waiters.clone(), dead.clone(), addr.to_owned());
            async move {
                if let Err(e) = read_loop(rd, buf, &waiters).await {
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
        let pending = Arc::new(Waiter {
            wants_replies,
            ..Waiter::default()
        });
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
async fn read_loop(mut rd: OwnedReadHalf, mut buf: Vec<u8>, waiters: &Waiters) -> Result<()> {
    // Where the frames of the message being read are, reused from message to message.
    let mut frames: Vec<(usize, usize)> = Vec::with_capacity(8);
    loop {
        let mut pos = 0;
        let mut at = 0;
        while let Some((flags, start, end)) = protocol::frame_at(buf.get(at..).unwrap_or_default())?
        {
            let (start, end) = (at + start, at + end);
            at = end;
            if flags & FLAG_COMMAND != 0 {
                // Commands between messages (a ZMTP 3.1 PING, say) carry nothing for us.
                if frames.is_empty() {
                    pos = at;
                }
                continue;
            }
            frames.push((start, end));
            if flags & FLAG_MORE == 0 {
                dispatch(
                    waiters,
                    frames
                        .iter()
                        .map(|&(a, b)| buf.get(a..b).unwrap_or_default()),
                );
                frames.clear();
                pos = at;
            }
        }
        frames.clear();
        buf.drain(..pos);
        if !fill(&mut rd, &mut buf)
            .await
            .map_err(|e| Error::Connection {
                reason: e.to_string(),
            })?
        {
            return Ok(());
        }
    }
}

fn dispatch<'a>(waiters: &Waiters, frames: impl Iterator<Item = &'a [u8]>) {
    let d = match protocol::decode(frames) {
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
                st.replies.push_back(reply);
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

    /// A ROUTER played by hand: greets, reads the DEALER's greeting and READY, then writes `answer`
    /// one byte at a time and closes.
    async fn fake_router(answer: Vec<u8>) -> (String, JoinHandle<Vec<u8>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut hello = greeting().to_vec();
            let ours = ready();
            hello.extend_from_slice(&ours[..ours.len() - 6]);
            hello.extend_from_slice(b"ROUTER");
            s.write_all(&hello).await.unwrap();
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
        let conn = Conn::open(&addr, Duration::from_secs(5)).await.unwrap();
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
        let e = Conn::open(&addr, Duration::from_secs(5)).await.unwrap_err();
        assert!(e.to_string().contains("not a ZeroMQ ROUTER"), "{e}");
    }
}
