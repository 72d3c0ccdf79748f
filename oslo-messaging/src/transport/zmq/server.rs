//! The receiving side: one ROUTER socket per transport, bound on the configured address, and the table
//! of this process's consumers it hands messages to.
//!
//! A request or notification is acknowledged (ACK) once a local consumer's bounded queue took it, and
//! refused (NACK) when no consumer here serves its target or every queue is full, so the sender can try
//! another server or report the failure. A call taken is acknowledged by its first reply when that
//! goes out within a short delay (a quarter of the ack timeout, at most 50 ms), and by an ACK at the
//! end of that delay otherwise. The receive loop never waits on a consumer.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::Notify;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use zeromq::prelude::*;
use zeromq::{Endpoint, RouterRecvHalf, RouterSendHalf, RouterSocket, ZmqMessage};

use super::protocol::{self, Kind, NACK_BUSY, NACK_NO_TARGET, RequestBody};
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

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<super::FastHasher>>;

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

/// The send half of the ROUTER, shared by the receive loop and the repliers.
#[derive(Clone)]
pub(crate) struct Sender(RouterSendHalf);

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouterSendHalf")
    }
}

impl Sender {
    /// Sends `m` (which starts with the peer's identity frame) within `limit`.
    async fn send(&self, m: ZmqMessage, limit: Duration) -> bool {
        let mut s = self.0.clone();
        matches!(tokio::time::timeout(limit, s.send(m)).await, Ok(Ok(())))
    }
}

/// Answers one call through the ROUTER, to the caller's connection.
#[derive(Debug)]
struct ZmqReplier {
    sender: Sender,
    peer: ZmqMessage,
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
        let m = protocol::message(Some(&self.peer), Kind::Ack, &self.msg_id, Vec::new());
        if !self.sender.send(m, self.limit).await {
            tracing::info!(msg_id = %self.msg_id, "could not acknowledge, the caller is gone");
        }
    }
}

impl Replier for ZmqReplier {
    fn send(&self, body: ReplyBody) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let body = protocol::encode_reply(&body)?;
            self.confirmed.store(true, Ordering::SeqCst);
            let m = protocol::message(Some(&self.peer), Kind::Reply, &self.msg_id, body);
            if !self.sender.send(m, self.limit).await {
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

/// The bound ROUTER socket and its receive loop.
#[derive(Debug)]
pub(crate) struct Router {
    /// The address announced to the matchmaker (`host:port`).
    pub(crate) addr: String,
    pub(crate) local: Arc<Local>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Router {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Router {
    /// Binds `tcp://<bind>:<port>` (port 0: one the system picks) and starts receiving.
    pub(crate) async fn bind(
        bind: &str,
        port: u16,
        announce: &str,
        limit: Duration,
    ) -> Result<Router> {
        let mut socket = RouterSocket::new();
        let endpoint = socket
            .bind(&format!("tcp://{bind}:{port}"))
            .await
            .map_err(|e| Error::Connection {
                reason: format!("cannot bind `{bind}:{port}`: {e}"),
            })?;
        let port = match endpoint {
            Endpoint::Tcp(_, p) => p,
            _ => {
                return Err(Error::Configuration(
                    "only tcp endpoints are supported".into(),
                ));
            }
        };
        let (send, recv) = socket.split();
        let local = Arc::new(Local::default());
        let unconfirmed = Arc::new(Unconfirmed {
            queue: Mutex::default(),
            wake: Notify::new(),
            delay: (limit / 4).clamp(Duration::from_millis(1), CONFIRM_DELAY_MAX),
        });
        let tasks = [
            tokio::spawn(unconfirmed.clone().run()),
            tokio::spawn(receive(
                recv,
                Sender(send),
                local.clone(),
                unconfirmed,
                limit,
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

async fn receive(
    mut recv: RouterRecvHalf,
    sender: Sender,
    local: Arc<Local>,
    unconfirmed: Arc<Unconfirmed>,
    limit: Duration,
) {
    loop {
        let msg = match recv.recv().await {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "zmq receive failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let mut frames = msg.iter().map(|b| &b[..]);
        let Some(identity) = msg.get(0) else {
            continue;
        };
        frames.next();
        let peer = ZmqMessage::from(identity.clone());
        let decoded = match protocol::decode(frames) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "malformed zmq message ignored");
                continue;
            }
        };
        let answer = match decoded.kind {
            Kind::Call | Kind::Cast | Kind::Fanout | Kind::Notify => {
                match RequestBody::decode(decoded.body) {
                    Ok(body) => handle(
                        &local,
                        &sender,
                        &peer,
                        decoded.msg_id,
                        decoded.kind,
                        body,
                        &unconfirmed,
                        limit,
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "malformed zmq request refused");
                        Some(Handed::Refused("malformed"))
                    }
                }
            }
            Kind::Reply | Kind::Ack | Kind::Nack => continue,
        };
        let m = match answer {
            // A call whose ACK waits for its reply.
            None => continue,
            Some(Handed::Taken) => {
                protocol::message(Some(&peer), Kind::Ack, decoded.msg_id, Vec::new())
            }
            Some(Handed::Refused(why)) => protocol::message(
                Some(&peer),
                Kind::Nack,
                decoded.msg_id,
                why.as_bytes().to_vec(),
            ),
        };
        if !sender.send(m, limit).await {
            tracing::info!(msg_id = %decoded.msg_id, "could not acknowledge, the sender is gone");
        }
    }
}

/// Hands a message to the local consumers; `None` for a call taken whose ACK is left to its reply.
#[allow(clippy::too_many_arguments)]
fn handle(
    local: &Arc<Local>,
    sender: &Sender,
    peer: &ZmqMessage,
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
        peer: peer.clone(),
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
