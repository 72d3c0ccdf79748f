//! `memory://`: every transport of the process with the same virtual host shares one in-process broker
//! with the topology of the RabbitMQ driver (a topic exchange per control exchange, one queue per topic,
//! per `topic.server`, per fanout subscriber, per `topic.priority` and per pool). Consumers wait on a
//! notification, never on a polling sleep.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde_json::Value;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{
    Acker, BoxFuture, CallOptions, Driver, IncomingNotification, IncomingRequest,
    NotificationFormat, Outgoing, Replier, SendOptions, Subscription, SubscriptionControl,
    TransportOptions, wait_for_reply,
};
use crate::wire::{ReplyBody, new_hex_id};
use crate::{Error, Result, Target, TransportUrl};

/// How many delivered-but-unhandled messages a subscription channel holds.
const CHANNEL_DEPTH: usize = 64;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
enum Body {
    Request {
        out: Outgoing,
        reply: Option<Arc<MemReplier>>,
        client_timeout: Option<f64>,
    },
    Notification(Outgoing),
}

#[derive(Debug)]
struct Envelope {
    body: Body,
    expires: Option<Instant>,
}

#[derive(Debug, Default)]
struct Queue {
    items: Mutex<VecDeque<Envelope>>,
    ready: Notify,
}

impl Queue {
    fn push(&self, e: Envelope) {
        lock(&self.items).push_back(e);
        self.ready.notify_one();
    }

    fn push_front(&self, e: Envelope) {
        lock(&self.items).push_front(e);
        self.ready.notify_one();
    }

    fn try_pop(&self) -> Option<Envelope> {
        let mut items = lock(&self.items);
        let now = Instant::now();
        while let Some(e) = items.pop_front() {
            if e.expires.is_none_or(|t| t > now) {
                if !items.is_empty() {
                    // Let another waiting consumer take the next one.
                    self.ready.notify_one();
                }
                return Some(e);
            }
        }
        None
    }

    /// Cancel-safe: a message is taken only when this returns.
    async fn pop(&self) -> Envelope {
        loop {
            if let Some(e) = self.try_pop() {
                return e;
            }
            self.ready.notified().await;
        }
    }
}

#[derive(Debug, Default)]
struct Broker {
    state: Mutex<BrokerState>,
}

/// The queues bound to one `(exchange, routing key)`, by name.
type Bound = Vec<(String, Arc<Queue>)>;

#[derive(Debug, Default)]
struct BrokerState {
    queues: HashMap<String, Arc<Queue>>,
    /// `(exchange, routing key)` to the queues bound with that key.
    bindings: HashMap<(String, String), Bound>,
}

impl Broker {
    fn bind(&self, exchange: &str, key: &str, queue: &str) -> Arc<Queue> {
        let mut st = lock(&self.state);
        let q = st.queues.entry(queue.to_owned()).or_default().clone();
        let bound = st
            .bindings
            .entry((exchange.to_owned(), key.to_owned()))
            .or_default();
        if !bound.iter().any(|(n, _)| n == queue) {
            bound.push((queue.to_owned(), q.clone()));
        }
        q
    }

    fn delete(&self, queue: &str) {
        let mut st = lock(&self.state);
        st.queues.remove(queue);
        for bound in st.bindings.values_mut() {
            bound.retain(|(n, _)| n != queue);
        }
        st.bindings.retain(|_, b| !b.is_empty());
    }

    fn routed(&self, exchange: &str, key: &str) -> Vec<Arc<Queue>> {
        lock(&self.state)
            .bindings
            .get(&(exchange.to_owned(), key.to_owned()))
            .map(|b| b.iter().map(|(_, q)| q.clone()).collect())
            .unwrap_or_default()
    }
}

fn broker_for(vhost: &str) -> Arc<Broker> {
    static BROKERS: OnceLock<Mutex<HashMap<String, Arc<Broker>>>> = OnceLock::new();
    lock(BROKERS.get_or_init(Default::default))
        .entry(vhost.to_owned())
        .or_default()
        .clone()
}

/// The in-memory driver.
#[derive(Debug)]
pub(crate) struct MemoryDriver {
    broker: Arc<Broker>,
    exchange: String,
}

impl MemoryDriver {
    pub(crate) fn new(url: &TransportUrl, options: &TransportOptions) -> Result<Self> {
        if let Some(k) = url.query.keys().next() {
            return Err(Error::Configuration(format!(
                "`memory://` takes no option, got `{k}`"
            )));
        }
        Ok(MemoryDriver {
            broker: broker_for(url.virtual_host.as_deref().unwrap_or("")),
            exchange: options.control_exchange.clone(),
        })
    }

    fn exchange<'a>(&'a self, target: &'a Target) -> &'a str {
        target.exchange.as_deref().unwrap_or(&self.exchange)
    }

    /// Routes an RPC message and returns how many queues took it. The message moves into the last
    /// queue; only a fanout to several queues copies it.
    fn route_rpc(
        &self,
        target: &Target,
        msg: Outgoing,
        make: &dyn Fn(Outgoing) -> Envelope,
    ) -> Result<usize> {
        let topic = target.require_topic()?;
        let queues = if target.fanout {
            self.broker.routed(&format!("{topic}_fanout"), "")
        } else {
            let key = match &target.server {
                Some(s) => format!("{topic}.{s}"),
                None => topic.to_owned(),
            };
            self.broker.routed(self.exchange(target), &key)
        };
        if let Some((last, rest)) = queues.split_last() {
            for q in rest {
                q.push(make(msg.clone()));
            }
            last.push(make(msg));
        }
        Ok(queues.len())
    }
}

#[derive(Debug)]
struct MemReplier {
    tx: mpsc::UnboundedSender<ReplyBody>,
}

impl Replier for MemReplier {
    fn send(&self, body: ReplyBody) -> BoxFuture<'_, Result<()>> {
        if self.tx.send(body).is_err() {
            tracing::info!("no caller waiting for this reply any more, dropped");
        }
        Box::pin(async { Ok(()) })
    }
}

#[derive(Debug)]
struct MemAcker {
    queue: Arc<Queue>,
    pending: Option<Outgoing>,
}

impl Acker for MemAcker {
    fn ack(mut self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        self.pending = None;
        Box::pin(async { Ok(()) })
    }
    fn requeue(mut self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        if let Some(out) = self.pending.take() {
            self.queue.push_front(Envelope {
                body: Body::Notification(out),
                expires: None,
            });
        }
        Box::pin(async { Ok(()) })
    }
}

impl Drop for MemAcker {
    /// An unsettled notification goes back to its queue, as an unacked AMQP delivery does.
    fn drop(&mut self) {
        if let Some(out) = self.pending.take() {
            self.queue.push_front(Envelope {
                body: Body::Notification(out),
                expires: None,
            });
        }
    }
}

#[derive(Debug)]
struct MemSubscription {
    tasks: Mutex<Vec<JoinHandle<()>>>,
    broker: Arc<Broker>,
    /// Queues deleted on stop (fanout queues).
    transient: Vec<String>,
    stopped: AtomicBool,
}

impl SubscriptionControl for MemSubscription {
    fn stop(&self) -> BoxFuture<'_, ()> {
        if !self.stopped.swap(true, Ordering::SeqCst) {
            for t in lock(&self.tasks).drain(..) {
                t.abort();
            }
            for q in &self.transient {
                self.broker.delete(q);
            }
        }
        Box::pin(async {})
    }
}

impl Drop for MemSubscription {
    fn drop(&mut self) {
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }
}

/// Moves messages from a queue to a subscription channel, taking one only when the channel has room.
fn forward<T: Send + 'static>(
    queue: Arc<Queue>,
    tx: mpsc::Sender<T>,
    convert: impl Fn(Envelope, &Arc<Queue>) -> Option<T> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok(permit) = tx.reserve().await else {
                return;
            };
            let env = queue.pop().await;
            if let Some(item) = convert(env, &queue) {
                permit.send(item);
            }
        }
    })
}

impl Driver for MemoryDriver {
    fn cast<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        _opts: SendOptions,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.route_rpc(target, msg, &|out| Envelope {
                body: Body::Request {
                    out,
                    reply: None,
                    client_timeout: None,
                },
                expires: None,
            })?;
            Ok(())
        })
    }

    fn call<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        call: CallOptions,
        opts: SendOptions,
    ) -> BoxFuture<'a, Result<Value>> {
        Box::pin(async move {
            let topic = target.check_call()?;
            let (tx, mut rx) = mpsc::unbounded_channel();
            let replier = Arc::new(MemReplier { tx });
            let expires = Instant::now() + call.timeout;
            let n = self.route_rpc(target, msg, &|out| Envelope {
                body: Body::Request {
                    out,
                    reply: Some(replier.clone()),
                    client_timeout: call.call_monitor_timeout.map(|d| d.as_secs_f64()),
                },
                expires: Some(expires),
            })?;
            drop(replier);
            let dest = match &target.server {
                Some(s) => format!("{topic}.{s}"),
                None => topic.to_owned(),
            };
            if n == 0 && opts.at_least_once {
                return Err(Error::Undeliverable {
                    exchange: self.exchange(target).to_owned(),
                    routing_key: dest,
                });
            }
            let msg_id = new_hex_id();
            match wait_for_reply(&mut rx, &msg_id, &dest, call).await {
                // Every copy of the request was dropped unanswered (expired, or the server went away).
                Err(Error::Connection { .. }) => {
                    tokio::time::sleep_until(expires).await;
                    Err(Error::Timeout {
                        msg_id,
                        topic: dest,
                        elapsed: call.timeout,
                    })
                }
                r => r,
            }
        })
    }

    fn notify<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        _format: NotificationFormat,
        _opts: SendOptions,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let key = target.require_topic()?;
            let exchange = self.exchange(target);
            // The notifier declares the default queue, as the RabbitMQ driver does.
            self.broker.bind(exchange, key, key);
            for q in self.broker.routed(exchange, key) {
                q.push(Envelope {
                    body: Body::Notification(msg.clone()),
                    expires: None,
                });
            }
            Ok(())
        })
    }

    fn listen<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<Subscription<IncomingRequest>>> {
        Box::pin(async move {
            let (topic, server) = target.check_server()?;
            let exchange = self.exchange(target);
            let server_key = format!("{topic}.{server}");
            let fanout_queue = format!("{topic}_fanout_{}", new_hex_id());
            let queues = [
                self.broker.bind(exchange, topic, topic),
                self.broker.bind(exchange, &server_key, &server_key),
                self.broker
                    .bind(&format!("{topic}_fanout"), "", &fanout_queue),
            ];
            let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
            let tasks = queues
                .into_iter()
                .map(|q| {
                    forward(q, tx.clone(), |env, _| match env.body {
                        Body::Request {
                            out,
                            reply,
                            client_timeout,
                        } => Some(IncomingRequest {
                            ctxt: out.ctxt,
                            message: out.message,
                            client_timeout,
                            replier: reply.map(|r| r as Arc<dyn Replier>),
                        }),
                        Body::Notification(_) => None,
                    })
                })
                .collect();
            Ok(Subscription {
                incoming: rx,
                control: Box::new(MemSubscription {
                    tasks: Mutex::new(tasks),
                    broker: self.broker.clone(),
                    transient: vec![fanout_queue],
                    stopped: AtomicBool::new(false),
                }),
            })
        })
    }

    fn listen_for_notifications<'a>(
        &'a self,
        targets: &'a [(Target, String)],
        pool: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Subscription<IncomingNotification>>> {
        Box::pin(async move {
            let mut queues: Vec<Arc<Queue>> = Vec::new();
            for (target, priority) in targets {
                let topic = target.require_topic()?;
                let key = format!("{topic}.{priority}");
                let q = self
                    .broker
                    .bind(self.exchange(target), &key, pool.unwrap_or(&key));
                if !queues.iter().any(|x| Arc::ptr_eq(x, &q)) {
                    queues.push(q);
                }
            }
            let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
            let tasks = queues
                .into_iter()
                .map(|q| {
                    forward(q, tx.clone(), |env, queue| match env.body {
                        Body::Notification(out) => Some(IncomingNotification {
                            ctxt: out.ctxt.clone(),
                            message: out.message.clone(),
                            acker: Box::new(MemAcker {
                                queue: queue.clone(),
                                pending: Some(out),
                            }),
                        }),
                        Body::Request { .. } => None,
                    })
                })
                .collect();
            Ok(Subscription {
                incoming: rx,
                control: Box::new(MemSubscription {
                    tasks: Mutex::new(tasks),
                    broker: self.broker.clone(),
                    transient: Vec::new(),
                    stopped: AtomicBool::new(false),
                }),
            })
        })
    }

    fn cleanup(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
