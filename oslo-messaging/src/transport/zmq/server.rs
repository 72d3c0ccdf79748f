//! The receiving side: one ROUTER socket per transport, bound on the configured address, and the table
//! of this process's consumers it hands messages to.
//!
//! A request or notification is acknowledged (ACK) once a local consumer's bounded queue took it, and
//! refused (NACK) when no consumer here serves its target or every queue is full, so the sender can try
//! another server or report the failure. The receive loop never waits on a consumer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::JoinHandle;
use zeromq::prelude::*;
use zeromq::{Endpoint, RouterRecvHalf, RouterSendHalf, RouterSocket, ZmqMessage};

use super::protocol::{self, Kind, NACK_BUSY, NACK_NO_TARGET, RequestBody};
use crate::transport::{Acker, BoxFuture, IncomingNotification, IncomingRequest, Replier};
use crate::wire::{ReplyBody, encode_reply, new_hex_id};
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

#[derive(Debug, Default)]
struct Table {
    /// `(exchange, topic)` to the RPC servers of this process.
    rpc: HashMap<(String, String), Vec<RpcSub>>,
    /// `(exchange, <topic>.<priority>)` to the notification listeners of this process.
    notify: HashMap<(String, String), Vec<NoteSub>>,
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
            .entry((exchange.to_owned(), topic.to_owned()))
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
            .entry((exchange.to_owned(), key.to_owned()))
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
        for subs in t.rpc.values_mut() {
            subs.retain(|s| !ids.contains(&s.id));
        }
        t.rpc.retain(|_, v| !v.is_empty());
        for subs in t.notify.values_mut() {
            subs.retain(|s| !ids.contains(&s.id));
        }
        t.notify.retain(|_, v| !v.is_empty());
    }

    /// Removes every consumer.
    pub(crate) fn clear(&self) {
        let mut t = lock(&self.table);
        t.rpc.clear();
        t.notify.clear();
    }

    fn hand_request(
        &self,
        kind: Kind,
        body: RequestBody,
        replier: Option<Arc<dyn Replier>>,
    ) -> Handed {
        let mut t = lock(&self.table);
        t.rr = t.rr.wrapping_add(1);
        let rr = t.rr;
        let Some(subs) = t.rpc.get(&(body.exchange.clone(), body.topic.clone())) else {
            return Handed::Refused(NACK_NO_TARGET);
        };
        let make = || IncomingRequest {
            ctxt: body.ctxt.clone(),
            message: body.message.clone(),
            client_timeout: body.timeout,
            replier: replier.clone(),
        };
        if kind == Kind::Fanout {
            let mut taken = false;
            for s in subs {
                match s.tx.try_send(make()) {
                    Ok(()) => taken = true,
                    Err(TrySendError::Full(_)) => {
                        tracing::warn!(topic = %body.topic, server = %s.server, "fanout dropped for a server whose queue is full");
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
        let candidates: Vec<&RpcSub> = subs
            .iter()
            .filter(|s| body.server.as_ref().is_none_or(|want| *want == s.server))
            .collect();
        if candidates.is_empty() {
            return Handed::Refused(NACK_NO_TARGET);
        }
        let mut item = make();
        for i in 0..candidates.len() {
            let Some(s) = candidates.get((rr + i) % candidates.len()) else {
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
        let Some(subs) = t.notify.get(&(exchange.to_owned(), key.to_owned())) else {
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
    async fn send_to(&self, peer: &ZmqMessage, frames: Vec<Vec<u8>>, limit: Duration) -> bool {
        let mut m = protocol::message(frames);
        m.prepend(peer);
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
}

impl Replier for ZmqReplier {
    fn send(&self, body: ReplyBody) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let text = encode_reply(&body, &self.msg_id, &new_hex_id())?;
            let frames = protocol::frames(Kind::Reply, &self.msg_id, text.into_bytes());
            if !self.sender.send_to(&self.peer, frames, self.limit).await {
                tracing::info!(msg_id = %self.msg_id, "the caller's connection is gone, reply dropped");
            }
            Ok(())
        })
    }
}

/// The bound ROUTER socket and its receive loop.
#[derive(Debug)]
pub(crate) struct Router {
    /// The address announced to the matchmaker (`host:port`).
    pub(crate) addr: String,
    pub(crate) local: Arc<Local>,
    task: JoinHandle<()>,
}

impl Drop for Router {
    fn drop(&mut self) {
        self.task.abort();
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
        let task = tokio::spawn(receive(recv, Sender(send), local.clone(), limit));
        tracing::info!(address = %format!("{bind}:{port}"), "zmq transport listening");
        Ok(Router {
            addr: format!("{announce}:{port}"),
            local,
            task,
        })
    }
}

async fn receive(mut recv: RouterRecvHalf, sender: Sender, local: Arc<Local>, limit: Duration) {
    loop {
        let msg = match recv.recv().await {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "zmq receive failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let mut frames = msg.into_vecdeque();
        let Some(peer) = frames.pop_front() else {
            continue;
        };
        let peer = ZmqMessage::from(peer);
        let decoded = match protocol::decode(frames.iter().map(|b| &b[..])) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "malformed zmq message ignored");
                continue;
            }
        };
        let answer = match decoded.kind {
            Kind::Call | Kind::Cast | Kind::Fanout | Kind::Notify => {
                match serde_json::from_slice::<RequestBody>(&decoded.body) {
                    Ok(body) => handle(
                        &local,
                        &sender,
                        &peer,
                        &decoded.msg_id,
                        decoded.kind,
                        body,
                        limit,
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "malformed zmq request refused");
                        Handed::Refused("malformed")
                    }
                }
            }
            Kind::Reply | Kind::Ack | Kind::Nack => continue,
        };
        let frames = match answer {
            Handed::Taken => protocol::frames(Kind::Ack, &decoded.msg_id, Vec::new()),
            Handed::Refused(why) => {
                protocol::frames(Kind::Nack, &decoded.msg_id, why.as_bytes().to_vec())
            }
        };
        if !sender.send_to(&peer, frames, limit).await {
            tracing::info!(msg_id = %decoded.msg_id, "could not acknowledge, the sender is gone");
        }
    }
}

fn handle(
    local: &Arc<Local>,
    sender: &Sender,
    peer: &ZmqMessage,
    msg_id: &str,
    kind: Kind,
    body: RequestBody,
    limit: Duration,
) -> Handed {
    if kind == Kind::Notify {
        let pool = body.pool.clone().unwrap_or_default();
        return local.hand_notification(
            &body.exchange,
            &body.topic,
            &pool,
            body.ctxt,
            body.message,
        );
    }
    let replier = (kind == Kind::Call).then(|| {
        Arc::new(ZmqReplier {
            sender: sender.clone(),
            peer: peer.clone(),
            msg_id: msg_id.to_owned(),
            limit,
        }) as Arc<dyn Replier>
    });
    local.hand_request(kind, body, replier)
}
