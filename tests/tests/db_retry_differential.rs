//! `RetryPolicy` against Python's `wrap_db_retry`: the same number of calls and the same sleeps for
//! the same arguments (time.sleep recorded, not slept).
#![cfg(feature = "db")]

use std::time::Duration;

use oslo_db::{Error, RetryPolicy};

const PY: &str = r#"
import json, sys, time
from oslo_db import api, exception
slept = []
time.sleep = lambda s: slept.append(s)
out = []
for case in json.load(sys.stdin):
    slept.clear()
    calls = [0]
    @api.wrap_db_retry(retry_interval=case["interval"], max_retries=case["max_retries"],
                       inc_retry_interval=case["inc"], max_retry_interval=case["max_interval"],
                       retry_on_deadlock=True)
    def f():
        calls[0] += 1
        if calls[0] <= case["failures"]:
            raise exception.RetryRequest(ValueError("again"))
        return calls[0]
    try:
        f()
        ok = True
    except ValueError:
        ok = False
    out.append({"calls": calls[0], "ok": ok, "sleeps": list(slept)})
print(json.dumps(out))
"#;

#[test]
fn same_calls_and_sleeps_as_wrap_db_retry() {
    let cases = [
        (1.0, 20, true, 10.0, 7),
        (1.0, 3, true, 10.0, 10),
        (2.0, 5, false, 10.0, 4),
        (0.5, 6, true, 3.0, 6),
        (1.0, 0, true, 10.0, 1),
        (1.0, -1, true, 10.0, 1),
    ];
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(i, m, inc, mx, f)| {
            serde_json::json!({"interval": i, "max_retries": m, "inc": inc, "max_interval": mx, "failures": f})
        })
        .collect();
    let python = oslo_tests::run_python_json(PY, &serde_json::Value::from(input).to_string());
    for ((interval, max, inc, max_interval, failures), py) in
        cases.iter().zip(python.as_array().unwrap())
    {
        let p = RetryPolicy::new()
            .retry_interval(Duration::from_secs_f64(*interval))
            .max_retries(*max)
            .inc_retry_interval(*inc)
            .max_retry_interval(Duration::from_secs_f64(*max_interval));
        let planned = p.planned_sleeps();
        // Run with the same schedule scaled down to nothing, counting calls.
        let mut calls = 0u32;
        let r: Result<u32, Error> = p.clone().retry_interval(Duration::ZERO).call(|| {
            calls += 1;
            if calls <= *failures {
                Err(Error::retry_request("again"))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(u64::from(calls), py["calls"].as_u64().unwrap(), "{py}");
        assert_eq!(r.is_ok(), py["ok"].as_bool().unwrap(), "{py}");
        let py_sleeps: Vec<f64> = py["sleeps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_f64().unwrap())
            .collect();
        let ours: Vec<f64> = planned
            .iter()
            .take(py_sleeps.len())
            .map(Duration::as_secs_f64)
            .collect();
        assert_eq!(ours, py_sleeps, "{py}");
    }
}
