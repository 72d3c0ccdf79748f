//! Builds the test plugin library (`tests/plugins/greeter.rs`) with `rustc --crate-type cdylib`: shared by
//! stevedore's tests and the benchmark and demo of the `tests` crate (which include this file by path).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The plugin's source, from the stevedore crate's directory.
pub(crate) fn greeter_source(stevedore_dir: &Path) -> PathBuf {
    stevedore_dir.join("tests/plugins/greeter.rs")
}

/// Compiles `source` into `out_dir/lib<name>.so` with `--cfg` flags and compile-time environment, and
/// returns the library's path. Uses `$RUSTC` when set, else `rustc` from `PATH` (the toolchain that builds
/// the workspace). Panics with rustc's output if it fails: a test without its plugin cannot run.
pub(crate) fn build_plugin(
    source: &Path,
    out_dir: &Path,
    name: &str,
    cfgs: &[&str],
    env: &[(&str, &str)],
) -> PathBuf {
    let out = out_dir.join(format!("lib{name}.{}", std::env::consts::DLL_EXTENSION));
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut cmd = Command::new(rustc);
    cmd.args([
        "--edition",
        "2024",
        "--crate-type",
        "cdylib",
        "-C",
        "opt-level=1",
        // Without the standard library's debug information a library is ~450 KB instead of ~4.3 MB
        // (the benchmark copies one into 200 files).
        "-C",
        "strip=debuginfo",
    ])
    .arg("--crate-name")
    .arg(name)
    .arg("-o")
    .arg(&out)
    .arg(source);
    for cfg in cfgs {
        cmd.arg("--cfg").arg(cfg);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("run rustc to build the test plugin");
    assert!(
        output.status.success(),
        "rustc failed to build the plugin `{name}`:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}
