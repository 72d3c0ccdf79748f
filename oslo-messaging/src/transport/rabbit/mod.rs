//! `rabbit://`: RabbitMQ through lapin on tokio, speaking the Python driver's wire format.
//!
//! Topology, properties and message layout follow the original exactly (see the crate README), so Rust and
//! Python services share queues and exchanges without a redeclare conflict. One connection (one channel,
//! publisher confirms on) sends everything; each server, listener and the transport's reply queue consume
//! on their own connection. Every connection fails over across the URL's hosts and redeclares its topology
//! after a reconnect.

mod options;
#[cfg(feature = "rabbit-tls")]
mod tls;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::{
    AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo, SASLMechanism,
};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use serde_json::Value;
use tokio::sync::{OnceCell, mpsc, oneshot, watch};

use options::LoginMethod;
pub(crate) use options::RabbitOptions;

use super::{
    Acker, BoxFuture, CallOptions, Driver, IncomingNotification, IncomingRequest,
    NotificationFormat, Outgoing, Replier, SendOptions, Subscription, SubscriptionControl,
    TransportOptions, wait_for_reply,
};
use crate::wire::{self, DuplicateCache, ReplyBody, RequestMeta};
use crate::{Error, Result, Target, TransportUrl};

const CHANNEL_DEPTH: usize = 64;

/// How long opening a connection (TCP, AMQP handshake, login) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A fresh random id (a version 4 UUID as 32 hex digits, like Python's `uuid.uuid4().hex`) for message,
/// queue and consumer names. Drawn from the thread-local generator: `uuid`'s own v4 asks the kernel for
/// every one, a system call per message.
fn new_hex_id() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .simple()
        .to_string()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An AMQP error, as a retryable connection error.
fn amqp(e: lapin::Error) -> Error {
    Error::Connection {
        reason: e.to_string(),
    }
}

/// One declaration of the topology.
#[derive(Debug, Clone)]
enum Declare {
    Exchange {
        name: String,
        fanout: bool,
        durable: bool,
        auto_delete: bool,
    },
    Queue {
        name: String,
        durable: bool,
        auto_delete: bool,
        args: FieldTable,
    },
    Bind {
        queue: String,
        exchange: String,
        key: String,
    },
}

impl Declare {
    fn cache_key(&self) -> String {
        match self {
            Declare::Exchange { name, .. } => format!("x:{name}"),
            Declare::Queue { name, .. } => format!("q:{name}"),
            Declare::Bind {
                queue,
                exchange,
                key,
            } => format!("b:{queue}:{exchange}:{key}"),
        }
    }

    async fn run(&self, ch: &lapin::Channel) -> lapin::Result<()> {
        match self {
            Declare::Exchange {
                name,
                fanout,
                durable,
                auto_delete,
            } => {
                let kind = if *fanout {
                    ExchangeKind::Fanout
                } else {
                    ExchangeKind::Topic
                };
                let opts = ExchangeDeclareOptions {
                    durable: *durable,
                    auto_delete: *auto_delete,
                    ..ExchangeDeclareOptions::default()
                };
                ch.exchange_declare(name.as_str().into(), kind, opts, FieldTable::default())
                    .await
            }
            Declare::Queue {
                name,
                durable,
                auto_delete,
                args,
            } => {
                let opts = QueueDeclareOptions {
                    durable: *durable,
                    auto_delete: *auto_delete,
                    ..QueueDeclareOptions::default()
                };
                ch.queue_declare(name.as_str().into(), opts, args.clone())
                    .await
                    .map(|_| ())
            }
            Declare::Bind {
                queue,
                exchange,
                key,
            } => {
                ch.queue_bind(
                    queue.as_str().into(),
                    exchange.as_str().into(),
                    key.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
            }
        }
    }
}

/// A connection with its one channel.
#[derive(Debug)]
struct Chan {
    conn: Connection,
    channel: lapin::Channel,
    declared: Mutex<HashSet<String>>,
}

impl Chan {
    fn alive(&self) -> bool {
        self.conn.status().connected() && self.channel.status().connected()
    }

    /// Acknowledges a delivery of this channel. Straight on the channel, which hands the frame to the
    /// connection's I/O thread, rather than through the delivery's `Acker`, which goes through lapin's
    /// internal task and a task it spawns first (about 14,000 instructions and two task wake-ups more).
    async fn ack(&self, tag: u64) -> lapin::Result<()> {
        self.channel
            .basic_ack(tag, BasicAckOptions::default())
            .await
    }

    /// Rejects a delivery of this channel, requeued or dropped (see [`Chan::ack`]).
    async fn reject(&self, tag: u64, requeue: bool) -> lapin::Result<()> {
        self.channel
            .basic_reject(tag, BasicRejectOptions { requeue })
            .await
    }

    /// Queues the ack of a delivery without waiting until it is written: lapin queues the frame when
    /// the ack is first polled, and sends it whether or not anyone waits for it. A failure (the channel
    /// is gone) is ignored, as the broker then requeues the message anyway.
    fn ack_unwaited(&self, tag: u64) {
        let _ = futures::FutureExt::now_or_never(self.ack(tag));
    }

    async fn ensure(&self, decls: &[Declare]) -> lapin::Result<()> {
        for d in decls {
            let key = d.cache_key();
            if lock(&self.declared).contains(&key) {
                continue;
            }
            d.run(&self.channel).await?;
            lock(&self.declared).insert(key);
        }
        Ok(())
    }
}

/// `host:port` as messages show it, an IPv6 address in brackets.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// What the driver shares with its tasks.
struct Inner {
    opts: RabbitOptions,
    exchange: String,
    uris: Vec<AMQPUri>,
    #[cfg(feature = "rabbit-tls")]
    tls: Option<Arc<tls::TlsSetup>>,
    next_host: AtomicUsize,
    /// The publishing connection; taken under a plain lock on each publish (no await, no queueing).
    publisher: Mutex<Option<Arc<Chan>>>,
    /// Held while (re)connecting the publisher, so that concurrent publishes open one connection.
    connecting: tokio::sync::Mutex<()>,
    reply: OnceCell<Arc<ReplyWaiter>>,
}

/// Shows the hosts without their user info: lapin's URIs print their passwords.
impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<String> = self
            .uris
            .iter()
            .map(|u| host_port(&u.authority.host, u.authority.port))
            .collect();
        let mut d = f.debug_struct("Inner");
        d.field("opts", &self.opts)
            .field("exchange", &self.exchange)
            .field("hosts", &hosts);
        #[cfg(feature = "rabbit-tls")]
        d.field("tls", &self.tls);
        d.field("next_host", &self.next_host)
            .finish_non_exhaustive()
    }
}

/// The RabbitMQ driver.
#[derive(Debug)]
pub(crate) struct RabbitDriver {
    inner: Arc<Inner>,
}

fn connection_name() -> String {
    let prog = std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "rust".into());
    format!("{prog}:{}:{}", std::process::id(), uuid::Uuid::new_v4())
}

fn queue_args(ha: bool, ttl_secs: u32, quorum: bool, o: &RabbitOptions) -> FieldTable {
    let mut t = FieldTable::default();
    let int = |v: u32| AMQPValue::LongInt(i32::try_from(v).unwrap_or(i32::MAX));
    if ha {
        t.insert(
            "x-ha-policy".into(),
            AMQPValue::LongString(LongString::from("all")),
        );
    }
    if quorum {
        t.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from("quorum")),
        );
        if o.rabbit_quorum_delivery_limit > 0 {
            t.insert(
                "x-delivery-limit".into(),
                int(o.rabbit_quorum_delivery_limit),
            );
        }
        if o.rabbit_quorum_max_memory_length > 0 {
            t.insert(
                "x-max-in-memory-length".into(),
                int(o.rabbit_quorum_max_memory_length),
            );
        }
        if o.rabbit_quorum_max_memory_bytes > 0 {
            t.insert(
                "x-max-in-memory-bytes".into(),
                int(o.rabbit_quorum_max_memory_bytes),
            );
        }
    }
    if ttl_secs > 0 {
        t.insert("x-expires".into(), int(ttl_secs.saturating_mul(1000)));
    }
    t
}

/// The AMQP properties of every publish, as kombu sets them.
fn properties(expiration: Option<Duration>) -> BasicProperties {
    let p = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_delivery_mode(2)
        .with_priority(0)
        .with_headers(FieldTable::default());
    match expiration {
        Some(d) => p.with_expiration(ShortString::from(d.as_millis().to_string())),
        None => p,
    }
}

impl Inner {
    fn durable(&self) -> bool {
        self.opts.amqp_durable_queues || self.opts.rabbit_quorum_queue
    }

    fn exchange_of<'a>(&'a self, target: &'a Target) -> &'a str {
        target.exchange.as_deref().unwrap_or(&self.exchange)
    }

    fn topic_exchange(&self, name: &str) -> Declare {
        Declare::Exchange {
            name: name.to_owned(),
            fanout: false,
            durable: self.durable(),
            auto_delete: self.opts.amqp_auto_delete,
        }
    }

    fn fanout_exchange(&self, topic: &str) -> Declare {
        Declare::Exchange {
            name: format!("{topic}_fanout"),
            fanout: true,
            durable: self.opts.rabbit_transient_quorum_queue,
            auto_delete: true,
        }
    }

    /// A topic, server or notification queue.
    fn shared_queue(&self, name: &str) -> Declare {
        Declare::Queue {
            name: name.to_owned(),
            durable: self.durable(),
            auto_delete: self.opts.amqp_auto_delete,
            args: queue_args(
                self.opts.rabbit_ha_queues,
                0,
                self.opts.rabbit_quorum_queue,
                &self.opts,
            ),
        }
    }

    /// A reply or fanout queue.
    fn transient_queue(&self, name: &str) -> Declare {
        Declare::Queue {
            name: name.to_owned(),
            durable: self.opts.rabbit_transient_quorum_queue,
            auto_delete: false,
            args: queue_args(
                self.opts.rabbit_ha_queues,
                self.opts.rabbit_transient_queues_ttl,
                self.opts.rabbit_transient_quorum_queue,
                &self.opts,
            ),
        }
    }

    /// Opens a connection to the next host, with one channel in confirm mode.
    async fn connect_once(&self) -> Result<Chan> {
        // `kombu_failover_strategy`: the next host in turn (round-robin), or any host (shuffle).
        let i = if self.opts.kombu_failover_strategy_shuffle {
            rand::random_range(0..self.uris.len().max(1))
        } else {
            self.next_host.fetch_add(1, Ordering::Relaxed) % self.uris.len().max(1)
        };
        let uri = self.uris.get(i).cloned().unwrap_or_default();
        let host = host_port(&uri.authority.host, uri.authority.port);
        let props = ConnectionProperties::default().with_connection_name(connection_name().into());
        let connect = async {
            #[cfg(feature = "rabbit-tls")]
            if let Some(tls) = &self.tls {
                return tls.connect(uri, props).await;
            }
            Connection::connect_uri(uri, props)
                .await
                .map_err(|e| Error::Connection {
                    reason: format!("cannot connect to `{host}`: {e}"),
                })
        };
        let conn = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(Error::Connection {
                    reason: format!(
                        "cannot connect to `{host}`: no answer within {CONNECT_TIMEOUT:?}"
                    ),
                });
            }
        };
        let channel = conn.create_channel().await.map_err(amqp)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(amqp)?;
        tracing::debug!(target: "rabbit", host, "connected");
        Ok(Chan {
            conn,
            channel,
            declared: Mutex::new(HashSet::new()),
        })
    }

    /// The publishing connection if it is up. The lock is held only to clone it: the liveness check
    /// takes lapin's own locks, and concurrent publishes should not wait on each other for those.
    fn live_publisher(&self) -> Option<Arc<Chan>> {
        let c = lock(&self.publisher).clone()?;
        c.alive().then_some(c)
    }

    async fn publisher(&self) -> Result<Arc<Chan>> {
        if let Some(c) = self.live_publisher() {
            return Ok(c);
        }
        let _connecting = self.connecting.lock().await;
        // Another publish may have connected while this one waited.
        if let Some(c) = self.live_publisher() {
            return Ok(c);
        }
        let c = Arc::new(self.connect_once().await?);
        *lock(&self.publisher) = Some(c.clone());
        Ok(c)
    }

    fn drop_publisher(&self, failed: &Arc<Chan>) {
        let mut cur = lock(&self.publisher);
        if cur.as_ref().is_some_and(|c| Arc::ptr_eq(c, failed)) {
            *cur = None;
        }
    }

    /// Declares, publishes and waits for the broker's confirm, retrying (with reconnection to the next
    /// host) up to `retry` times. Returns whether the broker returned the message (mandatory, unroutable).
    #[allow(clippy::too_many_arguments)]
    async fn publish(
        &self,
        decls: &[Declare],
        exchange: &str,
        key: &str,
        body: &[u8],
        props: BasicProperties,
        mandatory: bool,
        retry: Option<u32>,
    ) -> Result<bool> {
        let mut attempt: u32 = 0;
        let mut refusals: usize = 0;
        loop {
            let result = match self.publisher().await {
                Ok(chan) => match self
                    .try_publish(&chan, decls, exchange, key, body, props.clone(), mandatory)
                    .await
                {
                    Ok(returned) => return Ok(returned),
                    Err(e) => {
                        self.drop_publisher(&chan);
                        e
                    }
                },
                Err(e) => e,
            };
            // A refusal that no retry cures (a TLS certificate the broker or we reject) moves on to the next
            // host at once, and ends the publish once every host of the URL has given one (as the
            // consumer's first subscription tries each host before giving up).
            if !result.is_retryable() {
                refusals = refusals.saturating_add(1);
                if refusals >= self.uris.len() {
                    return Err(result);
                }
                tracing::warn!(target: "rabbit", exchange, key, error = %result, "refused, trying the next host");
                continue;
            }
            if retry.is_some_and(|r| attempt >= r) {
                return Err(Error::DeliveryFailure {
                    reason: format!(
                        "unable to publish to `{exchange}` with key `{key}` after {} tries: {result}",
                        attempt + 1
                    ),
                });
            }
            tracing::warn!(target: "rabbit", exchange, key, error = %result, attempt, "publish failed, retrying");
            tokio::time::sleep(self.opts.retry_delay(attempt)).await;
            attempt = attempt.saturating_add(1);
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_publish(
        &self,
        chan: &Chan,
        decls: &[Declare],
        exchange: &str,
        key: &str,
        body: &[u8],
        props: BasicProperties,
        mandatory: bool,
    ) -> Result<bool> {
        chan.ensure(decls).await.map_err(amqp)?;
        let opts = BasicPublishOptions {
            mandatory,
            immediate: false,
        };
        let confirm = chan
            .channel
            .basic_publish(exchange.into(), key.into(), opts, body, props)
            .await
            .map_err(amqp)?;
        match confirm.await.map_err(amqp)? {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(false),
            Confirmation::Ack(Some(_)) => Ok(true),
            Confirmation::Nack(_) => Err(Error::Connection {
                reason: "the broker refused the message (basic.nack)".into(),
            }),
        }
    }

    async fn reply_waiter(self: &Arc<Self>) -> Result<Arc<ReplyWaiter>> {
        self.reply
            .get_or_try_init(|| async {
                let queue = format!("reply_{}", new_hex_id());
                let waiters: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<ReplyBody>>>> = Arc::default();
                let spec = ConsumeSpec {
                    decls: vec![self.transient_queue(&queue)],
                    queues: vec![queue.clone()],
                    delete_on_stop: Vec::new(),
                };
                let (stop_tx, stop_rx) = watch::channel(false);
                let w = waiters.clone();
                let dups = Arc::new(Mutex::new(DuplicateCache::default()));
                spawn_consumer(self.clone(), spec, stop_rx, move |d: Delivery, chan: Arc<Chan>| {
                    let (w, dups) = (w.clone(), dups.clone());
                    async move {
                        // Acknowledged on receipt, as the original does; the ack is sent after the reply
                        // is handed to its caller, to keep it off the call's critical path, and not waited
                        // for: the next reply need not wait until this ack is on the socket.
                        let reply = wire::decode_body(&d.data).and_then(|m| wire::decode_reply(&m));
                        match reply {
                            Ok(r) if r.unique_id.as_deref().is_some_and(|u| lock(&dups).check_and_add(u)) => {
                                tracing::info!(target: "rabbit", msg_id = r.msg_id, "duplicate reply dropped");
                            }
                            Ok(r) => {
                                let tx = lock(&w).get(&r.msg_id).cloned();
                                match tx {
                                    Some(tx) => {
                                        let _ = tx.send(r.body);
                                    }
                                    None => {
                                        tracing::info!(target: "rabbit", msg_id = r.msg_id, "no caller waiting for this reply, dropped");
                                    }
                                }
                            }
                            Err(e) => tracing::warn!(target: "rabbit", error = %e, "bad reply dropped"),
                        }
                        chan.ack_unwaited(d.delivery_tag);
                        true
                    }
                })
                .await?;
                Ok(Arc::new(ReplyWaiter {
                    queue,
                    waiters,
                    stop: stop_tx,
                }))
            })
            .await
            .cloned()
    }
}

/// The transport's reply queue and the calls waiting on it.
#[derive(Debug)]
struct ReplyWaiter {
    queue: String,
    waiters: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<ReplyBody>>>>,
    stop: watch::Sender<bool>,
}

/// Unregisters a call's waiter when the call ends, however it ends.
struct WaiterGuard<'a> {
    waiter: &'a ReplyWaiter,
    msg_id: String,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        lock(&self.waiter.waiters).remove(&self.msg_id);
    }
}

/// What a consumer declares and consumes.
#[derive(Debug, Clone)]
struct ConsumeSpec {
    decls: Vec<Declare>,
    queues: Vec<String>,
    delete_on_stop: Vec<String>,
}

/// Opens a connection, declares the topology and consumes the queues; returns the merged deliveries.
async fn open_consumer(
    inner: &Inner,
    spec: &ConsumeSpec,
) -> Result<(
    Arc<Chan>,
    Vec<String>,
    futures::stream::SelectAll<lapin::Consumer>,
)> {
    let chan = Arc::new(inner.connect_once().await?);
    chan.ensure(&spec.decls).await.map_err(amqp)?;
    if inner.opts.rabbit_qos_prefetch_count > 0 {
        chan.channel
            .basic_qos(
                inner.opts.rabbit_qos_prefetch_count,
                BasicQosOptions::default(),
            )
            .await
            .map_err(amqp)?;
    }
    let mut args = FieldTable::default();
    if inner.opts.enable_cancel_on_failover {
        args.insert("x-cancel-on-ha-failover".into(), AMQPValue::Boolean(true));
    }
    let mut consumers = Vec::new();
    let mut tags = Vec::new();
    for q in &spec.queues {
        let tag = format!("{q}-{}", new_hex_id());
        let c = chan
            .channel
            .basic_consume(
                q.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                args.clone(),
            )
            .await
            .map_err(amqp)?;
        consumers.push(c);
        tags.push(tag);
    }
    Ok((chan, tags, futures::stream::select_all(consumers)))
}

/// Runs a consumer in the background until `stop` turns true (or `handle` returns false), reconnecting
/// (with failover across hosts) and redeclaring whenever the connection is lost. Returns once the first
/// subscription is in place, or with the error that prevented it.
async fn spawn_consumer<F, Fut>(
    inner: Arc<Inner>,
    spec: ConsumeSpec,
    mut stop: watch::Receiver<bool>,
    mut handle: F,
) -> Result<()>
where
    F: FnMut(Delivery, Arc<Chan>) -> Fut + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    // The first subscription tries every host once (failing over as it goes) before giving up.
    let mut first = open_consumer(&inner, &spec).await;
    for _ in 1..inner.uris.len() {
        if first.is_ok() {
            break;
        }
        first = open_consumer(&inner, &spec).await;
    }
    let first = first?;
    let (ready_tx, ready_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut current = Some(first);
        let mut ready = Some(ready_tx);
        let mut attempt: u32 = 0;
        loop {
            let (chan, tags, mut stream) = match current.take() {
                Some(c) => c,
                None => {
                    if *stop.borrow() {
                        return;
                    }
                    match open_consumer(&inner, &spec).await {
                        Ok(c) => {
                            tracing::info!(target: "rabbit", queues = ?spec.queues, "consumer reconnected");
                            c
                        }
                        Err(e) => {
                            tracing::warn!(target: "rabbit", error = %e, attempt, "consumer reconnect failed");
                            let delay = inner.opts.retry_delay(attempt);
                            attempt = attempt.saturating_add(1);
                            tokio::select! {
                                _ = tokio::time::sleep(delay) => {}
                                _ = stop.changed() => return,
                            }
                            continue;
                        }
                    }
                }
            };
            attempt = 0;
            if let Some(r) = ready.take() {
                let _ = r.send(());
            }
            let keep_going = loop {
                tokio::select! {
                    changed = stop.changed() => {
                        if changed.is_err() || *stop.borrow() {
                            break false;
                        }
                    }
                    d = stream.next() => match d {
                        Some(Ok(d)) => {
                            if !handle(d, chan.clone()).await {
                                break false;
                            }
                        }
                        Some(Err(e)) => {
                            tracing::warn!(target: "rabbit", error = %e, "consumer lost its connection");
                            break true;
                        }
                        None => {
                            tracing::warn!(target: "rabbit", "consumer cancelled by the broker");
                            break true;
                        }
                    }
                }
            };
            if !keep_going {
                for t in &tags {
                    let _ = chan
                        .channel
                        .basic_cancel(t.as_str().into(), BasicCancelOptions::default())
                        .await;
                }
                for q in &spec.delete_on_stop {
                    let _ = chan
                        .channel
                        .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                        .await;
                }
                return;
            }
        }
    });
    let _ = ready_rx.await;
    Ok(())
}

#[derive(Debug)]
struct StopControl(watch::Sender<bool>);

impl SubscriptionControl for StopControl {
    fn stop(&self) -> BoxFuture<'_, ()> {
        let _ = self.0.send(true);
        Box::pin(async {})
    }
}

/// Answers one call: publishes to the caller's reply queue through the default exchange, mandatory, and
/// retries while the queue is missing (up to `kombu_missing_consumer_retry_timeout`).
#[derive(Debug)]
struct RabbitReplier {
    inner: Arc<Inner>,
    reply_q: String,
    msg_id: String,
}

impl Replier for RabbitReplier {
    fn send(&self, body: ReplyBody) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let inner_json = wire::encode_reply(&body, &self.msg_id, &new_hex_id())?;
            let bytes = wire::envelope(&inner_json)?;
            let deadline = tokio::time::Instant::now()
                + Duration::from_secs_f64(
                    self.inner
                        .opts
                        .kombu_missing_consumer_retry_timeout
                        .max(0.0),
                );
            loop {
                let returned = self
                    .inner
                    .publish(&[], "", &self.reply_q, &bytes, properties(None), true, None)
                    .await?;
                if !returned {
                    return Ok(());
                }
                if tokio::time::Instant::now() >= deadline {
                    tracing::warn!(target: "rabbit", reply_q = self.reply_q, msg_id = self.msg_id, "reply queue missing, reply dropped");
                    return Err(Error::Undeliverable {
                        exchange: String::new(),
                        routing_key: self.reply_q.clone(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    }
}

/// Settles a notification on the channel it came from; the listener's connection stays open while one
/// is pending.
#[derive(Debug)]
struct RabbitAcker {
    tag: u64,
    chan: Arc<Chan>,
    dups: Arc<Mutex<DuplicateCache>>,
    unique_id: Option<String>,
}

impl Acker for RabbitAcker {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        Box::pin(async move {
            if let Some(u) = &self.unique_id {
                lock(&self.dups).check_and_add(u);
            }
            self.chan.ack(self.tag).await.map_err(amqp)
        })
    }
    fn requeue(self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        Box::pin(async move { self.chan.reject(self.tag, true).await.map_err(amqp) })
    }
}

fn uris(url: &TransportUrl, opts: &RabbitOptions) -> Vec<AMQPUri> {
    let vhost = match url.virtual_host.as_deref() {
        None | Some("") => "/".to_owned(),
        Some(v) => v.to_owned(),
    };
    let query = AMQPQueryString {
        heartbeat: Some(opts.heartbeat_timeout_threshold),
        auth_mechanism: Some(match opts.login {
            LoginMethod::AmqPlain => SASLMechanism::AMQPlain,
            LoginMethod::Plain => SASLMechanism::Plain,
            LoginMethod::External => SASLMechanism::External,
        }),
        ..AMQPQueryString::default()
    };
    let make = |host: &str, port: Option<u16>, user: Option<&str>, pass: Option<&str>| AMQPUri {
        scheme: AMQPScheme::AMQP,
        authority: AMQPAuthority {
            userinfo: AMQPUserInfo {
                username: user.unwrap_or("guest").to_owned(),
                password: pass.unwrap_or("guest").to_owned(),
            },
            host: if host.is_empty() {
                "localhost".to_owned()
            } else {
                host.to_owned()
            },
            port: port.unwrap_or(5672),
        },
        vhost: vhost.clone(),
        query: query.clone(),
    };
    let mut out: Vec<AMQPUri> = url
        .hosts
        .iter()
        .map(|h| {
            make(
                &h.hostname,
                h.port,
                h.username.as_deref(),
                h.password.as_deref(),
            )
        })
        .collect();
    if out.is_empty() {
        out.push(make("localhost", None, None, None));
    }
    out
}

impl RabbitDriver {
    pub(crate) fn new(url: &TransportUrl, options: &TransportOptions) -> Result<Self> {
        let opts = RabbitOptions::from_url(url)?;
        #[cfg(feature = "rabbit-tls")]
        let tls = tls::TlsSetup::from_options(&opts)?;
        #[cfg(not(feature = "rabbit-tls"))]
        if opts.ssl || opts.amqps {
            return Err(Error::Configuration(
                "TLS (`ssl`, `kombu+amqps`) needs the `rabbit-tls` feature of oslo-messaging"
                    .into(),
            ));
        }
        let mut uris = uris(url, &opts);
        #[cfg(feature = "rabbit-tls")]
        if tls.is_some() {
            for uri in &uris {
                tls::server_name(&uri.authority.host)?;
            }
        }
        if uris.len() > 1 {
            use rand::seq::SliceRandom;
            uris.shuffle(&mut rand::rng());
        }
        Ok(RabbitDriver {
            inner: Arc::new(Inner {
                opts,
                exchange: options.control_exchange.clone(),
                uris,
                #[cfg(feature = "rabbit-tls")]
                tls,
                next_host: AtomicUsize::new(0),
                publisher: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
                reply: OnceCell::new(),
            }),
        })
    }

    fn route(&self, target: &Target) -> Result<(Vec<Declare>, String, String)> {
        let topic = target.require_topic()?;
        if target.fanout {
            return Ok((
                vec![self.inner.fanout_exchange(topic)],
                format!("{topic}_fanout"),
                String::new(),
            ));
        }
        let exchange = self.inner.exchange_of(target).to_owned();
        let key = match &target.server {
            Some(s) => format!("{topic}.{s}"),
            None => topic.to_owned(),
        };
        Ok((vec![self.inner.topic_exchange(&exchange)], exchange, key))
    }
}

impl Driver for RabbitDriver {
    fn cast<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        opts: SendOptions,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (decls, exchange, key) = self.route(target)?;
            let meta = RequestMeta {
                unique_id: new_hex_id(),
                ..RequestMeta::default()
            };
            let body = wire::envelope(&wire::encode_request(&msg.message, &meta, &msg.ctxt)?)?;
            let mandatory = opts.at_least_once && !target.fanout;
            let returned = self
                .inner
                .publish(
                    &decls,
                    &exchange,
                    &key,
                    &body,
                    properties(None),
                    mandatory,
                    opts.retry,
                )
                .await?;
            if returned {
                return Err(Error::Undeliverable {
                    exchange,
                    routing_key: key,
                });
            }
            Ok(())
        })
    }

    fn call<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        call: CallOptions,
        opts: SendOptions,
    ) -> BoxFuture<'a, Result<Value>> {
        Box::pin(async move {
            target.check_call()?;
            let (decls, exchange, key) = self.route(target)?;
            let waiter = self.inner.reply_waiter().await?;
            let msg_id = new_hex_id();
            let (tx, mut rx) = mpsc::unbounded_channel();
            lock(&waiter.waiters).insert(msg_id.clone(), tx);
            let _guard = WaiterGuard {
                waiter: &waiter,
                msg_id: msg_id.clone(),
            };
            let meta = RequestMeta {
                msg_id: Some(msg_id.clone()),
                reply_q: Some(waiter.queue.clone()),
                call_monitor_timeout: call.call_monitor_timeout.map(|d| d.as_secs_f64()),
                unique_id: new_hex_id(),
            };
            let body = wire::envelope(&wire::encode_request(&msg.message, &meta, &msg.ctxt)?)?;
            // The whole call, reconnections included, stays within its timeout.
            let start = tokio::time::Instant::now();
            let publish = self.inner.publish(
                &decls,
                &exchange,
                &key,
                &body,
                properties(Some(call.timeout)),
                opts.at_least_once,
                opts.retry,
            );
            let returned = match tokio::time::timeout(call.timeout, publish).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(Error::Timeout {
                        msg_id,
                        topic: key,
                        elapsed: start.elapsed(),
                    });
                }
            };
            if returned {
                return Err(Error::Undeliverable {
                    exchange,
                    routing_key: key,
                });
            }
            let call = CallOptions {
                timeout: call.timeout.saturating_sub(start.elapsed()),
                ..call
            };
            wait_for_reply(&mut rx, &msg_id, &key, call).await
        })
    }

    fn notify<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        format: NotificationFormat,
        opts: SendOptions,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let key = target.require_topic()?.to_owned();
            let exchange = self.inner.exchange_of(target).to_owned();
            let decls = vec![
                self.inner.topic_exchange(&exchange),
                self.inner.shared_queue(&key),
                Declare::Bind {
                    queue: key.clone(),
                    exchange: exchange.clone(),
                    key: key.clone(),
                },
            ];
            let meta = RequestMeta {
                unique_id: new_hex_id(),
                ..RequestMeta::default()
            };
            let inner_json = wire::encode_request(&msg.message, &meta, &msg.ctxt)?;
            let body = match format {
                NotificationFormat::V2 => wire::envelope(&inner_json)?,
                NotificationFormat::V1 => inner_json.into_bytes(),
            };
            self.inner
                .publish(
                    &decls,
                    &exchange,
                    &key,
                    &body,
                    properties(None),
                    false,
                    opts.retry,
                )
                .await?;
            Ok(())
        })
    }

    fn listen<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<Subscription<IncomingRequest>>> {
        Box::pin(async move {
            let (topic, server) = target.check_server()?;
            let exchange = self.inner.exchange_of(target).to_owned();
            let server_q = format!("{topic}.{server}");
            let fanout_q = format!("{topic}_fanout_{}", new_hex_id());
            let spec = ConsumeSpec {
                decls: vec![
                    self.inner.topic_exchange(&exchange),
                    self.inner.shared_queue(topic),
                    Declare::Bind {
                        queue: topic.to_owned(),
                        exchange: exchange.clone(),
                        key: topic.to_owned(),
                    },
                    self.inner.shared_queue(&server_q),
                    Declare::Bind {
                        queue: server_q.clone(),
                        exchange: exchange.clone(),
                        key: server_q.clone(),
                    },
                    self.inner.fanout_exchange(topic),
                    self.inner.transient_queue(&fanout_q),
                    Declare::Bind {
                        queue: fanout_q.clone(),
                        exchange: format!("{topic}_fanout"),
                        key: topic.to_owned(),
                    },
                ],
                queues: vec![topic.to_owned(), server_q, fanout_q.clone()],
                delete_on_stop: vec![fanout_q],
            };
            let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
            let (stop_tx, stop_rx) = watch::channel(false);
            let inner = self.inner.clone();
            let dups = Arc::new(Mutex::new(DuplicateCache::default()));
            spawn_consumer(self.inner.clone(), spec, stop_rx, move |d: Delivery, chan: Arc<Chan>| {
                let (tx, inner, dups) = (tx.clone(), inner.clone(), dups.clone());
                async move {
                    // At most once: acknowledged on receipt (the ack on the socket), before the method runs.
                    if chan.ack(d.delivery_tag).await.is_err() {
                        tracing::warn!(target: "rabbit", "ack failed, request skipped");
                        return true;
                    }
                    let req = match wire::decode_body(&d.data).and_then(wire::decode_request) {
                        Ok(r) => r,
                        Err(e) => {
                            tracing::error!(target: "rabbit", error = %e, "bad request dropped");
                            return true;
                        }
                    };
                    if lock(&dups).check_and_add(&req.meta.unique_id) {
                        tracing::info!(target: "rabbit", unique_id = req.meta.unique_id, "duplicate message ignored");
                        return true;
                    }
                    let replier = match (req.meta.msg_id, req.meta.reply_q) {
                        (Some(msg_id), Some(reply_q)) => Some(Arc::new(RabbitReplier { inner, reply_q, msg_id }) as Arc<dyn Replier>),
                        _ => None,
                    };
                    tx.send(IncomingRequest {
                        ctxt: req.ctxt,
                        message: req.message,
                        client_timeout: req.meta.call_monitor_timeout,
                        replier,
                    })
                    .await
                    .is_ok()
                }
            })
            .await?;
            Ok(Subscription {
                incoming: rx,
                control: Box::new(StopControl(stop_tx)),
            })
        })
    }

    fn listen_for_notifications<'a>(
        &'a self,
        targets: &'a [(Target, String)],
        pool: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Subscription<IncomingNotification>>> {
        Box::pin(async move {
            let mut decls = Vec::new();
            let mut queues: Vec<String> = Vec::new();
            for (target, priority) in targets {
                let topic = target.require_topic()?;
                let exchange = self.inner.exchange_of(target).to_owned();
                let key = format!("{topic}.{priority}");
                let queue = pool.map_or_else(|| key.clone(), str::to_owned);
                decls.push(self.inner.topic_exchange(&exchange));
                decls.push(self.inner.shared_queue(&queue));
                decls.push(Declare::Bind {
                    queue: queue.clone(),
                    exchange,
                    key,
                });
                if !queues.contains(&queue) {
                    queues.push(queue);
                }
            }
            let spec = ConsumeSpec {
                decls,
                queues,
                delete_on_stop: Vec::new(),
            };
            let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
            let (stop_tx, stop_rx) = watch::channel(false);
            let dups = Arc::new(Mutex::new(DuplicateCache::default()));
            spawn_consumer(self.inner.clone(), spec, stop_rx, move |d: Delivery, chan| {
                let (tx, dups) = (tx.clone(), dups.clone());
                async move {
                    let inner = match wire::decode_body(&d.data) {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::error!(target: "rabbit", error = %e, "bad notification rejected");
                            let _ = chan.reject(d.delivery_tag, false).await;
                            return true;
                        }
                    };
                    let req = wire::decode_request_like(inner);
                    if req.unique_id.as_deref().is_some_and(|u| lock(&dups).contains(u)) {
                        tracing::info!(target: "rabbit", "duplicate notification ignored");
                        let _ = chan.ack(d.delivery_tag).await;
                        return true;
                    }
                    let acker = RabbitAcker {
                        tag: d.delivery_tag,
                        chan,
                        dups,
                        unique_id: req.unique_id,
                    };
                    tx.send(IncomingNotification {
                        ctxt: req.ctxt,
                        message: req.message,
                        acker: Box::new(acker),
                    })
                    .await
                    .is_ok()
                }
            })
            .await?;
            Ok(Subscription {
                incoming: rx,
                control: Box::new(StopControl(stop_tx)),
            })
        })
    }

    fn cleanup(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(w) = self.inner.reply.get() {
                let _ = w.stop.send(true);
            }
            let publisher = lock(&self.inner.publisher).take();
            if let Some(c) = publisher {
                let _ = c.conn.close(200, "cleanup".into()).await;
            }
        })
    }
}
