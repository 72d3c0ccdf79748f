#![doc = include_str!("../README.md")]

#[cfg(feature = "oslo-config")]
pub mod config;
mod error;
pub mod notify;
#[cfg(feature = "stevedore")]
pub mod plugins;
mod remote;
pub mod rpc;
mod serializer;
mod target;
pub mod transport;
mod url;
mod version;
pub mod wire;

pub mod blocking;

// Not part of the API: the `zmq://` transport's parsers of peer bytes, for the fuzz targets in `fuzz/`
// only (the `fuzzing` feature, off by default; hidden from the docs; may change at any time).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use transport::zmq::fuzzing;

pub use error::{Error, Result};
pub use notify::{
    BatchNotificationListener, NotificationEndpoint, NotificationFilter, NotificationListener,
    NotificationResult, Notifier, Priority,
};
pub use remote::RemoteError;
pub use rpc::{AccessPolicy, Endpoint, RpcClient, RpcServer};
pub use serializer::{NoOpSerializer, Serializer};
pub use target::Target;
pub use transport::Transport;
pub use url::{TransportHost, TransportUrl};
pub use version::is_compatible as version_is_compatible;

/// The `lapin` crate the `rabbit://` transport runs on (for code that also speaks AMQP directly).
#[cfg(feature = "rabbit")]
pub use lapin;

/// A request context: the caller's identity and request ids, sent along with every message as
/// `_context_<key>` fields.
pub type Context = serde_json::Map<String, serde_json::Value>;
