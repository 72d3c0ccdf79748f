//! Where a message goes, or what a server listens to.

use std::fmt;

use crate::{Error, Result};

/// The destination of a message or the subscription of a server, as in the original `Target`.
///
/// Build one with [`Target::topic`] and the setters. Which fields matter depends on the use:
/// - a client needs `topic`; `server` directs the message to one server, `fanout` to every server of the
///   topic (casts only); `namespace` and `version` say which API the method belongs to;
/// - an RPC server needs `topic` and `server`; its endpoints carry their own namespace and version;
/// - a notifier or listener uses `exchange` and `topic` only.
///
/// `exchange` defaults to the transport's control exchange (`openstack`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Target {
    /// The exchange; `None` means the transport's control exchange.
    pub exchange: Option<String>,
    /// The topic.
    pub topic: Option<String>,
    /// The API namespace.
    pub namespace: Option<String>,
    /// The API version, `major.minor`.
    pub version: Option<String>,
    /// One server of the topic.
    pub server: Option<String>,
    /// Every server of the topic.
    pub fanout: bool,
    /// Namespaces an endpoint also accepts, besides `namespace`.
    pub legacy_namespaces: Vec<String>,
}

impl Target {
    /// A target with only a topic.
    pub fn topic(topic: impl Into<String>) -> Self {
        Target {
            topic: Some(topic.into()),
            ..Target::default()
        }
    }

    /// An empty target, for an endpoint's namespace and version.
    pub fn new() -> Self {
        Target::default()
    }

    /// Sets the exchange.
    pub fn with_exchange(mut self, exchange: impl Into<String>) -> Self {
        self.exchange = Some(exchange.into());
        self
    }

    /// Sets the topic.
    pub fn with_topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Sets the namespace.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets the version.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets the server.
    pub fn with_server(mut self, server: impl Into<String>) -> Self {
        self.server = Some(server.into());
        self
    }

    /// Sets fanout.
    pub fn with_fanout(mut self, fanout: bool) -> Self {
        self.fanout = fanout;
        self
    }

    /// Adds a legacy namespace.
    pub fn with_legacy_namespace(mut self, ns: impl Into<String>) -> Self {
        self.legacy_namespaces.push(ns.into());
        self
    }

    /// The namespaces an endpoint with this target accepts: its namespace, then the legacy ones.
    pub fn accepts_namespace(&self, ns: Option<&str>) -> bool {
        self.namespace.as_deref() == ns
            || ns.is_some_and(|n| self.legacy_namespaces.iter().any(|l| l == n))
    }

    fn invalid(&self, reason: &str) -> Error {
        Error::InvalidTarget {
            reason: reason.to_owned(),
            target: self.to_string(),
        }
    }

    /// The topic, or an error when sending needs one.
    pub(crate) fn require_topic(&self) -> Result<&str> {
        match self.topic.as_deref() {
            Some(t) if !t.is_empty() => Ok(t),
            _ => Err(self.invalid("a topic is required to send")),
        }
    }

    /// Checks the rules for a call.
    pub(crate) fn check_call(&self) -> Result<&str> {
        let topic = self.require_topic()?;
        if self.fanout {
            return Err(self.invalid("a call cannot be used with fanout"));
        }
        Ok(topic)
    }

    /// Checks the rules for an RPC server: topic and server.
    pub(crate) fn check_server(&self) -> Result<(&str, &str)> {
        let topic = self
            .require_topic()
            .map_err(|_| self.invalid("a server needs a topic"))?;
        match self.server.as_deref() {
            Some(s) if !s.is_empty() => Ok((topic, s)),
            _ => Err(self.invalid("a server needs a server name")),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let fields = [
            ("exchange", &self.exchange),
            ("topic", &self.topic),
            ("namespace", &self.namespace),
            ("version", &self.version),
            ("server", &self.server),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        if self.fanout {
            parts.push("fanout=true".into());
        }
        write!(f, "<Target {}>", parts.join(", "))
    }
}
