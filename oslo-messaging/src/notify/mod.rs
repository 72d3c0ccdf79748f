//! Notifications: the [`Notifier`] that emits them and the listeners that consume them.

mod glob;
mod listener;
mod notifier;

use std::fmt;
use std::str::FromStr;

pub use listener::{
    BatchNotificationEndpoint, BatchNotificationListener, BatchNotificationListenerBuilder,
    Notification, NotificationEndpoint, NotificationFilter, NotificationListener,
    NotificationListenerBuilder, NotificationResult,
};
pub use notifier::{CapturedNotification, Notifier, NotifierBuilder, take_test_notifications};

use crate::Error;

/// The priority of a notification. On the wire it is upper case in the message and lower case in the
/// routing key (`<topic>.<priority>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// `AUDIT`.
    Audit,
    /// `DEBUG`.
    Debug,
    /// `INFO`.
    Info,
    /// `WARN`.
    Warn,
    /// `ERROR`.
    Error,
    /// `CRITICAL`.
    Critical,
    /// `SAMPLE`.
    Sample,
}

impl Priority {
    /// Every priority, in the original's order.
    pub const ALL: [Priority; 7] = [
        Priority::Audit,
        Priority::Debug,
        Priority::Info,
        Priority::Warn,
        Priority::Error,
        Priority::Critical,
        Priority::Sample,
    ];

    /// The lower-case name (`info`), as in routing keys and endpoint methods.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Audit => "audit",
            Priority::Debug => "debug",
            Priority::Info => "info",
            Priority::Warn => "warn",
            Priority::Error => "error",
            Priority::Critical => "critical",
            Priority::Sample => "sample",
        }
    }

    /// The upper-case name (`INFO`), as in the message.
    pub fn as_upper(self) -> String {
        self.as_str().to_ascii_uppercase()
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = Error;
    /// Any case; `warning` means `warn`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let l = s.to_ascii_lowercase();
        if l == "warning" {
            return Ok(Priority::Warn);
        }
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str() == l)
            .ok_or_else(|| Error::Configuration(format!("unknown notification priority `{s}`")))
    }
}
