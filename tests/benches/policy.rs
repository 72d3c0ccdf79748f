//! Benchmark: oslo-policy against Python oslo.policy on the largest real policy file (neutron's, from
//! `scripts/setup-policy.sh`): the time to load and parse the file, and `enforce` calls per second over a
//! mix of every rule of the file with varied credentials and targets. Both run the same cases in one run.
//!
//!     cargo bench -p oslo-tests --no-default-features --features policy --bench policy

use std::time::{Duration, Instant};

use oslo_policy::Enforcer;
use oslo_tests::{run_python_json, workspace_root};
use serde_json::{Value, json};

const PYTHON: &str = r#"
import json, logging, sys, time, warnings
warnings.simplefilter('ignore')
logging.disable(logging.CRITICAL)
from oslo_config import cfg
from oslo_policy import policy
req = json.load(sys.stdin)
conf = cfg.ConfigOpts()
conf([], project='oslo-rs-bench')
loads = []
for _ in range(req['load_rounds']):
    t = time.perf_counter()
    enf = policy.Enforcer(conf, policy_file=req['policy_file'])
    enf.load_rules()
    loads.append(time.perf_counter() - t)
cases = req['cases']
allowed = 0
n = 0
t = time.perf_counter()
while time.perf_counter() - t < req['seconds']:
    for c in cases:
        if enf.enforce(c['rule'], c['target'], dict(c['creds'])):
            allowed += 1
        n += 1
elapsed = time.perf_counter() - t
print(json.dumps({'load': min(loads), 'checks': n, 'elapsed': elapsed, 'allowed': allowed}))
"#;

fn cases(rules: &[String]) -> Vec<Value> {
    let callers = [
        json!({"roles": ["admin"], "project_id": "p1", "user_id": "u1", "is_admin": true}),
        json!({"roles": ["member", "reader"], "project_id": "p1", "user_id": "u1"}),
        json!({"roles": ["reader"], "project_id": "p1", "user_id": "u2"}),
        json!({"roles": ["member"], "project_id": "p2", "user_id": "u2"}),
        json!({"roles": ["admin", "reader"], "system_scope": "all", "user_id": "u9"}),
        json!({"roles": ["service"], "project_id": "svc", "user_id": "nova"}),
    ];
    let targets = [
        json!({"project_id": "p1", "tenant_id": "p1", "user_id": "u1", "network:tenant_id": "p1"}),
        json!({"project_id": "p2", "tenant_id": "p2", "user_id": "u2"}),
    ];
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        for (j, c) in callers.iter().enumerate() {
            out.push(json!({"rule": r, "creds": c, "target": targets[(i + j) % 2]}));
        }
    }
    out
}

fn time_ours(enforcer: &Enforcer, cases: &[(String, Value, Value)], seconds: f64) -> (f64, usize) {
    let start = Instant::now();
    let mut n = 0usize;
    let mut allowed = 0usize;
    while start.elapsed().as_secs_f64() < seconds {
        for (rule, target, creds) in cases {
            if enforcer.enforce(rule, target, creds).unwrap_or(false) {
                allowed += 1;
            }
            n += 1;
        }
    }
    (
        n as f64 / start.elapsed().as_secs_f64(),
        allowed * 1000 / n.max(1),
    )
}

fn main() {
    let path = workspace_root().join("target/fixtures/policy/neutron.yaml");
    assert!(
        path.exists(),
        "run scripts/setup-policy.sh first (the fixtures are missing)"
    );

    let load_rounds = 20;
    let mut best = Duration::MAX;
    let mut enforcer = None;
    for _ in 0..load_rounds {
        let t = Instant::now();
        let e = Enforcer::builder().policy_file(&path).build();
        e.load_rules(false).expect("load the policy file");
        best = best.min(t.elapsed());
        enforcer = Some(e);
    }
    let enforcer = enforcer.expect("loaded");
    let mut names: Vec<String> = enforcer.rules().keys().cloned().collect();
    names.sort();
    let cases = cases(&names);
    let typed: Vec<(String, Value, Value)> = cases
        .iter()
        .map(|c| {
            (
                c["rule"].as_str().unwrap_or_default().to_string(),
                c["target"].clone(),
                c["creds"].clone(),
            )
        })
        .collect();

    let seconds = 3.0;
    let py = run_python_json(
        PYTHON,
        &json!({"policy_file": path, "cases": cases, "seconds": seconds, "load_rounds": 5})
            .to_string(),
    );
    let py_rate = py["checks"].as_f64().unwrap_or(0.0) / py["elapsed"].as_f64().unwrap_or(1.0);
    let py_allowed =
        py["allowed"].as_u64().unwrap_or(0) * 1000 / py["checks"].as_u64().unwrap_or(1).max(1);
    let py_load = py["load"].as_f64().unwrap_or(0.0);

    assert!(
        enforcer.watching_files(),
        "the default enforcer watches its files"
    );
    let (ours_rate, ours_allowed) = time_ours(&enforcer, &typed, seconds);
    let stat = Enforcer::builder()
        .policy_file(&path)
        .watch_files(false)
        .build();
    stat.load_rules(false).expect("load");
    let (stat_rate, _) = time_ours(&stat, &typed, seconds);
    let lazy = Enforcer::builder()
        .policy_file(&path)
        .reload_interval(Duration::from_secs(1))
        .build();
    lazy.load_rules(false).expect("load");
    let (lazy_rate, _) = time_ours(&lazy, &typed, seconds);

    println!(
        "policy file: {} ({} rules), {} distinct enforce cases",
        path.display(),
        names.len(),
        cases.len()
    );
    println!(
        "load + parse: ours {:.3} ms, python {:.3} ms, ratio {:.1}x",
        best.as_secs_f64() * 1e3,
        py_load * 1e3,
        py_load / best.as_secs_f64()
    );
    println!(
        "enforce (default: files watched with inotify, a change seen by the next call): ours {ours_rate:.0}/s, python {py_rate:.0}/s, ratio {:.1}x",
        ours_rate / py_rate
    );
    println!(
        "enforce (watch_files(false): mtimes looked at every call, as oslo): ours {stat_rate:.0}/s, ratio {:.1}x",
        stat_rate / py_rate
    );
    println!(
        "enforce (mtime checked at most once a second): ours {lazy_rate:.0}/s, ratio {:.1}x",
        lazy_rate / py_rate
    );
    println!("allowed per mille: ours {ours_allowed}, python {py_allowed}");
    assert_eq!(
        ours_allowed as u64, py_allowed,
        "both sides must decide the same"
    );
}
