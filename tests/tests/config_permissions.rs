//! Config files the reading user may not open, against Python oslo.config, both run as an unprivileged
//! user (root reads every file, so the error cannot be seen as root).
//!
//! Ours is oslo-config's `service` example started as that user; Python's is oslo.config in the
//! reference interpreter, which imports as root and then drops to that user before parsing, since the
//! interpreter may live where only root can read. Each case gives both the same files and arguments and
//! compares what they print: the `ConfigFilesPermissionDeniedError` message (the same words on both
//! sides), or the value the files gave.
//!
//! Needs root and `OSLO_TEST_UNPRIVILEGED_USER` (the test script creates `oslo-rw-test` and sets it).
//! Without them the test says so and returns, unless `OSLO_TEST_REQUIRE_SERVERS=1` (the test script's
//! runs), where that is a failure.
#![cfg(feature = "config")]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use oslo_tests::{build_example, run_python_json};

/// The reference side: the same options as the `service` example, parsed as `user` with no default
/// files or directories (the example finds none on a test machine: its user has no home).
const PYTHON: &str = r#"
import json, os, pwd, sys
from oslo_config import cfg
req = json.load(sys.stdin)
pw = pwd.getpwnam(req["user"])
os.chdir(req["cwd"])
os.setgroups([])
os.setgid(pw.pw_gid)
os.setuid(pw.pw_uid)
conf = cfg.ConfigOpts()
conf.register_opts([cfg.IntOpt("workers", min=1, default=1),
                    cfg.StrOpt("state_path", default="/var/lib/app")])
conf.register_cli_opt(cfg.BoolOpt("debug", short="d"))
out = []
for args in req["cases"]:
    try:
        conf.clear()
        conf(args, project="app", version="1.0", default_config_files=[], default_config_dirs=[])
        out.append({"kind": None, "text": "workers = %d" % conf.workers})
    except cfg.Error as e:
        out.append({"kind": type(e).__name__, "text": str(e)})
    conf.reset()
print(json.dumps(out))
"#;

fn user() -> Option<String> {
    let required = std::env::var("OSLO_TEST_REQUIRE_SERVERS").as_deref() == Ok("1");
    // `/proc/self` belongs to the effective user of the process looking at it.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        assert!(
            !required,
            "the permission test must run as root under the test script"
        );
        eprintln!("skipped: making files another user cannot read needs root");
        return None;
    }
    match std::env::var("OSLO_TEST_UNPRIVILEGED_USER") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(!required, "OSLO_TEST_UNPRIVILEGED_USER is not set");
            eprintln!(
                "skipped: OSLO_TEST_UNPRIVILEGED_USER is not set (run through scripts/test.sh)"
            );
            None
        }
    }
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mkdir(path: &Path, mode: u32) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// What our example prints for `args`, as the user, in the shape the Python side prints.
fn ours(example: &Path, user: &str, cwd: &Path, args: &[&str]) -> String {
    let out = Command::new("runuser")
        .args(["-u", user, "--"])
        .arg(example)
        .args(args)
        .current_dir(cwd)
        .env_remove("OS_DEFAULT__WORKERS")
        .output()
        .expect("run the example through runuser");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        let line = stdout
            .lines()
            .find(|l| l.starts_with("DEFAULT.workers = "))
            .unwrap_or_else(|| panic!("no workers line in:\n{stdout}"));
        let value = line["DEFAULT.workers = ".len()..]
            .split_whitespace()
            .next()
            .unwrap_or_default();
        format!("workers = {value}")
    } else {
        stderr.trim().to_string()
    }
}

#[test]
fn unreadable_config_files_as_python() {
    let Some(user) = user() else { return };
    let example = build_example("oslo-config", &[], "service");
    // The example must be reachable by the user: copy it next to the files.
    let dir = tempfile::Builder::new()
        .prefix("oslo-cfg-perm")
        .tempdir_in("/tmp")
        .unwrap();
    let root = dir.path();
    mkdir(root, 0o755);
    let exe = root.join("service");
    std::fs::copy(&example, &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();

    let body = "[DEFAULT]\nworkers = 3\n";
    write(&root.join("ok.conf"), body, 0o644);
    write(&root.join("bad.conf"), body, 0o000);
    write(&root.join("bad2.conf"), "[DEFAULT]\nworkers = 4\n", 0o000);
    // A config dir with one readable and one unreadable file.
    mkdir(&root.join("d"), 0o755);
    write(&root.join("d/a.conf"), body, 0o644);
    write(&root.join("d/b.conf"), body, 0o000);
    // A directory the user may not enter, and one the user may enter but not list.
    mkdir(&root.join("locked"), 0o755);
    write(
        &root.join("locked/x.conf"),
        "[DEFAULT]\nworkers = 5\n",
        0o644,
    );
    std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o700)).unwrap();
    mkdir(&root.join("nolist"), 0o755);
    write(
        &root.join("nolist/y.conf"),
        "[DEFAULT]\nworkers = 6\n",
        0o644,
    );
    std::fs::set_permissions(root.join("nolist"), std::fs::Permissions::from_mode(0o711)).unwrap();

    let cases: Vec<Vec<&str>> = vec![
        vec!["--config-file", "ok.conf"],
        vec!["--config-file", "bad.conf"],
        vec![
            "--config-file",
            "ok.conf",
            "--config-file",
            "bad.conf",
            "--config-file",
            "bad2.conf",
        ],
        vec!["--config-file", "bad2.conf", "--config-file", "nosuch.conf"],
        vec!["--config-dir", "d"],
        vec!["--config-file", "locked/x.conf"],
        vec!["--config-dir", "locked"],
        vec!["--config-dir", "nolist"],
        vec!["--config-file", "nolist/y.conf"],
        vec!["--config-file=bad.conf", "--config-dir", "d"],
    ];
    let request = serde_json::json!({
        "user": user,
        "cwd": root,
        "cases": cases,
    });
    let python = run_python_json(PYTHON, &request.to_string());
    let python = python.as_array().expect("a list of answers");
    assert_eq!(python.len(), cases.len());
    let mut denied = 0;
    for (args, theirs) in cases.iter().zip(python) {
        let mine = ours(&exe, &user, root, args);
        let text = theirs["text"].as_str().unwrap_or_default();
        assert_eq!(mine, text, "for {args:?}");
        if theirs["kind"] == "ConfigFilesPermissionDeniedError" {
            assert!(mine.starts_with("Failed to open some config files: "));
            denied += 1;
        }
    }
    // The cases above exercise the error, not only the readable paths.
    assert_eq!(denied, 5, "Python refused {denied} of the cases");
}
