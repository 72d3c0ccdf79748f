//! Transport and notification drivers by name, through stevedore (feature `stevedore`).
//!
//! oslo.messaging finds its drivers through entry points: the transport URL's scheme names a plugin of
//! `oslo.messaging.drivers`, and each `[oslo_messaging_notifications] driver` names a plugin of
//! `oslo.messaging.notify.drivers`. With this feature the same happens here: the built-in drivers are
//! registered with [`stevedore::register!`] under the Python names, [`Transport::new`](crate::Transport::new)
//! asks a [`DriverManager`] for the URL's scheme, and [`Notifier`](crate::Notifier) asks a
//! [`NamedExtensionManager`] for its driver names. So another crate of the program adds a transport or
//! a notification driver by registering it, and configuration picks it by name:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use oslo_messaging::plugins::{NotificationDriver, NotificationDriverPlugin, OutgoingNotification};
//! use oslo_messaging::transport::BoxFuture;
//! use oslo_messaging::{Context, Notifier, Transport};
//!
//! /// Keeps the event types it is given.
//! #[derive(Debug, Default)]
//! struct Recorder(Mutex<Vec<String>>);
//!
//! static SEEN: Recorder = Recorder(Mutex::new(Vec::new()));
//!
//! impl NotificationDriver for &'static Recorder {
//!     fn notify<'a>(&'a self, n: OutgoingNotification<'a>) -> BoxFuture<'a, oslo_messaging::Result<()>> {
//!         let event = n.message["event_type"].as_str().unwrap_or_default().to_owned();
//!         self.0.lock().unwrap().push(event);
//!         Box::pin(async { Ok(()) })
//!     }
//! }
//!
//! fn recorder(_: &stevedore::InvokeArgs) -> Result<NotificationDriverPlugin, stevedore::PluginError> {
//!     Ok(NotificationDriverPlugin::new(&SEEN))
//! }
//! stevedore::register! {
//!     namespace: oslo_messaging::plugins::NOTIFICATION_DRIVERS,
//!     name: "doc-recorder",
//!     factory: recorder,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> oslo_messaging::Result<()> {
//! let notifier = Notifier::builder(Transport::new("memory://")?)
//!     .driver("doc-recorder")
//!     .build()?;
//! notifier.info(&Context::new(), "compute.instance.create.end", serde_json::json!({})).await?;
//! assert_eq!(*SEEN.0.lock().unwrap(), ["compute.instance.create.end"]);
//! # Ok(()) }
//! ```
//!
//! A transport driver is registered the same way under [`TRANSPORT_DRIVERS`], with a factory that
//! returns a [`TransportPlugin`]: a function from the parsed URL and the transport options to an
//! `Arc<dyn Driver>`. The scheme before any `+` is the name looked up (`kombu+memory://` asks for
//! `kombu`), as in oslo.messaging.
//!
//! A notifier's drivers run in the order they were configured (Python runs them in entry-point order);
//! a name configured twice runs once, as in Python.
//!
//! Plugins come from [`stevedore::Registry::global`], the compiled-in ones. A name nobody registered is
//! [`Error::DriverLoad`] for a transport and [`Error::Configuration`] naming the namespace for a
//! notification driver; a plugin whose factory fails, or two plugins sharing a transport name, are
//! [`Error::Configuration`] with stevedore's explanation.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};
use stevedore::{DriverManager, InvokeArgs, NamedExtensionManager, PluginError};

use crate::notify::Priority;
use crate::transport::{BoxFuture, Driver, TransportOptions};
use crate::{Context, Error, Result, Transport, TransportUrl};

/// The namespace of transport drivers (Python's `oslo.messaging.drivers` entry points).
pub const TRANSPORT_DRIVERS: &str = "oslo.messaging.drivers";

/// The namespace of notification drivers (Python's `oslo.messaging.notify.drivers` entry points).
pub const NOTIFICATION_DRIVERS: &str = "oslo.messaging.notify.drivers";

/// Makes the driver of a transport from its URL and options: what a plugin of [`TRANSPORT_DRIVERS`]
/// provides (Python's driver class, instantiated with the configuration and the URL).
pub trait DriverFactory: Send + Sync {
    /// Makes the driver. Brokered drivers should connect lazily, on first use.
    fn make(&self, url: &TransportUrl, options: &TransportOptions) -> Result<Arc<dyn Driver>>;
}

impl<F> DriverFactory for F
where
    F: Fn(&TransportUrl, &TransportOptions) -> Result<Arc<dyn Driver>> + Send + Sync,
{
    fn make(&self, url: &TransportUrl, options: &TransportOptions) -> Result<Arc<dyn Driver>> {
        self(url, options)
    }
}

/// What the factory of a [`TRANSPORT_DRIVERS`] plugin returns.
pub type TransportPlugin = Box<dyn DriverFactory>;

/// One notification on its way out, as a notification driver receives it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct OutgoingNotification<'a> {
    /// The notifier's transport.
    pub transport: &'a Transport,
    /// The notifier's topics.
    pub topics: &'a [String],
    /// The context, serialised, with `auth_token` cleared.
    pub ctxt: &'a Context,
    /// The notification: `message_id`, `publisher_id`, `event_type`, `priority`, `payload`, `timestamp`.
    pub message: &'a Map<String, Value>,
    /// The priority.
    pub priority: Priority,
    /// The notifier's retry setting.
    pub retry: Option<u32>,
}

/// A notification driver of another crate (Python's `oslo_messaging.notify.notifier.Driver`).
///
/// An error is logged by the notifier and returned from `notify` after every driver had its turn, as the
/// built-in drivers' errors are.
pub trait NotificationDriver: Send + Sync + fmt::Debug {
    /// Sends (or records, or drops) one notification.
    fn notify<'a>(&'a self, notification: OutgoingNotification<'a>) -> BoxFuture<'a, Result<()>>;
}

/// What the factory of a [`NOTIFICATION_DRIVERS`] plugin returns.
#[derive(Debug, Clone)]
pub struct NotificationDriverPlugin(pub(crate) Loaded);

impl NotificationDriverPlugin {
    /// A plugin around a driver of your own.
    pub fn new(driver: impl NotificationDriver + 'static) -> Self {
        NotificationDriverPlugin(Loaded::Custom(Arc::new(driver)))
    }
}

/// A notification driver found by name: one of the crate's own (by its name), or another crate's.
#[derive(Debug, Clone)]
pub(crate) enum Loaded {
    Builtin(&'static str),
    Custom(Arc<dyn NotificationDriver>),
}

/// The built-in transport drivers, under oslo.messaging's names (and this crate's `memory` and `amqp`).
fn builtin_transport(_: &InvokeArgs) -> Result<TransportPlugin, PluginError> {
    Ok(Box::new(crate::transport::builtin_driver))
}

stevedore::register! {
    namespace: TRANSPORT_DRIVERS,
    name: "fake",
    target: "oslo_messaging::transport::memory::MemoryDriver",
    factory: builtin_transport,
}
stevedore::register! {
    namespace: TRANSPORT_DRIVERS,
    name: "memory",
    target: "oslo_messaging::transport::memory::MemoryDriver",
    factory: builtin_transport,
}
#[cfg(feature = "rabbit")]
stevedore::register! {
    namespace: TRANSPORT_DRIVERS,
    name: "rabbit",
    target: "oslo_messaging::transport::rabbit::RabbitDriver",
    factory: builtin_transport,
}
#[cfg(feature = "rabbit")]
stevedore::register! {
    namespace: TRANSPORT_DRIVERS,
    name: "kombu",
    target: "oslo_messaging::transport::rabbit::RabbitDriver",
    factory: builtin_transport,
}
#[cfg(feature = "rabbit")]
stevedore::register! {
    namespace: TRANSPORT_DRIVERS,
    name: "amqp",
    target: "oslo_messaging::transport::rabbit::RabbitDriver",
    factory: builtin_transport,
}
#[cfg(feature = "zmq")]
stevedore::register! {
    namespace: TRANSPORT_DRIVERS,
    name: "zmq",
    target: "oslo_messaging::transport::zmq::ZmqDriver",
    factory: builtin_transport,
}

/// Registers the built-in notification drivers, one factory each (a factory does not know its name).
macro_rules! builtin_notification_drivers {
    ($($name:literal => $factory:ident),* $(,)?) => {$(
        fn $factory(_: &InvokeArgs) -> Result<NotificationDriverPlugin, PluginError> {
            Ok(NotificationDriverPlugin(Loaded::Builtin($name)))
        }
        stevedore::register! {
            namespace: NOTIFICATION_DRIVERS,
            name: $name,
            target: concat!("oslo_messaging::notify::", $name),
            factory: $factory,
        }
    )*};
}

builtin_notification_drivers! {
    "log" => log_driver,
    "messaging" => messaging_driver,
    "messagingv2" => messagingv2_driver,
    "noop" => noop_driver,
    "routing" => routing_driver,
    "test" => test_driver,
}

/// The transport schemes this crate knows but builds only with a feature.
fn needs_feature(name: &str) -> bool {
    matches!(name, "rabbit" | "kombu" | "amqp" | "zmq")
}

/// A stevedore error with its causes, for [`Error::Configuration`].
fn explain(err: &stevedore::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The driver for `url`, from the [`TRANSPORT_DRIVERS`] plugin named by its scheme.
pub(crate) fn transport_driver(
    url: &TransportUrl,
    options: &TransportOptions,
) -> Result<Arc<dyn Driver>> {
    let name = url.driver();
    let manager = DriverManager::<TransportPlugin>::builder(TRANSPORT_DRIVERS, name)
        .invoke_on_load(InvokeArgs::new())
        .ignore_missing_names()
        .build();
    match manager {
        Ok(manager) => match manager.driver() {
            Some(factory) => {
                tracing::debug!(
                    namespace = TRANSPORT_DRIVERS,
                    name,
                    target = manager.extension().map(|e| e.target()),
                    "loaded transport driver"
                );
                factory.make(url, options)
            }
            None => Err(Error::Configuration(format!(
                "the `{TRANSPORT_DRIVERS}` plugin `{name}` made no driver"
            ))),
        },
        Err(err) if err.is_no_matches() => Err(Error::DriverLoad {
            scheme: url.transport.clone(),
            feature_hint: needs_feature(name),
        }),
        Err(err) => Err(Error::Configuration(explain(&err))),
    }
}

fn unknown_notification_driver(name: &str) -> Error {
    Error::Configuration(format!(
        "unknown notification driver `{name}` (no `{NOTIFICATION_DRIVERS}` plugin of that name)"
    ))
}

/// The notification drivers called `names`, in the order given (a name listed twice counts once).
pub(crate) fn notification_drivers(names: &[String]) -> Result<Vec<Loaded>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let manager = NamedExtensionManager::<NotificationDriverPlugin>::builder(
        NOTIFICATION_DRIVERS,
        names.iter().cloned(),
    )
    .invoke_on_load(InvokeArgs::new())
    .name_order(true)
    .ignore_missing_names()
    .on_load_failure(|_, err| Err(err.clone()))
    .build()
    .map_err(|err| Error::Configuration(explain(&err)))?;
    if let Some(missing) = manager.missing_names().first() {
        return Err(unknown_notification_driver(missing));
    }
    Ok(manager
        .extensions()
        .iter()
        .filter_map(|ext| ext.obj().map(|plugin| plugin.0.clone()))
        .collect())
}

/// One notification driver by name (what the `routing` driver dispatches to).
pub(crate) fn notification_driver(name: &str) -> Result<Loaded> {
    match DriverManager::<NotificationDriverPlugin>::builder(NOTIFICATION_DRIVERS, name)
        .invoke_on_load(InvokeArgs::new())
        .ignore_missing_names()
        .build()
    {
        Ok(manager) => manager
            .driver()
            .map(|plugin| plugin.0.clone())
            .ok_or_else(|| unknown_notification_driver(name)),
        Err(err) if err.is_no_matches() => Err(unknown_notification_driver(name)),
        Err(err) => Err(Error::Configuration(explain(&err))),
    }
}
