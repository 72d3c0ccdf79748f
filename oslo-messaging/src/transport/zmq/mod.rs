//! `zmq://`: a brokerless transport on ZeroMQ's wire protocol (ZMTP 3.0, the NULL mechanism, spoken by
//! the `zmtp` module on tokio TCP streams).
//!
//! Every transport that serves something binds one ROUTER socket on the configured address and announces
//! it to a [matchmaker](matchmaker) under `topic` and `topic.server` (notification listeners under
//! `topic.priority`, with their pool). Senders look the target up and talk to the servers directly over
//! DEALER connections (the old driver's "static direct" topology): no broker, no proxy.
//!
//! Delivery is confirmed: the receiving transport answers each request with an ACK once a local consumer
//! queue took it, or a NACK, so a sender knows and tries another server, retries, or reports the
//! failure. Calls then wait for the reply frames on the same connection, with heartbeats; a call whose
//! first reply goes out soon (within a quarter of the ack timeout, at most 50 ms) gets no separate ACK:
//! that reply confirms it. Notifications
//! that find no listener wait in a bounded queue of the sending transport until one appears.
//!
//! URL: `zmq://[?options]` (the in-process matchmaker, or a static file with `matchmaker_file`),
//! `zmq+redis://[:password@]host:port[/db][?options]` (the Redis matchmaker). Options: `bind_address`
//! (default `127.0.0.1`), `bind_port` (default 0: the system picks), `host` (the address announced,
//! default the bind address), `matchmaker_file`, `target_expire` (s, default 300), `target_update` (s,
//! default 180), `ack_timeout` (s, default 5), `send_timeout` (s, default 10), `queue_size` (default
//! 64), `max_pending` (default 1000), `notification_ttl` (s, default 300), `max_connections` (the
//! connections a server holds open at once, default 1024; more are closed before the handshake),
//! `max_message_size` (bytes, default 128 MiB as RabbitMQ 3's, at most 1 GiB: the largest message
//! taken from a peer, and sent to one).
//!
//! What a server may hold for its peers is thus bounded by `max_connections` × `max_message_size` (a
//! partial message each), and what waits for its handlers by `queue_size` per server.

mod client;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub(crate) mod matchmaker;
mod protocol;
mod server;
mod zmtp;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use self::client::{Answer, Conn, Waiter};
use self::matchmaker::{FileMatchmaker, LocalMatchmaker, Matchmaker, RedisMatchmaker};
use self::protocol::{Kind, NACK_NO_TARGET, RequestRef};
use self::server::Router;
use super::{
    BoxFuture, CallOptions, Driver, IncomingNotification, IncomingRequest, NotificationFormat,
    Outgoing, SendOptions, Subscription, SubscriptionControl, TransportOptions,
};
use crate::wire::{ReplyBody, new_hex_id};
use crate::{Error, Result, Target, TransportUrl};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A new message id: unique in this process and, through its random half, across processes (a
/// counter after a random prefix drawn once, so that no id costs a system call).
fn next_msg_id() -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| new_hex_id().chars().take(16).collect());
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let mut id = String::with_capacity(prefix.len() + 16);
    id.push_str(prefix);
    for shift in (0..16).rev() {
        let digit = ((n >> (shift * 4)) & 0xf) as u32;
        id.push(char::from_digit(digit, 16).unwrap_or('0'));
    }
    id
}

/// A map for message ids, keys and addresses on the message path, with FxHash (SipHash costs more than the
/// rest of a lookup there).
pub(crate) type FastMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

/// How long a non-empty matchmaker answer is reused before asking again.
const LOOKUP_CACHE: Duration = Duration::from_secs(1);

/// The options of the zmq transport, from the URL's query.
#[derive(Debug, Clone)]
pub(crate) struct ZmqOptions {
    bind_address: String,
    bind_port: u16,
    host: String,
    target_expire: Duration,
    target_update: Duration,
    ack_timeout: Duration,
    send_timeout: Duration,
    queue_size: usize,
    max_pending: usize,
    notification_ttl: Duration,
    max_connections: usize,
    max_message_size: usize,
}

fn seconds(key: &str, v: &str) -> Result<Duration> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            Error::Configuration(format!(
                "`{key}` must be a positive number of seconds, got `{v}`"
            ))
        })
}

fn count(key: &str, v: &str) -> Result<usize> {
    v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
        Error::Configuration(format!("`{key}` must be a positive integer, got `{v}`"))
    })
}

impl ZmqOptions {
    fn parse(url: &TransportUrl) -> Result<(ZmqOptions, Option<PathBuf>)> {
        let mut o = ZmqOptions {
            bind_address: "127.0.0.1".into(),
            bind_port: 0,
            host: String::new(),
            target_expire: Duration::from_secs(300),
            target_update: Duration::from_secs(180),
            ack_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(10),
            queue_size: 64,
            max_pending: 1000,
            notification_ttl: Duration::from_secs(300),
            max_connections: 1024,
            max_message_size: protocol::DEFAULT_MAX_MESSAGE,
        };
        let mut file = None;
        for (k, v) in &url.query {
            match k.as_str() {
                "bind_address" => o.bind_address = v.clone(),
                "bind_port" => {
                    o.bind_port = v.parse().map_err(|_| {
                        Error::Configuration(format!(
                            "`bind_port` must be a port number, got `{v}`"
                        ))
                    })?;
                }
                "host" => o.host = v.clone(),
                "matchmaker_file" => file = Some(PathBuf::from(v)),
                "target_expire" => o.target_expire = seconds(k, v)?,
                "target_update" => o.target_update = seconds(k, v)?,
                "ack_timeout" => o.ack_timeout = seconds(k, v)?,
                "send_timeout" => o.send_timeout = seconds(k, v)?,
                "notification_ttl" => o.notification_ttl = seconds(k, v)?,
                "queue_size" => o.queue_size = count(k, v)?,
                "max_pending" => o.max_pending = count(k, v)?,
                "max_connections" => o.max_connections = count(k, v)?,
                "max_message_size" => {
                    o.max_message_size = count(k, v)?;
                    if o.max_message_size > protocol::MAX_FRAME {
                        return Err(Error::Configuration(format!(
                            "`max_message_size` may be at most {} (1 GiB), got `{v}`",
                            protocol::MAX_FRAME
                        )));
                    }
                }
                _ => {
                    return Err(Error::Configuration(format!(
                        "`zmq://` has no option `{k}`"
                    )));
                }
            }
        }
        if o.bind_address == "*" {
            o.bind_address = "0.0.0.0".into();
        }
        if o.host.is_empty() {
            if matches!(o.bind_address.as_str(), "0.0.0.0" | "::" | "[::]") {
                return Err(Error::Configuration(
                    "binding every interface needs `host`, the address other nodes reach this one on"
                        .into(),
                ));
            }
            o.host = o.bind_address.clone();
        }
        if o.target_update >= o.target_expire {
            return Err(Error::Configuration(
                "`target_update` must be shorter than `target_expire`".into(),
            ));
        }
        Ok((o, file))
    }
}

fn redis_url(url: &TransportUrl) -> Result<String> {
    let [h] = url.hosts.as_slice() else {
        return Err(Error::Configuration(
            "`zmq+redis://` needs exactly one Redis `host:port`".into(),
        ));
    };
    let auth = match &h.password {
        Some(p) => format!(
            ":{}@",
            percent_encoding::utf8_percent_encode(p, percent_encoding::NON_ALPHANUMERIC)
        ),
        None => String::new(),
    };
    let db = match url.virtual_host.as_deref() {
        None | Some("") => String::new(),
        Some(d) if d.parse::<u32>().is_ok() => format!("/{d}"),
        Some(d) => {
            return Err(Error::Configuration(format!(
                "the Redis database must be a number, got `{d}`"
            )));
        }
    };
    Ok(format!(
        "redis://{auth}{}:{}{db}",
        h.hostname,
        h.port.unwrap_or(6379)
    ))
}

fn rpc_key(exchange: &str, topic: &str, server: Option<&str>) -> String {
    // Built by hand: `format!` costs more than the rest of a call's routing.
    let mut key =
        String::with_capacity(5 + exchange.len() + topic.len() + server.map_or(0, |s| s.len() + 1));
    key.push_str("rpc:");
    key.push_str(exchange);
    key.push(':');
    key.push_str(topic);
    if let Some(s) = server {
        key.push('.');
        key.push_str(s);
    }
    key
}

fn notify_key(exchange: &str, topic: &str) -> String {
    format!("notify:{exchange}:{topic}")
}

/// A notification waiting for a listener.
#[derive(Debug, Clone)]
struct PendingNote {
    seq: u64,
    exchange: String,
    topic: String,
    /// `None`: every pool there is when it goes; `Some`: that pool only (the others got their copy).
    pool: Option<String>,
    ctxt: Map<String, Value>,
    message: Map<String, Value>,
    since: Instant,
}

#[derive(Debug, Default)]
struct Pending {
    queue: Mutex<VecDeque<PendingNote>>,
    wake: Notify,
    seq: AtomicU64,
}

/// Why a delivery did not happen.
#[derive(Debug)]
enum Fail {
    /// The matchmaker knows no consumer (or every server refused: none serves the target).
    NoRoute,
    /// The deadline passed; the last error met, if any.
    Deadline(Option<Error>),
    /// The retries ran out.
    Error(Error),
}

/// A matchmaker answer and when it came.
type Lookup = (Instant, Arc<[String]>);

/// The zmq driver.
#[derive(Debug)]
pub(crate) struct ZmqDriver {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    opts: ZmqOptions,
    exchange: String,
    matchmaker: Arc<dyn Matchmaker>,
    router: tokio::sync::Mutex<Option<Arc<Router>>>,
    conns: Mutex<FastMap<String, Arc<Conn>>>,
    cache: Mutex<FastMap<String, Lookup>>,
    /// `(key, member)` registrations of this transport, counted.
    regs: Mutex<HashMap<(String, String), usize>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    refresher_started: AtomicBool,
    flusher_started: AtomicBool,
    pending: Pending,
    /// Round-robin positions, one per key (and pool), so that sending to one key does not skew another.
    rr: Mutex<FastMap<String, usize>>,
    closed: AtomicBool,
}

impl ZmqDriver {
    pub(crate) fn new(url: &TransportUrl, options: &TransportOptions) -> Result<Self> {
        let (opts, file) = ZmqOptions::parse(url)?;
        let matchmaker: Arc<dyn Matchmaker> = match (url.transport.as_str(), file) {
            ("zmq+redis", None) => {
                Arc::new(RedisMatchmaker::new(&redis_url(url)?, opts.ack_timeout)?)
            }
            ("zmq", Some(path)) if url.hosts.is_empty() => Arc::new(FileMatchmaker::new(path)?),
            ("zmq", None) if url.hosts.is_empty() => {
                Arc::new(LocalMatchmakerRef(LocalMatchmaker::shared()))
            }
            ("zmq", _) => {
                return Err(Error::Configuration(
                    "`zmq://` takes no host: the hosts of `zmq+redis://` are the matchmaker's, and \
                     `bind_address`/`bind_port` say where to listen"
                        .into(),
                ));
            }
            ("zmq+redis", Some(_)) => {
                return Err(Error::Configuration(
                    "`matchmaker_file` and a Redis matchmaker exclude each other".into(),
                ));
            }
            (other, _) => {
                return Err(Error::DriverLoad {
                    scheme: other.to_owned(),
                    feature_hint: false,
                });
            }
        };
        Ok(ZmqDriver {
            inner: Arc::new(Inner {
                opts,
                exchange: options.control_exchange.clone(),
                matchmaker,
                router: tokio::sync::Mutex::new(None),
                conns: Mutex::default(),
                cache: Mutex::default(),
                regs: Mutex::default(),
                tasks: Mutex::default(),
                refresher_started: AtomicBool::new(false),
                flusher_started: AtomicBool::new(false),
                pending: Pending::default(),
                rr: Mutex::default(),
                closed: AtomicBool::new(false),
            }),
        })
    }
}

/// The process-wide local matchmaker behind an `Arc<dyn Matchmaker>`.
#[derive(Debug)]
struct LocalMatchmakerRef(&'static LocalMatchmaker);

impl Matchmaker for LocalMatchmakerRef {
    fn register<'a>(
        &'a self,
        key: &'a str,
        member: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<()>> {
        self.0.register(key, member, ttl)
    }
    fn unregister<'a>(&'a self, key: &'a str, member: &'a str) -> BoxFuture<'a, Result<()>> {
        self.0.unregister(key, member)
    }
    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
        self.0.lookup(key)
    }
}

impl Drop for ZmqDriver {
    fn drop(&mut self) {
        for t in lock(&self.inner.tasks).drain(..) {
            t.abort();
        }
        // Withdraw this transport's entries, so nobody is sent to a closed socket.
        let regs: Vec<(String, String)> = lock(&self.inner.regs).drain().map(|(k, _)| k).collect();
        if !regs.is_empty()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let mm = self.inner.matchmaker.clone();
            rt.spawn(async move {
                for (k, m) in regs {
                    let _ = mm.unregister(&k, &m).await;
                }
            });
        }
    }
}

impl Inner {
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::State("the transport was cleaned up".into()));
        }
        Ok(())
    }

    /// An error for a message (its frames) larger than `max_message_size`, which the receiving
    /// transport would refuse by closing the connection: the sender says so instead, and no retry
    /// helps.
    fn check_size(&self, wire: &[u8]) -> Result<()> {
        let max = self.opts.max_message_size;
        if wire.len() > max {
            return Err(Error::Serialization(format!(
                "the message is {} bytes, more than the `max_message_size` of zmq:// ({max})",
                wire.len()
            )));
        }
        Ok(())
    }

    fn exchange<'a>(&'a self, target: &'a Target) -> &'a str {
        target.exchange.as_deref().unwrap_or(&self.exchange)
    }

    /// The next round-robin position for `key`.
    fn next(&self, key: &str) -> usize {
        let mut rr = lock(&self.rr);
        if let Some(n) = rr.get_mut(key) {
            *n = n.wrapping_add(1);
            return *n;
        }
        // Bounded: forget every position when many keys were used (positions only spread the load).
        if rr.len() >= 4096 {
            rr.clear();
        }
        rr.insert(key.to_owned(), 0);
        0
    }

    fn spawn(&self, task: JoinHandle<()>) {
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    /// The ROUTER of this transport, bound on first use.
    async fn router(self: &Arc<Self>) -> Result<Arc<Router>> {
        let mut r = self.router.lock().await;
        if let Some(r) = r.as_ref() {
            return Ok(r.clone());
        }
        if !self.matchmaker.dynamic() && self.opts.bind_port == 0 {
            return Err(Error::Configuration(
                "a server with a static matchmaker file needs a fixed `bind_port`".into(),
            ));
        }
        let router = Arc::new(
            Router::bind(
                &self.opts.bind_address,
                self.opts.bind_port,
                &self.opts.host,
                self.opts.ack_timeout,
                self.opts.max_connections,
                self.opts.max_message_size,
            )
            .await?,
        );
        let me = Arc::downgrade(self);
        let fallback = server::Fallback(Box::new(move |exchange, topic, pool, ctxt, message| {
            let Some(inner) = me.upgrade() else { return };
            if tokio::runtime::Handle::try_current().is_err() {
                tracing::warn!(%topic, "requeued notification dropped: no runtime to send it on");
                return;
            }
            let note = PendingNote {
                seq: inner.pending.seq.fetch_add(1, Ordering::Relaxed),
                exchange: exchange.to_owned(),
                topic: topic.to_owned(),
                pool: Some(pool.to_owned()),
                ctxt,
                message,
                since: Instant::now(),
            };
            if let Err(e) = inner.queue_pending(vec![note]) {
                tracing::warn!(%topic, error = %e, "requeued notification dropped");
            }
        }));
        let _ = router.local.fallback.set(fallback);
        *r = Some(router.clone());
        Ok(router)
    }

    async fn register(self: &Arc<Self>, key: String, member: String) -> Result<()> {
        self.matchmaker
            .register(&key, &member, self.opts.target_expire)
            .await?;
        *lock(&self.regs).entry((key, member)).or_insert(0) += 1;
        if self.matchmaker.dynamic() && !self.refresher_started.swap(true, Ordering::SeqCst) {
            let me = Arc::downgrade(self);
            let every = self.opts.target_update;
            self.spawn(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Some(me) = me.upgrade() else { return };
                    let regs: Vec<(String, String)> = lock(&me.regs).keys().cloned().collect();
                    for (k, m) in regs {
                        if let Err(e) = me.matchmaker.register(&k, &m, me.opts.target_expire).await {
                            tracing::warn!(key = %k, error = %e, "could not refresh a matchmaker entry");
                        }
                    }
                }
            }));
        }
        Ok(())
    }

    async fn unregister(&self, key: &str, member: &str) {
        let last = {
            let mut regs = lock(&self.regs);
            let k = (key.to_owned(), member.to_owned());
            match regs.get_mut(&k) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                Some(_) => {
                    regs.remove(&k);
                    true
                }
                None => false,
            }
        };
        if last {
            lock(&self.cache).remove(key);
            if let Err(e) = self.matchmaker.unregister(key, member).await {
                tracing::warn!(%key, error = %e, "could not remove a matchmaker entry; it expires");
            }
        }
    }

    async fn lookup(&self, key: &str, fresh: bool) -> Result<Arc<[String]>> {
        if !fresh
            && let Some((at, found)) = lock(&self.cache).get(key)
            && at.elapsed() < LOOKUP_CACHE
        {
            return Ok(found.clone());
        }
        let found: Arc<[String]> = self.matchmaker.lookup(key).await?.into();
        let mut cache = lock(&self.cache);
        if found.is_empty() {
            cache.remove(key);
        } else {
            cache.insert(key.to_owned(), (Instant::now(), found.clone()));
        }
        Ok(found)
    }

    async fn conn(&self, addr: &str, limit: Duration) -> Result<Arc<Conn>> {
        if let Some(c) = lock(&self.conns).get(addr)
            && !c.is_dead()
        {
            return Ok(c.clone());
        }
        // Boxed: opening a connection is rare, and its future inline would make every call's
        // future (allocated per call) several times larger.
        let c = Arc::new(Box::pin(Conn::open(addr, limit, self.opts.max_message_size)).await?);
        let mut conns = lock(&self.conns);
        // Connections to servers that went away are dropped here, so the map stays as small as the set
        // of live servers this transport talks to.
        conns.retain(|_, c| !c.is_dead());
        conns.insert(addr.to_owned(), c.clone());
        Ok(c)
    }

    fn drop_conn(&self, c: &Arc<Conn>) {
        let mut conns = lock(&self.conns);
        if conns.get(&c.addr).is_some_and(|x| Arc::ptr_eq(x, c)) {
            conns.remove(&c.addr);
        }
    }

    /// One try at one address: the connection that took the message (and what its replies come to),
    /// a NACK's reason, or a failure. `spent` (the message the wire bytes were made from) is dropped
    /// once they are written: freeing it then overlaps the receiver's work instead of delaying the
    /// caller after the reply.
    async fn attempt(
        &self,
        addr: &str,
        msg_id: &str,
        wire: &[u8],
        wants_replies: bool,
        deadline: Instant,
        spent: &mut Option<Outgoing>,
    ) -> std::result::Result<(Arc<Conn>, Arc<Waiter>), std::result::Result<String, Error>> {
        let limit = self
            .opts
            .ack_timeout
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1));
        let conn = self.conn(addr, limit).await.map_err(Err)?;
        let pending = match conn.request(msg_id, wire, wants_replies).await {
            Ok(p) => p,
            Err(e) => {
                self.drop_conn(&conn);
                return Err(Err(e));
            }
        };
        drop(spent.take());
        match tokio::time::timeout(limit, pending.answer()).await {
            Ok(Some(Answer::Ack)) => Ok((conn, pending)),
            Ok(Some(Answer::Nack(why))) => Err(Ok(why)),
            Ok(None) => {
                self.drop_conn(&conn);
                Err(Err(Error::Connection {
                    reason: format!("the connection to `{addr}` was lost"),
                }))
            }
            Err(_) => {
                conn.forget(msg_id);
                Err(Err(Error::Connection {
                    reason: format!("no acknowledgement from `{addr}` within {limit:?}"),
                }))
            }
        }
    }

    /// Delivers a request to one server of `key`, trying the others, looking up again and backing off
    /// until `deadline` or the retries run out.
    #[allow(clippy::too_many_arguments)]
    async fn deliver(
        &self,
        key: &str,
        msg_id: &str,
        wire: &[u8],
        wants_replies: bool,
        deadline: Instant,
        opts: SendOptions,
        mut spent: Option<Outgoing>,
    ) -> std::result::Result<(Arc<Conn>, Arc<Waiter>), Fail> {
        let mut failures: u32 = 0;
        let mut last: Option<Error> = None;
        let mut fresh = false;
        let mut backoff = Duration::from_millis(10);
        loop {
            if Instant::now() >= deadline {
                return Err(Fail::Deadline(last));
            }
            let mut refused_all = true;
            match self.lookup(key, fresh).await {
                Ok(addrs) if addrs.is_empty() => {
                    if opts.at_least_once {
                        return Err(Fail::NoRoute);
                    }
                }
                Ok(addrs) => {
                    let start = self.next(key);
                    for i in 0..addrs.len() {
                        let Some(addr) = addrs.get((start + i) % addrs.len()) else {
                            continue;
                        };
                        match self
                            .attempt(addr, msg_id, wire, wants_replies, deadline, &mut spent)
                            .await
                        {
                            Ok(c) => return Ok(c),
                            Err(Ok(why)) => {
                                if why != NACK_NO_TARGET {
                                    refused_all = false;
                                    last = Some(Error::DeliveryFailure {
                                        reason: format!(
                                            "the server at `{addr}` refused the message ({why}: its queue is full)"
                                        ),
                                    });
                                }
                            }
                            Err(Err(e)) => {
                                tracing::debug!(%addr, error = %e, "zmq delivery attempt failed");
                                refused_all = false;
                                failures += 1;
                                last = Some(e);
                            }
                        }
                    }
                    lock(&self.cache).remove(key);
                    if refused_all && opts.at_least_once {
                        return Err(Fail::NoRoute);
                    }
                }
                Err(e) => {
                    failures += 1;
                    last = Some(e);
                }
            }
            if let Some(n) = opts.retry
                && failures > n
            {
                return Err(Fail::Error(last.unwrap_or(Error::DeliveryFailure {
                    reason: format!("no server of `{key}` took the message"),
                })));
            }
            fresh = true;
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(backoff.min(left)).await;
            backoff = (backoff * 2).min(Duration::from_millis(250));
        }
    }

    async fn fanout(
        &self,
        key: &str,
        topic: &str,
        exchange: &str,
        body: RequestRef<'_>,
    ) -> Result<()> {
        let addrs = self.lookup(key, true).await?;
        if addrs.is_empty() {
            return Err(Error::Undeliverable {
                exchange: format!("{topic}_fanout"),
                routing_key: String::new(),
            });
        }
        let msg_id = next_msg_id();
        let msg = body.to_wire(Kind::Fanout, &msg_id)?;
        self.check_size(&msg)?;
        let deadline = Instant::now() + self.opts.send_timeout;
        let tries = addrs.iter().map(|addr| {
            let (msg, msg_id) = (&msg[..], &msg_id);
            async move {
                let mut r = self
                    .attempt(addr, msg_id, msg, false, deadline, &mut None)
                    .await;
                if matches!(r, Err(Err(_))) {
                    // One reconnection, in case the cached connection had gone stale.
                    r = self
                        .attempt(addr, msg_id, msg, false, deadline, &mut None)
                        .await;
                }
                (addr, r.map(|_| ()))
            }
        });
        let mut taken = 0;
        for (addr, r) in futures::future::join_all(tries).await {
            match r {
                Ok(()) => taken += 1,
                Err(Ok(why)) if why == NACK_NO_TARGET => {}
                Err(Ok(why)) => tracing::warn!(%addr, %topic, reason = %why, "fanout refused"),
                Err(Err(e)) => tracing::warn!(%addr, %topic, error = %e, "fanout not delivered"),
            }
        }
        if taken == 0 {
            return Err(Error::DeliveryFailure {
                reason: format!("no server of `{topic}` on `{exchange}` took the fanout"),
            });
        }
        Ok(())
    }

    /// An error for a notification that cannot be sent at all (too large, say): encoded once, without
    /// the pool name each listener pool's copy adds, to know. For notifications about to be queued;
    /// one sent at once is checked as it is encoded, by [`Inner::send_note`].
    fn check_note(&self, n: &PendingNote) -> Result<()> {
        let probe = RequestRef {
            exchange: &n.exchange,
            topic: &n.topic,
            server: None,
            pool: None,
            timeout: None,
            ctxt: &n.ctxt,
            message: &n.message,
        }
        .to_wire(Kind::Notify, "")?;
        self.check_size(&probe)
    }

    /// Sends a notification to one listener of each pool (or of `only`). It fails with the pools it
    /// could not reach (`None`: it found no listener at all), or with the error that makes it
    /// unsendable, found before anything was sent.
    async fn send_note(&self, n: &PendingNote) -> std::result::Result<(), NoteFail> {
        let key = notify_key(&n.exchange, &n.topic);
        let members = match self.lookup(&key, false).await {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(%key, error = %e, "matchmaker lookup failed");
                return Err(NoteFail::Pools(vec![n.pool.clone()]));
            }
        };
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in members.iter() {
            let (addr, pool) = m.split_once('|').unwrap_or((m.as_str(), ""));
            groups
                .entry(pool.to_owned())
                .or_default()
                .push(addr.to_owned());
        }
        if let Some(p) = &n.pool {
            groups.retain(|k, _| k == p);
        }
        if groups.is_empty() {
            return Err(NoteFail::Pools(vec![n.pool.clone()]));
        }
        let deadline = Instant::now() + self.opts.send_timeout;
        let mut failed = Vec::new();
        for (i, (pool, addrs)) in groups.into_iter().enumerate() {
            let body = RequestRef {
                exchange: &n.exchange,
                topic: &n.topic,
                server: None,
                pool: Some(&pool),
                timeout: None,
                ctxt: &n.ctxt,
                message: &n.message,
            };
            let msg_id = next_msg_id();
            let msg = match body
                .to_wire(Kind::Notify, &msg_id)
                .and_then(|m| self.check_size(&m).map(|()| m))
            {
                Ok(m) => m,
                // Nothing sent yet: the whole notification is refused.
                Err(e) if i == 0 => return Err(NoteFail::Unsendable(e)),
                Err(e) => {
                    // Only a pool name longer than the first one's, enough to take a message just
                    // under the limit over it, gets here: no retry would send it.
                    tracing::error!(%key, %pool, error = %e, "notification dropped");
                    continue;
                }
            };
            let start = self.next(&format!("{key}|{pool}"));
            let mut done = false;
            for i in 0..addrs.len() {
                let Some(addr) = addrs.get((start + i) % addrs.len()) else {
                    continue;
                };
                if self
                    .attempt(addr, &msg_id, &msg, false, deadline, &mut None)
                    .await
                    .is_ok()
                {
                    done = true;
                    break;
                }
            }
            if !done {
                lock(&self.cache).remove(&key);
                failed.push(Some(pool));
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(NoteFail::Pools(failed))
        }
    }

    fn queue_pending(self: &Arc<Self>, notes: Vec<PendingNote>) -> Result<()> {
        {
            let mut q = lock(&self.pending.queue);
            if q.len() + notes.len() > self.opts.max_pending {
                return Err(Error::DeliveryFailure {
                    reason: format!(
                        "no listener, and {} notifications already wait for one",
                        q.len()
                    ),
                });
            }
            q.extend(notes);
        }
        self.pending.wake.notify_one();
        if !self.flusher_started.swap(true, Ordering::SeqCst) {
            let me = Arc::downgrade(self);
            self.spawn(tokio::spawn(async move {
                loop {
                    let Some(inner) = me.upgrade() else { return };
                    let idle = lock(&inner.pending.queue).is_empty();
                    if idle {
                        // The driver's drop aborts this task, so holding `inner` here is fine.
                        inner.pending.wake.notified().await;
                        continue;
                    }
                    inner.flush_pending().await;
                    drop(inner);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }));
        }
        Ok(())
    }

    /// One pass over the waiting notifications, in order per topic.
    async fn flush_pending(&self) {
        let snapshot: Vec<PendingNote> = lock(&self.pending.queue).iter().cloned().collect();
        let mut blocked = std::collections::HashSet::new();
        for n in snapshot {
            let key = (n.exchange.clone(), n.topic.clone());
            if blocked.contains(&key) {
                continue;
            }
            if n.since.elapsed() > self.opts.notification_ttl {
                tracing::warn!(topic = %n.topic, "notification dropped: no listener within the notification ttl");
                lock(&self.pending.queue).retain(|x| x.seq != n.seq);
                continue;
            }
            match self.send_note(&n).await {
                Ok(()) => lock(&self.pending.queue).retain(|x| x.seq != n.seq),
                Err(NoteFail::Unsendable(e)) => {
                    // Checked before it was queued, so only a pool name can make it so.
                    tracing::error!(topic = %n.topic, error = %e, "notification dropped");
                    lock(&self.pending.queue).retain(|x| x.seq != n.seq);
                }
                Err(NoteFail::Pools(pools)) => {
                    blocked.insert(key);
                    let mut q = lock(&self.pending.queue);
                    if let Some(pos) = q.iter().position(|x| x.seq == n.seq)
                        && pools.iter().all(Option::is_some)
                    {
                        q.remove(pos);
                        for (i, p) in pools.into_iter().enumerate() {
                            let mut again = n.clone();
                            again.pool = p;
                            again.seq = self.pending.seq.fetch_add(1, Ordering::Relaxed);
                            q.insert(pos + i, again);
                        }
                    }
                }
            }
        }
    }
}

/// Why [`Inner::send_note`] did not reach every pool.
enum NoteFail {
    /// The pools to try again (`None`: no listener was found at all).
    Pools(Vec<Option<String>>),
    /// It cannot be sent (too large for `max_message_size`, or not serialisable); nothing was sent.
    Unsendable(Error),
}

/// Waits for the final reply of a call until `deadline`, failing when no reply (a heartbeat or the
/// result) comes within the call-monitor timeout; the same rules as [`super::wait_for_reply`] (the
/// timeout and connection errors are completed by the caller).
async fn wait_for_replies(
    pending: &Waiter,
    deadline: Instant,
    call_monitor_timeout: Option<Duration>,
) -> Result<Value> {
    let mut monitor = call_monitor_timeout.map(|d| Instant::now() + d);
    let timeout = || Error::Timeout {
        msg_id: String::new(),
        topic: String::new(),
        elapsed: Duration::ZERO,
    };
    loop {
        let until = monitor.map_or(deadline, |m| m.min(deadline));
        match tokio::time::timeout_at(until, pending.reply()).await {
            Err(_) => return Err(timeout()),
            Ok(None) => {
                return Err(Error::Connection {
                    reason: "the connection closed".into(),
                });
            }
            Ok(Some(ReplyBody::Heartbeat)) => {
                if let Some(d) = call_monitor_timeout {
                    monitor = Some(Instant::now() + d);
                }
            }
            Ok(Some(ReplyBody::Final(r))) => return r.map_err(Error::from),
        }
    }
}

#[derive(Debug)]
struct ZmqSubscription {
    inner: Arc<Inner>,
    local: Arc<server::Local>,
    ids: Vec<u64>,
    regs: Vec<(String, String)>,
    stopped: AtomicBool,
}

impl SubscriptionControl for ZmqSubscription {
    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.stopped.swap(true, Ordering::SeqCst) {
                return;
            }
            self.local.remove(&self.ids);
            for (k, m) in &self.regs {
                self.inner.unregister(k, m).await;
            }
        })
    }
}

impl Drop for ZmqSubscription {
    fn drop(&mut self) {
        if !self.stopped.swap(true, Ordering::SeqCst) {
            self.local.remove(&self.ids);
            let (inner, regs) = (self.inner.clone(), std::mem::take(&mut self.regs));
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    for (k, m) in regs {
                        inner.unregister(&k, &m).await;
                    }
                });
            }
        }
    }
}

impl Driver for ZmqDriver {
    fn cast<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        opts: SendOptions,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(
            async move {
                let inner = &self.inner;
                inner.check_open()?;
                let topic = target.require_topic()?;
                let exchange = inner.exchange(target);
                let body = RequestRef {
                    exchange,
                    topic,
                    server: if target.fanout {
                        None
                    } else {
                        target.server.as_deref()
                    },
                    pool: None,
                    timeout: None,
                    ctxt: &msg.ctxt,
                    message: &msg.message,
                };
                if target.fanout {
                    let key = rpc_key(exchange, topic, None);
                    return inner.fanout(&key, topic, exchange, body).await;
                }
                let server = target.server.as_deref();
                let key = rpc_key(exchange, topic, server);
                let deadline = Instant::now() + inner.opts.send_timeout;
                let msg_id = next_msg_id();
                let wire = body.to_wire(Kind::Cast, &msg_id)?;
                inner.check_size(&wire)?;
                // Boxed apart, as in `call`.
                match Box::pin(inner.deliver(
                    &key,
                    &msg_id,
                    &wire,
                    false,
                    deadline,
                    opts,
                    Some(msg),
                ))
                .await
                {
                    Ok(_) => Ok(()),
                    Err(Fail::NoRoute | Fail::Deadline(None)) => Err(Error::Undeliverable {
                        exchange: exchange.to_owned(),
                        routing_key: server
                            .map_or_else(|| topic.to_owned(), |s| format!("{topic}.{s}")),
                    }),
                    Err(Fail::Deadline(Some(e)) | Fail::Error(e)) => Err(e),
                }
            }
            .instrument(
                tracing::debug_span!("zmq.cast", topic = ?target.topic, server = ?target.server),
            ),
        )
    }

    fn call<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        call: CallOptions,
        opts: SendOptions,
    ) -> BoxFuture<'a, Result<Value>> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.check_open()?;
            let topic = target.check_call()?;
            let exchange = inner.exchange(target);
            let server = target.server.as_deref();
            let dest = || server.map_or_else(|| topic.to_owned(), |s| format!("{topic}.{s}"));
            let start = Instant::now();
            let deadline = start + call.timeout;
            let msg_id = next_msg_id();
            let wire = RequestRef {
                exchange,
                topic,
                server,
                pool: None,
                timeout: call.call_monitor_timeout.map(|d| d.as_secs_f64()),
                ctxt: &msg.ctxt,
                message: &msg.message,
            }
            .to_wire(Kind::Call, &msg_id)?;
            inner.check_size(&wire)?;
            let key = rpc_key(exchange, topic, server);
            let timeout = |msg_id: &str| Error::Timeout {
                msg_id: msg_id.to_owned(),
                topic: dest(),
                elapsed: start.elapsed(),
            };
            // Boxed apart, so that neither this future nor the delivery's passes the size the
            // allocator serves from its per-thread cache (about 1 KiB): two small allocations cost
            // less than one large one.
            let (conn, pending) = match Box::pin(inner.deliver(&key, &msg_id, &wire, true, deadline, opts, Some(msg)))
                .await
            {
                Ok(c) => c,
                Err(Fail::NoRoute) if opts.at_least_once => {
                    return Err(Error::Undeliverable {
                        exchange: exchange.to_owned(),
                        routing_key: dest(),
                    });
                }
                Err(Fail::NoRoute | Fail::Deadline(_)) => return Err(timeout(&msg_id)),
                Err(Fail::Error(e)) => return Err(e),
            };
            let r = wait_for_replies(&pending, deadline, call.call_monitor_timeout).await;
            // A final reply removed the waiter already.
            if r.is_err() {
                conn.forget(&msg_id);
            }
            match r {
                Err(Error::Timeout { .. }) => Err(timeout(&msg_id)),
                Err(Error::Connection { .. }) => Err(Error::Connection {
                    reason: format!(
                        "the connection to `{}` was lost while waiting for the reply to `{msg_id}` on `{}`",
                        conn.addr,
                        dest()
                    ),
                }),
                r => r,
            }
        }.instrument(tracing::debug_span!("zmq.call", topic = ?target.topic, server = ?target.server)))
    }

    fn notify<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        _format: NotificationFormat,
        _opts: SendOptions,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(
            async move {
                let inner = &self.inner;
                inner.check_open()?;
                let topic = target.require_topic()?;
                let exchange = inner.exchange(target);
                let note = PendingNote {
                    seq: inner.pending.seq.fetch_add(1, Ordering::Relaxed),
                    exchange: exchange.to_owned(),
                    topic: topic.to_owned(),
                    pool: None,
                    ctxt: msg.ctxt,
                    message: msg.message,
                    since: Instant::now(),
                };
                let behind = lock(&inner.pending.queue)
                    .iter()
                    .any(|p| p.exchange == note.exchange && p.topic == note.topic);
                // What cannot be sent is refused now rather than queued.
                if behind {
                    inner.check_note(&note)?;
                    return inner.queue_pending(vec![note]);
                }
                match inner.send_note(&note).await {
                    Ok(()) => Ok(()),
                    Err(NoteFail::Unsendable(e)) => Err(e),
                    Err(NoteFail::Pools(pools)) => {
                        inner.check_note(&note)?;
                        let notes = pools
                            .into_iter()
                            .map(|p| {
                                let mut n = note.clone();
                                n.pool = p;
                                n.seq = inner.pending.seq.fetch_add(1, Ordering::Relaxed);
                                n
                            })
                            .collect();
                        inner.queue_pending(notes)
                    }
                }
            }
            .instrument(
                tracing::debug_span!("zmq.notify", topic = ?target.topic, server = ?target.server),
            ),
        )
    }

    fn listen<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<Subscription<IncomingRequest>>> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.check_open()?;
            let (topic, server) = target.check_server()?;
            let exchange = inner.exchange(target);
            let router = inner.router().await?;
            let (tx, rx) = mpsc::channel(inner.opts.queue_size);
            let id = router.local.add_rpc(exchange, topic, server, tx);
            let mut sub = ZmqSubscription {
                inner: inner.clone(),
                local: router.local.clone(),
                ids: vec![id],
                regs: Vec::new(),
                stopped: AtomicBool::new(false),
            };
            for key in [
                rpc_key(exchange, topic, None),
                rpc_key(exchange, topic, Some(server)),
            ] {
                inner.register(key.clone(), router.addr.clone()).await?;
                sub.regs.push((key, router.addr.clone()));
            }
            Ok(Subscription {
                incoming: rx,
                control: Box::new(sub),
            })
        })
    }

    fn listen_for_notifications<'a>(
        &'a self,
        targets: &'a [(Target, String)],
        pool: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Subscription<IncomingNotification>>> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.check_open()?;
            let router = inner.router().await?;
            let pool = pool.unwrap_or("");
            let (tx, rx) = mpsc::channel(inner.opts.queue_size);
            let mut sub = ZmqSubscription {
                inner: inner.clone(),
                local: router.local.clone(),
                ids: Vec::new(),
                regs: Vec::new(),
                stopped: AtomicBool::new(false),
            };
            let member = format!("{}|{pool}", router.addr);
            for (target, priority) in targets {
                let topic = format!("{}.{priority}", target.require_topic()?);
                let exchange = inner.exchange(target);
                let key = notify_key(exchange, &topic);
                if sub.regs.iter().any(|(k, _)| *k == key) {
                    continue;
                }
                sub.ids
                    .push(router.local.add_notify(exchange, &topic, pool, tx.clone()));
                inner.register(key.clone(), member.clone()).await?;
                sub.regs.push((key, member.clone()));
            }
            Ok(Subscription {
                incoming: rx,
                control: Box::new(sub),
            })
        })
    }

    fn cleanup(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.closed.store(true, Ordering::SeqCst);
            for t in lock(&inner.tasks).drain(..) {
                t.abort();
            }
            let regs: Vec<(String, String)> = lock(&inner.regs).drain().map(|(k, _)| k).collect();
            for (k, m) in regs {
                if let Err(e) = inner.matchmaker.unregister(&k, &m).await {
                    tracing::warn!(key = %k, error = %e, "could not remove a matchmaker entry; it expires");
                }
            }
            if let Some(r) = inner.router.lock().await.take() {
                r.local.clear();
            }
            lock(&inner.conns).clear();
            let left = lock(&inner.pending.queue).drain(..).count();
            if left > 0 {
                tracing::warn!(
                    count = left,
                    "notifications still waiting for a listener dropped at cleanup"
                );
            }
        })
    }
}
