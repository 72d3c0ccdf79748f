//! The RPC server.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::dispatcher::{AccessPolicy, Dispatcher, Endpoint};
use crate::remote::RemoteError;
use crate::serializer::Serializer;
use crate::transport::{IncomingRequest, SubscriptionControl};
use crate::wire::ReplyBody;
use crate::{Result, Target, Transport};

/// Serves the methods of its endpoints on a target (topic and server).
///
/// It consumes the topic's shared queue, its own `topic.server` queue and the topic's fanout. Each request
/// runs as its own task, at most [`pool_size`](RpcServerBuilder::pool_size) at a time. [`stop`](Self::stop)
/// stops taking requests; [`wait`](Self::wait) then lets the ones already taken finish. Dropping a started
/// server stops it too (keep it alive for as long as it should serve).
#[derive(Debug)]
pub struct RpcServer {
    transport: Transport,
    target: Target,
    dispatcher: Arc<Dispatcher>,
    pool_size: usize,
    state: Mutex<ServerState>,
}

#[derive(Debug, Default)]
struct ServerState {
    control: Option<Arc<dyn SubscriptionControl>>,
    task: Option<JoinHandle<()>>,
}

/// Builds an [`RpcServer`].
#[derive(Debug)]
pub struct RpcServerBuilder {
    transport: Transport,
    target: Target,
    endpoints: Vec<Endpoint>,
    policy: AccessPolicy,
    /// `None`: the default, which changes nothing.
    serializer: Option<Arc<dyn Serializer>>,
    pool_size: usize,
    ping: bool,
}

impl RpcServerBuilder {
    /// Adds an endpoint; endpoints are tried in the order they were added.
    pub fn endpoint(mut self, e: Endpoint) -> Self {
        self.endpoints.push(e);
        self
    }

    /// The access policy (default: private methods refused).
    pub fn access_policy(mut self, p: AccessPolicy) -> Self {
        self.policy = p;
        self
    }

    /// The serializer.
    pub fn serializer(mut self, s: Arc<dyn Serializer>) -> Self {
        self.serializer = Some(s);
        self
    }

    /// How many requests run at once (`executor_thread_pool_size`, default 64).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }

    /// Adds the `oslo_rpc_server_ping` method that answers `"pong"` (`rpc_ping_enabled`).
    pub fn ping_enabled(mut self, on: bool) -> Self {
        self.ping = on;
        self
    }

    /// Checks the target (a topic and a server are required) and builds the server.
    pub fn build(mut self) -> Result<RpcServer> {
        self.target.check_server()?;
        if self.ping {
            self.endpoints.push(
                Endpoint::new().json_method("oslo_rpc_server_ping", |_, _| async {
                    Ok::<_, RemoteError>(Value::String("pong".into()))
                }),
            );
        }
        Ok(RpcServer {
            transport: self.transport,
            target: self.target,
            dispatcher: Arc::new(Dispatcher {
                endpoints: self.endpoints,
                policy: self.policy,
                serializer: self.serializer,
            }),
            pool_size: self.pool_size,
            state: Mutex::new(ServerState::default()),
        })
    }
}

#[derive(Debug)]
struct ControlHandle(Box<dyn SubscriptionControl>);

impl SubscriptionControl for ControlHandle {
    fn stop(&self) -> crate::transport::BoxFuture<'_, ()> {
        self.0.stop()
    }
}

impl RpcServer {
    /// A builder for a server on `target` (which needs a topic and a server name).
    pub fn builder(transport: Transport, target: Target) -> RpcServerBuilder {
        RpcServerBuilder {
            transport,
            target,
            endpoints: Vec::new(),
            policy: AccessPolicy::Default,
            serializer: None,
            pool_size: 64,
            ping: false,
        }
    }

    /// The server's target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Subscribes to the target and starts serving. Starting a started server does nothing.
    pub async fn start(&self) -> Result<()> {
        if self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .control
            .is_some()
        {
            return Ok(());
        }
        let sub = self.transport.driver().listen(&self.target).await?;
        let control: Arc<dyn SubscriptionControl> = Arc::new(ControlHandle(sub.control));
        let mut incoming = sub.incoming;
        let dispatcher = self.dispatcher.clone();
        let pool = Arc::new(Semaphore::new(self.pool_size));
        let pool_size = self.pool_size;
        let task = tokio::spawn(async move {
            // Each request runs as a task of its own holding one of the pool's permits; the server is
            // done when it has them all back (a task that panics gives its permit back too). No join
            // set: its bookkeeping cost more per request than the rest of the hand-over.
            while let Some(req) = incoming.recv().await {
                let Ok(permit) = pool.clone().acquire_owned().await else {
                    break;
                };
                let dispatcher = dispatcher.clone();
                drop(tokio::spawn(async move {
                    handle(&dispatcher, req).await;
                    drop(permit);
                }));
            }
            let all = u32::try_from(pool_size).unwrap_or(u32::MAX);
            let _ = pool.acquire_many(all).await;
        });
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.control = Some(control);
        st.task = Some(task);
        tracing::info!(target: "rpc.server", dest = %self.target, "server started");
        Ok(())
    }

    /// Stops taking new requests. Requests already taken keep running; [`wait`](Self::wait) for them.
    pub async fn stop(&self) {
        let control = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .control
            .clone();
        if let Some(c) = control {
            c.stop().await;
        }
    }

    /// Waits until the server is stopped and every request it took has been answered.
    pub async fn wait(&self) {
        let task = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .task
            .take();
        if let Some(t) = task {
            let _ = t.await;
        }
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .control = None;
    }
}

/// The call-monitor heartbeat interval for a client timeout: half of its whole seconds, none under 1 s.
fn heartbeat_interval(client_timeout: Option<f64>) -> Option<Duration> {
    let t = client_timeout?;
    if !t.is_finite() || t < 0.0 {
        return None;
    }
    let half = t.trunc() / 2.0;
    (half >= 1.0).then(|| Duration::from_secs_f64(half))
}

async fn handle(dispatcher: &Dispatcher, req: IncomingRequest) {
    let IncomingRequest {
        mut ctxt,
        mut message,
        client_timeout,
        replier,
    } = req;
    ctxt.insert(
        "client_timeout".into(),
        client_timeout
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
    );
    let heartbeat = match (&replier, heartbeat_interval(client_timeout)) {
        (Some(r), Some(every)) => {
            let r = r.clone();
            Some(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(e) = r.send(ReplyBody::Heartbeat).await {
                        tracing::warn!(error = %e, "call-monitor heartbeat failed");
                    }
                }
            }))
        }
        _ => None,
    };
    // The request's context and message are freed once the reply is sent, not on its way.
    let (result, _ctxt) = dispatcher.dispatch(ctxt, &mut message).await;
    if let Some(h) = heartbeat {
        h.abort();
    }
    let method = message
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Err(e) = &result {
        if e.is_expected() {
            tracing::debug!(target: "rpc.server", method, error = %e, "expected exception during message handling");
        } else {
            tracing::error!(target: "rpc.server", method, error = %e, "exception during message handling");
        }
    }
    if let Some(r) = replier
        && let Err(e) = r.send(ReplyBody::Final(result)).await
    {
        tracing::warn!(target: "rpc.server", method, error = %e, "failed to send the reply");
    }
}
