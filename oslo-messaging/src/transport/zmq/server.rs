//! The receiving side: one ROUTER per transport, a tokio TCP listener bound on the configured address
//! that speaks ZMTP 3.0 (the NULL mechanism) itself, and the table of this process's consumers it hands
//! messages to.
//!
//! Each connection is greeted as a ROUTER and must answer as a DEALER (anything else is closed); its
//! bytes are read by the same [`Inbound`] as the client's, with the same limits (a frame header
//! announcing a message over [`MAX_FRAME`](protocol::MAX_FRAME), or a third frame, closes that
//! connection before its bytes come, and nothing is reserved from a length a peer announces). The
//! answers go back on the connection the request came on.
//!
//! A request or notification is acknowledged (ACK) once a local consumer's bounded queue took it, and
//! refused (NACK) when no consumer here serves its target or every queue is full, so the sender can try
//! another server or report the failure. A call taken is acknowledged by its first reply when that
//! goes out within a short delay (a quarter of the ack timeout, at most 50 ms), and by an ACK at the
//! end of that delay otherwise. The receive loop never waits on a consumer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::protocol::{self, Kind, NACK_BUSY, NACK_NO_TARGET, RequestBody};
use super::zmtp::{self, Inbound, READ_CHUNK, SocketType};
use crate::remote::RemoteError;
use crate::transport::{Acker, BoxFuture, IncomingNotification, IncomingRequest, Replier};
use crate::wire::ReplyBody;
use crate::{Error, Result};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
struct RpcSub {
    id: u64,
    server: String,
    tx: mpsc::Sender<IncomingRequest>,
}

#[derive(Debug)]
struct NoteSub {
    id: u64,
    pool: String,
    tx: mpsc::Sender<IncomingNotification>,
}

/// `exchange` to `topic` to what is there (two levels, so that a lookup borrows the received names).
type ByTarget<T> = FastMap<String, FastMap<String, Vec<T>>>;

use super::FastMap;

fn find<'a, T>(map: &'a ByTarget<T>, exchange: &str, topic: &str) -> Option<&'a Vec<T>> {
    map.get(exchange).and_then(|t| t.get(topic))
}

fn remove_ids<T>(map: &mut ByTarget<T>, keep: impl Fn(&T) -> bool) {
    for topics in map.values_mut() {
        for subs in topics.values_mut() {
            subs.retain(&keep);
        }
        topics.retain(|_, v| !v.is_empty());
    }
    map.retain(|_, v| !v.is_empty());
}

#[derive(Debug, Default)]
struct Table {
    /// `exchange`, `topic` to the RPC servers of this process.
    rpc: ByTarget<RpcSub>,
    /// `exchange`, `<topic>.<priority>` to the notification listeners of this process.
    notify: ByTarget<NoteSub>,
    /// Round-robin position.
    rr: usize,
}

/// The consumers of this transport.
#[derive(Debug, Default)]
pub(crate) struct Local {
    table: Mutex<Table>,
    ids: AtomicU64,
    /// Where a requeued notification goes when no listener here takes it.
    pub(crate) fallback: OnceLock<Fallback>,
}

/// Takes a notification back: `(exchange, <topic>.<priority>, pool, context, message)`.
pub(crate) struct Fallback(
    #[allow(clippy::type_complexity)]
    pub(crate)  Box<dyn Fn(&str, &str, &str, Map<String, Value>, Map<String, Value>) + Send + Sync>,
);

impl std::fmt::Debug for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fallback")
    }
}

/// The outcome of handing a message to the local consumers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Handed {
    Taken,
    Refused(&'static str),
}

impl Local {
    pub(crate) fn add_rpc(
        &self,
        exchange: &str,
        topic: &str,
        server: &str,
        tx: mpsc::Sender<IncomingRequest>,
    ) -> u64 {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        lock(&self.table)
            .rpc
            .entry(exchange.to_owned())
            .or_default()
            .entry(topic.to_owned())
            .or_default()
            .push(RpcSub {
                id,
                server: server.to_owned(),
                tx,
            });
        id
    }

    pub(crate) fn add_notify(
        &self,
        exchange: &str,
        key: &str,
        pool: &str,
        tx: mpsc::Sender<IncomingNotification>,
    ) -> u64 {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        lock(&self.table)
            .notify
            .entry(exchange.to_owned())
            .or_default()
            .entry(key.to_owned())
            .or_default()
            .push(NoteSub {
                id,
                pool: pool.to_owned(),
                tx,
            });
        id
    }

    /// Removes consumers; their channels close once the messages already handed over are taken.
    pub(crate) fn remove(&self, ids: &[u64]) {
        let mut t = lock(&self.table);
        remove_ids(&mut t.rpc, |s| !ids.contains(&s.id));
        remove_ids(&mut t.notify, |s| !ids.contains(&s.id));
    }

    /// Removes every consumer.
    pub(crate) fn clear(&self) {
        let mut t = lock(&self.table);
        t.rpc.clear();
        t.notify.clear();
    }

    /// Hands a request to a local server of its target: the body moves into the request (a fanout
    /// copies it for each server but the last).
    fn hand_request(
        &self,
        kind: Kind,
        body: RequestBody<'_>,
        replier: Option<Arc<dyn Replier>>,
    ) -> Handed {
        let mut t = lock(&self.table);
        t.rr = t.rr.wrapping_add(1);
        let rr = t.rr;
        let Some(subs) = find(&t.rpc, &body.exchange, &body.topic) else {
            return Handed::Refused(NACK_NO_TARGET);
        };
        let RequestBody {
            topic,
            server,
            timeout,
            ctxt,
            message,
            ..
        } = body;
        if kind == Kind::Fanout {
            let mut taken = false;
            let mut body = Some((ctxt, message));
            for (i, s) in subs.iter().enumerate() {
                let (ctxt, message) = if i + 1 == subs.len() {
                    let Some(b) = body.take() else { break };
                    b
                } else {
                    let Some((c, m)) = body.as_ref() else { break };
                    (c.clone(), m.clone())
                };
                let item = IncomingRequest {
                    ctxt,
                    message,
                    client_timeout: timeout,
                    replier: None,
                };
                match s.tx.try_send(item) {
                    Ok(()) => taken = true,
                    Err(TrySendError::Full(_)) => {
                        tracing::warn!(%topic, server = %s.server, "fanout dropped for a server whose queue is full");
                    }
                    Err(TrySendError::Closed(_)) => {}
                }
            }
            return if taken {
                Handed::Taken
            } else {
                Handed::Refused(NACK_BUSY)
            };
        }
        let serves = |s: &&RpcSub| server.as_deref().is_none_or(|want| want == s.server);
        let n = subs.iter().filter(serves).count();
        if n == 0 {
            return Handed::Refused(NACK_NO_TARGET);
        }
        let mut item = IncomingRequest {
            ctxt,
            message,
            client_timeout: timeout,
            replier,
        };
        for i in 0..n {
            let Some(s) = subs.iter().filter(serves).nth((rr + i) % n) else {
                continue;
            };
            match s.tx.try_send(item) {
                Ok(()) => return Handed::Taken,
                Err(TrySendError::Full(v) | TrySendError::Closed(v)) => item = v,
            }
        }
        Handed::Refused(NACK_BUSY)
    }

    /// Hands a notification to one listener of its pool.
    pub(crate) fn hand_notification(
        self: &Arc<Self>,
        exchange: &str,
        key: &str,
        pool: &str,
        ctxt: Map<String, Value>,
        message: Map<String, Value>,
    ) -> Handed {
        let mut t = lock(&self.table);
        t.rr = t.rr.wrapping_add(1);
        let rr = t.rr;
        let Some(subs) = find(&t.notify, exchange, key) else {
            return Handed::Refused(NACK_NO_TARGET);
        };
        let candidates: Vec<&NoteSub> = subs.iter().filter(|s| s.pool == pool).collect();
        if candidates.is_empty() {
            return Handed::Refused(NACK_NO_TARGET);
        }
        let armed = Arc::new(AtomicBool::new(true));
        let mut item = IncomingNotification {
            ctxt: ctxt.clone(),
            message: message.clone(),
            acker: Box::new(ZmqAcker {
                armed: armed.clone(),
                local: self.clone(),
                exchange: exchange.to_owned(),
                key: key.to_owned(),
                pool: pool.to_owned(),
                pending: Some((ctxt, message)),
            }),
        };
        for i in 0..candidates.len() {
            let Some(s) = candidates.get((rr + i) % candidates.len()) else {
                continue;
            };
            match s.tx.try_send(item) {
                Ok(()) => return Handed::Taken,
                Err(TrySendError::Full(v) | TrySendError::Closed(v)) => item = v,
            }
        }
        // Nobody took it: the sender keeps the message, so its acker must not hand it over again.
        armed.store(false, Ordering::SeqCst);
        drop(item);
        Handed::Refused(NACK_BUSY)
    }
}

/// Settles a notification: a requeue (or a drop without a decision) hands it to a listener of the same
/// pool in this process again.
#[derive(Debug)]
struct ZmqAcker {
    /// False when the notification never reached a listener.
    armed: Arc<AtomicBool>,
    local: Arc<Local>,
    exchange: String,
    key: String,
    pool: String,
    pending: Option<(Map<String, Value>, Map<String, Value>)>,
}

impl ZmqAcker {
    /// Puts the notification back: through the transport's fallback (its queue of notifications waiting
    /// for a listener, which sends it to a listener of the pool the matchmaker knows, in this process or
    /// another, round robin), or without one to a listener of the pool in this process.
    fn redeliver(&mut self) {
        let Some((ctxt, message)) = self.pending.take() else {
            return;
        };
        if !self.armed.load(Ordering::SeqCst) {
            return;
        }
        if let Some(f) = self.local.fallback.get() {
            (f.0)(&self.exchange, &self.key, &self.pool, ctxt, message);
            return;
        }
        let local =
            self.local
                .hand_notification(&self.exchange, &self.key, &self.pool, ctxt, message);
        if local != Handed::Taken {
            tracing::warn!(key = %self.key, pool = %self.pool, "requeued notification dropped: no listener takes it");
        }
    }
}

impl Acker for ZmqAcker {
    fn ack(mut self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        self.pending = None;
        Box::pin(async { Ok(()) })
    }

    fn requeue(mut self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        self.redeliver();
        Box::pin(async { Ok(()) })
    }
}

impl Drop for ZmqAcker {
    fn drop(&mut self) {
        self.redeliver();
    }
}

/// The write side of one peer's connection, shared by its receive loop and the repliers of its calls.
///
/// Writers write the socket themselves, one whole message at a time, under a lock: what waits for a
/// slow peer is bounded by the kernel's socket buffer and by the writers waiting (the receive loop of
/// that connection, which then stops reading it, and the repliers of its calls in flight), never by a
/// queue in memory. A write that does not finish within the time limit (the peer reads nothing) or
/// fails closes the connection: the peer sees it break, and its callers fail rather than wait.
#[derive(Debug)]
pub(crate) struct Sender {
    /// `None` once the connection is closed.
    wr: tokio::sync::Mutex<Option<OwnedWriteHalf>>,
    /// Tells the receive loop to stop reading: the connection is closed.
    closed: Notify,
    dead: AtomicBool,
    /// The largest message sent: this transport's `max_message_size`, which its peers are taken to
    /// share (a larger reply would break the caller's connection).
    max_message: usize,
}

impl Sender {
    fn new(wr: OwnedWriteHalf, max_message: usize) -> Sender {
        Sender {
            wr: tokio::sync::Mutex::new(Some(wr)),
            closed: Notify::new(),
            dead: AtomicBool::new(false),
            max_message,
        }
    }

    /// Writes `wire` (whole messages) within `limit`; false when the connection is (now) closed.
    async fn send(&self, wire: &[u8], limit: Duration) -> bool {
        if self.dead.load(Ordering::SeqCst) {
            return false;
        }
        let mut guard = match tokio::time::timeout(limit, self.wr.lock()).await {
            Ok(g) => g,
            Err(_) => {
                self.close_soon();
                return false;
            }
        };
        let Some(wr) = guard.as_mut() else {
            return false;
        };
        // A write cut short leaves part of a message on the stream: the connection is closed then.
        match tokio::time::timeout(limit, wr.write_all(wire)).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::info!(error = %e, "zmq peer connection failed, closed");
                *guard = None;
                self.close_soon();
                false
            }
            Err(_) => {
                tracing::warn!(
                    ?limit,
                    "zmq peer reads nothing (its socket stayed full), connection closed"
                );
                *guard = None;
                self.close_soon();
                false
            }
        }
    }

    /// Marks the connection closed and stops its receive loop.
    fn close_soon(&self) {
        self.dead.store(true, Ordering::SeqCst);
        self.closed.notify_one();
    }

    /// Closes the connection (after the receive loop ended).
    async fn close(&self) {
        self.dead.store(true, Ordering::SeqCst);
        if let Some(mut wr) = self.wr.lock().await.take() {
            let _ = wr.shutdown().await;
        }
    }
}

/// Answers one call on the connection of its caller.
#[derive(Debug)]
struct ZmqReplier {
    sender: Arc<Sender>,
    msg_id: String,
    limit: Duration,
    /// Set by the first reply or by the ACK: whichever comes first tells the caller that this server
    /// took the call.
    confirmed: AtomicBool,
}

impl ZmqReplier {
    /// Sends the ACK unless a reply went already.
    async fn confirm(&self) {
        if self.confirmed.swap(true, Ordering::SeqCst) {
            return;
        }
        let m = protocol::answer(Kind::Ack, &self.msg_id, b"");
        if !self.sender.send(&m, self.limit).await {
            tracing::info!(msg_id = %self.msg_id, "could not acknowledge, the caller is gone");
        }
    }
}

impl Replier for ZmqReplier {
    fn send(&self, body: ReplyBody) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let body = protocol::encode_reply(&body)?;
            let mut m = protocol::answer(Kind::Reply, &self.msg_id, &body);
            // Measured as a request is: its frames with their headers, a little more than what the
            // caller counts, so that what passes here always passes there.
            if m.len() > self.sender.max_message {
                let size = m.len();
                tracing::warn!(
                    msg_id = %self.msg_id,
                    size,
                    max_message_size = self.sender.max_message,
                    "zmq reply too large, its caller gets an error instead"
                );
                let failure = RemoteError::new(
                    "MessageDeliveryFailure",
                    format!(
                        "the reply is {size} bytes, more than the transport's max_message_size ({})",
                        self.sender.max_message
                    ),
                )
                .with_module("oslo_messaging.exceptions");
                let body = protocol::encode_reply(&ReplyBody::Final(Err(failure)))?;
                m = protocol::answer(Kind::Reply, &self.msg_id, &body);
            }
            self.confirmed.store(true, Ordering::SeqCst);
            if !self.sender.send(&m, self.limit).await {
                tracing::info!(msg_id = %self.msg_id, "the caller's connection is gone, reply dropped");
            }
            Ok(())
        })
    }
}

/// The longest a call taken by a local server waits for its ACK: when its first reply (a heartbeat or
/// the result) goes out sooner, that reply confirms the delivery and no ACK is sent, which saves a
/// message and a wake-up of the caller per call.
const CONFIRM_DELAY_MAX: Duration = Duration::from_millis(50);
/// How many calls may wait for their ACK at once; past this, a call is acknowledged at once.
const CONFIRM_QUEUE_MAX: usize = 4096;

/// The calls taken by a local server whose delivery is not confirmed yet, oldest first.
#[derive(Debug)]
struct Unconfirmed {
    queue: Mutex<VecDeque<(Instant, Arc<ZmqReplier>)>>,
    wake: Notify,
    delay: Duration,
}

impl Unconfirmed {
    /// Queues a call for a late ACK; false when the queue is full (then acknowledge it now).
    fn push(&self, r: Arc<ZmqReplier>) -> bool {
        let was_empty = {
            let mut q = lock(&self.queue);
            if q.len() >= CONFIRM_QUEUE_MAX {
                return false;
            }
            q.push_back((Instant::now() + self.delay, r));
            q.len() == 1
        };
        if was_empty {
            self.notify();
        }
        true
    }

    fn notify(&self) {
        self.wake.notify_one();
    }

    /// Acknowledges the calls that got no reply within the delay. It wakes at most about four times
    /// per delay while calls come in, and not at all when none do.
    async fn run(self: Arc<Self>) {
        loop {
            let (due, next) = {
                let mut q = lock(&self.queue);
                let now = Instant::now();
                let mut due = Vec::new();
                while q.front().is_some_and(|(t, _)| *t <= now) {
                    if let Some((_, r)) = q.pop_front() {
                        due.push(r);
                    }
                }
                (due, q.front().map(|(t, _)| *t))
            };
            for r in due {
                r.confirm().await;
            }
            match next {
                Some(t) => {
                    tokio::time::sleep_until(t.max(Instant::now() + self.delay / 4)).await;
                }
                None => self.wake.notified().await,
            }
        }
    }
}

/// The bound listener and its accept loop (which owns the connections' receive loops).
#[derive(Debug)]
pub(crate) struct Router {
    /// The address announced to the matchmaker (`host:port`).
    pub(crate) addr: String,
    pub(crate) local: Arc<Local>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Router {
    /// Closes the listener and stops reading every connection; the calls in flight still reply
    /// (their repliers hold their connection's write side, closed when the last goes).
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Router {
    /// Binds `<bind>:<port>` (port 0: one the system picks) and starts accepting DEALERs, at most
    /// `max_connections` at a time, each sending messages of at most `max_message` bytes.
    pub(crate) async fn bind(
        bind: &str,
        port: u16,
        announce: &str,
        limit: Duration,
        max_connections: usize,
        max_message: usize,
    ) -> Result<Router> {
        let host = bind.trim_start_matches('[').trim_end_matches(']');
        let listener = TcpListener::bind((host, port))
            .await
            .map_err(|e| Error::Connection {
                reason: format!("cannot bind `{bind}:{port}`: {e}"),
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::Connection {
                reason: format!("cannot bind `{bind}:{port}`: {e}"),
            })?
            .port();
        let local = Arc::new(Local::default());
        let unconfirmed = Arc::new(Unconfirmed {
            queue: Mutex::default(),
            wake: Notify::new(),
            delay: (limit / 4).clamp(Duration::from_millis(1), CONFIRM_DELAY_MAX),
        });
        let tasks = [
            tokio::spawn(unconfirmed.clone().run()),
            tokio::spawn(accept(
                listener,
                local.clone(),
                unconfirmed,
                limit,
                max_connections,
                max_message,
            )),
        ];
        tracing::info!(address = %format!("{bind}:{port}"), "zmq transport listening");
        Ok(Router {
            addr: format!("{announce}:{port}"),
            local,
            tasks,
        })
    }
}

/// Accepts connections until aborted; dropping it (the listener and the set) closes the listener and
/// stops every connection's receive loop.
///
/// With `max_connections` open, a new connection is closed at once, before the handshake: each
/// connection holds a task and up to a message's worth of buffer, so their number is bounded like
/// every queue of this transport. A client whose connection closes before the handshake goes on as
/// with a server that is down (another server, or retries until its timeout).
async fn accept(
    listener: TcpListener,
    local: Arc<Local>,
    unconfirmed: Arc<Unconfirmed>,
    limit: Duration,
    max_connections: usize,
    max_message: usize,
) {
    let mut conns = JoinSet::new();
    // Whether the refusals since the set was last below the limit were logged already.
    let mut full_logged = false;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) if conns.len() >= max_connections => {
                    if !full_logged {
                        tracing::warn!(
                            %peer,
                            max_connections,
                            "zmq connection refused: the server has its most connections open"
                        );
                        full_logged = true;
                    }
                    drop(stream);
                }
                Ok((stream, peer)) => {
                    full_logged = false;
                    let (local, unconfirmed) = (local.clone(), unconfirmed.clone());
                    conns.spawn(serve(stream, peer, local, unconfirmed, limit, max_message));
                }
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "zmq accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// One DEALER's connection: the handshake, then its requests until it closes or breaks.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    local: Arc<Local>,
    unconfirmed: Arc<Unconfirmed>,
    limit: Duration,
    max_message: usize,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let sender = Arc::new(Sender::new(wr, max_message));
    let mut inbound = Inbound::new(SocketType::Dealer, max_message);
    let outcome = tokio::select! {
        r = read_loop(&mut rd, &mut inbound, &sender, &local, &unconfirmed, limit) => r,
        () = sender.closed.notified() => Ok(()),
    };
    match outcome {
        Ok(()) => tracing::debug!(%peer, "zmq peer disconnected"),
        Err(e) => {
            tracing::info!(%peer, error = %e, "zmq peer connection refused or broken, closed")
        }
    }
    sender.close().await;
}

/// The handshake within `limit`, then the peer's messages, each handled and answered; `Ok` when the
/// peer closes, an error for a peer that is not a DEALER or sends what cannot be read (a frame or a
/// message over the limits, more than two frames).
async fn read_loop(
    rd: &mut OwnedReadHalf,
    inbound: &mut Inbound,
    sender: &Arc<Sender>,
    local: &Arc<Local>,
    unconfirmed: &Unconfirmed,
    limit: Duration,
) -> Result<()> {
    let io = |e: std::io::Error| Error::Connection {
        reason: e.to_string(),
    };
    if !sender.send(&zmtp::hello(SocketType::Router), limit).await {
        return Ok(());
    }
    let greeted = tokio::time::timeout(limit, async {
        while !inbound.handshake()? {
            if rd.read_buf(inbound.buf()).await.map_err(io)? == 0 {
                return Err(zmtp::not_a(
                    SocketType::Dealer,
                    &format!("the connection closed before {}", inbound.waiting_for()),
                ));
            }
        }
        Ok(())
    })
    .await;
    match greeted {
        Ok(r) => r?,
        Err(_) => return Err(zmtp::not_a(SocketType::Dealer, "no ZMTP handshake in time")),
    }
    let mut out = Vec::new();
    loop {
        let mut handed = false;
        inbound.messages(|frames| {
            handed |= answer(frames, sender, local, unconfirmed, limit, &mut out);
        })?;
        // The answers of one read go out together.
        if !out.is_empty() {
            let sent = sender.send(&out, limit).await;
            out.clear();
            if out.capacity() > READ_CHUNK * 16 {
                out = Vec::new();
            }
            if !sent {
                return Ok(());
            }
        }
        if handed {
            // The consumer woken by the hand-over waits in this worker thread's LIFO slot, which no
            // other worker takes from, and the handler it starts would follow it there: a handler
            // that blocks its thread (it should not, but a slow one does) would then hold this
            // thread before it polls the I/O driver again, with the other workers asleep, and
            // nothing would read the sockets (the ACK just written would reach its caller only when
            // the handler returns). A no-op task takes the slot, which moves the consumer to the
            // queue other workers take from and wakes one of them. This costs a thread wake-up per
            // read that had a request acknowledged now (a cast, a fanout, a notification; about
            // half the cast throughput on two cores), and only narrows the window: handlers must
            // not block their thread. Calls are left out: their callers wait for the reply.
            drop(tokio::spawn(async {}));
        }
        if rd.read_buf(inbound.buf()).await.map_err(io)? == 0 {
            return Ok(());
        }
    }
}

/// What the server makes of a message's frames.
#[derive(Debug)]
pub(crate) enum Parsed<'a> {
    /// A request or notification: its kind, message id and body.
    Request(Kind, &'a str, RequestBody<'a>),
    /// A request whose body cannot be read: refused (NACK) under its message id.
    Malformed(&'a str, Error),
    /// Not for a server (an answer), or no readable header: ignored.
    Ignored(Option<Error>),
}

/// Reads a message's frames as the server does; never panics on what a peer sent.
pub(crate) fn parse<'a>(frames: &[&'a [u8]]) -> Parsed<'a> {
    let decoded = match protocol::decode(frames.iter().copied()) {
        Ok(d) => d,
        Err(e) => return Parsed::Ignored(Some(e)),
    };
    match decoded.kind {
        Kind::Call | Kind::Cast | Kind::Fanout | Kind::Notify => {
            match RequestBody::decode(decoded.body) {
                Ok(body) => Parsed::Request(decoded.kind, decoded.msg_id, body),
                Err(e) => Parsed::Malformed(decoded.msg_id, e),
            }
        }
        Kind::Reply | Kind::Ack | Kind::Nack => Parsed::Ignored(None),
    }
}

/// Handles one message of a peer, appending its answer (if one goes now) to `out`; whether a local
/// consumer took it and it was acknowledged now (a cast, a fanout, a notification).
fn answer(
    frames: &[&[u8]],
    sender: &Arc<Sender>,
    local: &Arc<Local>,
    unconfirmed: &Unconfirmed,
    limit: Duration,
    out: &mut Vec<u8>,
) -> bool {
    let (msg_id, handed) = match parse(frames) {
        Parsed::Request(kind, msg_id, body) => (
            msg_id,
            handle(local, sender, msg_id, kind, body, unconfirmed, limit),
        ),
        Parsed::Malformed(msg_id, e) => {
            tracing::warn!(error = %e, "malformed zmq request refused");
            (msg_id, Some(Handed::Refused("malformed")))
        }
        Parsed::Ignored(Some(e)) => {
            tracing::warn!(error = %e, "malformed zmq message ignored");
            return false;
        }
        Parsed::Ignored(None) => return false,
    };
    match handed {
        // A call whose ACK waits for its reply: its caller waits for that reply, which its handler
        // writes, so nothing is left for another thread to read meanwhile.
        None => false,
        Some(Handed::Taken) => {
            protocol::put_answer(out, Kind::Ack, msg_id, b"");
            true
        }
        Some(Handed::Refused(why)) => {
            protocol::put_answer(out, Kind::Nack, msg_id, why.as_bytes());
            false
        }
    }
}

/// Hands a message to the local consumers; `None` for a call taken whose ACK is left to its reply.
fn handle(
    local: &Arc<Local>,
    sender: &Arc<Sender>,
    msg_id: &str,
    kind: Kind,
    body: RequestBody<'_>,
    unconfirmed: &Unconfirmed,
    limit: Duration,
) -> Option<Handed> {
    if kind == Kind::Notify {
        let pool = body.pool.unwrap_or_default();
        return Some(local.hand_notification(
            &body.exchange,
            &body.topic,
            &pool,
            body.ctxt,
            body.message,
        ));
    }
    if kind != Kind::Call {
        return Some(local.hand_request(kind, body, None));
    }
    let replier = Arc::new(ZmqReplier {
        sender: sender.clone(),
        msg_id: msg_id.to_owned(),
        limit,
        confirmed: AtomicBool::new(false),
    });
    match local.hand_request(kind, body, Some(replier.clone() as Arc<dyn Replier>)) {
        Handed::Taken if unconfirmed.push(replier.clone()) => None,
        Handed::Taken => {
            replier.confirmed.store(true, Ordering::SeqCst);
            Some(Handed::Taken)
        }
        refused => Some(refused),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::zmq::client::{Answer, Conn};
    use crate::transport::zmq::protocol::{FLAG_LONG, FLAG_MORE, RequestRef};

    const LIMIT: Duration = Duration::from_secs(5);

    /// A bound ROUTER whose one RPC server (`ex`, `t`) answers every call with 42.
    async fn server() -> (Router, String) {
        server_with(LIMIT, serde_json::json!(42)).await
    }

    /// A bound ROUTER with the time limit `limit` whose one RPC server answers every call with `result`.
    async fn server_with(limit: Duration, result: Value) -> (Router, String) {
        server_of(limit, result, 1024, protocol::MAX_FRAME).await
    }

    /// A bound ROUTER as [`server_with`], holding at most `max_connections` open and taking messages
    /// of at most `max_message` bytes.
    async fn server_of(
        limit: Duration,
        result: Value,
        max_connections: usize,
        max_message: usize,
    ) -> (Router, String) {
        let router = Router::bind(
            "127.0.0.1",
            0,
            "127.0.0.1",
            limit,
            max_connections,
            max_message,
        )
        .await
        .unwrap();
        let (tx, mut rx) = mpsc::channel::<IncomingRequest>(16);
        router.local.add_rpc("ex", "t", "s", tx);
        tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                if let Some(replier) = r.replier {
                    let result = result.clone();
                    // Each reply in its own task, as the RPC server runs calls.
                    tokio::spawn(async move {
                        replier.send(ReplyBody::Final(Ok(result))).await.unwrap();
                    });
                }
            }
        });
        let addr = router.addr.clone();
        (router, addr)
    }

    fn call_wire(msg_id: &str) -> Vec<u8> {
        let (ctxt, message) = (Map::new(), serde_json::json!({"method": "m"}));
        RequestRef {
            exchange: "ex",
            topic: "t",
            server: None,
            pool: None,
            timeout: None,
            ctxt: &ctxt,
            message: message.as_object().unwrap(),
        }
        .to_wire(Kind::Call, msg_id)
        .unwrap()
    }

    /// A normal call on a new connection, through the client.
    async fn call_succeeds(addr: &str) {
        let conn = Conn::open(addr, LIMIT, protocol::MAX_FRAME).await.unwrap();
        let w = conn.request("c1", &call_wire("c1"), true).await.unwrap();
        assert!(matches!(w.answer().await, Some(Answer::Ack)));
        assert!(matches!(w.reply().await, Some(ReplyBody::Final(Ok(v))) if v == 42));
    }

    /// Connects raw, writes `first`, and reads until the server closes; what the server sent.
    async fn raw_peer(addr: &str, first: &[u8]) -> Vec<u8> {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(first).await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(LIMIT * 2, s.read_to_end(&mut got))
            .await
            .expect("the server closes the connection")
            .unwrap();
        got
    }

    /// The crash of the `zeromq` ROUTER this replaced: a frame header announcing 1 TiB made it reserve
    /// the memory and abort the process. Here that connection is closed at the header, and the server
    /// goes on.
    #[tokio::test]
    async fn a_frame_announcing_a_tebibyte_closes_that_connection_only() {
        let (_router, addr) = server().await;
        let mut first = zmtp::hello(SocketType::Dealer);
        first.push(FLAG_LONG | FLAG_MORE);
        first.extend_from_slice(&(1u64 << 40).to_be_bytes());
        first.extend_from_slice(b"some bytes of it");
        let got = raw_peer(&addr, &first).await;
        assert_eq!(got, zmtp::hello(SocketType::Router), "greeted, then closed");
        // The same at a message's second frame, and a message just over the limit.
        let mut second = zmtp::hello(SocketType::Dealer);
        second.extend_from_slice(&[FLAG_MORE, 5]);
        second.extend_from_slice(b"2.01x");
        second.push(FLAG_LONG);
        second.extend_from_slice(&(protocol::MAX_FRAME as u64).to_be_bytes());
        assert_eq!(
            raw_peer(&addr, &second).await,
            zmtp::hello(SocketType::Router)
        );
        call_succeeds(&addr).await;
    }

    /// Connections beyond the limit are closed before the handshake; once one closes, the next is
    /// served.
    #[tokio::test]
    async fn connections_beyond_the_limit_are_closed_until_one_goes() {
        let (_router, addr) = server_of(LIMIT, serde_json::json!(42), 2, protocol::MAX_FRAME).await;
        let first = Conn::open(&addr, LIMIT, protocol::MAX_FRAME).await.unwrap();
        let w = first.request("c1", &call_wire("c1"), true).await.unwrap();
        assert!(matches!(w.reply().await, Some(ReplyBody::Final(Ok(v))) if v == 42));
        // The second connection, held raw after its handshake.
        let mut second = TcpStream::connect(&addr).await.unwrap();
        second
            .write_all(&zmtp::hello(SocketType::Dealer))
            .await
            .unwrap();
        let mut greeting = vec![0; zmtp::hello(SocketType::Router).len()];
        second.read_exact(&mut greeting).await.unwrap();
        // The third: closed without a byte, and the client says so.
        let mut third = TcpStream::connect(&addr).await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(LIMIT, third.read_to_end(&mut got))
            .await
            .expect("the server closes the connection")
            .unwrap();
        assert_eq!(got, b"");
        assert!(Conn::open(&addr, LIMIT, protocol::MAX_FRAME).await.is_err());
        // The first two still work.
        let w = first.request("c2", &call_wire("c2"), true).await.unwrap();
        assert!(matches!(w.reply().await, Some(ReplyBody::Final(Ok(v))) if v == 42));
        second.write_all(&call_wire("c3")).await.unwrap();
        let mut answer = [0u8; 2];
        second.read_exact(&mut answer).await.unwrap();
        // Once one goes, a new connection is served.
        drop(second);
        tokio::time::timeout(LIMIT, async {
            loop {
                if let Ok(conn) = Conn::open(&addr, LIMIT, protocol::MAX_FRAME).await
                    && let Ok(w) = conn.request("c4", &call_wire("c4"), true).await
                    && matches!(w.reply().await, Some(ReplyBody::Final(Ok(_))))
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("a connection is served once one closed");
    }

    /// With `max_message_size` set, a request over it closes that connection at its header, one of
    /// exactly the size is served, and a reply over it reaches the caller as a failure.
    #[tokio::test]
    async fn messages_over_max_message_size() {
        let big = serde_json::json!("x".repeat(600));
        let (_router, addr) = server_of(LIMIT, big, 1024, 500).await;
        let request = call_wire("c1");
        // The request's frames: its header frame and body, each with its 2-byte frame header.
        let bodies = request.len() - 4;
        assert!(bodies < 500, "{bodies}");
        let conn = Conn::open(&addr, LIMIT, protocol::MAX_FRAME).await.unwrap();
        let w = conn.request("c1", &request, true).await.unwrap();
        match w.reply().await {
            Some(ReplyBody::Final(Err(e))) => {
                assert_eq!(e.class(), "MessageDeliveryFailure");
                assert!(
                    e.message().contains("max_message_size (500)"),
                    "{}",
                    e.message()
                );
            }
            other => panic!("{other:?}"),
        }
        // A request of 501 bytes: the header frame, then a body frame that takes it over.
        let mut over = zmtp::hello(SocketType::Dealer);
        over.extend_from_slice(&[FLAG_MORE, 5]);
        over.extend_from_slice(b"2.01x");
        over.extend_from_slice(&[FLAG_LONG]);
        over.extend_from_slice(&496u64.to_be_bytes());
        assert_eq!(
            raw_peer(&addr, &over).await,
            zmtp::hello(SocketType::Router)
        );
        // Exactly 500 bytes is read (and refused as malformed, under its id: the connection goes on).
        let mut exact = zmtp::hello(SocketType::Dealer);
        exact.extend_from_slice(&[FLAG_MORE, 5]);
        exact.extend_from_slice(b"2.01x");
        exact.extend_from_slice(&[FLAG_LONG]);
        exact.extend_from_slice(&495u64.to_be_bytes());
        exact.extend_from_slice(&[b' '; 495]);
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(&exact).await.unwrap();
        let mut greeting = vec![0; zmtp::hello(SocketType::Router).len()];
        s.read_exact(&mut greeting).await.unwrap();
        s.write_all(&request).await.unwrap();
        let mut more = [0u8; 1];
        let read = tokio::time::timeout(LIMIT, s.read(&mut more))
            .await
            .unwrap();
        assert_eq!(read.unwrap(), 1, "the connection is still served");
    }

    #[tokio::test]
    async fn a_peer_that_is_no_dealer_is_closed() {
        let (_router, addr) = server().await;
        for other in [SocketType::Router] {
            let mut first = zmtp::hello(other);
            first.extend_from_slice(&call_wire("c1"));
            assert_eq!(
                raw_peer(&addr, &first).await,
                zmtp::hello(SocketType::Router),
                "no answer to its request"
            );
        }
        // A REQ socket (as a zeromq REQ would say), and a READY without a socket type.
        for body in [
            &b"\x05READY\x0bSocket-Type\x00\x00\x00\x03REQ"[..],
            b"\x05READY",
        ] {
            let mut first = zmtp::greeting().to_vec();
            first.extend_from_slice(&[protocol::FLAG_COMMAND, body.len() as u8]);
            first.extend_from_slice(body);
            first.extend_from_slice(&call_wire("c1"));
            assert_eq!(
                raw_peer(&addr, &first).await,
                zmtp::hello(SocketType::Router)
            );
        }
        call_succeeds(&addr).await;
    }

    #[tokio::test]
    async fn garbage_instead_of_a_greeting_is_closed() {
        let (_router, addr) = server().await;
        let got = raw_peer(&addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!(got, zmtp::hello(SocketType::Router));
        // A greeting with another security mechanism.
        let mut plain = zmtp::greeting();
        plain[12..17].copy_from_slice(b"PLAIN");
        assert_eq!(
            raw_peer(&addr, &plain).await,
            zmtp::hello(SocketType::Router)
        );
        call_succeeds(&addr).await;
    }

    #[tokio::test]
    async fn a_message_of_too_many_frames_closes_the_connection() {
        let (_router, addr) = server().await;
        let mut first = zmtp::hello(SocketType::Dealer);
        // A message of three frames: closed at the second frame's header, nothing answered.
        first.extend_from_slice(&[FLAG_MORE, 5]);
        first.extend_from_slice(b"2.01x");
        first.extend_from_slice(&[FLAG_MORE, 2]);
        first.extend_from_slice(b"{}");
        first.extend_from_slice(&[0, 2]);
        first.extend_from_slice(b"{}");
        assert_eq!(
            raw_peer(&addr, &first).await,
            zmtp::hello(SocketType::Router)
        );
        call_succeeds(&addr).await;
    }

    /// A client that sends calls and reads none of their replies: what waits for it is bounded (the
    /// socket buffers and the writers of its calls), and once a write waits longer than the time
    /// limit the connection is closed; the server serves others.
    #[tokio::test]
    async fn a_peer_that_reads_nothing_is_closed() {
        let big = Value::String("x".repeat(1 << 20));
        let (_router, addr) = server_with(Duration::from_millis(300), big.clone()).await;
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(&zmtp::hello(SocketType::Dealer)).await.unwrap();
        let calls = 64;
        for i in 0..calls {
            let sent = s.write_all(&call_wire(&format!("c{i}"))).await;
            if sent.is_err() {
                break;
            }
        }
        // Let the server's writes time out, then read what it sent: it ends, well short of the 64 MiB
        // of replies.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut got = Vec::new();
        let read = tokio::time::timeout(LIMIT, s.read_to_end(&mut got)).await;
        assert!(read.is_ok(), "the connection is closed");
        assert!(got.len() < calls * (1 << 20) / 2, "{} bytes", got.len());
        assert!(
            got.len() > zmtp::hello(SocketType::Router).len(),
            "replies were written until then"
        );
        let conn = Conn::open(&addr, LIMIT, protocol::MAX_FRAME).await.unwrap();
        let w = conn.request("n", &call_wire("n"), true).await.unwrap();
        assert!(matches!(w.reply().await, Some(ReplyBody::Final(Ok(v))) if v == big));
    }

    /// A request with a body the server cannot read is refused under its id; a connection of a
    /// handshake only, closed early, leaves nothing behind.
    #[tokio::test]
    async fn a_malformed_request_is_refused_and_the_connection_goes_on() {
        let (_router, addr) = server().await;
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let mut first = zmtp::hello(SocketType::Dealer);
        first.extend_from_slice(&[FLAG_MORE, 5]);
        first.extend_from_slice(b"2.02x");
        first.extend_from_slice(&[0, 3]);
        first.extend_from_slice(b"{x}");
        first.extend_from_slice(&call_wire("c2"));
        s.write_all(&first).await.unwrap();
        let mut inbound = Inbound::new(SocketType::Router, protocol::MAX_FRAME);
        let mut got = Vec::new();
        while got.len() < 2 {
            let n = tokio::time::timeout(LIMIT, s.read_buf(inbound.buf()))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "closed");
            if inbound.handshake().unwrap() {
                inbound
                    .messages(|f| got.push(f.iter().map(|f| f.to_vec()).collect::<Vec<_>>()))
                    .unwrap();
            }
        }
        assert_eq!(got[0], [b"2.07x".to_vec(), b"malformed".to_vec()]);
        assert_eq!(got[1][0], b"2.05c2");
    }

    /// Standard ZMTP both ways: a real `zeromq` DEALER calls our ROUTER (the client side's
    /// interoperability with a real ROUTER is tested in `client`).
    #[tokio::test]
    async fn a_real_zeromq_dealer_is_served() {
        use zeromq::prelude::*;
        let (_router, addr) = server().await;
        let mut dealer = zeromq::DealerSocket::new();
        dealer.connect(&format!("tcp://{addr}")).await.unwrap();
        let wire = call_wire("z1");
        let (_, start, end) = protocol::frame_at(&wire).unwrap().unwrap();
        let mut m = zeromq::ZmqMessage::from(wire[start..end].to_vec());
        let (_, s2, e2) = protocol::frame_at(&wire[end..]).unwrap().unwrap();
        m.push_back(wire[end + s2..end + e2].to_vec().into());
        dealer.send(m).await.unwrap();
        let got = tokio::time::timeout(LIMIT, dealer.recv())
            .await
            .unwrap()
            .unwrap();
        let frames: Vec<&[u8]> = got.iter().map(|b| &b[..]).collect();
        let d = protocol::decode(frames.into_iter()).unwrap();
        assert_eq!((d.kind, d.msg_id), (Kind::Reply, "z1"));
        assert!(
            matches!(protocol::decode_reply(d.body).unwrap(), ReplyBody::Final(Ok(v)) if v == 42)
        );
    }

    /// With `OSLO_FUZZ_SEEDS_DIR` set, writes the seeds of the fuzz target `messaging_zmq_server`
    /// (a first byte, the read size less one, then what a client sends): our client's requests.
    #[test]
    fn fuzz_seeds() {
        let Some(dir) = std::env::var_os("OSLO_FUZZ_SEEDS_DIR") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let hello = zmtp::hello(SocketType::Dealer);
        let (ctxt, message) = (
            Map::new(),
            serde_json::json!({"method": "m", "args": {"x": 1}}),
        );
        let request = |kind, id: &str, server, pool| {
            RequestRef {
                exchange: "ex",
                topic: "t",
                server,
                pool,
                timeout: Some(30.0),
                ctxt: &ctxt,
                message: message.as_object().unwrap(),
            }
            .to_wire(kind, id)
            .unwrap()
        };
        let call = request(Kind::Call, "c", Some("s"), None);
        let cast = request(Kind::Cast, "k", None, None);
        let fanout = request(Kind::Fanout, "f", None, None);
        let note = request(Kind::Notify, "n", None, Some("p"));
        let seed = |name: &str, read: u8, parts: &[&[u8]]| {
            let mut bytes = vec![read];
            for p in parts {
                bytes.extend_from_slice(p);
            }
            std::fs::write(dir.join(name), bytes).unwrap();
        };
        seed("handshake", 255, &[&hello]);
        seed("handshake_bytewise", 0, &[&hello]);
        seed("call", 255, &[&hello, &call]);
        seed("all_split", 6, &[&hello, &call, &cast, &fanout, &note]);
        seed("all_merged", 255, &[&hello, &call, &cast, &fanout, &note]);
        let mut ping = vec![protocol::FLAG_COMMAND, 6];
        ping.extend_from_slice(b"\x04PING");
        ping.push(0);
        seed("ping_between", 255, &[&hello, &cast, &ping, &call]);
    }
}
