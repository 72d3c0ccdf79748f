//! oslo-config against Python oslo.config: register 2,000 options in 50 groups, parse a 2,000-line config
//! file, then read every value. Both sides do the same work on the same file in this one run; Python is
//! timed inside its own process (interpreter start-up excluded) and the ratio is printed. Each side reports
//! its best round (the figure least disturbed by other load on a shared machine) and its median.
//!
//! `cargo bench -p oslo-tests --no-default-features --features config --bench config`

use std::time::{Duration, Instant};

use oslo_config::{ConfigOpts, EnvSource, Opt, ParseArgs};
use oslo_tests::run_python_json;

const GROUPS: usize = 50;
const PER_GROUP: usize = 40;
const ROUNDS: usize = 30;
const OUR_ROUNDS: usize = 200;

/// The Python side: the same options (a mix of types), the same file, the same reads.
const PY: &str = r#"
import json, sys, time
from oslo_config import cfg
spec = json.load(sys.stdin)
path, groups, per, rounds = spec["path"], spec["groups"], spec["per"], spec["rounds"]

def opt(i):
    k = i % 4
    name = "opt_%d" % i
    if k == 0: return cfg.StrOpt(name, default="x", help="string option")
    if k == 1: return cfg.IntOpt(name, default=1, min=0, help="integer option")
    if k == 2: return cfg.BoolOpt(name, default=False, help="boolean option")
    return cfg.ListOpt(name, default=[], help="list option")

def once():
    t0 = time.perf_counter()
    conf = cfg.ConfigOpts()
    for g in range(groups):
        group = "group_%d" % g
        conf.register_opts([opt(i) for i in range(per)], group=group)
    conf(args=["--config-file", path], project=None, prog="bench",
         default_config_files=[], default_config_dirs=[])
    t1 = time.perf_counter()
    n = 0
    for g in range(groups):
        grp = getattr(conf, "group_%d" % g)
        for i in range(per):
            if getattr(grp, "opt_%d" % i) is not None:
                n += 1
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, n

once()
results = [once() for _ in range(rounds)]
parse = sorted(r[0] for r in results)
read = sorted(r[1] for r in results)
total = sorted(r[0] + r[1] for r in results)
print(json.dumps({"parse": [parse[0], parse[rounds // 2]], "read": [read[0], read[rounds // 2]],
                  "total": [total[0], total[rounds // 2]], "values": results[0][2]}))
"#;

fn opt(i: usize) -> Opt {
    let name = format!("opt_{i}");
    match i % 4 {
        0 => Opt::string(name).default("x").help("string option"),
        1 => Opt::integer(name).default(1).min(0).help("integer option"),
        2 => Opt::boolean(name).default(false).help("boolean option"),
        _ => Opt::list(name)
            .default(Vec::<String>::new())
            .help("list option"),
    }
}

fn value(i: usize) -> String {
    match i % 4 {
        0 => format!("value number {i}"),
        1 => format!("{}", i * 7),
        2 => if i % 8 == 2 { "true" } else { "off" }.to_owned(),
        _ => format!("a{i}, b{i}, c{i}"),
    }
}

fn once(path: &str) -> (Duration, Duration, usize) {
    let t0 = Instant::now();
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Process);
    for g in 0..GROUPS {
        let group = format!("group_{g}");
        conf.register_opts((0..PER_GROUP).map(opt), Some(&group))
            .expect("register");
    }
    conf.parse(
        ParseArgs::new(["--config-file", path])
            .prog("bench")
            .default_config_files(Vec::<String>::new())
            .default_config_dirs(Vec::<String>::new()),
    )
    .expect("parse");
    let t1 = Instant::now();
    let mut n = 0;
    for g in 0..GROUPS {
        let group = format!("group_{g}");
        for i in 0..PER_GROUP {
            if conf
                .get(&format!("opt_{i}"), Some(&group))
                .expect("get")
                .is_some()
            {
                n += 1;
            }
        }
    }
    let t2 = Instant::now();
    (t1 - t0, t2 - t1, n)
}

/// The best and the median of a set of timings.
fn best_median(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2])
}

fn pair(v: &serde_json::Value) -> (Duration, Duration) {
    let at = |i: usize| Duration::from_secs_f64(v[i].as_f64().expect("a time"));
    (at(0), at(1))
}

fn main() {
    // One line per option: 50 sections of 40 assignments = 2,000 lines of values (plus 50 headers).
    let mut text = String::new();
    for g in 0..GROUPS {
        text.push_str(&format!("[group_{g}]\n"));
        for i in 0..PER_GROUP {
            text.push_str(&format!("opt_{i} = {}\n", value(i)));
        }
    }
    let dir = std::env::temp_dir().join(format!("oslo-config-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bench.conf");
    std::fs::write(&path, &text).expect("write the file");
    let path_s = path.to_string_lossy().into_owned();

    once(&path_s);
    let runs: Vec<_> = (0..OUR_ROUNDS).map(|_| once(&path_s)).collect();
    let ours_parse = best_median(runs.iter().map(|r| r.0).collect());
    let ours_read = best_median(runs.iter().map(|r| r.1).collect());
    let ours_total = best_median(runs.iter().map(|r| r.0 + r.1).collect());
    let ours_values = runs[0].2;

    let spec =
        serde_json::json!({ "path": path_s, "groups": GROUPS, "per": PER_GROUP, "rounds": ROUNDS });
    let py = run_python_json(PY, &spec.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        py["values"].as_u64(),
        Some(ours_values as u64),
        "both sides read every value"
    );

    let lines = text.lines().count();
    println!(
        "oslo-config: {} options in {GROUPS} groups, a {lines}-line file; ours {OUR_ROUNDS} rounds, python {ROUNDS}",
        GROUPS * PER_GROUP
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let row = |what: &str, ours: (Duration, Duration), theirs: (Duration, Duration)| {
        println!(
            "  {what:<22} best: ours {:>7.3} ms  python {:>8.3} ms  {:>6.1}x   median: ours {:>7.3} ms  python {:>8.3} ms  {:>6.1}x",
            ms(ours.0),
            ms(theirs.0),
            theirs.0.as_secs_f64() / ours.0.as_secs_f64(),
            ms(ours.1),
            ms(theirs.1),
            theirs.1.as_secs_f64() / ours.1.as_secs_f64()
        );
    };
    row("register + parse", ours_parse, pair(&py["parse"]));
    row("read all 2,000 values", ours_read, pair(&py["read"]));
    row("total", ours_total, pair(&py["total"]));
}
