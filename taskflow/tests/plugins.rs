//! Engines and persistence backends of another crate (this test crate), registered through stevedore and
//! picked by name; the built-in ones found the same way under TaskFlow's names.
#![cfg(feature = "stevedore")]

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value};
use stevedore::{InvokeArgs, PluginError, Registry};
use taskflow::persistence::{AtomDetail, Backend, FlowDetail, LogBook, MemoryBackend};
use taskflow::plugins::{BackendFactory, ENGINES, EngineKind, PERSISTENCE};
use taskflow::*;

/// The options each `my-engine` load was given.
static ENGINE_OPTIONS: Mutex<Vec<Map<String, Value>>> = Mutex::new(Vec::new());

/// A third-party engine: three threads, and it keeps the options it was given.
fn my_engine(_: &InvokeArgs) -> std::result::Result<Box<dyn EngineKind>, PluginError> {
    Ok(Box::new(
        |b: EngineBuilder, options: &Map<String, Value>| {
            ENGINE_OPTIONS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(options.clone());
            Ok(b.parallel(3))
        },
    ))
}

stevedore::register! { namespace: ENGINES, name: "my-engine", factory: my_engine }

/// A third-party backend: memory under another name (its factory keeps the configurations in `OPENED`).
#[derive(Debug)]
struct Recording {
    inner: MemoryBackend,
}

impl Backend for Recording {
    fn save_logbook(&self, book: &LogBook) -> Result<()> {
        self.inner.save_logbook(book)
    }
    fn get_logbook(&self, uuid: &str) -> Result<LogBook> {
        self.inner.get_logbook(uuid)
    }
    fn get_logbooks(&self) -> Result<Vec<LogBook>> {
        self.inner.get_logbooks()
    }
    fn destroy_logbook(&self, uuid: &str) -> Result<()> {
        self.inner.destroy_logbook(uuid)
    }
    fn update_flow_details(&self, flow: &FlowDetail) -> Result<()> {
        self.inner.update_flow_details(flow)
    }
    fn update_atom_details(&self, flow_uuid: &str, atom: &AtomDetail) -> Result<()> {
        self.inner.update_atom_details(flow_uuid, atom)
    }
    fn get_flow_details(&self, uuid: &str) -> Result<FlowDetail> {
        self.inner.get_flow_details(uuid)
    }
    fn get_atom_details(&self, uuid: &str) -> Result<AtomDetail> {
        self.inner.get_atom_details(uuid)
    }
    fn clear_all(&self) -> Result<()> {
        self.inner.clear_all()
    }
}

static OPENED: Mutex<Vec<Map<String, Value>>> = Mutex::new(Vec::new());

fn testdb(_: &InvokeArgs) -> std::result::Result<Box<dyn BackendFactory>, PluginError> {
    Ok(Box::new(|conf: &Map<String, Value>| {
        OPENED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conf.clone());
        Ok(Arc::new(Recording {
            inner: MemoryBackend::new(),
        }) as Arc<dyn Backend>)
    }))
}

stevedore::register! { namespace: PERSISTENCE, name: "testdb", factory: testdb }

fn flow() -> Flow {
    let mut f = Flow::linear("plugins");
    f.add(fn_task("a", |_| Ok(json!(1))).provides("x")).unwrap();
    f.add(
        fn_task("b", |cx| Ok(json!(cx.arg::<i64>("x")? + 1)))
            .requires(["x"])
            .provides("y"),
    )
    .unwrap();
    f
}

fn options(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn the_taskflow_names_are_registered() {
    let reg = Registry::global();
    let mut engines = vec!["default", "my-engine", "parallel", "serial"];
    if cfg!(feature = "worker") {
        engines.extend(["worker-based", "workers"]);
    }
    engines.sort_unstable();
    assert_eq!(reg.names(ENGINES), engines);
    let mut backends = vec!["dir", "file", "memory", "testdb"];
    if cfg!(feature = "sql") {
        backends.push("sqlite");
    }
    if cfg!(feature = "sql-postgres") {
        backends.push("postgresql");
    }
    if cfg!(feature = "sql-mysql") {
        backends.push("mysql");
    }
    backends.sort_unstable();
    assert_eq!(reg.names(PERSISTENCE), backends);
}

#[test]
fn a_registered_engine_is_loaded_by_name_with_uri_and_caller_options() {
    let mut engine = plugins::load(
        flow(),
        "my-engine://?flavour=spicy&defer_reverts=true",
        options(&[("flavour", json!("mild")), ("extra", json!(7))]),
    )
    .unwrap();
    engine.run().unwrap();
    assert_eq!(engine.fetch("y").unwrap(), json!(2));
    let debug = format!("{engine:?}");
    assert!(debug.contains("Parallel { max_workers: 3 }"), "{debug}");
    // The common action-engine option from the URI reached the builder before the plugin ran.
    assert!(debug.contains("defer_reverts: true"), "{debug}");
    let seen = ENGINE_OPTIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    // The caller's options win over the URI's.
    assert!(seen.contains(&options(&[
        ("flavour", json!("mild")),
        ("extra", json!(7)),
        ("defer_reverts", json!("true")),
    ])));
}

#[test]
fn built_in_engines_are_found_by_their_taskflow_names() {
    let debug = |e: &Engine| format!("{e:?}");
    let e = plugins::load(flow(), "parallel://?max_workers=4", Map::new()).unwrap();
    assert!(debug(&e).contains("Parallel { max_workers: 4 }"));
    let e = plugins::load(flow(), "parallel", options(&[("max_workers", json!(2))])).unwrap();
    assert!(debug(&e).contains("Parallel { max_workers: 2 }"));
    for name in ["serial", "default", ""] {
        let mut e =
            plugins::load(flow(), name, options(&[("never_resolve", json!(true))])).unwrap();
        assert!(debug(&e).contains("executor: Serial"), "{name}");
        assert!(debug(&e).contains("never_resolve: true"), "{name}");
        e.run().unwrap();
    }
    // With a builder: the store and backend set by the caller are kept.
    let backend = Arc::new(MemoryBackend::new());
    let builder = Engine::builder(flow()).backend(backend.clone());
    let mut e = plugins::load_with(builder, "serial", Map::new()).unwrap();
    e.run().unwrap();
    let fd = backend.get_flow_details(&e.flow_detail().uuid).unwrap();
    assert_eq!(fd.atom("b").unwrap().results, json!(2));
}

#[test]
fn unknown_engines_and_bad_options_are_clear_errors() {
    let err = plugins::load(flow(), "warp-drive", Map::new()).unwrap_err();
    assert_eq!(err.kind(), "NotFound");
    assert_eq!(
        err.to_string(),
        "could not find engine `warp-drive` in the `taskflow.engines` namespace"
    );
    let err = plugins::load(flow(), "parallel://?max_workers=lots", Map::new()).unwrap_err();
    assert_eq!(err.kind(), "ValueError");
    assert!(err.to_string().contains("`max_workers`"), "{err}");
    let err = plugins::load(flow(), "parallel", options(&[("max_workers", json!(0))])).unwrap_err();
    assert!(err.to_string().contains("`max_workers`"), "{err}");
}

#[test]
fn a_registered_backend_is_fetched_by_its_connection_scheme() {
    let backend = plugins::fetch(json!({
        "connection": "testdb+fast://alice:secret@db.example:5555/ignored?pool=3",
        "pool": "9",
    }))
    .unwrap();
    let conf = OPENED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|c| c.get("hostname") == Some(&json!("db.example:5555")))
        .cloned()
        .unwrap();
    assert_eq!(
        Value::Object(conf),
        json!({
            "connection": "testdb+fast://alice:secret@db.example:5555/ignored?pool=3",
            "pool": "9",
            "username": "alice",
            "password": "secret",
            "port": 5555,
            "hostname": "db.example:5555",
        })
    );
    // The backend works under an engine.
    let mut e = Engine::builder(flow())
        .backend(backend.clone())
        .build()
        .unwrap();
    e.run().unwrap();
    let fd = backend.get_flow_details(&e.flow_detail().uuid).unwrap();
    assert_eq!(fd.atom("a").unwrap().results, json!(1));
    let debug = format!("{backend:?}");
    assert!(debug.contains("Recording"), "{debug}");
}

#[test]
fn built_in_backends_are_found_by_their_taskflow_names() {
    let check = |b: Arc<dyn Backend>| {
        let mut e = Engine::builder(flow()).backend(b.clone()).build().unwrap();
        e.run().unwrap();
        let fd = b.get_flow_details(&e.flow_detail().uuid).unwrap();
        assert_eq!(fd.atom("b").unwrap().results, json!(2));
        format!("{b:?}")
    };
    assert!(check(plugins::fetch("memory://").unwrap()).contains("MemoryBackend"));
    assert!(check(plugins::fetch("memory").unwrap()).contains("MemoryBackend"));
    let dir = tempfile::tempdir().unwrap();
    for name in ["dir", "file"] {
        let b = plugins::fetch(json!({"connection": name, "path": dir.path().join(name)})).unwrap();
        assert!(check(b).contains("DirBackend"));
        assert!(dir.path().join(name).join("books").is_dir());
    }
    #[cfg(feature = "sql")]
    {
        let db = dir.path().join("tf.db");
        let b = plugins::fetch(format!("sqlite:///{}", db.display())).unwrap();
        assert!(check(b).contains("SqlBackend"));
        assert!(db.is_file());
    }
}

#[test]
fn unknown_backends_and_bad_configurations_are_clear_errors() {
    let err = plugins::fetch("zookeeper://zk.example:2181").unwrap_err();
    assert_eq!(err.kind(), "NotFound");
    assert_eq!(
        err.to_string(),
        "could not find backend `zookeeper` in the `taskflow.persistence` namespace"
    );
    let err = plugins::fetch("dir").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid option `path`: the directory backend needs a `path`"
    );
    let err = plugins::fetch(json!({"path": "/tmp"})).unwrap_err();
    assert!(err.to_string().contains("`connection`"), "{err}");
    let err = plugins::fetch(json!(3)).unwrap_err();
    assert_eq!(err.kind(), "ValueError");
}
