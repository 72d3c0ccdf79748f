//! The notifier and its drivers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde::Serialize;
use serde_json::{Map, Value};

use super::Priority;
use super::glob::fnmatch;
use crate::serializer::{NoOpSerializer, Serializer};
use crate::transport::{NotificationFormat, Outgoing, SendOptions};
use crate::{Context, Error, Result, Target, Transport};

/// A notification the `test` driver captured.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedNotification {
    /// The context, as it would have been sent.
    pub ctxt: Context,
    /// The message.
    pub message: Map<String, Value>,
    /// The priority, upper case.
    pub priority: String,
    /// The retry setting.
    pub retry: Option<u32>,
}

fn test_store() -> &'static Mutex<Vec<CapturedNotification>> {
    static STORE: OnceLock<Mutex<Vec<CapturedNotification>>> = OnceLock::new();
    STORE.get_or_init(Default::default)
}

/// Takes (and clears) what the `test` driver captured in this process.
pub fn take_test_notifications() -> Vec<CapturedNotification> {
    std::mem::take(&mut *test_store().lock().unwrap_or_else(PoisonError::into_inner))
}

/// The routing driver's rules: group, then driver name, then `accepted_events` / `accepted_priorities`
/// glob lists.
type RoutingRules = BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<String>>>>;

/// The routing rules from `routing_config`'s YAML: an empty document (or `null`) has no groups, as in the
/// original; anything else must be groups of drivers of rules holding lists of patterns (the original
/// fails later, when a notification is routed, on what we refuse here).
fn parse_routing(yaml: &str) -> Result<RoutingRules> {
    let rules: Option<RoutingRules> = serde_norway::from_str(yaml)
        .map_err(|e| Error::Configuration(format!("bad routing configuration: {e}")))?;
    Ok(rules.unwrap_or_default())
}

fn read_routing_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::Configuration(format!(
            "cannot read the routing configuration `{}`: {e}",
            path.display()
        ))
    })
}

#[derive(Debug, Clone)]
enum NotifyDriver {
    Messaging(NotificationFormat),
    Log,
    Routing(Arc<RoutingRules>),
    Noop,
    Test,
    /// Another crate's driver, registered through stevedore.
    #[cfg(feature = "stevedore")]
    Plugin(Arc<dyn crate::plugins::NotificationDriver>),
}

/// The driver called `name`: with the `stevedore` feature, the `oslo.messaging.notify.drivers` plugin
/// of that name, among which are the built-in drivers.
fn driver_by_name(name: &str, routing: Option<&Arc<RoutingRules>>) -> Result<NotifyDriver> {
    #[cfg(feature = "stevedore")]
    {
        from_plugin(crate::plugins::notification_driver(name)?, routing)
    }
    #[cfg(not(feature = "stevedore"))]
    {
        builtin_driver(name, routing)
    }
}

#[cfg(feature = "stevedore")]
fn from_plugin(
    plugin: crate::plugins::Loaded,
    routing: Option<&Arc<RoutingRules>>,
) -> Result<NotifyDriver> {
    match plugin {
        crate::plugins::Loaded::Builtin(name) => builtin_driver(name, routing),
        crate::plugins::Loaded::Custom(driver) => Ok(NotifyDriver::Plugin(driver)),
    }
}

fn builtin_driver(name: &str, routing: Option<&Arc<RoutingRules>>) -> Result<NotifyDriver> {
    Ok(match name {
        "messagingv2" => NotifyDriver::Messaging(NotificationFormat::V2),
        "messaging" => NotifyDriver::Messaging(NotificationFormat::V1),
        "log" => NotifyDriver::Log,
        "noop" => NotifyDriver::Noop,
        "test" => NotifyDriver::Test,
        "routing" => NotifyDriver::Routing(routing.cloned().unwrap_or_default()),
        other => {
            return Err(Error::Configuration(format!(
                "unknown notification driver `{other}`"
            )));
        }
    })
}

/// Emits notifications through its drivers.
///
/// ```
/// # async fn f(transport: oslo_messaging::Transport) -> oslo_messaging::Result<()> {
/// use oslo_messaging::{Context, Notifier};
/// let notifier = Notifier::builder(transport)
///     .publisher_id("compute.host1")
///     .driver("messagingv2")
///     .build()?;
/// notifier.info(&Context::new(), "compute.instance.create.end", serde_json::json!({"id": 1})).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Notifier {
    transport: Transport,
    publisher_id: Option<String>,
    driver_names: Vec<String>,
    drivers: Arc<Vec<NotifyDriver>>,
    topics: Vec<String>,
    retry: Option<u32>,
    serializer: Arc<dyn Serializer>,
}

/// Builds a [`Notifier`].
#[derive(Debug)]
pub struct NotifierBuilder {
    transport: Transport,
    publisher_id: Option<String>,
    drivers: Vec<String>,
    topics: Vec<String>,
    retry: Option<u32>,
    serializer: Arc<dyn Serializer>,
    routing: Option<Arc<RoutingRules>>,
    /// A `routing_config` file, read by `build` when the `routing` driver is used.
    routing_path: Option<PathBuf>,
}

impl NotifierBuilder {
    /// The publisher id (e.g. `compute.host1`).
    pub fn publisher_id(mut self, id: impl Into<String>) -> Self {
        self.publisher_id = Some(id.into());
        self
    }
    /// Adds a driver: `messagingv2`, `messaging`, `log`, `routing`, `noop` or `test`. With none, nothing
    /// is sent (as the original's empty default).
    pub fn driver(mut self, name: impl Into<String>) -> Self {
        self.drivers.push(name.into());
        self
    }
    /// The drivers, replacing those added before (as a `driver` argument replaces the configured ones).
    pub fn drivers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.drivers = names.into_iter().map(Into::into).collect();
        self
    }
    /// The topics (default `["notifications"]`).
    pub fn topics<I: IntoIterator<Item = S>, S: Into<String>>(mut self, topics: I) -> Self {
        self.topics = topics.into_iter().map(Into::into).collect();
        self
    }
    /// The retry count: `None` (the default) for ever.
    pub fn retry(mut self, retry: Option<u32>) -> Self {
        self.retry = retry;
        self
    }
    /// The serializer for payloads and the context.
    pub fn serializer(mut self, s: Arc<dyn Serializer>) -> Self {
        self.serializer = s;
        self
    }
    /// The rules of the `routing` driver, from YAML text (`routing_config`'s file content): groups of
    /// drivers, each with `accepted_events` and `accepted_priorities` patterns (see the crate README).
    pub fn routing_config_yaml(mut self, yaml: &str) -> Result<Self> {
        self.routing = Some(Arc::new(parse_routing(yaml)?));
        Ok(self)
    }
    /// The rules of the `routing` driver, from a YAML file, read now.
    pub fn routing_config_file(self, path: &Path) -> Result<Self> {
        let text = read_routing_file(path)?;
        self.routing_config_yaml(&text)
    }
    /// The rules of the `routing` driver, from a YAML file read by [`build`](Self::build) only when the
    /// drivers include `routing` (as the original reads `routing_config` only when that driver runs).
    pub fn routing_config_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.routing_path = Some(path.into());
        self
    }
    /// Loads the drivers and builds the notifier.
    pub fn build(mut self) -> Result<Notifier> {
        if self.routing.is_none()
            && self.drivers.iter().any(|d| d == "routing")
            && let Some(path) = &self.routing_path
        {
            self.routing = Some(Arc::new(parse_routing(&read_routing_file(path)?)?));
        }
        #[cfg(feature = "stevedore")]
        let drivers = crate::plugins::notification_drivers(&self.drivers)?
            .into_iter()
            .map(|d| from_plugin(d, self.routing.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        #[cfg(not(feature = "stevedore"))]
        let drivers = self
            .drivers
            .iter()
            .map(|d| driver_by_name(d, self.routing.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Notifier {
            transport: self.transport,
            publisher_id: self.publisher_id,
            driver_names: self.drivers,
            drivers: Arc::new(drivers),
            topics: self.topics,
            retry: self.retry,
            serializer: self.serializer,
        })
    }
}

/// The timestamp as Python's `str(datetime.utcnow())`: a space, no zone, microseconds only when not 0.
fn timestamp() -> String {
    let now = chrono::Utc::now().naive_utc();
    if now.and_utc().timestamp_subsec_micros() == 0 {
        now.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        now.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

/// The context sent with a notification: the entries of the context, with `auth_token` redacted.
fn sanitize_context(ctxt: &Context) -> Context {
    let mut c = ctxt.clone();
    if let Some(t) = c.get_mut("auth_token") {
        *t = Value::Null;
    }
    c
}

impl Notifier {
    /// A builder for a notifier on `transport`.
    pub fn builder(transport: Transport) -> NotifierBuilder {
        NotifierBuilder {
            transport,
            publisher_id: None,
            drivers: Vec::new(),
            topics: vec!["notifications".to_owned()],
            retry: None,
            serializer: Arc::new(NoOpSerializer),
            routing: None,
            routing_path: None,
        }
    }

    /// A copy with another publisher id and retry, sharing the drivers.
    pub fn prepare(&self, publisher_id: Option<&str>, retry: Option<Option<u32>>) -> Notifier {
        let mut n = self.clone();
        if let Some(p) = publisher_id {
            n.publisher_id = Some(p.to_owned());
        }
        if let Some(r) = retry {
            n.retry = r;
        }
        n
    }

    /// False only when the drivers are exactly `noop`.
    pub fn is_enabled(&self) -> bool {
        self.driver_names != ["noop"]
    }

    /// Sends a notification at `priority` through every driver. The first driver error is returned after
    /// every driver had its turn.
    pub async fn notify(
        &self,
        ctxt: &Context,
        priority: Priority,
        event_type: &str,
        payload: impl Serialize,
    ) -> Result<()> {
        let payload = serde_json::to_value(payload).map_err(Error::serialization)?;
        let payload = self.serializer.serialize_entity(ctxt, payload)?;
        let ctxt = self.serializer.serialize_context(sanitize_context(ctxt))?;
        let mut message = Map::new();
        message.insert(
            "message_id".into(),
            Value::String(uuid::Uuid::new_v4().to_string()),
        );
        message.insert(
            "publisher_id".into(),
            self.publisher_id.clone().map_or(Value::Null, Value::String),
        );
        message.insert("event_type".into(), Value::String(event_type.to_owned()));
        message.insert("priority".into(), Value::String(priority.as_upper()));
        message.insert("payload".into(), payload);
        message.insert("timestamp".into(), Value::String(timestamp()));
        let out = Outgoing { ctxt, message };
        let mut first_error = None;
        for d in self.drivers.iter() {
            if let Err(e) = self.run_driver(d, &out, priority, event_type).await {
                tracing::error!(target: "notify", event_type, error = %e, "could not send notification");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn run_driver(
        &self,
        d: &NotifyDriver,
        out: &Outgoing,
        priority: Priority,
        event_type: &str,
    ) -> Result<()> {
        match d {
            NotifyDriver::Messaging(format) => {
                for topic in &self.topics {
                    let target = Target::topic(format!("{topic}.{}", priority.as_str()));
                    let opts = SendOptions {
                        retry: self.retry,
                        at_least_once: false,
                    };
                    self.transport
                        .driver()
                        .notify(&target, out.clone(), *format, opts)
                        .await?;
                }
                Ok(())
            }
            NotifyDriver::Log => {
                let text = crate::wire::to_python_json(&mask_passwords(&Value::Object(
                    out.message.clone(),
                )))?;
                let logger = format!("oslo.messaging.notification.{event_type}");
                match priority {
                    Priority::Debug => tracing::debug!(target: "notify.log", logger, "{text}"),
                    Priority::Info | Priority::Audit | Priority::Sample => {
                        tracing::info!(target: "notify.log", logger, "{text}");
                    }
                    Priority::Warn => tracing::warn!(target: "notify.log", logger, "{text}"),
                    Priority::Error | Priority::Critical => {
                        tracing::error!(target: "notify.log", logger, "{text}")
                    }
                }
                Ok(())
            }
            NotifyDriver::Routing(rules) => {
                let lower = priority.as_str();
                let mut accepted: Vec<&str> = Vec::new();
                for group in rules.values() {
                    for (driver, checks) in group {
                        let ok = checks.iter().all(|(key, patterns)| match key.as_str() {
                            "accepted_events" => patterns.iter().any(|p| fnmatch(event_type, p)),
                            "accepted_priorities" => {
                                patterns.iter().any(|p| fnmatch(lower, &p.to_lowercase()))
                            }
                            _ => true,
                        });
                        if ok && !accepted.contains(&driver.as_str()) {
                            accepted.push(driver);
                        }
                    }
                }
                for name in accepted {
                    if name == "routing" {
                        continue;
                    }
                    // A name that is no driver is skipped, as the original's plugin manager has no
                    // extension by that name to call.
                    let d = match driver_by_name(name, None) {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::warn!(target: "notify", event_type, driver = name, error = %e, "routing to an unknown driver skipped");
                            continue;
                        }
                    };
                    tracing::info!(target: "notify", event_type, driver = name, "routing notification");
                    Box::pin(self.run_driver(&d, out, priority, event_type)).await?;
                }
                Ok(())
            }
            NotifyDriver::Noop => Ok(()),
            #[cfg(feature = "stevedore")]
            NotifyDriver::Plugin(driver) => {
                driver
                    .notify(crate::plugins::OutgoingNotification {
                        transport: &self.transport,
                        topics: &self.topics,
                        ctxt: &out.ctxt,
                        message: &out.message,
                        priority,
                        retry: self.retry,
                    })
                    .await
            }
            NotifyDriver::Test => {
                test_store()
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(CapturedNotification {
                        ctxt: out.ctxt.clone(),
                        message: out.message.clone(),
                        priority: priority.as_upper(),
                        retry: self.retry,
                    });
                Ok(())
            }
        }
    }

    /// Sends an `AUDIT` notification.
    pub async fn audit(
        &self,
        ctxt: &Context,
        event_type: &str,
        payload: impl Serialize,
    ) -> Result<()> {
        self.notify(ctxt, Priority::Audit, event_type, payload)
            .await
    }
    /// Sends a `DEBUG` notification.
    pub async fn debug(
        &self,
        ctxt: &Context,
        event_type: &str,
        payload: impl Serialize,
    ) -> Result<()> {
        self.notify(ctxt, Priority::Debug, event_type, payload)
            .await
    }
    /// Sends an `INFO` notification.
    pub async fn info(
        &self,
        ctxt: &Context,
        event_type: &str,
        payload: impl Serialize,
    ) -> Result<()> {
        self.notify(ctxt, Priority::Info, event_type, payload).await
    }
    /// Sends a `WARN` notification.
    pub async fn warn(
        &self,
        ctxt: &Context,
        event_type: &str,
        payload: impl Serialize,
    ) -> Result<()> {
        self.notify(ctxt, Priority::Warn, event_type, payload).await
    }
    /// Sends an `ERROR` notification.
    pub async fn error(
        &self,
        ctxt: &Context,
        event_type: &str,
        payload: impl Serialize,
    ) -> Result<()> {
        self.notify(ctxt, Priority::Error, event_type, payload)
            .await
    }
    /// Sends a `CRITICAL` notification.
    pub async fn critical(
        &self,
        ctxt: &Context,
        event_type: &str,
        payload: impl Serialize,
    ) -> Result<()> {
        self.notify(ctxt, Priority::Critical, event_type, payload)
            .await
    }
    /// Sends a `SAMPLE` notification.
    pub async fn sample(
        &self,
        ctxt: &Context,
        event_type: &str,
        payload: impl Serialize,
    ) -> Result<()> {
        self.notify(ctxt, Priority::Sample, event_type, payload)
            .await
    }
}

/// Replaces the values of password-like keys with `***`, as the log driver does.
fn mask_passwords(v: &Value) -> Value {
    const SECRET_KEYS: [&str; 6] = [
        "password",
        "auth_token",
        "secret",
        "token",
        "passwd",
        "credential",
    ];
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let lk = k.to_ascii_lowercase();
                    if SECRET_KEYS.iter().any(|s| lk.contains(s)) && !v.is_object() && !v.is_array()
                    {
                        (k.clone(), Value::String("***".into()))
                    } else {
                        (k.clone(), mask_passwords(v))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(mask_passwords).collect()),
        other => other.clone(),
    }
}
