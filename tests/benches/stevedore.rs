//! stevedore: build a manager over 200 plugins — compiled-in, from one plugin library with 200 plugins and
//! from 200 plugin libraries with one plugin each — against Python
//! stevedore building an `ExtensionManager` over 200 entry points, in one run.
//!
//! `cargo bench -p oslo-tests --no-default-features --features stevedore --bench stevedore`
//!
//! Each side is measured twice: the first manager of the process (Rust: collecting the registry, or opening
//! and checking the library; Python: scanning distribution metadata and importing the module) and then the
//! steady state, a manager built again with everything cached (Python keeps entry points in
//! `ExtensionManager.ENTRY_POINT_CACHE` and modules in `sys.modules`; we keep the registry). Every manager
//! invokes its 200 plugins on load.

#[path = "../../stevedore/tests/support/plugin_build.rs"]
mod plugin_build;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use stevedore::dynamic::DynamicObject;
use stevedore::{DriverManager, ExtensionManager, InvokeArgs, PluginError, Registry};

const PLUGINS: usize = 200;
const ROUNDS: u32 = 100;

/// What each compiled-in plugin makes.
#[derive(Debug)]
struct Obj {
    #[allow(dead_code)]
    size: i64,
}

fn make(args: &InvokeArgs) -> Result<Obj, PluginError> {
    Ok(Obj {
        size: args.get("size").and_then(|v| v.as_i64()).unwrap_or(0),
    })
}

macro_rules! register_ones {
    ($h:literal $t:literal: $($o:literal)*) => {
        $( stevedore::register! { namespace: "bench.static", name: concat!("p", $h, $t, $o), factory: make } )*
    };
}
macro_rules! register_tens {
    ($h:literal: $($t:literal)*) => {
        $( register_ones!($h $t: 0 1 2 3 4 5 6 7 8 9); )*
    };
}
register_tens!(0: 0 1 2 3 4 5 6 7 8 9);
register_tens!(1: 0 1 2 3 4 5 6 7 8 9);

const PYTHON: &str = r#"
import json, os, shutil, sys, tempfile, time
n, rounds, iters = (int(a) for a in sys.argv[1:4])
tmp = tempfile.mkdtemp()
with open(os.path.join(tmp, 'benchplugs.py'), 'w') as f:
    f.write('class Base:\n    def __init__(self, *a, **k):\n        self.size = k.get("size", 0)\n')
    for i in range(n):
        f.write('class P%03d(Base):\n    pass\n' % i)
di = os.path.join(tmp, 'benchplugs-1.0.dist-info')
os.mkdir(di)
with open(os.path.join(di, 'METADATA'), 'w') as f:
    f.write('Metadata-Version: 2.1\nName: benchplugs\nVersion: 1.0\n')
with open(os.path.join(di, 'entry_points.txt'), 'w') as f:
    f.write('[bench.python]\n')
    for i in range(n):
        f.write('p%03d = benchplugs:P%03d\n' % (i, i))
sys.path.insert(0, tmp)
from stevedore import ExtensionManager
t = time.perf_counter()
m = ExtensionManager('bench.python', invoke_on_load=True, invoke_kwds={'size': 3})
cold = time.perf_counter() - t
assert len(m.extensions) == n, len(m.extensions)
warm = float('inf')
for _ in range(rounds):
    t = time.perf_counter()
    for _ in range(iters):
        m = ExtensionManager('bench.python', invoke_on_load=True, invoke_kwds={'size': 3})
    warm = min(warm, (time.perf_counter() - t) / iters)
plain = float('inf')
for _ in range(rounds):
    t = time.perf_counter()
    for _ in range(iters):
        m = ExtensionManager('bench.python')
    plain = min(plain, (time.perf_counter() - t) / iters)
assert len(m.extensions) == n and m.extensions[0].obj is None
from stevedore import DriverManager
driver = float('inf')
for _ in range(rounds):
    t = time.perf_counter()
    for _ in range(iters * 10):
        d = DriverManager('bench.python', 'p100', invoke_on_load=True, invoke_kwds={'size': 3})
    driver = min(driver, (time.perf_counter() - t) / (iters * 10))
assert d.driver.size == 3
shutil.rmtree(tmp)
print(json.dumps({"cold": cold, "warm": warm, "plain": plain, "driver": driver}))
"#;

/// The time of one call, from the best of `rounds` rounds of `iters` calls: the machine is shared, and the
/// best round is the one least disturbed. Python's side is measured the same way.
fn per_iter(rounds: u32, iters: u32, mut f: impl FnMut()) -> Duration {
    f();
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(t.elapsed() / iters);
    }
    best
}

/// A manager over the 200 plugins of one library (not inlined, so that
/// `valgrind --tool=callgrind --toggle-collect='*library_manager_*'` counts exactly this work).
#[inline(never)]
fn library_manager_one(reg: &'static Registry, args: &InvokeArgs) {
    library_manager("bench.dynamic", reg, args);
}

/// A manager over the plugins of 200 libraries.
#[inline(never)]
fn library_manager_many(reg: &'static Registry, args: &InvokeArgs) {
    library_manager("bench.files", reg, args);
}

/// A manager over the 200 size-only plugins of one library.
#[inline(never)]
fn library_manager_sized_one(reg: &'static Registry, args: &InvokeArgs) {
    library_manager("bench.sized", reg, args);
}

/// A manager over the size-only plugins of 200 libraries.
#[inline(never)]
fn library_manager_sized_many(reg: &'static Registry, args: &InvokeArgs) {
    library_manager("bench.sized_files", reg, args);
}

/// A manager over the plugins of `namespace` as Python's `ExtensionManager(namespace)` builds it by
/// default: every plugin found and its factory resolved, none invoked (not inlined, for callgrind's
/// `--toggle-collect='*plain_manager*'`).
#[inline(never)]
fn plain_manager<T: 'static>(namespace: &str, reg: Option<&'static Registry>) {
    let builder = ExtensionManager::<T>::builder(namespace);
    let builder = match reg {
        Some(reg) => builder.static_registry(reg),
        None => builder,
    };
    black_box(builder.build().unwrap());
}

/// Loads the size-only plugin libraries of `dir` into a registry kept for the process, and checks that
/// a manager over `namespace` has its 200 plugins, each keeping the `size` it was given.
fn sized_registry(dir: &Path, namespace: &str, args: &InvokeArgs) -> &'static Registry {
    let mut reg = Registry::new();
    let report = reg.load_dir(dir).unwrap();
    assert_eq!(report.plugins, PLUGINS, "{:?}", report.failures);
    let reg = reg.leak();
    let mgr = ExtensionManager::<DynamicObject>::builder(namespace)
        .static_registry(reg)
        .invoke_on_load(args.clone())
        .build()
        .unwrap();
    assert_eq!(mgr.len(), PLUGINS);
    for ext in mgr.extensions() {
        let size = ext.obj().unwrap().call("size", &serde_json::Value::Null);
        assert_eq!(size.unwrap(), serde_json::json!(3), "{}", ext.name());
    }
    reg
}

/// Builds (and drops) a manager over the library plugins of `namespace`, invoking each.
#[inline(always)]
fn library_manager(namespace: &str, reg: &'static Registry, args: &InvokeArgs) {
    let m = ExtensionManager::<DynamicObject>::builder(namespace)
        .static_registry(reg)
        .invoke_on_load(args.clone())
        .build()
        .unwrap();
    black_box(m);
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let args = InvokeArgs::new().kwarg("size", 3);

    // Compiled-in: the first manager collects the registry.
    let t = Instant::now();
    let mgr = ExtensionManager::<Obj>::builder("bench.static")
        .invoke_on_load(args.clone())
        .build()
        .unwrap();
    let static_cold = t.elapsed();
    assert_eq!(mgr.len(), PLUGINS);
    let static_warm = per_iter(ROUNDS, 20, || {
        let m = ExtensionManager::<Obj>::builder("bench.static")
            .invoke_on_load(args.clone())
            .build()
            .unwrap();
        black_box(m);
    });

    let driver_warm = per_iter(ROUNDS, 200, || {
        let d = DriverManager::<Obj>::builder("bench.static", "p100")
            .invoke_on_load(args.clone())
            .build()
            .unwrap();
        black_box(d);
    });

    // A plugin library with 200 plugins, built with rustc for this run.
    let dir = tempfile::tempdir().unwrap();
    let src = plugin_build::greeter_source(&oslo_tests::workspace_root().join("stevedore"));
    let count = PLUGINS.to_string();
    plugin_build::build_plugin(
        &src,
        dir.path(),
        "bench_plugins",
        &[],
        &[
            ("STEVEDORE_TEST_PLUGIN_COUNT", &count),
            ("STEVEDORE_TEST_NAMESPACE", "bench.dynamic"),
        ],
    );
    let t = Instant::now();
    let mut reg = Registry::new();
    let report = reg.load_dir(dir.path()).unwrap();
    // Built once at start-up and kept for the process, as a service would.
    let reg = reg.leak();
    let mgr = ExtensionManager::<DynamicObject>::builder("bench.dynamic")
        .static_registry(reg)
        .invoke_on_load(args.clone())
        .build()
        .unwrap();
    let dynamic_cold = t.elapsed();
    assert_eq!((report.plugins, mgr.len()), (PLUGINS, PLUGINS));
    drop(mgr);
    let dynamic_warm = per_iter(ROUNDS, 5, || library_manager_one(reg, &args));

    // 200 plugin libraries, one plugin each, found by a directory scan: one library built with rustc (its
    // plugin is named after its file), copied into 200 files, each a separate library for the loader.
    let files = tempfile::tempdir().unwrap();
    let proto = plugin_build::build_plugin(
        &src,
        dir.path(),
        "proto",
        &["name_from_file"],
        &[("STEVEDORE_TEST_NAMESPACE", "bench.files")],
    );
    for i in 0..PLUGINS {
        std::fs::copy(&proto, files.path().join(format!("libp{i:03}.so"))).unwrap();
    }
    let t = Instant::now();
    let mut reg = Registry::new();
    let report = reg.load_dir(files.path()).unwrap();
    let reg = reg.leak();
    let mgr = ExtensionManager::<DynamicObject>::builder("bench.files")
        .static_registry(reg)
        .invoke_on_load(args.clone())
        .build()
        .unwrap();
    let files_cold = t.elapsed();
    assert_eq!(
        (report.loaded.len(), report.plugins, mgr.len()),
        (PLUGINS, PLUGINS, PLUGINS),
        "{:?}",
        report.failures
    );
    assert_eq!(mgr.extensions()[17].name(), "p017");
    drop(mgr);
    let files_warm = per_iter(ROUNDS, 5, || library_manager_many(reg, &args));

    // The same two layouts with plugins that do only what the Python and compiled-in plugins do (keep the
    // `size` keyword argument): the greeter plugins above also copy a greeting string and look for a panic
    // switch in the arguments.
    let sized_dir = tempfile::tempdir().unwrap();
    plugin_build::build_plugin(
        &src,
        sized_dir.path(),
        "bench_sized",
        &["size_only"],
        &[
            ("STEVEDORE_TEST_PLUGIN_COUNT", &count),
            ("STEVEDORE_TEST_NAMESPACE", "bench.sized"),
        ],
    );
    let reg = sized_registry(sized_dir.path(), "bench.sized", &args);
    let sized_warm = per_iter(ROUNDS, 5, || library_manager_sized_one(reg, &args));
    let plain_library_warm = per_iter(ROUNDS, 20, || {
        plain_manager::<DynamicObject>("bench.sized", Some(reg))
    });
    let sized_files = tempfile::tempdir().unwrap();
    let proto = plugin_build::build_plugin(
        &src,
        sized_dir.path(),
        "proto_sized",
        &["size_only", "name_from_file"],
        &[("STEVEDORE_TEST_NAMESPACE", "bench.sized_files")],
    );
    for i in 0..PLUGINS {
        std::fs::copy(&proto, sized_files.path().join(format!("libp{i:03}.so"))).unwrap();
    }
    let reg = sized_registry(sized_files.path(), "bench.sized_files", &args);
    let sized_files_warm = per_iter(ROUNDS, 5, || library_manager_sized_many(reg, &args));
    let plain_files = ExtensionManager::<DynamicObject>::builder("bench.sized_files")
        .static_registry(reg)
        .build()
        .unwrap();
    assert_eq!(plain_files.len(), PLUGINS);
    assert!(plain_files.extensions().iter().all(|e| e.obj().is_none()));
    drop(plain_files);
    let plain_files_warm = per_iter(ROUNDS, 20, || {
        plain_manager::<DynamicObject>("bench.sized_files", Some(reg))
    });
    let plain_static_warm = per_iter(ROUNDS, 20, || plain_manager::<Obj>("bench.static", None));

    let py = std::process::Command::new(oslo_tests::python())
        .arg("-c")
        .arg(PYTHON)
        .arg(PLUGINS.to_string())
        .arg(ROUNDS.to_string())
        .arg("2")
        .output()
        .expect("run the reference Python");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let py: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    let py_cold = Duration::from_secs_f64(py["cold"].as_f64().unwrap());
    let py_warm = Duration::from_secs_f64(py["warm"].as_f64().unwrap());
    let py_driver = Duration::from_secs_f64(py["driver"].as_f64().unwrap());
    let py_plain = Duration::from_secs_f64(py["plain"].as_f64().unwrap());

    let ratio = |ours: Duration, theirs: Duration| theirs.as_secs_f64() / ours.as_secs_f64();
    println!(
        "stevedore: a manager over {PLUGINS} plugins, each invoked on load (steady state: best of {ROUNDS} rounds)"
    );
    println!("{:<46} {:>14} {:>14} {:>9}", "", "ours", "Python", "ratio");
    println!(
        "{:<46} {:>14} {:>14} {:>8.0}x",
        "compiled-in, steady state (per manager)",
        us(static_warm),
        us(py_warm),
        ratio(static_warm, py_warm)
    );
    println!(
        "{:<46} {:>14} {:>14} {:>8.0}x",
        "greeter plugin library, steady state",
        us(dynamic_warm),
        us(py_warm),
        ratio(dynamic_warm, py_warm)
    );
    println!(
        "{:<46} {:>14} {:>14} {:>8.0}x",
        "200 greeter plugin libraries, steady state",
        us(files_warm),
        us(py_warm),
        ratio(files_warm, py_warm)
    );
    println!(
        "{:<46} {:>14} {:>14} {:>8.0}x",
        "size-only plugin library, steady state",
        us(sized_warm),
        us(py_warm),
        ratio(sized_warm, py_warm)
    );
    println!(
        "{:<46} {:>14} {:>14} {:>8.0}x",
        "200 size-only plugin libraries, steady state",
        us(sized_files_warm),
        us(py_warm),
        ratio(sized_files_warm, py_warm)
    );
    println!(
        "without invoke_on_load (Python's default: each plugin found and its factory resolved, none called)"
    );
    for (what, ours) in [
        ("compiled-in, steady state", plain_static_warm),
        ("one plugin library, steady state", plain_library_warm),
        ("200 plugin libraries, steady state", plain_files_warm),
    ] {
        println!(
            "{:<46} {:>14} {:>14} {:>8.0}x",
            what,
            us(ours),
            us(py_plain),
            ratio(ours, py_plain)
        );
    }
    println!(
        "{:<46} {:>14} {:>14} {:>8.0}x",
        "DriverManager picking 1 of 200, steady state",
        us(driver_warm),
        us(py_driver),
        ratio(driver_warm, py_driver)
    );
    println!(
        "{:<46} {:>14} {:>14} {:>8.0}x",
        "compiled-in, first manager of the process",
        us(static_cold),
        us(py_cold),
        ratio(static_cold, py_cold)
    );
    println!(
        "{:<46} {:>14} {:>14} {:>8.0}x",
        "plugin library, first manager (dlopen+checks)",
        us(dynamic_cold),
        us(py_cold),
        ratio(dynamic_cold, py_cold)
    );
    println!(
        "{:<46} {:>14} {:>14} {:>8.0}x",
        "200 plugin libraries, first manager",
        us(files_cold),
        us(py_cold),
        ratio(files_cold, py_cold)
    );
}
