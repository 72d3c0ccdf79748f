//! Smoke test of the engine: a linear flow whose last task fails is reverted in reverse order.

use std::sync::{Arc, Mutex};

use taskflow::*;

type Log = Arc<Mutex<Vec<String>>>;

fn rec(log: &Log, name: &str, fail: bool) -> TaskNode {
    let l1 = log.clone();
    let l2 = log.clone();
    let n1 = name.to_owned();
    let n2 = name.to_owned();
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
        .with_revert(move |_| {
            l2.lock().unwrap().push(format!("{n2}.revert"));
            Ok(())
        }),
    )
}

#[test]
fn linear_revert() {
    let log: Log = Arc::default();
    let mut f = Flow::linear("f");
    f.add(rec(&log, "a", false))
        .unwrap()
        .add(rec(&log, "b", false))
        .unwrap()
        .add(rec(&log, "c", true))
        .unwrap();
    let mut e = Engine::load(f).unwrap();
    let err = e.run().unwrap_err();
    assert_eq!(err.to_string(), "RuntimeError: c failed");
    assert_eq!(
        *log.lock().unwrap(),
        [
            "a.execute",
            "b.execute",
            "c.execute",
            "c.revert",
            "b.revert",
            "a.revert"
        ]
    );
    assert_eq!(e.flow_state(), State::Reverted);
}
