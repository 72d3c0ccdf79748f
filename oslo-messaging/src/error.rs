//! The one error type of the crate.

use std::time::Duration;

use crate::remote::RemoteError;

/// What went wrong in a messaging operation.
///
/// It mirrors the exceptions of Python's oslo.messaging. [`Error::is_retryable`] tells the errors that a retry
/// can cure (a timeout, a lost connection) from the ones it cannot (a bad target, a remote failure).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No reply came back in time (`MessagingTimeout`).
    #[error("timed out waiting for a reply to message ID `{msg_id}` on `{topic}` after {:.3}s", elapsed.as_secs_f64())]
    Timeout {
        /// The request's message id.
        msg_id: String,
        /// The topic (and server) the request went to.
        topic: String,
        /// How long the caller waited.
        elapsed: Duration,
    },
    /// The remote method failed; the reply carried its exception (`RemoteError` and rebuilt exceptions).
    #[error(transparent)]
    Remote(RemoteError),
    /// No endpoint exposes the method (`NoSuchMethod`), raised by a server's dispatcher.
    #[error("endpoint does not support RPC method `{method}`")]
    NoSuchMethod {
        /// The requested method.
        method: String,
    },
    /// No endpoint supports the namespace and version (`UnsupportedVersion`), raised by a server's dispatcher.
    #[error("endpoint does not support RPC version `{version}` (method `{method}`)")]
    UnsupportedVersion {
        /// The requested version.
        version: String,
        /// The requested method.
        method: String,
    },
    /// The message version is above the client's version cap (`RPCVersionCapError`); nothing was sent.
    #[error("requested message version `{version}` is incompatible, it must be at most `{cap}`")]
    VersionCap {
        /// The version of the message.
        version: String,
        /// The client's cap.
        cap: String,
    },
    /// The message could not be delivered after the allowed retries (`MessageDeliveryFailure`).
    #[error("message delivery failed: {reason}")]
    DeliveryFailure {
        /// Why.
        reason: String,
    },
    /// A mandatory publish found no queue bound to its routing key (`MessageUndeliverable`).
    #[error("message undeliverable: no queue bound to `{routing_key}` on exchange `{exchange}`")]
    Undeliverable {
        /// The exchange published to.
        exchange: String,
        /// The routing key published with.
        routing_key: String,
    },
    /// The connection to the messaging backend failed or was lost; a retry may cure it.
    #[error("transport connection failed: {reason}")]
    Connection {
        /// Why.
        reason: String,
    },
    /// A target breaks the rules of its use (`InvalidTarget`).
    #[error("invalid target: {reason} (target {target})")]
    InvalidTarget {
        /// Which rule.
        reason: String,
        /// The target, displayed.
        target: String,
    },
    /// A transport URL could not be parsed (`InvalidTransportURL`).
    #[error("invalid transport URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL, with any password masked.
        url: String,
        /// Why.
        reason: String,
    },
    /// The URL names a transport this build does not have (`DriverLoadFailure`).
    #[error("no transport driver for `{scheme}`{}", if *.feature_hint { " (is the matching cargo feature enabled?)" } else { "" })]
    DriverLoad {
        /// The scheme of the URL.
        scheme: String,
        /// The scheme is one we know, but its feature is off.
        feature_hint: bool,
    },
    /// An option (or URL query parameter) is unknown or has a bad value (`ConfigurationError`).
    #[error("configuration error: {0}")]
    Configuration(String),
    /// A version string is not `major.minor[.rev]`.
    #[error("invalid version `{0}`: expected `major.minor` or `major.minor.rev`")]
    InvalidVersion(String),
    /// An argument, result or payload could not be (de)serialised to JSON.
    #[error("serialisation failed: {0}")]
    Serialization(String),
    /// A message on the wire could not be decoded.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A server or listener was used out of order (e.g. started twice).
    #[error("invalid state: {0}")]
    State(String),
}

impl Error {
    /// Whether retrying the same operation may succeed: timeouts, lost connections and delivery failures.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Timeout { .. }
                | Error::Connection { .. }
                | Error::DeliveryFailure { .. }
                | Error::Undeliverable { .. }
        )
    }

    /// The remote error, when the failure came from the remote side.
    pub fn remote(&self) -> Option<&RemoteError> {
        match self {
            Error::Remote(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn serialization(e: impl std::fmt::Display) -> Self {
        Error::Serialization(e.to_string())
    }
}

impl From<RemoteError> for Error {
    fn from(e: RemoteError) -> Self {
        Error::Remote(e)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
