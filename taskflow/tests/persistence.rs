//! Persistence backends and resumption of a suspended flow by a new engine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use taskflow::persistence::{
    AtomDetail, AtomType, Backend, DirBackend, FlowDetail, LogBook, MemoryBackend,
};
use taskflow::*;

fn roundtrip(b: &dyn Backend) {
    let mut book = LogBook::new("book");
    let mut fd = FlowDetail::new("flow");
    let mut ad = AtomDetail::new("a", AtomType::Task);
    ad.results = json!({"k": [1, 2]});
    ad.state = State::Success;
    fd.atoms.push(ad.clone());
    book.flows.push(fd.clone());
    b.save_logbook(&book).unwrap();
    let got = b.get_logbook(&book.uuid).unwrap();
    assert_eq!(got.name, "book");
    assert_eq!(got.flows[0].atoms[0].results, json!({"k": [1, 2]}));
    ad.failure = Some(Failure::new("IOError", "disk"));
    b.update_atom_details(&fd.uuid, &ad).unwrap();
    assert_eq!(
        b.get_atom_details(&ad.uuid).unwrap().failure.unwrap().kind,
        "IOError"
    );
    let extra = AtomDetail::new("b", AtomType::Retry);
    b.update_atom_details(&fd.uuid, &extra).unwrap();
    assert_eq!(b.get_flow_details(&fd.uuid).unwrap().atoms.len(), 2);
    assert_eq!(b.get_logbooks().unwrap().len(), 1);
    b.destroy_logbook(&book.uuid).unwrap();
    assert!(matches!(b.get_logbook(&book.uuid), Err(Error::NotFound(_))));
    assert!(b.get_atom_details(&ad.uuid).is_err());
    b.save_logbook(&book).unwrap();
    b.clear_all().unwrap();
    assert!(b.get_logbooks().unwrap().is_empty());
}

#[test]
fn memory_backend_roundtrip() {
    roundtrip(&MemoryBackend::new());
}

#[test]
fn dir_backend_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    roundtrip(&DirBackend::new(dir.path()).unwrap());
}

#[test]
fn dir_backend_rejects_odd_ids() {
    let dir = tempfile::tempdir().unwrap();
    let b = DirBackend::new(dir.path()).unwrap();
    assert!(b.get_flow_details("../../etc/passwd").is_err());
}

/// The flow of TaskFlow's resumption example: `first` provides `f`, `boom` suspends the engine, `second`
/// needs `f`.
fn flow(count: &Arc<AtomicUsize>, handle: &Arc<Mutex<Option<SuspendHandle>>>) -> Flow {
    let (c1, c2, c3) = (count.clone(), count.clone(), count.clone());
    let h = handle.clone();
    let mut f = Flow::linear("resumable");
    f.add(
        fn_task("first", move |_| {
            c1.fetch_add(1, Ordering::SeqCst);
            Ok(json!("from first"))
        })
        .provides("f"),
    )
    .unwrap();
    f.add(fn_task("boom", move |_| {
        c2.fetch_add(10, Ordering::SeqCst);
        if let Some(h) = h.lock().unwrap().as_ref() {
            h.suspend();
        }
        Ok(json!(null))
    }))
    .unwrap();
    f.add(
        fn_task("second", move |ctx| {
            c3.fetch_add(100, Ordering::SeqCst);
            Ok(ctx.args().require("f")?.clone())
        })
        .requires(["f"])
        .provides("out"),
    )
    .unwrap();
    f
}

fn resume_with(backend: Arc<dyn Backend>) {
    let count = Arc::new(AtomicUsize::new(0));
    let handle: Arc<Mutex<Option<SuspendHandle>>> = Arc::default();
    let mut e = Engine::builder(flow(&count, &handle))
        .backend(backend.clone())
        .build()
        .unwrap();
    *handle.lock().unwrap() = Some(e.suspend_handle());
    e.run().unwrap();
    assert_eq!(e.flow_state(), State::Suspended);
    let uuid = e.flow_detail().uuid.clone();
    drop(e);

    let fd = backend.get_flow_details(&uuid).unwrap();
    assert_eq!(fd.state, Some(State::Suspended));
    assert_eq!(fd.atom("first").unwrap().state, State::Success);
    assert_eq!(fd.atom("boom").unwrap().state, State::Success);
    assert_eq!(fd.atom("second").unwrap().state, State::Pending);

    let count2 = Arc::new(AtomicUsize::new(0));
    let mut e = Engine::builder(flow(&count2, &Arc::default()))
        .backend(backend.clone())
        .flow_detail(fd)
        .build()
        .unwrap();
    e.run().unwrap();
    assert_eq!(count2.load(Ordering::SeqCst), 100, "only `second` ran");
    assert_eq!(e.fetch("out").unwrap(), json!("from first"));
    assert_eq!(
        backend.get_flow_details(&uuid).unwrap().state,
        Some(State::Success)
    );
}

#[test]
fn resume_from_memory_backend() {
    resume_with(Arc::new(MemoryBackend::new()));
}

#[test]
fn resume_from_dir_backend() {
    let dir = tempfile::tempdir().unwrap();
    resume_with(Arc::new(DirBackend::new(dir.path()).unwrap()));
}

#[test]
fn an_atom_left_running_is_run_again() {
    // What a killed process leaves behind: the flow RUNNING, one atom SUCCESS, the next RUNNING.
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let count = Arc::new(AtomicUsize::new(0));
    let mut e = Engine::builder(flow(&count, &Arc::default()))
        .backend(backend.clone())
        .build()
        .unwrap();
    let mut fd = e.flow_detail().clone();
    e.reset().unwrap();
    drop(e);
    fd.state = Some(State::Running);
    for a in &mut fd.atoms {
        a.state = match a.name.as_str() {
            "first" => State::Success,
            "boom" => State::Running,
            _ => State::Pending,
        };
        if a.name == "first" {
            a.results = json!("persisted");
        }
    }
    let count2 = Arc::new(AtomicUsize::new(0));
    let mut e = Engine::builder(flow(&count2, &Arc::default()))
        .backend(backend)
        .flow_detail(fd)
        .build()
        .unwrap();
    e.run().unwrap();
    assert_eq!(
        count2.load(Ordering::SeqCst),
        110,
        "boom and second ran, first did not"
    );
    assert_eq!(e.fetch("out").unwrap(), json!("persisted"));
}

#[test]
fn persisted_store_survives() {
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(DirBackend::new(dir.path()).unwrap());
    let mut f = Flow::linear("f");
    f.add(
        fn_task("t", |ctx| Ok(ctx.args().require("x")?.clone()))
            .requires(["x"])
            .provides("y"),
    )
    .unwrap();
    let e = Engine::builder(f.clone())
        .inject_transient(false)
        .store([("x", json!(5))])
        .backend(backend.clone())
        .build()
        .unwrap();
    let fd = backend.get_flow_details(&e.flow_detail().uuid).unwrap();
    drop(e);
    let mut e = Engine::builder(f)
        .backend(backend)
        .flow_detail(fd)
        .build()
        .unwrap();
    e.run().unwrap();
    assert_eq!(e.fetch("y").unwrap(), json!(5));
}

#[test]
fn flow_factories_rebuild_a_flow_from_its_detail() {
    let runs = Arc::new(AtomicUsize::new(0));
    let handle: Arc<Mutex<Option<SuspendHandle>>> = Arc::default();
    let mut factories = FlowFactories::new();
    let (r, h) = (runs.clone(), handle.clone());
    factories.register("resumable", move |args| {
        assert_eq!(args["size"], json!(3));
        Ok(flow(&r, &h))
    });
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let mut e = factories
        .engine("resumable", json!({"size": 3}))
        .unwrap()
        .backend(backend.clone())
        .build()
        .unwrap();
    *handle.lock().unwrap() = Some(e.suspend_handle());
    e.run().unwrap();
    assert_eq!(e.flow_state(), State::Suspended);
    *handle.lock().unwrap() = None;
    let fd = backend.get_flow_details(&e.flow_detail().uuid).unwrap();
    assert_eq!(fd.meta[FACTORY_META]["name"], json!("resumable"));
    let mut e = factories
        .resume(fd)
        .unwrap()
        .backend(backend)
        .build()
        .unwrap();
    e.run().unwrap();
    assert_eq!(e.flow_state(), State::Success);
    assert_eq!(runs.load(Ordering::SeqCst), 111);
    assert!(matches!(
        factories.engine("nope", json!(null)),
        Err(Error::NotFound(_))
    ));
}
