//! Persistence backends and resumption of a suspended flow by a new engine.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::backend_suite::{
    atom_left_running, flow, resume_with, reverted_flow_is_recorded, roundtrip,
};
use taskflow::persistence::{Backend, DirBackend, MemoryBackend};
use taskflow::*;

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
    atom_left_running(Arc::new(MemoryBackend::new()));
}

#[test]
fn an_atom_left_running_is_run_again_from_the_dir_backend() {
    let dir = tempfile::tempdir().unwrap();
    atom_left_running(Arc::new(DirBackend::new(dir.path()).unwrap()));
}

#[test]
fn a_reverted_flow_is_recorded() {
    reverted_flow_is_recorded(Arc::new(MemoryBackend::new()));
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
