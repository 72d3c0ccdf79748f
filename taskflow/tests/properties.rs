//! Property tests: random graph flows with a random failing task, on the serial and the parallel engine.
//! Whatever the shape, a task runs only after everything before it succeeded, a failure reverts every task
//! that ran, and a task is reverted only after everything after it that ran was reverted.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use taskflow::*;

#[derive(Debug, Clone)]
struct Case {
    n: usize,
    edges: BTreeSet<(usize, usize)>,
    fail: Option<usize>,
    parallel: bool,
}

fn cases() -> impl Strategy<Value = Case> {
    (2usize..10).prop_flat_map(|n| {
        let pairs: Vec<(usize, usize)> = (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .collect();
        let m = pairs.len();
        (
            Just(n),
            proptest::collection::vec(any::<bool>(), m),
            proptest::option::of(0..n),
            any::<bool>(),
        )
            .prop_map(move |(n, pick, fail, parallel)| Case {
                n,
                edges: pairs
                    .iter()
                    .zip(pick)
                    .filter(|(_, p)| *p)
                    .map(|(e, _)| *e)
                    .collect(),
                fail,
                parallel,
            })
    })
}

fn run(case: &Case) -> (Vec<(usize, &'static str)>, Result<()>, State) {
    let log: Arc<Mutex<Vec<(usize, &'static str)>>> = Arc::default();
    let mut f = Flow::graph("g");
    for i in 0..case.n {
        let (l1, l2) = (log.clone(), log.clone());
        let fails = case.fail == Some(i);
        f.add(task(
            format!("t{i}"),
            FnTask::new(move |_| {
                l1.lock().unwrap().push((i, "execute"));
                std::thread::sleep(std::time::Duration::from_micros(200));
                if fails {
                    Err(Failure::new("RuntimeError", format!("t{i} failed")))
                } else {
                    Ok(json!(i))
                }
            })
            .with_revert(move |_| {
                l2.lock().unwrap().push((i, "revert"));
                Ok(())
            }),
        ))
        .unwrap();
    }
    for (i, j) in &case.edges {
        f.link(&format!("t{i}"), &format!("t{j}")).unwrap();
    }
    let b = Engine::builder(f);
    let mut e = if case.parallel { b.parallel(3) } else { b }
        .build()
        .unwrap();
    let r = e.run();
    let state = e.flow_state();
    let log = log.lock().unwrap().clone();
    (log, r, state)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn dependency_order_and_reverts_hold(case in cases()) {
        let (log, result, state) = run(&case);
        let pos = |i: usize, op: &str| log.iter().position(|e| *e == (i, op));
        for (k, (j, op)) in log.iter().enumerate() {
            if *op == "execute" {
                for (i, _) in case.edges.iter().filter(|(_, b)| b == j) {
                    let done = pos(*i, "execute");
                    prop_assert!(done.is_some_and(|d| d < k), "t{j} ran before its predecessor t{i}: {log:?}");
                    prop_assert!(*i != case.fail.unwrap_or(usize::MAX), "t{j} ran after its predecessor failed");
                }
            }
        }
        let executed: BTreeSet<usize> = log.iter().filter(|e| e.1 == "execute").map(|e| e.0).collect();
        prop_assert_eq!(executed.len(), log.iter().filter(|e| e.1 == "execute").count(), "a task ran twice");
        match case.fail {
            None => {
                prop_assert!(result.is_ok());
                prop_assert_eq!(state, State::Success);
                prop_assert_eq!(executed.len(), case.n);
                prop_assert!(log.iter().all(|e| e.1 == "execute"));
            }
            Some(f) => {
                prop_assert_eq!(state, State::Reverted);
                let err = result.unwrap_err();
                prop_assert_eq!(err.failures()[0].message.clone(), format!("t{f} failed"));
                let reverted: BTreeSet<usize> = log.iter().filter(|e| e.1 == "revert").map(|e| e.0).collect();
                prop_assert_eq!(&reverted, &executed, "every task that ran is reverted once");
                for (i, j) in &case.edges {
                    if let (Some(ri), Some(rj)) = (pos(*i, "revert"), pos(*j, "revert")) {
                        prop_assert!(rj < ri, "t{i} reverted before its successor t{j}: {log:?}");
                    }
                }
            }
        }
    }
}
