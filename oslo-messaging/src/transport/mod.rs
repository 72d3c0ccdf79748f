//! Transports and the driver trait that each backend (`memory://`, `rabbit://`, `zmq://`) implements.
//!
//! A [`Transport`] is built from a URL and shared (it is cheap to clone) by every client, server, notifier
//! and listener of a program. The backend behind it is a [`Driver`]: the RPC and notification layers above
//! never know which one, so a program switches transport by changing the URL and nothing else.
//!
//! # The driver contract
//!
//! A driver moves oslo messages (JSON objects) and gives these guarantees, which the shared transport tests
//! check on every backend:
//! - **cast**: the message goes to one consumer of `topic` (or of `topic.server` when the target names a
//!   server; to every server of the topic when it is a fanout). It returns once the backend has taken the
//!   message (a publisher confirm on a broker). With no consumer, the message may wait in a queue (broker)
//!   or be dropped.
//! - **call**: the same routing, then the driver waits for the final reply, restarting the call-monitor
//!   timer on each heartbeat ([`wait_for_reply`] does this for any driver that feeds it replies). The
//!   request expires with the call's timeout.
//! - **listen**: delivers each request once to the returned channel, with a [`Replier`] for calls; stops
//!   delivering on [`Subscription::stop`] and then closes the channel. RPC requests are acknowledged on
//!   receipt (at most once).
//! - **notify / listen for notifications**: one queue per `(topic, priority)` or per pool; every pool gets
//!   its copy; a notification is acknowledged after its handler through its [`Acker`], and an
//!   [`Acker`] dropped without a decision puts the message back.

pub(crate) mod memory;
#[cfg(feature = "rabbit")]
pub(crate) mod rabbit;
#[cfg(feature = "zmq")]
pub(crate) mod zmq;

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::wire::ReplyBody;
use crate::{Context, Error, Result, Target, TransportUrl};

/// A boxed future, as the driver trait returns (the trait is object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A message to send: its context and its body (`method`/`args`/`namespace`/`version` for RPC, the
/// notification fields for a notification).
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    /// The context, already serialised.
    pub ctxt: Context,
    /// The message body.
    pub message: Map<String, Value>,
}

/// How hard to try sending.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendOptions {
    /// How many times to retry a failed connection or publish: `None` for ever, `Some(0)` never.
    pub retry: Option<u32>,
    /// Publish mandatory: fail with [`Error::Undeliverable`] when no queue is bound (`at_least_once`).
    pub at_least_once: bool,
}

/// The timing of a call.
#[derive(Debug, Clone, Copy)]
pub struct CallOptions {
    /// How long to wait for the final reply.
    pub timeout: Duration,
    /// When set, the server sends heartbeats and the call fails when none comes for this long.
    pub call_monitor_timeout: Option<Duration>,
}

/// The format of a notification on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationFormat {
    /// The 1.0 format: the message as the whole body (driver `messaging`).
    V1,
    /// The 2.0 envelope (driver `messagingv2`).
    V2,
}

/// Sends the replies of one call: heartbeats, then the final reply.
pub trait Replier: Send + Sync + Debug {
    /// Sends one reply.
    fn send(&self, body: ReplyBody) -> BoxFuture<'_, Result<()>>;
}

/// Settles one notification.
pub trait Acker: Send + Debug {
    /// The handler is done with it.
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<()>>;
    /// Put it back for another delivery.
    fn requeue(self: Box<Self>) -> BoxFuture<'static, Result<()>>;
}

/// An RPC request delivered to a server.
#[derive(Debug)]
pub struct IncomingRequest {
    /// The context sent with it.
    pub ctxt: Context,
    /// `method`, `args`, `namespace`, `version`.
    pub message: Map<String, Value>,
    /// The caller's call-monitor timeout in seconds (`_timeout`).
    pub client_timeout: Option<f64>,
    /// How to answer; `None` for a cast.
    pub replier: Option<Arc<dyn Replier>>,
}

/// A notification delivered to a listener.
#[derive(Debug)]
pub struct IncomingNotification {
    /// The context sent with it.
    pub ctxt: Context,
    /// The notification fields (`message_id`, `publisher_id`, `event_type`, `priority`, `payload`,
    /// `timestamp`).
    pub message: Map<String, Value>,
    /// How to settle it.
    pub acker: Box<dyn Acker>,
}

/// Stops a subscription.
pub trait SubscriptionControl: Send + Sync + Debug {
    /// Stops taking new messages; the subscription's channel closes once the driver let go of it.
    fn stop(&self) -> BoxFuture<'_, ()>;
}

/// The messages of a subscription, and its control.
#[derive(Debug)]
pub struct Subscription<T> {
    /// The delivered messages.
    pub incoming: mpsc::Receiver<T>,
    /// Stops the subscription.
    pub control: Box<dyn SubscriptionControl>,
}

impl<T> Subscription<T> {
    /// Stops taking new messages.
    pub async fn stop(&self) {
        self.control.stop().await;
    }
}

/// A messaging backend. Implemented by the `memory://`, `rabbit://` and `zmq://` drivers.
pub trait Driver: Send + Sync + Debug + 'static {
    /// Sends a cast (no reply).
    fn cast<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        opts: SendOptions,
    ) -> BoxFuture<'a, Result<()>>;
    /// Sends a call and waits for its result.
    fn call<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        call: CallOptions,
        opts: SendOptions,
    ) -> BoxFuture<'a, Result<Value>>;
    /// Sends a notification to `target` (whose topic is already `<topic>.<priority>`).
    fn notify<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        format: NotificationFormat,
        opts: SendOptions,
    ) -> BoxFuture<'a, Result<()>>;
    /// Subscribes an RPC server to `target` (topic and server).
    fn listen<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<Subscription<IncomingRequest>>>;
    /// Subscribes a notification listener to `(target, priority)` pairs, in a pool or not.
    fn listen_for_notifications<'a>(
        &'a self,
        targets: &'a [(Target, String)],
        pool: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Subscription<IncomingNotification>>>;
    /// Releases the driver's connections.
    fn cleanup(&self) -> BoxFuture<'_, ()>;
}

/// Waits for the final reply of a call on a channel of replies, with the call's timeout and its
/// call-monitor timer (restarted by each heartbeat).
pub async fn wait_for_reply(
    replies: &mut mpsc::UnboundedReceiver<ReplyBody>,
    msg_id: &str,
    topic: &str,
    call: CallOptions,
) -> Result<Value> {
    let start = tokio::time::Instant::now();
    let deadline = start + call.timeout;
    let mut monitor = call.call_monitor_timeout.map(|d| start + d);
    let timeout = |start: tokio::time::Instant| Error::Timeout {
        msg_id: msg_id.to_owned(),
        topic: topic.to_owned(),
        elapsed: start.elapsed(),
    };
    loop {
        let until = monitor.map_or(deadline, |m| m.min(deadline));
        match tokio::time::timeout_at(until, replies.recv()).await {
            Err(_) => return Err(timeout(start)),
            Ok(None) => {
                return Err(Error::Connection {
                    reason: "the reply channel closed".into(),
                });
            }
            Ok(Some(ReplyBody::Heartbeat)) => {
                if let Some(d) = call.call_monitor_timeout {
                    monitor = Some(tokio::time::Instant::now() + d);
                }
            }
            Ok(Some(ReplyBody::Final(r))) => return r.map_err(Error::from),
        }
    }
}

/// Options that apply to every driver.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// The default exchange (`control_exchange`, default `openstack`).
    pub control_exchange: String,
    /// The default call timeout (`rpc_response_timeout`, default 60 s).
    pub rpc_response_timeout: Duration,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            control_exchange: "openstack".to_owned(),
            rpc_response_timeout: Duration::from_secs(60),
        }
    }
}

/// A connection to a messaging backend, built from a transport URL. Clone it to share it.
#[derive(Clone, Debug)]
pub struct Transport {
    inner: Arc<TransportInner>,
}

#[derive(Debug)]
struct TransportInner {
    url: TransportUrl,
    options: TransportOptions,
    driver: Arc<dyn Driver>,
}

/// Builds a [`Transport`].
#[derive(Debug)]
pub struct TransportBuilder {
    url: String,
    options: TransportOptions,
    driver: Option<Arc<dyn Driver>>,
}

impl TransportBuilder {
    /// Sets the control exchange (default `openstack`).
    pub fn control_exchange(mut self, exchange: impl Into<String>) -> Self {
        self.options.control_exchange = exchange.into();
        self
    }

    /// Sets the default call timeout (default 60 s).
    pub fn rpc_response_timeout(mut self, timeout: Duration) -> Self {
        self.options.rpc_response_timeout = timeout;
        self
    }

    /// Uses a driver of your own for this URL, instead of the one its scheme names.
    pub fn driver(mut self, driver: Arc<dyn Driver>) -> Self {
        self.driver = Some(driver);
        self
    }

    /// Parses the URL and makes the driver. Brokered drivers connect lazily, on first use.
    pub fn build(self) -> Result<Transport> {
        let url = TransportUrl::parse(&self.url)?;
        let driver = match self.driver {
            Some(d) => d,
            None => make_driver(&url, &self.options)?,
        };
        Ok(Transport {
            inner: Arc::new(TransportInner {
                url,
                options: self.options,
                driver,
            }),
        })
    }
}

fn make_driver(url: &TransportUrl, options: &TransportOptions) -> Result<Arc<dyn Driver>> {
    // With the `stevedore` feature the scheme names a plugin of `oslo.messaging.drivers`, among which
    // are the built-in drivers below.
    #[cfg(feature = "stevedore")]
    {
        crate::plugins::transport_driver(url, options)
    }
    #[cfg(not(feature = "stevedore"))]
    {
        builtin_driver(url, options)
    }
}

/// The built-in drivers, by the URL's scheme.
pub(crate) fn builtin_driver(
    url: &TransportUrl,
    options: &TransportOptions,
) -> Result<Arc<dyn Driver>> {
    match url.driver() {
        "memory" | "fake" => Ok(Arc::new(memory::MemoryDriver::new(url, options)?)),
        #[cfg(feature = "rabbit")]
        "rabbit" | "kombu" | "amqp" => Ok(Arc::new(rabbit::RabbitDriver::new(url, options)?)),
        #[cfg(not(feature = "rabbit"))]
        "rabbit" | "kombu" | "amqp" => Err(Error::DriverLoad {
            scheme: url.transport.clone(),
            feature_hint: true,
        }),
        #[cfg(feature = "zmq")]
        "zmq" => Ok(Arc::new(zmq::ZmqDriver::new(url, options)?)),
        #[cfg(not(feature = "zmq"))]
        "zmq" => Err(Error::DriverLoad {
            scheme: url.transport.clone(),
            feature_hint: true,
        }),
        _ => Err(Error::DriverLoad {
            scheme: url.transport.clone(),
            feature_hint: false,
        }),
    }
}

impl Transport {
    /// A transport for `url` with the default options.
    pub fn new(url: &str) -> Result<Transport> {
        Transport::builder(url).build()
    }

    /// A builder for a transport to `url`.
    pub fn builder(url: &str) -> TransportBuilder {
        TransportBuilder {
            url: url.to_owned(),
            options: TransportOptions::default(),
            driver: None,
        }
    }

    /// The parsed URL (it prints without passwords).
    pub fn url(&self) -> &TransportUrl {
        &self.inner.url
    }

    /// The options every driver uses.
    pub fn options(&self) -> &TransportOptions {
        &self.inner.options
    }

    /// The driver.
    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.inner.driver
    }

    /// Closes the driver's connections. Clients and servers still holding the transport fail afterwards.
    pub async fn cleanup(&self) {
        self.inner.driver.cleanup().await;
    }
}
