//! The engine through its public API: states, run_iter, reset, validation, listeners, progress, map/reduce
//! tasks and the parallel executor.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use taskflow::*;

type Log = Arc<Mutex<Vec<String>>>;

fn rec(log: &Log, name: &str, fail: bool) -> TaskNode {
    let (l1, l2) = (log.clone(), log.clone());
    let (n1, n2) = (name.to_owned(), name.to_owned());
    task(
        name,
        FnTask::new(move |_| {
            l1.lock().unwrap().push(format!("{n1}.execute"));
            if fail {
                Err(Failure::new("RuntimeError", format!("{n1} failed")))
            } else {
                Ok(json!(n1))
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
        }),
    )
}

#[test]
fn linear_failure_reverts_in_reverse_order() {
    let log: Log = Arc::default();
    let mut f = Flow::linear("f");
    f.add(rec(&log, "a", false)).unwrap();
    f.add(rec(&log, "b", false)).unwrap();
    f.add(rec(&log, "c", true)).unwrap();
    let mut e = Engine::load(f).unwrap();
    let err = e.run().unwrap_err();
    assert_eq!(err.to_string(), "RuntimeError: c failed");
    assert_eq!(err.failures().len(), 1);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "a.execute",
            "b.execute",
            "c.execute",
            "c.revert(failure)",
            "b.revert(value)",
            "a.revert(value)"
        ]
    );
    assert_eq!(e.flow_state(), State::Reverted);
    assert_eq!(e.atom_state("a"), Some(State::Reverted));
    // After a REVERTED run, only store values remain visible.
    assert!(e.fetch_all().is_empty());
}

#[test]
fn run_iter_yields_the_engine_states() {
    let log: Log = Arc::default();
    let mut f = Flow::linear("f");
    f.add(rec(&log, "only", false)).unwrap();
    let mut e = Engine::load(f).unwrap();
    let states: Vec<EngineState> = e.run_iter().map(Result::unwrap).collect();
    use EngineState::*;
    assert_eq!(states, [Resuming, Scheduling, Waiting, Analyzing, Success]);

    let mut f = Flow::linear("f");
    f.add(rec(&log, "bad", true)).unwrap();
    let mut e = Engine::load(f).unwrap();
    let items: Vec<Result<EngineState>> = e.run_iter().collect();
    assert!(matches!(items[items.len() - 2], Ok(Reverted)));
    assert!(matches!(items[items.len() - 1], Err(Error::Failed(_))));
}

#[test]
fn reset_allows_running_again() {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let mut f = Flow::linear("f");
    f.add(fn_task("t", move |_| Ok(json!(c.fetch_add(1, Ordering::SeqCst)))).provides("n"))
        .unwrap();
    let mut e = Engine::load(f).unwrap();
    e.run().unwrap();
    assert_eq!(e.fetch("n").unwrap(), json!(0));
    // SUCCESS → RUNNING is allowed: nothing left to do, so nothing runs again.
    e.run().unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    e.reset().unwrap();
    assert_eq!(e.flow_state(), State::Pending);
    assert_eq!(e.atom_state("t"), Some(State::Pending));
    e.run().unwrap();
    assert_eq!(e.fetch("n").unwrap(), json!(1));
}

#[test]
fn validate_reports_missing_inputs() {
    let mut f = Flow::linear("f");
    f.add(fn_task("t", |_| Ok(json!(1))).requires(["x", "y"]))
        .unwrap();
    let e = Engine::load(f.clone()).unwrap();
    match e.validate() {
        Err(Error::MissingDependencies(m)) => {
            assert_eq!(m[0].atom, "t");
            assert_eq!(m[0].names, ["x", "y"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let e = Engine::builder(f)
        .store([("x", json!(1)), ("y", json!(2))])
        .build()
        .unwrap();
    e.validate().unwrap();
}

#[test]
fn map_and_reduce_tasks() {
    let mut f = Flow::linear("f");
    f.add(
        map_task("double", ["a", "b", "c"], |v| {
            Ok(json!(v.as_i64().unwrap_or(0) * 2))
        })
        .provides(Provides::tuple(["a2", "b2", "c2"])),
    )
    .unwrap();
    f.add(
        reduce_task("sum", ["a2", "b2", "c2"], |acc, v| {
            Ok(json!(acc.as_i64().unwrap_or(0) + v.as_i64().unwrap_or(0)))
        })
        .provides("total"),
    )
    .unwrap();
    let mut e = Engine::builder(f)
        .store([("a", json!(1)), ("b", json!(2)), ("c", json!(3))])
        .build()
        .unwrap();
    e.run().unwrap();
    assert_eq!(e.fetch("total").unwrap(), json!(12));
}

#[test]
fn listeners_capture_time_and_progress() {
    let mut f = Flow::linear("f");
    f.add(fn_task("work", |ctx| {
        ctx.update_progress(0.5);
        ctx.update_progress(7.0);
        std::thread::sleep(Duration::from_millis(20));
        Ok(json!(null))
    }))
    .unwrap();
    let mut e = Engine::load(f).unwrap();
    let cap = CaptureListener::attach(e.notifier());
    let timing = TimingListener::attach(e.notifier());
    LoggingListener::attach(e.notifier());
    e.run().unwrap();
    assert_eq!(
        cap.flow_transitions(),
        [
            (State::Pending, State::Running),
            (State::Running, State::Success)
        ]
    );
    assert_eq!(
        cap.atom_transitions(),
        [
            ("work".to_owned(), State::Pending, State::Running),
            ("work".to_owned(), State::Running, State::Success)
        ]
    );
    let progress: Vec<f64> = cap
        .events()
        .into_iter()
        .filter_map(|e| {
            if let Event::Progress { progress, .. } = e {
                Some(progress)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(progress, [0.5, 1.0]);
    assert!(timing.durations()["work"] >= Duration::from_millis(20));
    assert!(timing.flow_duration().is_some());
    assert_eq!(e.atom_detail("work").unwrap().meta["progress"], json!(1.0));
}

#[test]
fn a_panicking_task_is_a_failure() {
    let mut f = Flow::linear("f");
    f.add(fn_task("boom", |_| panic!("kaboom"))).unwrap();
    let mut e = Engine::load(f).unwrap();
    let err = e.run().unwrap_err();
    assert_eq!(err.failures()[0].kind, "Panic");
    assert_eq!(err.failures()[0].message, "kaboom");
}

#[test]
fn parallel_engine_runs_independent_tasks_at_once() {
    let mut f = Flow::unordered("u");
    for i in 0..8 {
        f.add(fn_task(format!("s{i}"), |_| {
            std::thread::sleep(Duration::from_millis(100));
            Ok(json!(null))
        }))
        .unwrap();
    }
    let mut e = Engine::builder(f.clone()).parallel(8).build().unwrap();
    let t = Instant::now();
    e.run().unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "took {:?}",
        t.elapsed()
    );
    let mut e = Engine::builder(f).parallel(2).build().unwrap();
    let t = Instant::now();
    e.run().unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "max_workers not honoured: {:?}",
        t.elapsed()
    );
}

#[test]
fn parallel_failures_are_wrapped() {
    let mut f = Flow::unordered("u");
    for name in ["x", "y"] {
        f.add(fn_task(name, move |_| {
            std::thread::sleep(Duration::from_millis(30));
            Err(Failure::new("IOError", format!("{name} broke")))
        }))
        .unwrap();
    }
    let mut e = Engine::builder(f).parallel(2).build().unwrap();
    match e.run() {
        Err(Error::Wrapped(fs)) => assert_eq!(fs.len(), 2),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(e.flow_state(), State::Reverted);
}

#[test]
fn suspend_from_a_task_then_continue() {
    let handle: Arc<Mutex<Option<SuspendHandle>>> = Arc::default();
    let h = handle.clone();
    let mut f = Flow::linear("f");
    f.add(fn_task("a", move |_| {
        if let Some(h) = h.lock().unwrap().as_ref() {
            h.suspend();
        }
        Ok(json!(1))
    }))
    .unwrap();
    f.add(fn_task("b", |_| Ok(json!(2)))).unwrap();
    let mut e = Engine::load(f).unwrap();
    *handle.lock().unwrap() = Some(e.suspend_handle());
    e.run().unwrap();
    assert_eq!(e.flow_state(), State::Suspended);
    assert_eq!(e.atom_state("b"), Some(State::Pending));
    *handle.lock().unwrap() = None;
    e.run().unwrap();
    assert_eq!(e.flow_state(), State::Success);
    assert_eq!(e.atom_state("b"), Some(State::Success));
}

#[test]
fn retry_history_is_exposed() {
    let tries = Arc::new(AtomicUsize::new(0));
    let t = tries.clone();
    let mut f = Flow::linear("f").with_retry(retry("r", Times::new(3)).provides("attempt"));
    f.add(
        fn_task("flaky", move |ctx| {
            let attempt: u64 = ctx.arg("attempt")?;
            t.fetch_add(1, Ordering::SeqCst);
            if attempt < 3 {
                Err(Failure::new("IOError", "flaky"))
            } else {
                Ok(json!(attempt))
            }
        })
        .requires(["attempt"]),
    )
    .unwrap();
    let mut e = Engine::load(f).unwrap();
    e.run().unwrap();
    let h = e.retry_history("r").unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(
        h.provided_iter().cloned().collect::<Vec<_>>(),
        [json!(1), json!(2), json!(3)]
    );
    assert!(h.outcomes(0).unwrap().contains_key("flaky"));
    assert!(h.caused_by("IOError"));
    assert!(h.outcomes(2).unwrap().is_empty());
}

#[test]
fn custom_retry_controller() {
    struct TwiceThenGiveUpAll;
    impl Retry for TwiceThenGiveUpAll {
        fn execute(&self, history: &History, _: &Arguments) -> std::result::Result<Value, Failure> {
            Ok(json!(history.len()))
        }
        fn on_failure(&self, history: &History, _: &Arguments) -> Decision {
            if history.len() < 2 {
                Decision::Retry
            } else {
                Decision::RevertAll
            }
        }
    }
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let mut sub = Flow::linear("sub").with_retry(retry("mine", TwiceThenGiveUpAll));
    sub.add(fn_task("fails", move |_| {
        r.fetch_add(1, Ordering::SeqCst);
        Err(Failure::new("RuntimeError", "no"))
    }))
    .unwrap();
    let mut f = Flow::linear("f");
    f.add(fn_task("first", |_| Ok(json!(1))))
        .unwrap()
        .add(sub)
        .unwrap();
    let mut e = Engine::load(f).unwrap();
    assert!(e.run().is_err());
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(e.atom_state("first"), Some(State::Reverted));
}

#[test]
fn state_machines_match_taskflow() {
    assert!(check_task_transition(State::Pending, State::Running));
    assert!(!check_task_transition(State::Success, State::Running));
    assert!(check_retry_transition(State::Success, State::Retrying));
    assert!(!check_task_transition(State::Success, State::Retrying));
    assert_eq!(
        check_flow_transition(State::Running, State::Success),
        FlowTransition::Allowed
    );
    assert_eq!(
        check_flow_transition(State::Success, State::Suspending),
        FlowTransition::Ignored
    );
    assert_eq!(
        check_flow_transition(State::Reverted, State::Running),
        FlowTransition::Invalid
    );
    assert_eq!(State::RevertFailure.to_string(), "REVERT_FAILURE");
    assert_eq!(
        serde_json::to_value(State::RevertFailure).unwrap(),
        json!("REVERT_FAILURE")
    );
}

#[test]
fn suspending_a_parallel_engine_cancels_queued_tasks() {
    let handle: Arc<Mutex<Option<SuspendHandle>>> = Arc::default();
    let ran = Arc::new(AtomicUsize::new(0));
    let mut f = Flow::unordered("u");
    for i in 0..6 {
        let (h, r) = (handle.clone(), ran.clone());
        f.add(fn_task(format!("t{i}"), move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            if let Some(h) = h.lock().unwrap().as_ref() {
                h.suspend();
            }
            std::thread::sleep(Duration::from_millis(50));
            Ok(json!(null))
        }))
        .unwrap();
    }
    let mut e = Engine::builder(f).parallel(2).build().unwrap();
    *handle.lock().unwrap() = Some(e.suspend_handle());
    e.run().unwrap();
    assert_eq!(e.flow_state(), State::Suspended);
    let first = ran.load(Ordering::SeqCst);
    assert!(first < 6, "queued tasks were cancelled, {first} ran");
    *handle.lock().unwrap() = None;
    e.run().unwrap();
    assert_eq!(e.flow_state(), State::Success);
    assert_eq!(ran.load(Ordering::SeqCst), 6, "each task ran exactly once");
}

#[test]
fn graph_flow_errors() {
    let t = |name: &str| fn_task(name, |_| Ok(json!(1)));
    // A cycle through inferred edges: b needs a's x, a needs b's y.
    let mut g = Flow::graph("g");
    g.add(t("a").requires(["y"]).provides("x")).unwrap();
    assert!(matches!(
        g.add(t("b").requires(["x"]).provides("y")),
        Err(Error::Cycle)
    ));
    assert_eq!(g.len(), 1, "nothing is added on error");
    // Two providers of what a new item requires.
    let mut g = Flow::graph("g");
    g.add(t("p1").provides("x"))
        .unwrap()
        .add(t("p2").provides("x"))
        .unwrap();
    match g.add(t("c").requires(["x"])) {
        Err(Error::AmbiguousDependency {
            node,
            providers,
            symbol,
        }) => {
            assert_eq!((node.as_str(), symbol.as_str()), ("c", "x"));
            assert_eq!(providers, ["p1", "p2"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Links name existing items, only in graph flows, and never close a cycle.
    let mut g = Flow::graph("g");
    g.add(t("a")).unwrap().add(t("b")).unwrap();
    assert!(matches!(g.link("a", "nope"), Err(Error::NodeNotFound(..))));
    g.link("a", "b").unwrap();
    assert!(matches!(g.link("b", "a"), Err(Error::Cycle)));
    assert!(matches!(g.link("a", "a"), Err(Error::Cycle)));
    assert!(Flow::linear("l").link("a", "b").is_err());
    // Without inference, nothing is linked and the requirement stays the flow's.
    let mut g = Flow::graph("g");
    g.add(t("p").provides("x")).unwrap();
    g.add_resolving(t("c").requires(["x"]), false, false)
        .unwrap();
    assert!(g.requires().contains("x"));
    // Duplicate names are found at compile time.
    let mut f = Flow::linear("f");
    f.add(t("same")).unwrap().add(t("same")).unwrap();
    assert!(matches!(Engine::load(f), Err(Error::Duplicate(names)) if names == ["same"]));
}

#[test]
fn engines_and_flows_can_move_between_threads() {
    fn send<T: Send + 'static>(_: &T) {}
    let mut f = Flow::linear("f");
    f.add(fn_task("t", |_| Ok(json!(1))).provides("x")).unwrap();
    send(&f);
    let mut e = Engine::load(f).unwrap();
    send(&e);
    let e = std::thread::spawn(move || {
        e.run().unwrap();
        e
    })
    .join()
    .unwrap();
    assert_eq!(e.fetch("x").unwrap(), json!(1));
}
