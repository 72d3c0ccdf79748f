//! Wall time of one allowed no-op command (`true`) run four ways, in one run: directly, through our
//! `oslo-rootwrap`, through Python's `oslo-rootwrap`, and through each daemon (ours with `Client`,
//! Python's with its `oslo_rootwrap.client.Client`). The configuration loads the real filter files of the
//! services under `target/fixtures/rootwrap` (those that load), plus `true: CommandFilter, true, root`.
//!
//! Our binaries must be built first, in the same profile:
//!   cargo build --release -p oslo-rootwrap --bins
//!   cargo bench -p oslo-tests --no-default-features --features rootwrap --bench rootwrap
//! (`OSLO_ROOTWRAP_BIN_DIR` names another directory holding `oslo-rootwrap` and `oslo-rootwrap-daemon`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oslo_rootwrap::{Client, Filters, LoadOptions};
use oslo_tests::{python, run_python, workspace_root};

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OSLO_ROOTWRAP_BIN_DIR") {
        return PathBuf::from(dir);
    }
    // target/<profile>/deps/<bench> -> target/<profile>
    let exe = std::env::current_exe().expect("the bench's own path");
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("a target directory")
}

fn setup(dir: &Path) -> PathBuf {
    let filters_dir = dir.join("rootwrap.d");
    std::fs::create_dir_all(&filters_dir).unwrap();
    std::fs::write(
        filters_dir.join("zz-bench.filters"),
        "[Filters]\ntrue: CommandFilter, true, root\n",
    )
    .unwrap();
    let fixtures = workspace_root().join("target/fixtures/rootwrap");
    let mut services = Vec::new();
    for service in std::fs::read_dir(&fixtures).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(service.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "filters") {
                let text = std::fs::read_to_string(&path).unwrap();
                // A service file that does not load (ironic's has no [Filters]) would fail both sides.
                if Filters::parse_file(&text, &path).is_ok() {
                    let name = format!(
                        "{}-{}",
                        service.file_name().to_string_lossy(),
                        file.file_name().to_string_lossy()
                    );
                    std::fs::write(filters_dir.join(&name), text).unwrap();
                    services.push(name);
                }
            }
        }
    }
    let conf = dir.join("rootwrap.conf");
    std::fs::write(
        &conf,
        format!(
            "[DEFAULT]\nfilters_path = {}\nexec_dirs = /usr/sbin,/usr/bin,/sbin,/bin\n",
            filters_dir.display()
        ),
    )
    .unwrap();
    let count = Filters::load(&[filters_dir], LoadOptions::default())
        .map(|f| f.len())
        .unwrap_or(0);
    println!(
        "configuration: {count} filters from {} files ({})",
        services.len() + 1,
        services.join(", ")
    );
    conf
}

/// CPU time (user + system) of the waited-for children so far, from `/proc/self/stat` (clock ticks of
/// 10 ms: summed over many runs, the total is precise enough).
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<u64> = after_comm
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // Fields 16 and 17 of the file (cutime, cstime) are the 14th and 15th after the command name.
    let ticks = fields.get(13).copied().unwrap_or(0) + fields.get(14).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// One way of running the command: every how many rounds it runs, and how to build its process.
type Way = (usize, Box<dyn FnMut() -> Command>);

fn run_quiet(mut c: Command) -> Duration {
    let start = Instant::now();
    let status = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run the command");
    let elapsed = start.elapsed();
    assert!(status.success(), "the command failed: {status}");
    elapsed
}

/// Runs the ways interleaved (one of each per round, so that they share the machine's load), `n` rounds
/// after one warm-up round; a way runs only every `every`-th round. Returns each way's wall times and its
/// total CPU time (the process and its children).
fn time_interleaved(n: usize, ways: &mut [Way]) -> (Vec<Vec<Duration>>, Vec<Duration>) {
    for (_, make) in ways.iter_mut() {
        run_quiet(make());
    }
    let mut times = vec![Vec::new(); ways.len()];
    let mut cpu = vec![Duration::ZERO; ways.len()];
    for round in 0..n {
        for (i, (every, make)) in ways.iter_mut().enumerate() {
            if round % *every == 0 {
                let before = children_cpu();
                times[i].push(run_quiet(make()));
                cpu[i] += children_cpu().saturating_sub(before);
            }
        }
    }
    (times, cpu)
}

/// Wall times: (mean, median, best). The best is the figure least disturbed by the other processes of a
/// loaded machine.
fn stats(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    (mean, times[times.len() / 2], times[0])
}

/// The 1, 5 and 15 minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

const PY_DAEMON: &str = r#"
import sys, time
from oslo_rootwrap import client
daemon, conf, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = client.Client([daemon, conf])
rc, out, err = c.execute(["true"])
assert rc == 0, (rc, out, err)
times = []
for _ in range(n):
    t = time.perf_counter()
    rc, out, err = c.execute(["true"])
    times.append(time.perf_counter() - t)
    assert rc == 0
times.sort()
print(sum(times) / len(times) * 1000, times[len(times) // 2] * 1000, times[0] * 1000)
c._finalize()
"#;

/// Per-run CPU time (user + system, from `wait4`'s resource usage: the process and the children it
/// waited for, to the microsecond) of each way, interleaved; prints the best and the median of each,
/// in milliseconds, one way per line. Reads JSON `[[every, [argv...]], ...]` and the round count.
const PY_CPU: &str = r#"
import json, os, sys
ways, n = json.loads(sys.stdin.read()), int(sys.argv[1])
null = os.open(os.devnull, os.O_RDWR)
io = [(os.POSIX_SPAWN_DUP2, null, fd) for fd in (0, 1, 2)]
cpu = [[] for _ in ways]
for rnd in range(-1, n):
    for i, (every, argv) in enumerate(ways):
        if rnd >= 0 and rnd % every:
            continue
        pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=io)
        _, status, ru = os.wait4(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, argv
        if rnd >= 0:
            cpu[i].append(ru.ru_utime + ru.ru_stime)
for c in cpu:
    c.sort()
    print(c[0] * 1000, c[len(c) // 2] * 1000)
"#;

fn main() {
    let bins = bin_dir();
    let ours = bins.join("oslo-rootwrap");
    let ours_daemon = bins.join("oslo-rootwrap-daemon");
    assert!(
        ours.exists() && ours_daemon.exists(),
        "build the binaries first: cargo build --release -p oslo-rootwrap --bins (looked in {})",
        bins.display()
    );
    let venv_bin = python().parent().map(Path::to_path_buf).unwrap();
    let py_rootwrap = venv_bin.join("oslo-rootwrap");
    let py_daemon = venv_bin.join("oslo-rootwrap-daemon");
    let dir = tempfile::tempdir().unwrap();
    let conf = setup(dir.path());
    let n: usize = std::env::var("OSLO_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let n_py = (n / 10).max(10);
    let load_before = loadavg();

    let (ours_c, py_c, conf_c) = (ours.clone(), py_rootwrap.clone(), conf.clone());
    let conf_p = conf.clone();
    let mut ways: Vec<Way> = vec![
        (1, Box::new(|| Command::new("/usr/bin/true"))),
        (
            1,
            Box::new(move || {
                let mut c = Command::new(&ours_c);
                c.arg(&conf_c).arg("true");
                c
            }),
        ),
        (
            n / n_py,
            Box::new(move || {
                let mut c = Command::new(&py_c);
                c.arg(&conf_p).arg("true");
                c
            }),
        ),
    ];
    let (times, cpu) = time_interleaved(n, &mut ways);
    let mut times = times.into_iter();
    let cpu_per_run = |i: usize, runs: usize| cpu[i] / runs as u32;
    let (cpu_direct, cpu_rust, cpu_py) = (
        cpu_per_run(0, n),
        cpu_per_run(1, n),
        cpu_per_run(2, n.div_ceil(n / n_py)),
    );
    let direct = stats(times.next().unwrap());
    let rust = stats(times.next().unwrap());
    let py = stats(times.next().unwrap());

    // The same three ways again, for their per-run CPU time (best and median).
    let way_args = [
        (1, vec!["/usr/bin/true".to_string()]),
        (
            1,
            vec![
                ours.to_string_lossy().into_owned(),
                conf.to_string_lossy().into_owned(),
                "true".into(),
            ],
        ),
        (
            n / n_py,
            vec![
                py_rootwrap.to_string_lossy().into_owned(),
                conf.to_string_lossy().into_owned(),
                "true".into(),
            ],
        ),
    ];
    let cpu_out = run_python(
        &format!("import sys; sys.argv = ['x', '{n}']\n{PY_CPU}"),
        &serde_json::to_string(&way_args).unwrap(),
    );
    let cpu_best_median: Vec<(Duration, Duration)> = cpu_out
        .lines()
        .map(|l| {
            let v: Vec<f64> = l
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
            (
                Duration::from_secs_f64(v[0] / 1000.0),
                Duration::from_secs_f64(v[1] / 1000.0),
            )
        })
        .collect();
    assert_eq!(cpu_best_median.len(), 3, "CPU script output: {cpu_out}");

    let client = Client::new([
        ours_daemon.to_string_lossy().into_owned(),
        conf.to_string_lossy().into_owned(),
    ]);
    let cmd = vec!["true".to_string()];
    assert_eq!(client.execute(&cmd, None).unwrap().code, 0);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let out = client.execute(&cmd, None).unwrap();
        times.push(start.elapsed());
        assert_eq!(out.code, 0);
    }
    let rust_daemon = stats(times);
    client.shutdown();

    let py_out = run_python(
        &format!(
            "import sys; sys.argv = ['x', {:?}, {:?}, '{n}']\n{PY_DAEMON}",
            py_daemon.to_string_lossy(),
            conf.to_string_lossy()
        ),
        "",
    );
    let parts: Vec<f64> = py_out
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let py_daemon_t = (
        Duration::from_secs_f64(parts[0] / 1000.0),
        Duration::from_secs_f64(parts[1] / 1000.0),
        Duration::from_secs_f64(parts[2] / 1000.0),
    );

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "load average (1, 5, 15 min): {load_before} before, {} after",
        loadavg()
    );
    println!();
    println!("| way | runs | best | median | mean | CPU best | CPU median | CPU mean (ticks) |");
    println!("|---|---|---|---|---|---|---|---|");
    let rows = [
        ("`/usr/bin/true` directly", n, direct, Some(cpu_direct)),
        (
            "our `oslo-rootwrap rootwrap.conf true`",
            n,
            rust,
            Some(cpu_rust),
        ),
        (
            "Python's `oslo-rootwrap rootwrap.conf true`",
            n_py,
            py,
            Some(cpu_py),
        ),
        (
            "our daemon, `Client::execute([\"true\"])`",
            n,
            rust_daemon,
            None,
        ),
        (
            "Python's daemon, `client.Client.execute([\"true\"])`",
            n,
            py_daemon_t,
            None,
        ),
    ];
    for (i, (name, runs, (mean, median, best), cpu)) in rows.into_iter().enumerate() {
        let cpu = cpu.map(ms).unwrap_or_else(|| "-".into());
        let (cpu_best, cpu_median) = cpu_best_median
            .get(i)
            .map(|(b, m)| (ms(*b), ms(*m)))
            .unwrap_or_else(|| ("-".into(), "-".into()));
        println!(
            "| {name} | {runs} | {} | {} | {} | {cpu_best} | {cpu_median} | {cpu} |",
            ms(best),
            ms(median),
            ms(mean)
        );
    }
    println!();
    println!(
        "ours / direct: {:.2}x (best), {:.2}x (median), {:.2}x (mean)",
        ratio(rust.2, direct.2),
        ratio(rust.1, direct.1),
        ratio(rust.0, direct.0)
    );
    let cb = |i: usize| cpu_best_median[i].0;
    let cm = |i: usize| cpu_best_median[i].1;
    println!(
        "ours / direct, CPU: {:.2}x (best), {:.2}x (median); Python / ours, CPU: {:.1}x (best), {:.1}x \
         (median)",
        ratio(cb(1), cb(0)),
        ratio(cm(1), cm(0)),
        ratio(cb(2), cb(1)),
        ratio(cm(2), cm(1))
    );
    println!(
        "Python / ours: {:.1}x (best), {:.1}x (median), {:.1}x (mean)",
        ratio(py.2, rust.2),
        ratio(py.1, rust.1),
        ratio(py.0, rust.0)
    );
    println!(
        "Python's daemon / ours: {:.1}x (mean), {:.1}x (median)",
        ratio(py_daemon_t.0, rust_daemon.0),
        ratio(py_daemon_t.1, rust_daemon.1)
    );
}
