//! Engines and persistence backends by name, through stevedore (feature `stevedore`).
//!
//! TaskFlow loads engines from the `taskflow.engines` entry points (`engines.load(flow,
//! engine="parallel")`) and persistence backends from `taskflow.persistence` (`backends.fetch({"connection":
//! "sqlite:///..."})`). With this feature the same names are registered here with
//! [`stevedore::register!`], and [`load`] / [`load_with`] / [`fetch`] find them through a
//! [`DriverManager`], so another crate of the program adds an engine or a backend by registering it under
//! the same namespace, and configuration picks it by name:
//!
//! ```
//! use taskflow::plugins::{ENGINES, EngineKind};
//! use taskflow::{EngineBuilder, Flow, fn_task, json};
//!
//! /// Two threads, and reverts deferred to the enclosing retry.
//! fn cautious(_: &stevedore::InvokeArgs) -> Result<Box<dyn EngineKind>, stevedore::PluginError> {
//!     Ok(Box::new(|builder: EngineBuilder, _: &serde_json::Map<String, serde_json::Value>| {
//!         Ok(builder.parallel(2).defer_reverts(true))
//!     }))
//! }
//! stevedore::register! { namespace: ENGINES, name: "doc-cautious", factory: cautious }
//!
//! let mut flow = Flow::linear("f");
//! flow.add(fn_task("t", |_| Ok(json!(1))).provides("x"))?;
//! let mut engine = taskflow::plugins::load(flow, "doc-cautious", Default::default())?;
//! engine.run()?;
//! assert_eq!(engine.fetch("x")?, json!(1));
//! assert!(format!("{engine:?}").contains("Parallel { max_workers: 2 }"));
//! # Ok::<(), taskflow::Error>(())
//! ```
//!
//! # Engines
//!
//! The engine argument is a name (`serial`, `default`, `parallel`, `worker-based`, `workers`) or a URI
//! whose scheme is the name and whose host, port, user, password and query parameters become options
//! (`parallel://?max_workers=4`); options given by the caller win over those of the URI. Every engine
//! takes TaskFlow's action-engine options `defer_reverts`, `never_resolve` and `inject_transient`
//! (booleans, or strings such as `"true"`); `parallel` takes `max_workers` (default: five per CPU, as
//! futurist); `worker-based` (feature `worker`) takes `url`, `exchange` (default `default`), `topics`
//! and `transition_timeout` (seconds). A plugin of [`ENGINES`] makes an [`EngineKind`]: it gets the
//! builder, with the flow, store, backend and the common options already set, and the options.
//!
//! # Persistence backends
//!
//! [`fetch`] takes a connection string (`memory://`, `sqlite:////var/lib/x.db`, or just a name) or a
//! JSON object with a `connection` key, as TaskFlow's `fetch`: the scheme (before any `+`) names the
//! plugin of [`PERSISTENCE`], and the URI's host, port, user, password and query parameters are merged
//! into the configuration without replacing keys already there. `memory`; `dir` and `file` (key `path`);
//! `sqlite` (feature `sql`), `postgresql` (`sql-postgres`), `mysql` (`sql-mysql`), which open the
//! `connection` URL through oslo-db and run the migrations. A plugin makes a [`BackendFactory`].
//!
//! Plugins come from [`stevedore::Registry::global`]. A name nobody registered is [`Error::NotFound`]
//! naming the namespace; a plugin whose factory fails, or several sharing a name, are
//! [`Error::InvalidOption`] with stevedore's explanation.

use std::sync::Arc;

use serde_json::{Map, Value};
use stevedore::{DriverManager, InvokeArgs, PluginError};

use crate::engine::{Engine, EngineBuilder};
use crate::error::{Error, Result};
use crate::flow::Flow;
use crate::persistence::{Backend, DirBackend, MemoryBackend};

/// The namespace of engines (Python's `taskflow.engines` entry points).
pub const ENGINES: &str = "taskflow.engines";

/// The namespace of persistence backends (Python's `taskflow.persistence` entry points).
pub const PERSISTENCE: &str = "taskflow.persistence";

/// What a plugin of [`ENGINES`] makes: how to set up an engine (Python's engine class).
pub trait EngineKind: Send + Sync {
    /// Configures `builder` (which already has the flow, the store, the backend and the common options)
    /// from `options`.
    fn prepare(
        &self,
        builder: EngineBuilder,
        options: &Map<String, Value>,
    ) -> Result<EngineBuilder>;
}

impl<F> EngineKind for F
where
    F: Fn(EngineBuilder, &Map<String, Value>) -> Result<EngineBuilder> + Send + Sync,
{
    fn prepare(
        &self,
        builder: EngineBuilder,
        options: &Map<String, Value>,
    ) -> Result<EngineBuilder> {
        self(builder, options)
    }
}

/// What a plugin of [`PERSISTENCE`] makes: opens a backend from its configuration (Python's backend
/// class, instantiated with the configuration dictionary).
pub trait BackendFactory: Send + Sync {
    /// Opens the backend. `conf` holds `connection` and whatever the caller and the URI gave.
    fn open(&self, conf: &Map<String, Value>) -> Result<Arc<dyn Backend>>;
}

impl<F> BackendFactory for F
where
    F: Fn(&Map<String, Value>) -> Result<Arc<dyn Backend>> + Send + Sync,
{
    fn open(&self, conf: &Map<String, Value>) -> Result<Arc<dyn Backend>> {
        self(conf)
    }
}

/// Loads the engine `engine` (a name or a URI) for `flow` (TaskFlow's `engines.load`).
pub fn load(flow: Flow, engine: &str, options: Map<String, Value>) -> Result<Engine> {
    load_with(Engine::builder(flow), engine, options)
}

/// [`load`] for a builder that already has its store, backend, book or flow detail.
pub fn load_with(
    builder: EngineBuilder,
    engine: &str,
    options: Map<String, Value>,
) -> Result<Engine> {
    let engine = if engine.is_empty() { "default" } else { engine };
    let (kind, options) = split_uri(engine, options)?;
    let manager = DriverManager::<Box<dyn EngineKind>>::builder(ENGINES, kind.as_str())
        .invoke_on_load(InvokeArgs::new())
        .ignore_missing_names()
        .build()
        .map_err(|err| stevedore_error(err, ENGINES, &kind, "engine"))?;
    let Some(engine_kind) = manager.driver() else {
        return Err(not_found(ENGINES, &kind, "engine"));
    };
    tracing::debug!(namespace = ENGINES, name = %kind, "loading engine");
    let builder = common_options(builder, &options)?;
    engine_kind.prepare(builder, &options)?.build()
}

/// Opens the persistence backend that `conf` names (TaskFlow's `persistence.backends.fetch`): a
/// connection string, or an object with a `connection` key.
pub fn fetch(conf: impl Into<Value>) -> Result<Arc<dyn Backend>> {
    let conf = match conf.into() {
        Value::String(connection) => {
            let mut m = Map::new();
            m.insert("connection".to_owned(), Value::String(connection));
            m
        }
        Value::Object(m) => m,
        other => {
            return Err(Error::InvalidOption {
                name: "connection".to_owned(),
                reason: format!("expected a string or an object, got `{other}`"),
            });
        }
    };
    let connection = match conf.get("connection") {
        Some(Value::String(c)) => c.clone(),
        _ => {
            return Err(Error::InvalidOption {
                name: "connection".to_owned(),
                reason: "a persistence configuration needs a `connection` string".to_owned(),
            });
        }
    };
    let (backend, conf) = split_uri(&connection, conf)?;
    let backend = backend.split('+').next().unwrap_or_default().to_owned();
    let manager = DriverManager::<Box<dyn BackendFactory>>::builder(PERSISTENCE, backend.as_str())
        .invoke_on_load(InvokeArgs::new())
        .ignore_missing_names()
        .build()
        .map_err(|err| stevedore_error(err, PERSISTENCE, &backend, "backend"))?;
    let Some(factory) = manager.driver() else {
        return Err(not_found(PERSISTENCE, &backend, "backend"));
    };
    tracing::debug!(namespace = PERSISTENCE, name = %backend, "opening persistence backend");
    factory.open(&conf)
}

fn not_found(namespace: &str, name: &str, what: &str) -> Error {
    Error::NotFound(format!(
        "could not find {what} `{name}` in the `{namespace}` namespace"
    ))
}

fn stevedore_error(err: stevedore::Error, namespace: &str, name: &str, what: &str) -> Error {
    if err.is_no_matches() {
        return not_found(namespace, name, what);
    }
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    Error::InvalidOption {
        name: name.to_owned(),
        reason,
    }
}

/// A name or a URI: the name (the scheme of a URI) and the options, with the URI's host, port, user,
/// password and query merged in under the keys not already set (TaskFlow's `merge_uri`; the path is not
/// merged).
fn split_uri(text: &str, mut options: Map<String, Value>) -> Result<(String, Map<String, Value>)> {
    let Some((scheme, _)) = text.split_once(':') else {
        return Ok((text.to_owned(), options));
    };
    let is_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme {
        return Ok((text.to_owned(), options));
    }
    let uri = url::Url::parse(text).map_err(|e| Error::InvalidOption {
        name: "connection".to_owned(),
        reason: format!("`{scheme}:...` is not a valid URI: {e}"),
    })?;
    let mut merge = |k: &str, v: Value| {
        options.entry(k.to_owned()).or_insert(v);
    };
    if !uri.username().is_empty() {
        merge("username", Value::String(uri.username().to_owned()));
    }
    if let Some(p) = uri.password().filter(|p| !p.is_empty()) {
        merge("password", Value::String(p.to_owned()));
    }
    if let Some(port) = uri.port() {
        merge("port", Value::from(port));
    }
    if let Some(host) = uri.host_str().filter(|h| !h.is_empty()) {
        let host = match uri.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        merge("hostname", Value::String(host));
    }
    for (k, v) in uri.query_pairs() {
        merge(&k, Value::String(v.into_owned()));
    }
    Ok((uri.scheme().to_owned(), options))
}

/// A boolean option: a JSON boolean, or a string as oslo's `bool_from_string` reads it.
fn bool_option(options: &Map<String, Value>, name: &str) -> Result<Option<bool>> {
    match options.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) => Ok(Some(n.as_f64() == Some(1.0))),
        Some(Value::String(s)) => Ok(Some(matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "1" | "t" | "true" | "on" | "y" | "yes"
        ))),
        Some(other) => Err(Error::InvalidOption {
            name: name.to_owned(),
            reason: format!("expected a boolean, got `{other}`"),
        }),
    }
}

/// A non-negative number option: a JSON number, or a string holding one.
fn number_option(options: &Map<String, Value>, name: &str) -> Result<Option<f64>> {
    let bad = |v: &Value| Error::InvalidOption {
        name: name.to_owned(),
        reason: format!("expected a non-negative number, got `{v}`"),
    };
    match options.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => n
            .as_f64()
            .filter(|f| *f >= 0.0)
            .map(Some)
            .ok_or_else(|| bad(v)),
        Some(v @ Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0 && f.is_finite())
            .map(Some)
            .ok_or_else(|| bad(v)),
        Some(v) => Err(bad(v)),
    }
}

/// The options every action engine takes: `defer_reverts`, `never_resolve`, `inject_transient`.
fn common_options(
    mut builder: EngineBuilder,
    options: &Map<String, Value>,
) -> Result<EngineBuilder> {
    if let Some(b) = bool_option(options, "defer_reverts")? {
        builder = builder.defer_reverts(b);
    }
    if let Some(b) = bool_option(options, "never_resolve")? {
        builder = builder.never_resolve(b);
    }
    if let Some(b) = bool_option(options, "inject_transient")? {
        builder = builder.inject_transient(b);
    }
    Ok(builder)
}

fn serial(_: &InvokeArgs) -> Result<Box<dyn EngineKind>, PluginError> {
    Ok(Box::new(|b: EngineBuilder, _: &Map<String, Value>| {
        Ok(b.serial())
    }))
}

fn parallel(_: &InvokeArgs) -> Result<Box<dyn EngineKind>, PluginError> {
    Ok(Box::new(
        |b: EngineBuilder, options: &Map<String, Value>| {
            let max_workers = match number_option(options, "max_workers")? {
                // A fractional count is an error in Python too (futurist wants an integer).
                Some(n) if n.fract() == 0.0 && n >= 1.0 => n as usize,
                Some(n) => {
                    return Err(Error::InvalidOption {
                        name: "max_workers".to_owned(),
                        reason: format!("expected a positive integer, got `{n}`"),
                    });
                }
                None => std::thread::available_parallelism().map_or(1, |n| n.get()) * 5,
            };
            Ok(b.parallel(max_workers))
        },
    ))
}

stevedore::register! {
    namespace: ENGINES,
    name: "default",
    target: "taskflow::ExecutorKind::Serial",
    factory: serial,
}
stevedore::register! {
    namespace: ENGINES,
    name: "serial",
    target: "taskflow::ExecutorKind::Serial",
    factory: serial,
}
stevedore::register! {
    namespace: ENGINES,
    name: "parallel",
    target: "taskflow::ExecutorKind::Parallel",
    factory: parallel,
}

#[cfg(feature = "worker")]
fn worker_based(_: &InvokeArgs) -> Result<Box<dyn EngineKind>, PluginError> {
    Ok(Box::new(
        |b: EngineBuilder, options: &Map<String, Value>| {
            let string = |name: &str| -> Result<Option<String>> {
                match options.get(name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(other) => Err(Error::InvalidOption {
                        name: name.to_owned(),
                        reason: format!("expected a string, got `{other}`"),
                    }),
                }
            };
            let url = string("url")?.ok_or_else(|| Error::InvalidOption {
                name: "url".to_owned(),
                reason: "the worker-based engine needs the transport `url` of its workers"
                    .to_owned(),
            })?;
            let exchange = string("exchange")?.unwrap_or_else(|| "default".to_owned());
            let topics: Vec<String> = match options.get("topics") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(s)) => s.split(',').map(|t| t.trim().to_owned()).collect(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|t| {
                        t.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| Error::InvalidOption {
                                name: "topics".to_owned(),
                                reason: format!("expected strings, got `{t}`"),
                            })
                    })
                    .collect::<Result<_>>()?,
                Some(other) => {
                    return Err(Error::InvalidOption {
                        name: "topics".to_owned(),
                        reason: format!("expected a list of strings, got `{other}`"),
                    });
                }
            };
            let mut worker = crate::worker::WorkerOptions::new(url, exchange, topics);
            if let Some(secs) = number_option(options, "transition_timeout")? {
                worker = worker.transition_timeout(std::time::Duration::from_secs_f64(secs));
            }
            Ok(b.workers(worker))
        },
    ))
}

#[cfg(feature = "worker")]
stevedore::register! {
    namespace: ENGINES,
    name: "worker-based",
    target: "taskflow::worker::WorkerOptions",
    factory: worker_based,
}
#[cfg(feature = "worker")]
stevedore::register! {
    namespace: ENGINES,
    name: "workers",
    target: "taskflow::worker::WorkerOptions",
    factory: worker_based,
}

fn memory(_: &InvokeArgs) -> Result<Box<dyn BackendFactory>, PluginError> {
    Ok(Box::new(|_: &Map<String, Value>| {
        Ok(Arc::new(MemoryBackend::new()) as Arc<dyn Backend>)
    }))
}

fn dir(_: &InvokeArgs) -> Result<Box<dyn BackendFactory>, PluginError> {
    Ok(Box::new(|conf: &Map<String, Value>| {
        match conf.get("path") {
            Some(Value::String(path)) => Ok(Arc::new(DirBackend::new(path)?) as Arc<dyn Backend>),
            _ => Err(Error::InvalidOption {
                name: "path".to_owned(),
                reason: "the directory backend needs a `path`".to_owned(),
            }),
        }
    }))
}

stevedore::register! {
    namespace: PERSISTENCE,
    name: "memory",
    target: "taskflow::persistence::MemoryBackend",
    factory: memory,
}
stevedore::register! {
    namespace: PERSISTENCE,
    name: "dir",
    target: "taskflow::persistence::DirBackend",
    factory: dir,
}
stevedore::register! {
    namespace: PERSISTENCE,
    name: "file",
    target: "taskflow::persistence::DirBackend",
    factory: dir,
}

/// The SQL backend on connection type `C`, from the configuration's `connection` URL.
#[cfg(feature = "sql")]
fn open_sql<C: crate::persistence::SqlConnection>(
    conf: &Map<String, Value>,
) -> Result<Arc<dyn Backend>> {
    let Some(Value::String(url)) = conf.get("connection") else {
        return Err(Error::InvalidOption {
            name: "connection".to_owned(),
            reason: "the SQL backend needs a `connection` URL".to_owned(),
        });
    };
    let facade = oslo_db::Facade::<C>::new(oslo_db::DatabaseOptions::new(url.as_str()))?;
    Ok(Arc::new(crate::persistence::SqlBackend::new(facade)?))
}

#[cfg(feature = "sql")]
fn sqlite(_: &InvokeArgs) -> Result<Box<dyn BackendFactory>, PluginError> {
    Ok(Box::new(open_sql::<diesel::SqliteConnection>))
}

#[cfg(feature = "sql")]
stevedore::register! {
    namespace: PERSISTENCE,
    name: "sqlite",
    target: "taskflow::persistence::SqlBackend<SqliteConnection>",
    factory: sqlite,
}

#[cfg(feature = "sql-postgres")]
fn postgresql(_: &InvokeArgs) -> Result<Box<dyn BackendFactory>, PluginError> {
    Ok(Box::new(open_sql::<diesel::PgConnection>))
}

#[cfg(feature = "sql-postgres")]
stevedore::register! {
    namespace: PERSISTENCE,
    name: "postgresql",
    target: "taskflow::persistence::SqlBackend<PgConnection>",
    factory: postgresql,
}

#[cfg(feature = "sql-mysql")]
fn mysql(_: &InvokeArgs) -> Result<Box<dyn BackendFactory>, PluginError> {
    Ok(Box::new(open_sql::<diesel::MysqlConnection>))
}

#[cfg(feature = "sql-mysql")]
stevedore::register! {
    namespace: PERSISTENCE,
    name: "mysql",
    target: "taskflow::persistence::SqlBackend<MysqlConnection>",
    factory: mysql,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uri_parts_merge_under_existing_keys() {
        let mut given = Map::new();
        given.insert("port".into(), json!(1));
        let (name, options) =
            split_uri("mysql+pymysql://u:p@db.example:3306/x?a=b&port=9", given).unwrap();
        assert_eq!(name, "mysql+pymysql");
        assert_eq!(
            Value::Object(options),
            json!({"port": 1, "username": "u", "password": "p", "hostname": "db.example:3306", "a": "b"})
        );
        let (name, options) = split_uri("memory", Map::new()).unwrap();
        assert_eq!((name.as_str(), options.len()), ("memory", 0));
    }
}
