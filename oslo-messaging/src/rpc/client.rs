//! The RPC client.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::serializer::{NoOpSerializer, Serializer};
use crate::transport::{CallOptions, Outgoing, SendOptions};
use crate::{Context, Error, Result, Target, Transport, version};

/// Calls and casts methods on the servers of a target.
///
/// Cheap to clone. [`prepare`](Self::prepare) makes a copy with some fields overridden (another server,
/// version or timeout), as the original's `prepare()`.
///
/// ```
/// # async fn f(transport: oslo_messaging::Transport) -> oslo_messaging::Result<()> {
/// use oslo_messaging::{Context, RpcClient, Target};
/// use std::time::Duration;
/// let client = RpcClient::builder(transport, Target::topic("compute"))
///     .timeout(Duration::from_secs(5))
///     .version_cap("1.3")
///     .build()?;
/// let sum: i64 = client.prepare().server("host1").version("1.1").build()?
///     .call(&Context::new(), "add", serde_json::json!({"a": 1, "b": 2})).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RpcClient {
    transport: Transport,
    target: Target,
    timeout: Option<Duration>,
    version_cap: Option<String>,
    serializer: Arc<dyn Serializer>,
    retry: Option<u32>,
    call_monitor_timeout: Option<Duration>,
    at_least_once: bool,
}

/// Builds an [`RpcClient`].
#[derive(Debug)]
pub struct RpcClientBuilder {
    client: RpcClient,
}

impl RpcClientBuilder {
    /// The call timeout (default: the transport's `rpc_response_timeout`).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.client.timeout = Some(t);
        self
    }

    /// The highest message version this client may send.
    pub fn version_cap(mut self, cap: impl Into<String>) -> Self {
        self.client.version_cap = Some(cap.into());
        self
    }

    /// The serializer for arguments, results and the context.
    pub fn serializer(mut self, s: Arc<dyn Serializer>) -> Self {
        self.client.serializer = s;
        self
    }

    /// How many times to retry sending: `None` (the default) for ever, `Some(0)` never.
    pub fn retry(mut self, retry: Option<u32>) -> Self {
        self.client.retry = retry;
        self
    }

    /// Asks the server for heartbeats, and fails a call when none comes for this long.
    pub fn call_monitor_timeout(mut self, t: Duration) -> Self {
        self.client.call_monitor_timeout = Some(t);
        self
    }

    /// Publishes mandatory: a message no queue takes fails at once ([`Error::Undeliverable`]).
    pub fn at_least_once(mut self, on: bool) -> Self {
        self.client.at_least_once = on;
        self
    }

    /// Checks the target's version and version cap and builds the client.
    pub fn build(self) -> Result<RpcClient> {
        if let Some(v) = &self.client.target.version {
            version::validate(v)?;
        }
        if let Some(v) = &self.client.version_cap {
            version::validate(v)?;
        }
        Ok(self.client)
    }
}

/// Overrides some fields of a client, for [`RpcClient::prepare`].
#[derive(Debug)]
pub struct Prepare {
    builder: RpcClientBuilder,
}

impl Prepare {
    /// Another exchange.
    pub fn exchange(mut self, e: impl Into<String>) -> Self {
        self.builder.client.target.exchange = Some(e.into());
        self
    }
    /// Another topic.
    pub fn topic(mut self, t: impl Into<String>) -> Self {
        self.builder.client.target.topic = Some(t.into());
        self
    }
    /// Another namespace.
    pub fn namespace(mut self, n: impl Into<String>) -> Self {
        self.builder.client.target.namespace = Some(n.into());
        self
    }
    /// Another version.
    pub fn version(mut self, v: impl Into<String>) -> Self {
        self.builder.client.target.version = Some(v.into());
        self
    }
    /// One server of the topic.
    pub fn server(mut self, s: impl Into<String>) -> Self {
        self.builder.client.target.server = Some(s.into());
        self
    }
    /// Every server of the topic (casts only).
    pub fn fanout(mut self, f: bool) -> Self {
        self.builder.client.target.fanout = f;
        self
    }
    /// Another timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.builder = self.builder.timeout(t);
        self
    }
    /// Another version cap.
    pub fn version_cap(mut self, c: impl Into<String>) -> Self {
        self.builder = self.builder.version_cap(c);
        self
    }
    /// Another retry count.
    pub fn retry(mut self, r: Option<u32>) -> Self {
        self.builder = self.builder.retry(r);
        self
    }
    /// Another call-monitor timeout.
    pub fn call_monitor_timeout(mut self, t: Duration) -> Self {
        self.builder = self.builder.call_monitor_timeout(t);
        self
    }
    /// Mandatory publishing on or off.
    pub fn at_least_once(mut self, on: bool) -> Self {
        self.builder = self.builder.at_least_once(on);
        self
    }
    /// The new client (the version is checked).
    pub fn build(self) -> Result<RpcClient> {
        self.builder.build()
    }
}

impl RpcClient {
    /// A builder for a client of `target` on `transport`.
    pub fn builder(transport: Transport, target: Target) -> RpcClientBuilder {
        RpcClientBuilder {
            client: RpcClient {
                transport,
                target,
                timeout: None,
                version_cap: None,
                serializer: Arc::new(NoOpSerializer),
                retry: None,
                call_monitor_timeout: None,
                at_least_once: false,
            },
        }
    }

    /// A client of `target` with the defaults.
    pub fn new(transport: Transport, target: Target) -> Result<RpcClient> {
        RpcClient::builder(transport, target).build()
    }

    /// A copy to override some fields of.
    pub fn prepare(&self) -> Prepare {
        Prepare {
            builder: RpcClientBuilder {
                client: self.clone(),
            },
        }
    }

    /// The client's target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The call timeout in force.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .unwrap_or(self.transport.options().rpc_response_timeout)
    }

    /// Whether the version cap lets this client send a message of `version`.
    pub fn can_send_version(&self, version: Option<&str>) -> bool {
        version::is_compatible(self.version_cap.as_deref(), version).unwrap_or(false)
    }

    fn make_message(&self, ctxt: &Context, method: &str, args: Value) -> Result<Outgoing> {
        if self.version_cap.is_some() && !self.can_send_version(self.target.version.as_deref()) {
            return Err(Error::VersionCap {
                version: self.target.version.clone().unwrap_or_default(),
                cap: self.version_cap.clone().unwrap_or_default(),
            });
        }
        let mut args = match args {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => {
                return Err(Error::Serialization(format!(
                    "the arguments of `{method}` must serialise to a JSON object (keyword arguments), got `{other}`"
                )));
            }
        };
        // In place: the map is ours, rebuilding it would allocate it again.
        for v in args.values_mut() {
            *v = self.serializer.serialize_entity(ctxt, std::mem::take(v))?;
        }
        let mut message = Map::new();
        message.insert("method".into(), Value::String(method.to_owned()));
        message.insert("args".into(), Value::Object(args));
        if let Some(ns) = &self.target.namespace {
            message.insert("namespace".into(), Value::String(ns.clone()));
        }
        if let Some(v) = &self.target.version {
            message.insert("version".into(), Value::String(v.clone()));
        }
        Ok(Outgoing {
            ctxt: self.serializer.serialize_context(ctxt.clone())?,
            message,
        })
    }

    fn send_options(&self) -> SendOptions {
        SendOptions {
            retry: self.retry,
            at_least_once: self.at_least_once,
        }
    }

    /// Calls `method` with keyword arguments `args` (anything that serialises to a JSON object) and
    /// returns its result, or the remote failure as [`Error::Remote`], or [`Error::Timeout`].
    pub async fn call<R: DeserializeOwned>(
        &self,
        ctxt: &Context,
        method: &str,
        args: impl Serialize,
    ) -> Result<R> {
        let args = serde_json::to_value(args).map_err(Error::serialization)?;
        let v = self.call_json(ctxt, method, args).await?;
        serde_json::from_value(v).map_err(Error::serialization)
    }

    /// Calls `method` with JSON arguments and returns the JSON result.
    pub async fn call_json(&self, ctxt: &Context, method: &str, args: Value) -> Result<Value> {
        self.target.check_call()?;
        let msg = self.make_message(ctxt, method, args)?;
        let call = CallOptions {
            timeout: self.timeout(),
            call_monitor_timeout: self.call_monitor_timeout,
        };
        tracing::debug!(target: "rpc.call", dest = %self.target, method, "call");
        let result = self
            .transport
            .driver()
            .call(&self.target, msg, call, self.send_options())
            .await?;
        self.serializer.deserialize_entity(ctxt, result)
    }

    /// Casts `method` (no reply): returns once the transport took the message.
    pub async fn cast(&self, ctxt: &Context, method: &str, args: impl Serialize) -> Result<()> {
        self.target.require_topic()?;
        let args = serde_json::to_value(args).map_err(Error::serialization)?;
        let msg = self.make_message(ctxt, method, args)?;
        tracing::debug!(target: "rpc.cast", dest = %self.target, method, "cast");
        self.transport
            .driver()
            .cast(&self.target, msg, self.send_options())
            .await
    }
}
