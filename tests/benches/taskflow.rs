//! Benchmark of `taskflow` against Python TaskFlow 6.5, in one run (not a timed test):
//!
//! ```sh
//! cargo bench -p oslo-tests --no-default-features --features taskflow --bench taskflow
//! ```
//! 1. a linear flow of N trivial tasks on the serial engine (build + compile + run);
//! 2. a graph flow of N trivial tasks chained through requires/provides, serial engine;
//! 3. the parallel engine on N tasks that each sleep 10 ms, 100 workers.
//!
//! Python runs once at N = 1,000 (it is super-linear and takes about a minute per flow); ours runs at 1,000,
//! 2,000 and 4,000 to show the growth. `TASKFLOW_BENCH_PY_N` changes Python's N (0 skips Python).

use std::time::{Duration, Instant};

use serde_json::json;
use taskflow::{Engine, Flow, fn_task};

const PY: &str = r#"
import json, sys, time, warnings
warnings.simplefilter('ignore')
from taskflow import engines, task
from taskflow.patterns import graph_flow, linear_flow, unordered_flow

class Nop(task.Task):
    def execute(self, **kw):
        return 1

class Sleep(task.Task):
    def execute(self):
        time.sleep(SLEEP)

p = json.loads(sys.stdin.read())
n = p["n"]; SLEEP = p.get("sleep", 0.0)
t0 = time.perf_counter()
if p["kind"] == "linear":
    f = linear_flow.Flow("f")
    for i in range(n):
        f.add(Nop(name="t%d" % i))
    engines.run(f)
elif p["kind"] == "graph":
    f = graph_flow.Flow("g")
    for i in range(n):
        f.add(Nop(name="t%d" % i, requires=["x%d" % (i - 1)] if i else [], provides="x%d" % i))
    engines.run(f)
else:
    f = unordered_flow.Flow("u")
    for i in range(n):
        f.add(Sleep(name="t%d" % i))
    engines.run(f, engine="parallel", max_workers=p["workers"])
print(json.dumps({"seconds": time.perf_counter() - t0}))
"#;

const WORKERS: usize = 100;
const SLEEP: Duration = Duration::from_millis(10);

fn ours(kind: &str, n: usize) -> f64 {
    let t = Instant::now();
    let mut engine = match kind {
        "linear" => {
            let mut f = Flow::linear("f");
            for i in 0..n {
                f.add(fn_task(format!("t{i}"), |_| Ok(json!(1))))
                    .expect("add");
            }
            Engine::load(f)
        }
        "graph" => {
            let mut f = Flow::graph("g");
            for i in 0..n {
                let mut t = fn_task(format!("t{i}"), |_| Ok(json!(1))).provides(format!("x{i}"));
                if i > 0 {
                    t = t.requires([format!("x{}", i - 1)]);
                }
                f.add(t).expect("add");
            }
            Engine::load(f)
        }
        _ => {
            let mut f = Flow::unordered("u");
            for i in 0..n {
                f.add(fn_task(format!("t{i}"), |_| {
                    std::thread::sleep(SLEEP);
                    Ok(json!(null))
                }))
                .expect("add");
            }
            Engine::builder(f).parallel(WORKERS).build()
        }
    }
    .expect("engine");
    engine.run().expect("run");
    t.elapsed().as_secs_f64()
}

fn best_of(kind: &str, n: usize, runs: usize) -> f64 {
    (0..runs)
        .map(|_| ours(kind, n))
        .fold(f64::INFINITY, f64::min)
}

fn python(kind: &str, n: usize) -> f64 {
    let p = json!({"kind": kind, "n": n, "workers": WORKERS, "sleep": SLEEP.as_secs_f64()});
    oslo_tests::run_python_json(PY, &p.to_string())["seconds"]
        .as_f64()
        .expect("seconds")
}

fn main() {
    let py_n: usize = std::env::var("TASKFLOW_BENCH_PY_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let sizes = [1000, 2000, 4000];
    let label = |k: &str| match k {
        "linear" => "linear flow, trivial tasks, serial engine".to_owned(),
        "graph" => "graph flow (chain by requires/provides), serial engine".to_owned(),
        _ => format!(
            "unordered flow, tasks sleep {} ms, parallel engine ({WORKERS} workers)",
            SLEEP.as_millis()
        ),
    };
    println!("| workload | N | ours | Python | Python / ours |");
    println!("|---|---:|---:|---:|---:|");
    for kind in ["linear", "graph", "sleep"] {
        for &n in &sizes {
            let o = best_of(kind, n, if kind == "sleep" { 3 } else { 7 });
            if n == py_n {
                let p = python(kind, n);
                println!(
                    "| {} | {n} | {:.1} ms | {:.2} s | {:.0}x |",
                    label(kind),
                    o * 1e3,
                    p,
                    p / o
                );
            } else {
                println!("| {} | {n} | {:.1} ms | | |", label(kind), o * 1e3);
            }
        }
    }
    let serial_sleep = SLEEP.as_secs_f64() * 1000.0;
    println!(
        "\nparallel speed-up over running the 1,000 sleeping tasks one after another ({serial_sleep:.1} s): {:.0}x",
        serial_sleep / best_of("sleep", 1000, 1)
    );
}
