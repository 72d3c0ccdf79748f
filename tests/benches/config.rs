//! oslo-config against Python oslo.config: register 2,000 options in 50 groups, parse a 2,000-line config
//! file, then read every value. Both sides do the same work on the same file in this one run; Python is
//! timed inside its own process (interpreter start-up excluded) and the ratio is printed. Each side reports
//! its best round (the figure least disturbed by other load on a shared machine) and its median.
//!
//! The work is done twice, in two ways of naming the options, the same on both sides:
//! - **names as code declares them**: the option names come from a constant table, as a service's options
//!   are declared with literal names (`Opt::string("host")`, `cfg.StrOpt('host')`) and read by them;
//! - **names formatted in the loop**: each name is formatted when the option is built and again when it is
//!   read (`format!("opt_{i}")`, `"opt_%d" % i`), as the first version of this benchmark did. Formatting a
//!   string costs Rust a larger share of its time than Python, so this way gives the lower ratio.
//!
//! `cargo bench -p oslo-tests --no-default-features --features config --bench config`

use std::time::{Duration, Instant};

use oslo_config::{ConfigOpts, EnvSource, Opt, ParseArgs};
use oslo_tests::run_python_json;

const GROUPS: usize = 50;
const PER_GROUP: usize = 40;
const ROUNDS: usize = 30;
const OUR_ROUNDS: usize = 200;

/// The option names of each group, as code declares them.
const NAMES: [&str; PER_GROUP] = [
    "opt_0", "opt_1", "opt_2", "opt_3", "opt_4", "opt_5", "opt_6", "opt_7", "opt_8", "opt_9",
    "opt_10", "opt_11", "opt_12", "opt_13", "opt_14", "opt_15", "opt_16", "opt_17", "opt_18",
    "opt_19", "opt_20", "opt_21", "opt_22", "opt_23", "opt_24", "opt_25", "opt_26", "opt_27",
    "opt_28", "opt_29", "opt_30", "opt_31", "opt_32", "opt_33", "opt_34", "opt_35", "opt_36",
    "opt_37", "opt_38", "opt_39",
];

/// The Python side: the same options (a mix of types), the same file, the same reads, both ways of naming.
const PY: &str = r#"
import json, sys, time
from oslo_config import cfg
spec = json.load(sys.stdin)
path, groups, per, rounds = spec["path"], spec["groups"], spec["per"], spec["rounds"]
NAMES = ["opt_%d" % i for i in range(per)]

def opt(i, table):
    k = i % 4
    name = NAMES[i] if table else "opt_%d" % i
    if k == 0: return cfg.StrOpt(name, default="x", help="string option")
    if k == 1: return cfg.IntOpt(name, default=1, min=0, help="integer option")
    if k == 2: return cfg.BoolOpt(name, default=False, help="boolean option")
    return cfg.ListOpt(name, default=[], help="list option")

def once(table):
    t0 = time.perf_counter()
    conf = cfg.ConfigOpts()
    for g in range(groups):
        group = "group_%d" % g
        conf.register_opts([opt(i, table) for i in range(per)], group=group)
    conf(args=["--config-file", path], project=None, prog="bench",
         default_config_files=[], default_config_dirs=[])
    t1 = time.perf_counter()
    n = 0
    for g in range(groups):
        grp = getattr(conf, "group_%d" % g)
        for i in range(per):
            if getattr(grp, NAMES[i] if table else "opt_%d" % i) is not None:
                n += 1
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, n

out = {}
for table in (True, False):
    once(table)
    results = [once(table) for _ in range(rounds)]
    parse = sorted(r[0] for r in results)
    read = sorted(r[1] for r in results)
    total = sorted(r[0] + r[1] for r in results)
    out["table" if table else "formatted"] = {
        "parse": [parse[0], parse[rounds // 2]], "read": [read[0], read[rounds // 2]],
        "total": [total[0], total[rounds // 2]], "values": results[0][2]}
print(json.dumps(out))
"#;

/// How the benchmark names its options.
#[derive(Clone, Copy)]
enum Naming {
    /// From [`NAMES`].
    Table,
    /// Formatted when used.
    Formatted,
}

fn opt(i: usize, naming: Naming) -> Opt {
    let name: std::borrow::Cow<'static, str> = match naming {
        Naming::Table => NAMES[i].into(),
        Naming::Formatted => format!("opt_{i}").into(),
    };
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

fn once(path: &str, naming: Naming) -> (Duration, Duration, usize) {
    let t0 = Instant::now();
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Process);
    for g in 0..GROUPS {
        let group = format!("group_{g}");
        conf.register_opts((0..PER_GROUP).map(|i| opt(i, naming)), Some(&group))
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
        for (i, name) in NAMES.iter().enumerate() {
            let value = match naming {
                Naming::Table => conf.get(name, Some(&group)),
                Naming::Formatted => conf.get(&format!("opt_{i}"), Some(&group)),
            };
            if value.expect("get").is_some() {
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

/// Our best and median register + parse, read and total times, and the number of values read.
type Ours = [(Duration, Duration); 3];

fn ours(path: &str, naming: Naming) -> (Ours, usize) {
    once(path, naming);
    let runs: Vec<_> = (0..OUR_ROUNDS).map(|_| once(path, naming)).collect();
    let times = [
        best_median(runs.iter().map(|r| r.0).collect()),
        best_median(runs.iter().map(|r| r.1).collect()),
        best_median(runs.iter().map(|r| r.0 + r.1).collect()),
    ];
    (times, runs[0].2)
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

    let (table, table_values) = ours(&path_s, Naming::Table);
    let (formatted, formatted_values) = ours(&path_s, Naming::Formatted);

    let spec =
        serde_json::json!({ "path": path_s, "groups": GROUPS, "per": PER_GROUP, "rounds": ROUNDS });
    let py = run_python_json(PY, &spec.to_string());
    let _ = std::fs::remove_dir_all(&dir);

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
    for (title, key, times, values) in [
        ("names as code declares them", "table", table, table_values),
        (
            "names formatted in the loop",
            "formatted",
            formatted,
            formatted_values,
        ),
    ] {
        let theirs = &py[key];
        assert_eq!(
            theirs["values"].as_u64(),
            Some(values as u64),
            "both sides read every value"
        );
        println!(" {title}:");
        row("register + parse", times[0], pair(&theirs["parse"]));
        row("read all 2,000 values", times[1], pair(&theirs["read"]));
        row("total", times[2], pair(&theirs["total"]));
    }
}
