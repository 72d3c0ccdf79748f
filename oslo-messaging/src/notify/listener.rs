//! Notification listeners: endpoints per priority, filters, pools, requeue, batches.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use regex::Regex;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use super::Priority;
use crate::serializer::{NoOpSerializer, Serializer};
use crate::transport::{BoxFuture, IncomingNotification, SubscriptionControl};
use crate::{Context, Error, Result, Target, Transport};

/// What an endpoint did with a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationResult {
    /// Done: acknowledge it.
    Handled,
    /// Put it back, to be delivered again (only when the listener allows requeue; otherwise it is
    /// acknowledged, as in the original).
    Requeue,
}

/// One notification, as an endpoint receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The context.
    pub ctxt: Context,
    /// Who sent it.
    pub publisher_id: String,
    /// What happened, e.g. `compute.instance.create.end`.
    pub event_type: String,
    /// Its priority.
    pub priority: Priority,
    /// The payload.
    pub payload: Value,
    /// `message_id` and `timestamp`.
    pub metadata: Map<String, Value>,
}

/// Which notifications an endpoint wants: each regex must match (from the start) the value of its field.
///
/// A dict filter (context, metadata, payload) needs each key present with a string value that matches.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    publisher_id: Option<Regex>,
    event_type: Option<Regex>,
    context: Vec<(String, Regex)>,
    metadata: Vec<(String, Regex)>,
    payload: Vec<(String, Regex)>,
}

fn anchored(re: &str) -> Result<Regex> {
    Regex::new(&format!("^(?:{re})"))
        .map_err(|e| Error::Configuration(format!("bad filter `{re}`: {e}")))
}

impl NotificationFilter {
    /// A filter that matches everything.
    pub fn new() -> Self {
        NotificationFilter::default()
    }
    /// Requires the publisher id to match.
    pub fn publisher_id(mut self, re: &str) -> Result<Self> {
        self.publisher_id = Some(anchored(re)?);
        Ok(self)
    }
    /// Requires the event type to match.
    pub fn event_type(mut self, re: &str) -> Result<Self> {
        self.event_type = Some(anchored(re)?);
        Ok(self)
    }
    /// Requires the context entry `key` to match.
    pub fn context(mut self, key: &str, re: &str) -> Result<Self> {
        self.context.push((key.to_owned(), anchored(re)?));
        Ok(self)
    }
    /// Requires the metadata entry `key` to match.
    pub fn metadata(mut self, key: &str, re: &str) -> Result<Self> {
        self.metadata.push((key.to_owned(), anchored(re)?));
        Ok(self)
    }
    /// Requires the payload entry `key` to match.
    pub fn payload(mut self, key: &str, re: &str) -> Result<Self> {
        self.payload.push((key.to_owned(), anchored(re)?));
        Ok(self)
    }

    /// Whether `n` passes.
    pub fn matches(&self, n: &Notification) -> bool {
        let dict_ok = |rules: &[(String, Regex)], v: Option<&Map<String, Value>>| {
            rules.iter().all(|(k, re)| {
                v.and_then(|m| m.get(k))
                    .and_then(Value::as_str)
                    .is_some_and(|s| re.is_match(s))
            })
        };
        self.publisher_id
            .as_ref()
            .is_none_or(|re| re.is_match(&n.publisher_id))
            && self
                .event_type
                .as_ref()
                .is_none_or(|re| re.is_match(&n.event_type))
            && dict_ok(&self.context, Some(&n.ctxt))
            && dict_ok(&self.metadata, Some(&n.metadata))
            && dict_ok(&self.payload, n.payload.as_object())
    }
}

type Handler = Arc<dyn Fn(Notification) -> BoxFuture<'static, NotificationResult> + Send + Sync>;
type BatchHandler =
    Arc<dyn Fn(Vec<Notification>) -> BoxFuture<'static, NotificationResult> + Send + Sync>;

/// Handlers per priority, with an optional filter.
#[derive(Clone, Default)]
pub struct NotificationEndpoint {
    handlers: HashMap<Priority, Handler>,
    filter: Option<NotificationFilter>,
}

impl fmt::Debug for NotificationEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut p: Vec<_> = self.handlers.keys().collect();
        p.sort();
        f.debug_struct("NotificationEndpoint")
            .field("priorities", &p)
            .field("filter", &self.filter)
            .finish()
    }
}

impl NotificationEndpoint {
    /// An endpoint with no handler yet.
    pub fn new() -> Self {
        NotificationEndpoint::default()
    }
    /// Handles the notifications of `priority`.
    pub fn on<F, Fut>(mut self, priority: Priority, f: F) -> Self
    where
        F: Fn(Notification) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = NotificationResult> + Send + 'static,
    {
        self.handlers
            .insert(priority, Arc::new(move |n| Box::pin(f(n))));
        self
    }
    /// Only notifications passing `filter` reach this endpoint.
    pub fn filter(mut self, filter: NotificationFilter) -> Self {
        self.filter = Some(filter);
        self
    }
}

/// Batch handlers per priority, with an optional filter.
#[derive(Clone, Default)]
pub struct BatchNotificationEndpoint {
    handlers: HashMap<Priority, BatchHandler>,
    filter: Option<NotificationFilter>,
}

impl fmt::Debug for BatchNotificationEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut p: Vec<_> = self.handlers.keys().collect();
        p.sort();
        f.debug_struct("BatchNotificationEndpoint")
            .field("priorities", &p)
            .finish()
    }
}

impl BatchNotificationEndpoint {
    /// An endpoint with no handler yet.
    pub fn new() -> Self {
        BatchNotificationEndpoint::default()
    }
    /// Handles batches of notifications of `priority`.
    pub fn on<F, Fut>(mut self, priority: Priority, f: F) -> Self
    where
        F: Fn(Vec<Notification>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = NotificationResult> + Send + 'static,
    {
        self.handlers
            .insert(priority, Arc::new(move |n| Box::pin(f(n))));
        self
    }
    /// Only notifications passing `filter` reach this endpoint.
    pub fn filter(mut self, filter: NotificationFilter) -> Self {
        self.filter = Some(filter);
        self
    }
}

/// Reads a delivered notification; `None` (after logging) when its priority is unknown or it is malformed.
fn to_notification(
    serializer: &dyn Serializer,
    ctxt: Context,
    m: &Map<String, Value>,
) -> Option<Notification> {
    let s = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let Ok(priority) = s("priority").parse::<Priority>() else {
        tracing::warn!(target: "notify.listener", priority = s("priority"), "unknown notification priority, acknowledged");
        return None;
    };
    let ctxt = match serializer.deserialize_context(ctxt) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(target: "notify.listener", error = %e, "context deserialisation failed");
            return None;
        }
    };
    let payload = match serializer
        .deserialize_entity(&ctxt, m.get("payload").cloned().unwrap_or(Value::Null))
    {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(target: "notify.listener", error = %e, "payload deserialisation failed");
            return None;
        }
    };
    let mut metadata = Map::new();
    for k in ["message_id", "timestamp"] {
        metadata.insert(k.to_owned(), m.get(k).cloned().unwrap_or(Value::Null));
    }
    Some(Notification {
        ctxt,
        publisher_id: s("publisher_id"),
        event_type: s("event_type"),
        priority,
        payload,
        metadata,
    })
}

#[derive(Debug, Default)]
struct ListenerState {
    control: Option<Arc<dyn SubscriptionControl>>,
    task: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct ControlHandle(Box<dyn SubscriptionControl>);

impl SubscriptionControl for ControlHandle {
    fn stop(&self) -> BoxFuture<'_, ()> {
        self.0.stop()
    }
}

/// The parts common to both listeners.
#[derive(Debug)]
struct ListenerCore {
    transport: Transport,
    targets: Vec<Target>,
    pool: Option<String>,
    allow_requeue: bool,
    serializer: Arc<dyn Serializer>,
    state: Mutex<ListenerState>,
}

impl ListenerCore {
    fn check(&self) -> Result<()> {
        if self.targets.is_empty() {
            return Err(Error::InvalidTarget {
                reason: "a listener needs at least one target".into(),
                target: "<none>".into(),
            });
        }
        for t in &self.targets {
            t.require_topic()?;
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        priorities: &[Priority],
    ) -> Result<Option<tokio::sync::mpsc::Receiver<IncomingNotification>>> {
        if self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .control
            .is_some()
        {
            return Ok(None);
        }
        let pairs: Vec<(Target, String)> = self
            .targets
            .iter()
            .flat_map(|t| {
                priorities
                    .iter()
                    .map(move |p| (t.clone(), p.as_str().to_owned()))
            })
            .collect();
        let sub = self
            .transport
            .driver()
            .listen_for_notifications(&pairs, self.pool.as_deref())
            .await?;
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .control = Some(Arc::new(ControlHandle(sub.control)));
        Ok(Some(sub.incoming))
    }

    fn set_task(&self, t: JoinHandle<()>) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .task = Some(t);
    }

    async fn stop(&self) {
        let c = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .control
            .clone();
        if let Some(c) = c {
            c.stop().await;
        }
    }

    async fn wait(&self) {
        let t = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .task
            .take();
        if let Some(t) = t {
            let _ = t.await;
        }
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .control = None;
    }
}

async fn settle(acker: Box<dyn crate::transport::Acker>, requeue: bool, allow: bool) {
    let r = if requeue && allow {
        acker.requeue().await
    } else {
        acker.ack().await
    };
    if let Err(e) = r {
        tracing::warn!(target: "notify.listener", error = %e, "could not settle a notification");
    }
}

/// Consumes notifications and hands each to the endpoints that handle its priority.
///
/// Endpoints run in order; the first that answers [`NotificationResult::Requeue`] stops the chain. Each
/// notification is acknowledged after its endpoints returned (or requeued, when allowed). Listeners in the
/// same pool share the pool's messages; every pool, and the pool-less listeners together, get a copy.
#[derive(Debug)]
pub struct NotificationListener {
    core: ListenerCore,
    endpoints: Arc<Vec<NotificationEndpoint>>,
    pool_size: usize,
}

/// Builds a [`NotificationListener`].
#[derive(Debug)]
pub struct NotificationListenerBuilder {
    core: ListenerCore,
    endpoints: Vec<NotificationEndpoint>,
    pool_size: usize,
}

impl NotificationListenerBuilder {
    /// Adds an endpoint.
    pub fn endpoint(mut self, e: NotificationEndpoint) -> Self {
        self.endpoints.push(e);
        self
    }
    /// Joins a listener pool (its own queue, shared by the pool's listeners).
    pub fn pool(mut self, pool: impl Into<String>) -> Self {
        self.core.pool = Some(pool.into());
        self
    }
    /// Lets [`NotificationResult::Requeue`] put messages back (default false: they are acknowledged).
    pub fn allow_requeue(mut self, on: bool) -> Self {
        self.core.allow_requeue = on;
        self
    }
    /// The serializer for payloads and contexts.
    pub fn serializer(mut self, s: Arc<dyn Serializer>) -> Self {
        self.core.serializer = s;
        self
    }
    /// How many notifications are handled at once (default 64; 1 keeps their order).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }
    /// Checks the targets (each needs a topic) and builds the listener.
    pub fn build(self) -> Result<NotificationListener> {
        self.core.check()?;
        Ok(NotificationListener {
            core: self.core,
            endpoints: Arc::new(self.endpoints),
            pool_size: self.pool_size,
        })
    }
}

fn core(transport: Transport, targets: Vec<Target>) -> ListenerCore {
    ListenerCore {
        transport,
        targets,
        pool: None,
        allow_requeue: false,
        serializer: Arc::new(NoOpSerializer),
        state: Mutex::new(ListenerState::default()),
    }
}

impl NotificationListener {
    /// A builder for a listener of `targets` (exchange and topic matter).
    pub fn builder(transport: Transport, targets: Vec<Target>) -> NotificationListenerBuilder {
        NotificationListenerBuilder {
            core: core(transport, targets),
            endpoints: Vec::new(),
            pool_size: 64,
        }
    }

    /// Subscribes to `<topic>.<priority>` for each target and each priority an endpoint handles.
    pub async fn start(&self) -> Result<()> {
        let mut priorities: Vec<Priority> = self
            .endpoints
            .iter()
            .flat_map(|e| e.handlers.keys().copied())
            .collect();
        priorities.sort();
        priorities.dedup();
        let Some(mut incoming) = self.core.subscribe(&priorities).await? else {
            return Ok(());
        };
        let endpoints = self.endpoints.clone();
        let serializer = self.core.serializer.clone();
        let allow = self.core.allow_requeue;
        let sem = Arc::new(Semaphore::new(self.pool_size));
        self.core.set_task(tokio::spawn(async move {
            let mut running = JoinSet::new();
            while let Some(inc) = incoming.recv().await {
                let Ok(permit) = sem.clone().acquire_owned().await else {
                    break;
                };
                let endpoints = endpoints.clone();
                let serializer = serializer.clone();
                running.spawn(async move {
                    let IncomingNotification {
                        ctxt,
                        message,
                        acker,
                    } = inc;
                    let mut requeue = false;
                    if let Some(n) = to_notification(serializer.as_ref(), ctxt, &message) {
                        for ep in endpoints.iter() {
                            let Some(h) = ep.handlers.get(&n.priority) else {
                                continue;
                            };
                            if ep.filter.as_ref().is_some_and(|f| !f.matches(&n)) {
                                continue;
                            }
                            if h(n.clone()).await == NotificationResult::Requeue {
                                requeue = true;
                                break;
                            }
                        }
                    }
                    settle(acker, requeue, allow).await;
                    drop(permit);
                });
                while running.try_join_next().is_some() {}
            }
            while running.join_next().await.is_some() {}
        }));
        Ok(())
    }

    /// Stops taking notifications.
    pub async fn stop(&self) {
        self.core.stop().await;
    }

    /// Waits for the notifications taken to be handled.
    pub async fn wait(&self) {
        self.core.wait().await;
    }
}

/// A listener whose endpoints get notifications in batches of up to `batch_size`, or what arrived within
/// `batch_timeout` of the first.
#[derive(Debug)]
pub struct BatchNotificationListener {
    core: ListenerCore,
    endpoints: Arc<Vec<BatchNotificationEndpoint>>,
    batch_size: usize,
    batch_timeout: Option<Duration>,
}

/// Builds a [`BatchNotificationListener`].
#[derive(Debug)]
pub struct BatchNotificationListenerBuilder {
    listener: BatchNotificationListener,
    endpoints: Vec<BatchNotificationEndpoint>,
}

impl BatchNotificationListenerBuilder {
    /// Adds an endpoint.
    pub fn endpoint(mut self, e: BatchNotificationEndpoint) -> Self {
        self.endpoints.push(e);
        self
    }
    /// Joins a listener pool.
    pub fn pool(mut self, pool: impl Into<String>) -> Self {
        self.listener.core.pool = Some(pool.into());
        self
    }
    /// Lets requeue put messages back.
    pub fn allow_requeue(mut self, on: bool) -> Self {
        self.listener.core.allow_requeue = on;
        self
    }
    /// The serializer.
    pub fn serializer(mut self, s: Arc<dyn Serializer>) -> Self {
        self.listener.core.serializer = s;
        self
    }
    /// The largest batch (default 1).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.listener.batch_size = n.max(1);
        self
    }
    /// How long to wait to fill a batch (default: no waiting beyond what is already there).
    pub fn batch_timeout(mut self, t: Duration) -> Self {
        self.listener.batch_timeout = Some(t);
        self
    }
    /// Builds the listener.
    pub fn build(mut self) -> Result<BatchNotificationListener> {
        self.listener.core.check()?;
        self.listener.endpoints = Arc::new(self.endpoints);
        Ok(self.listener)
    }
}

impl BatchNotificationListener {
    /// A builder for a batch listener of `targets`.
    pub fn builder(transport: Transport, targets: Vec<Target>) -> BatchNotificationListenerBuilder {
        BatchNotificationListenerBuilder {
            listener: BatchNotificationListener {
                core: core(transport, targets),
                endpoints: Arc::new(Vec::new()),
                batch_size: 1,
                batch_timeout: None,
            },
            endpoints: Vec::new(),
        }
    }

    /// Subscribes and starts handling batches.
    pub async fn start(&self) -> Result<()> {
        let mut priorities: Vec<Priority> = self
            .endpoints
            .iter()
            .flat_map(|e| e.handlers.keys().copied())
            .collect();
        priorities.sort();
        priorities.dedup();
        let Some(mut incoming) = self.core.subscribe(&priorities).await? else {
            return Ok(());
        };
        let endpoints = self.endpoints.clone();
        let serializer = self.core.serializer.clone();
        let allow = self.core.allow_requeue;
        let (size, timeout) = (self.batch_size, self.batch_timeout);
        self.core.set_task(tokio::spawn(async move {
            while let Some(first) = incoming.recv().await {
                let mut batch = vec![first];
                let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
                while batch.len() < size {
                    let next = match deadline {
                        Some(d) => tokio::time::timeout_at(d, incoming.recv())
                            .await
                            .ok()
                            .flatten(),
                        None => incoming.try_recv().ok(),
                    };
                    match next {
                        Some(n) => batch.push(n),
                        None => break,
                    }
                }
                dispatch_batch(&endpoints, serializer.as_ref(), batch, allow).await;
            }
        }));
        Ok(())
    }

    /// Stops taking notifications.
    pub async fn stop(&self) {
        self.core.stop().await;
    }

    /// Waits for the batch in progress.
    pub async fn wait(&self) {
        self.core.wait().await;
    }
}

async fn dispatch_batch(
    endpoints: &[BatchNotificationEndpoint],
    serializer: &dyn Serializer,
    batch: Vec<IncomingNotification>,
    allow: bool,
) {
    let mut by_priority: HashMap<Priority, Vec<(usize, Notification)>> = HashMap::new();
    let mut ackers = Vec::with_capacity(batch.len());
    for (i, inc) in batch.into_iter().enumerate() {
        if let Some(n) = to_notification(serializer, inc.ctxt, &inc.message) {
            by_priority.entry(n.priority).or_default().push((i, n));
        }
        ackers.push(inc.acker);
    }
    let mut requeue = vec![false; ackers.len()];
    let mut priorities: Vec<_> = by_priority.keys().copied().collect();
    priorities.sort();
    for p in priorities {
        let group = by_priority.remove(&p).unwrap_or_default();
        for ep in endpoints {
            let Some(h) = ep.handlers.get(&p) else {
                continue;
            };
            let chosen: Vec<Notification> = group
                .iter()
                .filter(|(_, n)| ep.filter.as_ref().is_none_or(|f| f.matches(n)))
                .map(|(_, n)| n.clone())
                .collect();
            if chosen.is_empty() {
                continue;
            }
            if h(chosen).await == NotificationResult::Requeue {
                for (i, _) in &group {
                    if let Some(r) = requeue.get_mut(*i) {
                        *r = true;
                    }
                }
                break;
            }
        }
    }
    for (acker, rq) in ackers.into_iter().zip(requeue) {
        settle(acker, rq, allow).await;
    }
}
