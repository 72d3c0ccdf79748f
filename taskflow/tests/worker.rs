//! The worker-based engine on `memory://`: workers are threads of this process, and the flows run through
//! them give the same call order and final state as the serial engine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use taskflow::worker::{TaskFactory, Worker, WorkerOptions};
use taskflow::*;

type Log = Arc<Mutex<Vec<String>>>;

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::SeqCst)
    )
}

/// A recording task: logs its execute and revert, fails when `fail`.
fn recorder(log: &Log, name: &str, fail: bool) -> FnTask {
    let (l1, l2) = (log.clone(), log.clone());
    let (n1, n2) = (name.to_owned(), name.to_owned());
    FnTask::new(move |ctx| {
        l1.lock().unwrap().push(format!("{n1}.execute"));
        if fail {
            Err(Failure::new("RuntimeError", format!("{n1} failed")))
        } else {
            let x: i64 = ctx.args().get("x").and_then(|v| v.as_i64()).unwrap_or(0);
            Ok(json!(x + 1))
        }
    })
    .with_revert(move |ctx| {
        let what = if ctx.result().failure().is_some() {
            "failure"
        } else {
            "value"
        };
        l2.lock().unwrap().push(format!("{n2}.revert({what})"));
        Ok(())
    })
}

/// The engine-side stand-in: running it locally would be a bug, so it records under `local`.
fn local(log: &Log, name: &str) -> FnTask {
    recorder(log, &format!("LOCAL:{name}"), false)
}

fn factory(log: &Log, name: &str, fail: bool) -> (String, TaskFactory) {
    let (log, n) = (log.clone(), name.to_owned());
    (
        name.to_owned(),
        Arc::new(move || Arc::new(recorder(&log, &n, fail)) as Arc<dyn Task>),
    )
}

struct Setup {
    worker: Worker,
    options: WorkerOptions,
}

fn start(tasks: Vec<(String, TaskFactory)>) -> Setup {
    let exchange = unique("tf-ex");
    let topic = unique("tf-topic");
    let worker = Worker::new("memory://", &exchange, &topic, "w1", tasks).unwrap();
    let options = WorkerOptions::new("memory://", exchange, [topic])
        .transition_timeout(Duration::from_secs(10));
    Setup { worker, options }
}

/// Builds the same flow for the serial and the worker run: `x` -> a -> b -> c (c fails when asked).
fn linear(tasks_log: &Log, fail_last: bool) -> Flow {
    let mut f = Flow::linear("f");
    f.add(
        task("a", recorder(tasks_log, "a", false))
            .requires(["x"])
            .provides("x1"),
    )
    .unwrap();
    f.add(task("b", recorder(tasks_log, "b", false)).rebind(Rebind::map([("x", "x1")])))
        .unwrap();
    f.add(task("c", recorder(tasks_log, "c", fail_last)))
        .unwrap();
    f
}

fn linear_local(log: &Log) -> Flow {
    let mut f = Flow::linear("f");
    f.add(task("a", local(log, "a")).requires(["x"]).provides("x1"))
        .unwrap();
    f.add(task("b", local(log, "b")).rebind(Rebind::map([("x", "x1")])))
        .unwrap();
    f.add(task("c", local(log, "c"))).unwrap();
    f
}

#[test]
fn linear_flow_runs_in_the_worker_like_the_serial_engine() {
    let serial_log: Log = Arc::default();
    let mut serial = Engine::builder(linear(&serial_log, false))
        .store([("x", json!(41))])
        .build()
        .unwrap();
    serial.run().unwrap();

    let worker_log: Log = Arc::default();
    let local_log: Log = Arc::default();
    let s = start(vec![
        factory(&worker_log, "a", false),
        factory(&worker_log, "b", false),
        factory(&worker_log, "c", false),
    ]);
    let mut e = Engine::builder(linear_local(&local_log))
        .store([("x", json!(41))])
        .workers(s.options.clone())
        .build()
        .unwrap();
    e.run().unwrap();

    assert_eq!(*worker_log.lock().unwrap(), *serial_log.lock().unwrap());
    assert_eq!(
        *worker_log.lock().unwrap(),
        ["a.execute", "b.execute", "c.execute"]
    );
    assert!(local_log.lock().unwrap().is_empty());
    assert_eq!(e.flow_state(), State::Success);
    assert_eq!(e.fetch_all(), serial.fetch_all());
    assert_eq!(e.fetch("x1").unwrap(), json!(42));
    for n in ["a", "b", "c"] {
        assert_eq!(e.atom_state(n), serial.atom_state(n));
    }
    s.worker.stop();
}

#[test]
fn failing_task_is_reverted_through_the_worker() {
    let serial_log: Log = Arc::default();
    let mut serial = Engine::builder(linear(&serial_log, true))
        .store([("x", json!(1))])
        .build()
        .unwrap();
    let serial_err = serial.run().unwrap_err();

    let worker_log: Log = Arc::default();
    let local_log: Log = Arc::default();
    let s = start(vec![
        factory(&worker_log, "a", false),
        factory(&worker_log, "b", false),
        factory(&worker_log, "c", true),
    ]);
    let mut e = Engine::builder(linear_local(&local_log))
        .store([("x", json!(1))])
        .workers(s.options.clone())
        .build()
        .unwrap();
    let err = e.run().unwrap_err();

    assert_eq!(err.to_string(), serial_err.to_string());
    assert_eq!(err.to_string(), "RuntimeError: c failed");
    assert_eq!(*worker_log.lock().unwrap(), *serial_log.lock().unwrap());
    assert_eq!(
        *worker_log.lock().unwrap(),
        [
            "a.execute",
            "b.execute",
            "c.execute",
            "c.revert(failure)",
            "b.revert(value)",
            "a.revert(value)"
        ]
    );
    assert!(local_log.lock().unwrap().is_empty());
    assert_eq!(e.flow_state(), State::Reverted);
    assert_eq!(e.flow_state(), serial.flow_state());
    for n in ["a", "b", "c"] {
        assert_eq!(e.atom_state(n), Some(State::Reverted));
    }
    s.worker.stop();
}

/// A task that fails until the retry's attempt number reaches 3.
fn flaky(log: &Log) -> FnTask {
    let l = log.clone();
    FnTask::new(move |ctx| {
        let attempt: u64 = ctx.arg("attempt")?;
        l.lock().unwrap().push(format!("flaky.execute({attempt})"));
        if attempt < 3 {
            Err(Failure::new("IOError", "flaky"))
        } else {
            Ok(json!(attempt))
        }
    })
}

fn retry_flow(t: FnTask) -> Flow {
    let mut f = Flow::linear("f").with_retry(retry("r", Times::new(3)).provides("attempt"));
    f.add(task("flaky", t).requires(["attempt"]).provides("got"))
        .unwrap();
    f
}

#[test]
fn retry_runs_the_task_again_in_the_worker() {
    let serial_log: Log = Arc::default();
    let mut serial = Engine::load(retry_flow(flaky(&serial_log))).unwrap();
    serial.run().unwrap();

    let worker_log: Log = Arc::default();
    let local_log: Log = Arc::default();
    let wl = worker_log.clone();
    let s = start(vec![(
        "flaky".to_owned(),
        Arc::new(move || Arc::new(flaky(&wl)) as Arc<dyn Task>) as TaskFactory,
    )]);
    let mut e = Engine::builder(retry_flow(local(&local_log, "flaky")))
        .workers(s.options.clone())
        .build()
        .unwrap();
    e.run().unwrap();

    assert_eq!(*worker_log.lock().unwrap(), *serial_log.lock().unwrap());
    assert_eq!(
        *worker_log.lock().unwrap(),
        ["flaky.execute(1)", "flaky.execute(2)", "flaky.execute(3)"]
    );
    assert!(local_log.lock().unwrap().is_empty());
    assert_eq!(e.fetch("got").unwrap(), json!(3));
    assert_eq!(e.retry_history("r").unwrap().len(), 3);
    assert_eq!(e.flow_state(), State::Success);
    s.worker.stop();
}

#[test]
fn parallel_executor_dispatches_to_the_worker() {
    let worker_log: Log = Arc::default();
    let local_log: Log = Arc::default();
    let s = start(vec![
        factory(&worker_log, "a", false),
        factory(&worker_log, "b", false),
    ]);
    let mut f = Flow::unordered("u");
    f.add(task("a", local(&local_log, "a")).provides("ra"))
        .unwrap();
    f.add(task("b", local(&local_log, "b")).provides("rb"))
        .unwrap();
    let mut e = Engine::builder(f)
        .parallel(2)
        .workers(s.options.clone())
        .build()
        .unwrap();
    e.run().unwrap();
    let mut got = worker_log.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, ["a.execute", "b.execute"]);
    assert_eq!(e.fetch("ra").unwrap(), json!(1));
    assert!(local_log.lock().unwrap().is_empty());
    s.worker.stop();
}

#[test]
fn a_task_no_worker_serves_fails_without_hanging() {
    let worker_log: Log = Arc::default();
    let local_log: Log = Arc::default();
    let s = start(vec![factory(&worker_log, "a", false)]);
    let mut f = Flow::linear("f");
    f.add(task("a", local(&local_log, "a"))).unwrap();
    f.add(task("orphan", local(&local_log, "orphan"))).unwrap();
    let mut e = Engine::builder(f)
        .workers(s.options.clone())
        .build()
        .unwrap();
    let err = e.run().unwrap_err();
    assert!(err.failures().iter().all(|f| f.kind == "NoWorker"));
    // Its revert cannot reach a worker either, so the flow stops in FAILURE (as TaskFlow's revert
    // timing out ends in REVERT_FAILURE) and `a` stays done.
    assert_eq!(e.atom_state("orphan"), Some(State::RevertFailure));
    assert_eq!(*worker_log.lock().unwrap(), ["a.execute"]);
    assert_eq!(e.flow_state(), State::Failure);
    s.worker.stop();
}

#[test]
fn no_worker_on_the_topic_times_out() {
    let local_log: Log = Arc::default();
    let mut f = Flow::linear("f");
    f.add(task("a", local(&local_log, "a"))).unwrap();
    let options = WorkerOptions::new("memory://", unique("tf-ex"), [unique("tf-nobody")])
        .transition_timeout(Duration::from_millis(300));
    let mut e = Engine::builder(f).workers(options).build().unwrap();
    let err = e.run().unwrap_err();
    assert_eq!(err.failures()[0].kind, "NoWorker");
    assert!(local_log.lock().unwrap().is_empty());
}
