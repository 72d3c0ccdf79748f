//! The conformance suite every persistence backend passes: records round trip, and a flow suspended,
//! left half-run or reverted is found again in the backend by a new engine. Shared by taskflow's own
//! tests (memory and directory backends) and the cross-crate SQL tests (SQLite, PostgreSQL, MariaDB),
//! which include this file by path.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use taskflow::persistence::{AtomDetail, AtomType, Backend, FlowDetail, LogBook};
use taskflow::*;

pub(crate) fn roundtrip(b: &dyn Backend) {
    let mut book = LogBook::new("book");
    book.meta.insert("owner".into(), json!("me"));
    let mut fd = FlowDetail::new("flow");
    fd.meta.insert("store".into(), json!({"x": 1}));
    let mut ad = AtomDetail::new("a", AtomType::Task);
    ad.results = json!({"k": [1, 2], "s": "é ✓"});
    ad.state = State::Success;
    ad.intention = Intention::Revert;
    ad.meta.insert("progress".into(), json!(0.5));
    fd.atoms.push(ad.clone());
    book.flows.push(fd.clone());
    b.save_logbook(&book).unwrap();
    let got = b.get_logbook(&book.uuid).unwrap();
    assert_eq!(got.name, "book");
    assert_eq!(got.meta["owner"], json!("me"));
    assert_eq!(got.flows[0].meta["store"], json!({"x": 1}));
    let a = &got.flows[0].atoms[0];
    assert_eq!(a.results, json!({"k": [1, 2], "s": "é ✓"}));
    assert_eq!((a.state, a.intention), (State::Success, Intention::Revert));
    assert_eq!(a.meta["progress"], json!(0.5));
    ad.failure = Some(Failure::new("IOError", "disk"));
    ad.revert_failure = Some(Failure::new("ValueError", "no"));
    b.update_atom_details(&fd.uuid, &ad).unwrap();
    let got = b.get_atom_details(&ad.uuid).unwrap();
    assert_eq!(got.failure.unwrap().kind, "IOError");
    assert_eq!(got.revert_failure.unwrap().message, "no");
    let extra = AtomDetail::new("b", AtomType::Retry);
    b.update_atom_details(&fd.uuid, &extra).unwrap();
    assert_eq!(b.get_flow_details(&fd.uuid).unwrap().atoms.len(), 2);
    assert_eq!(b.get_logbooks().unwrap().len(), 1);
    // A large result (TaskFlow moved `results` to MEDIUMTEXT on MySQL for this).
    let mut big = AtomDetail::new("big", AtomType::Task);
    big.results = json!("x".repeat(200_000));
    b.update_atom_details(&fd.uuid, &big).unwrap();
    assert_eq!(b.get_atom_details(&big.uuid).unwrap().results, big.results);
    b.destroy_logbook(&book.uuid).unwrap();
    assert!(matches!(b.get_logbook(&book.uuid), Err(Error::NotFound(_))));
    assert!(matches!(
        b.get_flow_details(&fd.uuid),
        Err(Error::NotFound(_))
    ));
    assert!(b.get_atom_details(&ad.uuid).is_err());
    b.save_logbook(&book).unwrap();
    b.clear_all().unwrap();
    assert!(b.get_logbooks().unwrap().is_empty());
}

/// The flow of TaskFlow's resumption example: `first` provides `f`, `boom` suspends the engine, `second`
/// needs `f`.
pub(crate) fn flow(count: &Arc<AtomicUsize>, handle: &Arc<Mutex<Option<SuspendHandle>>>) -> Flow {
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

pub(crate) fn resume_with(backend: Arc<dyn Backend>) {
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
    // The engine filed its flow detail in a logbook.
    let books = backend.get_logbooks().unwrap();
    assert!(books.iter().any(|b| b.flows.iter().any(|f| f.uuid == uuid)));

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

pub(crate) fn atom_left_running(backend: Arc<dyn Backend>) {
    // What a killed process leaves behind: the flow RUNNING, one atom SUCCESS, the next RUNNING.
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
    backend.update_flow_details(&fd).unwrap();
    let fd = backend.get_flow_details(&fd.uuid).unwrap();
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

pub(crate) fn reverted_flow_is_recorded(backend: Arc<dyn Backend>) {
    let mut f = Flow::linear("fails");
    f.add(fn_task("ok", |_| Ok(json!(1)))).unwrap();
    f.add(fn_task("bad", |_| Err(Failure::new("NoValidHost", "none"))))
        .unwrap();
    let mut e = Engine::builder(f).backend(backend.clone()).build().unwrap();
    assert!(e.run().is_err());
    let fd = backend.get_flow_details(&e.flow_detail().uuid).unwrap();
    assert_eq!(fd.state, Some(State::Reverted));
    let bad = fd.atom("bad").unwrap();
    assert_eq!(bad.state, State::Reverted);
    assert_eq!(bad.failure.as_ref().unwrap().kind, "NoValidHost");
    assert_eq!(fd.atom("ok").unwrap().state, State::Reverted);
}
