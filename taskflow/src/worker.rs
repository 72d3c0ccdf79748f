//! The worker-based engine (feature `worker`): tasks run in worker processes reached through
//! oslo-messaging, as TaskFlow's `worker-based` engine.
//!
//! A [`Worker`] serves named task factories on an exchange and topic. An engine built with
//! [`EngineBuilder::workers`](crate::EngineBuilder::workers) asks each topic of its [`WorkerOptions`]
//! which tasks it serves, then sends every task's execute or revert, with its arguments, to a worker that
//! serves it and feeds the result or [`Failure`] back to the usual engine logic.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use oslo_messaging::blocking::Runtime;
use oslo_messaging::{Context, Endpoint, RemoteError, RpcClient, RpcServer, Target, Transport};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::atom::{Arguments, ExecuteContext, Outcome, RevertContext, Task};
use crate::failure::Failure;

/// Makes the task a worker runs for one request.
pub type TaskFactory = Arc<dyn Fn() -> Arc<dyn Task> + Send + Sync>;

/// Where an engine finds its workers (TaskFlow's `url`, `exchange`, `topics`, `transition_timeout`).
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The transport URL (`memory://`, `rabbit://...`, `zmq://...`).
    pub url: String,
    /// The exchange workers listen on.
    pub exchange: String,
    /// The topics of the workers to use.
    pub topics: Vec<String>,
    /// How long one request (discovery, execute or revert) may take before it fails with
    /// `RequestTimeout` (default 60 s, as TaskFlow's `transition_timeout`).
    pub transition_timeout: Duration,
}

impl WorkerOptions {
    /// Options for `url`, `exchange` and `topics` with the default timeout.
    pub fn new<I, S>(url: impl Into<String>, exchange: impl Into<String>, topics: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        WorkerOptions {
            url: url.into(),
            exchange: exchange.into(),
            topics: topics.into_iter().map(Into::into).collect(),
            transition_timeout: Duration::from_secs(60),
        }
    }

    /// Sets the per-request timeout.
    pub fn transition_timeout(mut self, t: Duration) -> Self {
        self.transition_timeout = t;
        self
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ExecuteRequest {
    task: String,
    arguments: BTreeMap<String, Value>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RevertRequest {
    task: String,
    arguments: BTreeMap<String, Value>,
    /// The task's execute value, when it has one.
    #[serde(default)]
    result: Option<Value>,
    /// The task's execute failure, when it failed.
    #[serde(default)]
    failure: Option<Failure>,
    #[serde(default)]
    flow_failures: BTreeMap<String, Failure>,
}

/// A worker's reply: the value, or the failure (Python's `Response` with `SUCCESS` / `FAILURE`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Reply {
    Success(Value),
    Failure(Failure),
}

impl From<Result<Value, Failure>> for Reply {
    fn from(r: Result<Value, Failure>) -> Self {
        match r {
            Ok(v) => Reply::Success(v),
            Err(f) => Reply::Failure(f),
        }
    }
}

fn messaging_failure(e: &oslo_messaging::Error) -> Failure {
    let kind = match e {
        oslo_messaging::Error::Timeout { .. } => "RequestTimeout",
        _ => "MessagingFailure",
    };
    Failure::new(kind, e.to_string())
}

fn run_guarded(f: impl FnOnce() -> Result<Value, Failure>) -> Result<Value, Failure> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(Failure::new("Panic", "task panicked in the worker")))
}

/// Serves named task factories on an exchange and topic (TaskFlow's `Worker(exchange, topic, tasks)`).
pub struct Worker {
    rt: Runtime,
    server: RpcServer,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("target", self.server.target())
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker on `url` answering requests sent to `exchange` / `topic` for the tasks of `tasks`, named
    /// as the engine's atoms are. `server` names this worker among others on the topic.
    ///
    /// Errors: a bad URL or a transport that cannot start.
    pub fn new<I, S>(
        url: &str,
        exchange: &str,
        topic: &str,
        server: &str,
        tasks: I,
    ) -> oslo_messaging::Result<Worker>
    where
        I: IntoIterator<Item = (S, TaskFactory)>,
        S: Into<String>,
    {
        let tasks: Arc<BTreeMap<String, TaskFactory>> =
            Arc::new(tasks.into_iter().map(|(k, f)| (k.into(), f)).collect());
        let rt = Runtime::new(4)?;
        let transport = {
            let _g = rt.handle().enter();
            Transport::new(url)?
        };
        let names: Vec<String> = tasks.keys().cloned().collect();
        let (t_exec, t_rev) = (tasks.clone(), tasks);
        let endpoint = Endpoint::new()
            .method("tasks", move |_c: Context, _a: Value| {
                let names = names.clone();
                async move { Ok::<_, RemoteError>(names) }
            })
            .method("execute", move |_c: Context, req: ExecuteRequest| {
                let tasks = t_exec.clone();
                async move {
                    let reply = execute(&tasks, req);
                    Ok::<_, RemoteError>(reply)
                }
            })
            .method("revert", move |_c: Context, req: RevertRequest| {
                let tasks = t_rev.clone();
                async move {
                    let reply = revert(&tasks, req);
                    Ok::<_, RemoteError>(reply)
                }
            });
        let target = Target::topic(topic)
            .with_exchange(exchange)
            .with_server(server);
        let server = {
            let _g = rt.handle().enter();
            RpcServer::builder(transport, target)
                .endpoint(endpoint)
                .build()?
        };
        rt.block_on(server.start())?;
        tracing::info!(topic, exchange, "taskflow worker started");
        Ok(Worker { rt, server })
    }

    /// Stops serving and waits for the requests in progress.
    pub fn stop(self) {
        self.rt.block_on(async {
            self.server.stop().await;
            self.server.wait().await;
        });
    }
}

fn find(tasks: &BTreeMap<String, TaskFactory>, name: &str) -> Result<Arc<dyn Task>, Failure> {
    tasks.get(name).map(|f| f()).ok_or_else(|| {
        Failure::new(
            "NotFound",
            format!("the worker does not serve task `{name}`"),
        )
    })
}

fn execute(tasks: &BTreeMap<String, TaskFactory>, req: ExecuteRequest) -> Reply {
    let r = find(tasks, &req.task).and_then(|task| {
        let args = Arguments::new(req.arguments);
        run_guarded(|| {
            let progress = |_: f64| {};
            let ctx = ExecuteContext {
                name: &req.task,
                args: &args,
                progress: &progress,
            };
            task.execute(&ctx)
        })
    });
    r.into()
}

fn revert(tasks: &BTreeMap<String, TaskFactory>, req: RevertRequest) -> Reply {
    let r = find(tasks, &req.task).and_then(|task| {
        let args = Arguments::new(req.arguments);
        let result = match req.failure {
            Some(f) => Outcome::Failure(f),
            None => Outcome::Value(req.result.unwrap_or(Value::Null)),
        };
        run_guarded(|| {
            let ctx = RevertContext {
                name: &req.task,
                args: &args,
                result: &result,
                flow_failures: &req.flow_failures,
            };
            task.revert(&ctx).map(|()| Value::Null)
        })
    });
    r.into()
}

/// The engine's side: one client per topic and which topic serves which task.
pub(crate) struct Proxy {
    rt: Runtime,
    clients: Vec<RpcClient>,
    /// Task name -> index into `clients`.
    routes: BTreeMap<String, usize>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("tasks", &self.routes.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Connects and asks every topic which tasks it serves (a topic that does not answer in time is
    /// skipped; its tasks then fail with `NoWorker`).
    pub(crate) fn connect(opts: &WorkerOptions) -> Result<Proxy, Failure> {
        let rt = Runtime::new(1).map_err(|e| messaging_failure(&e))?;
        let transport = {
            let _g = rt.handle().enter();
            Transport::new(&opts.url).map_err(|e| messaging_failure(&e))?
        };
        let mut clients = Vec::new();
        let mut routes = BTreeMap::new();
        for topic in &opts.topics {
            let target = Target::topic(topic.as_str()).with_exchange(opts.exchange.as_str());
            let client = {
                let _g = rt.handle().enter();
                RpcClient::builder(transport.clone(), target)
                    .timeout(opts.transition_timeout)
                    .retry(Some(0))
                    .build()
                    .map_err(|e| messaging_failure(&e))?
            };
            let names: Result<Vec<String>, _> =
                rt.block_on(client.call(&Context::new(), "tasks", serde_json::json!({})));
            match names {
                Ok(names) => {
                    for n in names {
                        routes.entry(n).or_insert(clients.len());
                    }
                }
                Err(e) => tracing::warn!(topic, error = %e, "no worker answered on the topic"),
            }
            clients.push(client);
        }
        Ok(Proxy {
            rt,
            clients,
            routes,
        })
    }

    fn call(&self, task: &str, method: &str, args: Value) -> Result<Value, Failure> {
        let client = self
            .routes
            .get(task)
            .and_then(|&i| self.clients.get(i))
            .ok_or_else(|| {
                Failure::new("NoWorker", format!("no worker advertises task `{task}`"))
            })?;
        let reply: Reply = self
            .rt
            .block_on(client.call(&Context::new(), method, args))
            .map_err(|e| messaging_failure(&e))?;
        match reply {
            Reply::Success(v) => Ok(v),
            Reply::Failure(f) => Err(f),
        }
    }

    pub(crate) fn execute(&self, task: &str, args: &Arguments) -> Result<Value, Failure> {
        let req = ExecuteRequest {
            task: task.to_owned(),
            arguments: args.clone().into_map(),
        };
        let args =
            serde_json::to_value(req).map_err(|e| Failure::new("TypeError", e.to_string()))?;
        self.call(task, "execute", args)
    }

    pub(crate) fn revert(
        &self,
        task: &str,
        args: &Arguments,
        result: &Outcome,
        flow_failures: &BTreeMap<String, Failure>,
    ) -> Result<Value, Failure> {
        let req = RevertRequest {
            task: task.to_owned(),
            arguments: args.clone().into_map(),
            result: result.value().cloned(),
            failure: result.failure().cloned(),
            flow_failures: flow_failures.clone(),
        };
        let args =
            serde_json::to_value(req).map_err(|e| Failure::new("TypeError", e.to_string()))?;
        self.call(task, "revert", args)
    }
}
