//! The `oslo-rootwrap` binary against Python's `oslo-rootwrap` binary: the same configuration and stub
//! executables in a temporary directory, the same command lines; exit statuses, standard output and
//! standard error (program name aside) must agree, except where our rules are documented as stricter.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::LazyLock;

/// Our binary: the one cargo built for these tests, or the one `OSLO_ROOTWRAP_TEST_BIN` names, to run them
/// against another build (such as the README's static musl one).
static OURS: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::var_os("OSLO_ROOTWRAP_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_oslo-rootwrap")))
});

fn python_rootwrap() -> PathBuf {
    let venv_bin = match std::env::var_os("OSLO_PYTHON") {
        Some(p) => PathBuf::from(p)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/venv/bin"),
    };
    let exe = venv_bin.join("oslo-rootwrap");
    assert!(
        exe.exists(),
        "Python's oslo-rootwrap is missing at {}: run scripts/test.sh --setup",
        exe.display()
    );
    exe
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    /// A config dir with `rootwrap.conf` (extra lines appended), `rootwrap.d/test.filters`, and `bin/`
    /// with stubs that print their name, arguments and chosen variables.
    fn new(filters: &str, extra_conf: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("rootwrap.d")).unwrap();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(root.join("rootwrap.d/test.filters"), filters).unwrap();
        std::fs::write(
            root.join("rootwrap.conf"),
            format!(
                "[DEFAULT]\nfilters_path={0}/rootwrap.d\nexec_dirs={0}/bin\n{extra_conf}",
                root.display()
            ),
        )
        .unwrap();
        for name in ["echoargs", "dnsmasq", "failing", "selfkill", "reader"] {
            let body = match name {
                "failing" => "#!/bin/sh\necho out; echo err >&2; exit 3\n".to_string(),
                "selfkill" => "#!/bin/sh\nkill -TERM $$\n".to_string(),
                "reader" => "#!/bin/sh\nread line; echo \"got $line\"\n".to_string(),
                _ => "#!/bin/sh\necho \"${0##*/} $*\"\necho \"CONFIG_FILE=${CONFIG_FILE:-unset} NETWORK_ID=${NETWORK_ID:-unset}\"\n".to_string(),
            };
            let p = root.join("bin").join(name);
            std::fs::write(&p, body).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Setup { dir }
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("rootwrap.conf")
    }

    fn run(&self, exe: &Path, args: &[&str]) -> Output {
        Command::new(exe)
            .arg(self.conf())
            .args(args)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }
}

/// Standard error with the program name (which differs) cut off each line.
fn stderr_of(out: &Output, exe: &Path) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    text.replace(&format!("{}: ", exe.display()), "PROG: ")
}

const FILTERS: &str = "[Filters]\n\
echoargs: CommandFilter, echoargs, root\n\
dnsmasq: EnvFilter, env, root, CONFIG_FILE=, NETWORK_ID=, dnsmasq\n\
failing: CommandFilter, failing, root\n\
selfkill: CommandFilter, selfkill, root\n\
gone: CommandFilter, notinstalled, root\n\
digits: RegExpFilter, echoargs, root, echoargs, \\d+\n\
unknown: SomethingFilter, x\n";

#[test]
fn same_status_and_output_as_python() {
    let setup = Setup::new(FILTERS, "");
    let py = python_rootwrap();
    let ours = OURS.clone();
    let cases: &[&[&str]] = &[
        &["echoargs", "a", "b c"],
        &[
            "env",
            "CONFIG_FILE=/etc/x",
            "NETWORK_ID=7",
            "dnsmasq",
            "--no-hosts",
        ],
        &["env", "CONFIG_FILE=/etc/x", "dnsmasq"],
        &["failing"],
        &["selfkill"],
        &["notinstalled"],
        &["cat", "/etc/shadow"],
        &["/tmp/echoargs"],
        &["sh", "-c", "id"],
    ];
    for args in cases {
        let a = setup.run(&py, args);
        let b = setup.run(&ours, args);
        assert_eq!(
            a.status.code(),
            b.status.code(),
            "exit status of {args:?}: python {a:?} ours {b:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&a.stdout),
            String::from_utf8_lossy(&b.stdout),
            "stdout of {args:?}"
        );
        assert_eq!(
            stderr_of(&a, &py),
            stderr_of(&b, &ours),
            "stderr of {args:?}"
        );
    }
}

#[test]
fn exit_codes_are_the_originals() {
    let setup = Setup::new(FILTERS, "");
    let ours = OURS.clone();
    assert_eq!(setup.run(&ours, &["echoargs"]).status.code(), Some(0));
    assert_eq!(setup.run(&ours, &["failing"]).status.code(), Some(3));
    assert_eq!(
        setup.run(&ours, &["selfkill"]).status.code(),
        Some(128 + 15)
    );
    assert_eq!(setup.run(&ours, &["nope"]).status.code(), Some(99));
    assert_eq!(setup.run(&ours, &["notinstalled"]).status.code(), Some(96));
    let no_command = Command::new(&*OURS).arg(setup.conf()).output().unwrap();
    assert_eq!(no_command.status.code(), Some(98));
    assert!(String::from_utf8_lossy(&no_command.stderr).ends_with(": No command specified\n"));
    let no_args = Command::new(&*OURS).output().unwrap();
    assert_eq!(no_args.status.code(), Some(98));
}

#[test]
fn configuration_errors_exit_97_as_python() {
    let py = python_rootwrap();
    let ours = OURS.clone();
    for extra in [
        "syslog_log_facility = user0\n",
        "syslog_log_level = verbose\n",
        "daemon_timeout = soon\n",
        "use_syslog = maybe\n",
        "exec_dirs = /bin\n",
    ] {
        let setup = Setup::new(FILTERS, extra);
        let a = setup.run(&py, &["echoargs"]);
        let b = setup.run(&ours, &["echoargs"]);
        assert_eq!(a.status.code(), Some(97), "python with {extra:?}: {a:?}");
        assert_eq!(b.status.code(), Some(97), "ours with {extra:?}: {b:?}");
        // Ours may add a line naming the file and line.
        let (a, b) = (stderr_of(&a, &py), stderr_of(&b, &ours));
        assert!(
            b.starts_with(&a),
            "stderr with {extra:?}: python {a:?} ours {b:?}"
        );
    }
    // A missing config file.
    let missing = Command::new(&*OURS)
        .args(["/nonexistent/rootwrap.conf", "ls"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(97));
    let text = String::from_utf8_lossy(&missing.stderr);
    assert!(
        text.contains("Incorrect configuration file: /nonexistent/rootwrap.conf"),
        "{text}"
    );
}

#[test]
fn a_broken_filter_file_is_a_configuration_error_with_its_line() {
    // Python exits 1 with a traceback here; we exit 97 and name the file and line.
    let setup = Setup::new(
        "[Filters]\nok: CommandFilter, echoargs, root\nthis line is wrong\n",
        "",
    );
    let out = setup.run(OURS.as_path(), &["echoargs"]);
    assert_eq!(out.status.code(), Some(97));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("test.filters:3:"), "{text}");
    let short = Setup::new("[Filters]\nk: KillFilter, root\n", "");
    let out = short.run(OURS.as_path(), &["kill", "1"]);
    assert_eq!(out.status.code(), Some(97));
    assert!(String::from_utf8_lossy(&out.stderr).contains("test.filters:2:"));
}

#[test]
fn the_command_gets_a_cleared_environment() {
    let setup = Setup::new(
        "[Filters]\nenv: CommandFilter, printenv, root\nenvf: EnvFilter, env, root, A=, printenv\n",
        "",
    );
    std::os::unix::fs::symlink("/usr/bin/printenv", setup.dir.path().join("bin/printenv")).unwrap();
    let out = Command::new(&*OURS)
        .arg(setup.conf())
        .arg("printenv")
        .env("SECRET", "leak")
        .env("LD_PRELOAD", "/tmp/x.so")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        format!("PATH={}\n", setup.dir.path().join("bin").display())
    );
    let out = Command::new(&*OURS)
        .arg(setup.conf())
        .args(["env", "A=1", "printenv"])
        .env("SECRET", "leak")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "A=1".to_string(),
            format!("PATH={}", setup.dir.path().join("bin").display())
        ]
    );
}

#[test]
fn stdin_reaches_the_command() {
    use std::io::Write;
    let setup = Setup::new("[Filters]\nreader: CommandFilter, reader, root\n", "");
    let mut child = Command::new(&*OURS)
        .arg(setup.conf())
        .arg("reader")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello\n");
}

#[test]
fn insecure_files_are_refused_when_running_as_root() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: the ownership checks apply only when running as root");
        return;
    }
    let setup = Setup::new(FILTERS, "");
    let filter_file = setup.dir.path().join("rootwrap.d/test.filters");
    std::fs::set_permissions(&filter_file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = setup.run(OURS.as_path(), &["echoargs"]);
    assert_eq!(out.status.code(), Some(97), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("writable by others"));
    std::fs::set_permissions(&filter_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        setup.run(OURS.as_path(), &["echoargs"]).status.code(),
        Some(0)
    );
    // Owned by another user.
    std::os::unix::fs::chown(setup.conf(), Some(65534), None).unwrap();
    let out = setup.run(OURS.as_path(), &["echoargs"]);
    assert_eq!(out.status.code(), Some(97));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not owned by root"));
}

#[test]
fn run_as_user_gets_its_own_ids_and_no_root_groups() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: switching users needs root");
        return;
    }
    let setup = Setup::new("[Filters]\nid: CommandFilter, id, nobody\n", "");
    std::os::unix::fs::symlink("/usr/bin/id", setup.dir.path().join("bin/id")).unwrap();
    let out = setup.run(OURS.as_path(), &["id"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    assert!(
        text.starts_with(&format!("uid={}(nobody) gid={}", nobody.uid, nobody.gid)),
        "{text}"
    );
    assert!(!text.contains("(root)"), "root's groups were kept: {text}");
}

#[test]
fn rlimit_nofile_lowers_the_commands_soft_limit_as_python_does() {
    let setup = Setup::new(
        "[Filters]\nlimit: CommandFilter, showlimit, root\n",
        "rlimit_nofile = 64\n",
    );
    let stub = setup.dir.path().join("bin/showlimit");
    std::fs::write(&stub, "#!/bin/sh\nulimit -n\n").unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let py = python_rootwrap();
    let ours = OURS.clone();
    let a = setup.run(&py, &["showlimit"]);
    let b = setup.run(&ours, &["showlimit"]);
    assert_eq!(
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
    let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap()
        .0;
    let expected = soft.min(64);
    assert_eq!(
        String::from_utf8_lossy(&b.stdout).trim(),
        expected.to_string()
    );
}

#[test]
fn words_that_are_not_utf8_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let setup = Setup::new(FILTERS, "");
    let out = Command::new(&*OURS)
        .arg(setup.conf())
        .arg("echoargs")
        .arg(std::ffi::OsStr::from_bytes(b"\xff\xfe"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(99));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unauthorized command: echoargs"));
}

/// Root-owned files are not enough when a non-root user can rename what leads to them: a directory on
/// the way that the user owns, or a link to a file in such a directory. Each is refused with 97.
#[test]
fn files_reached_through_a_directory_others_control_are_refused_when_running_as_root() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: the ownership checks apply only when running as root");
        return;
    }
    let expect_refused = |setup: &Setup, conf: &Path, why: &str| {
        let out = Command::new(&*OURS)
            .arg(conf)
            .arg("echoargs")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(97), "{why}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not owned by root"),
            "{why}: {out:?}"
        );
        let _ = setup;
    };
    // The config: a root-owned link to a root-owned file in a directory the user owns.
    let setup = Setup::new(FILTERS, "");
    let theirs = setup.dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::rename(setup.conf(), theirs.join("rootwrap.conf")).unwrap();
    std::os::unix::fs::symlink(theirs.join("rootwrap.conf"), setup.conf()).unwrap();
    assert_eq!(
        setup.run(OURS.as_path(), &["echoargs"]).status.code(),
        Some(0)
    );
    std::os::unix::fs::chown(&theirs, Some(4242), Some(4242)).unwrap();
    expect_refused(
        &setup,
        &setup.conf(),
        "config linked into a user's directory",
    );

    // A filter file linked the same way.
    let setup = Setup::new("", "");
    let theirs = setup.dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("real.filters"), FILTERS).unwrap();
    let link = setup.dir.path().join("rootwrap.d/test.filters");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(theirs.join("real.filters"), &link).unwrap();
    assert_eq!(
        setup.run(OURS.as_path(), &["echoargs"]).status.code(),
        Some(0)
    );
    std::os::unix::fs::chown(&theirs, Some(4242), Some(4242)).unwrap();
    expect_refused(
        &setup,
        &setup.conf(),
        "filter file linked into a user's directory",
    );

    // The config and the filter directory inside a root-owned directory that sits in a user's one.
    let outer = tempfile::tempdir().unwrap();
    let setup = Setup::new(FILTERS, "");
    let inner = outer.path().join("user/etc");
    std::fs::create_dir_all(inner.parent().unwrap()).unwrap();
    std::fs::rename(setup.dir.path(), &inner).unwrap();
    let conf = inner.join("rootwrap.conf");
    let text = std::fs::read_to_string(&conf).unwrap().replace(
        &*setup.dir.path().to_string_lossy(),
        &inner.to_string_lossy(),
    );
    std::fs::write(&conf, text).unwrap();
    std::os::unix::fs::chown(inner.parent().unwrap(), Some(4242), Some(4242)).unwrap();
    expect_refused(&setup, &conf, "config under a user's directory");
    // Only the filter directory is under the user's directory.
    let conf2 = outer.path().join("rootwrap.conf");
    std::fs::copy(&conf, &conf2).unwrap();
    expect_refused(&setup, &conf2, "filter directory under a user's directory");
    std::os::unix::fs::chown(inner.parent().unwrap(), Some(0), Some(0)).unwrap();
    let ok = Command::new(&*OURS)
        .arg(&conf2)
        .arg("echoargs")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
}

/// An `exec_dirs` entry another user can write to (or swap) would let that user choose what root runs:
/// running as root, such a directory is left out of the lookup and of the command's `PATH`.
#[test]
fn exec_dirs_others_control_are_not_searched_when_running_as_root() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: the ownership checks apply only when running as root");
        return;
    }
    let setup = Setup::new(FILTERS, "");
    assert_eq!(
        setup.run(OURS.as_path(), &["echoargs"]).status.code(),
        Some(0)
    );
    let bin = setup.dir.path().join("bin");
    std::os::unix::fs::chown(&bin, Some(4242), Some(4242)).unwrap();
    let out = setup.run(OURS.as_path(), &["echoargs"]);
    assert_eq!(out.status.code(), Some(96), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    std::os::unix::fs::chown(&bin, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = setup.run(OURS.as_path(), &["echoargs"]);
    assert_eq!(out.status.code(), Some(96), "{out:?}");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        setup.run(OURS.as_path(), &["echoargs"]).status.code(),
        Some(0)
    );
}

/// A filter directory named through a root-owned link: the files in it are judged by their real paths
/// and their own modes, whether they are plain files or links themselves.
#[test]
fn files_in_a_filter_directory_reached_through_a_link_are_checked_when_running_as_root() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: the ownership checks apply only when running as root");
        return;
    }
    let setup = Setup::new(FILTERS, "");
    let named = setup.dir.path().join("rootwrap.d");
    let real = setup.dir.path().join("real.d");
    std::fs::rename(&named, &real).unwrap();
    std::os::unix::fs::symlink(&real, &named).unwrap();
    assert_eq!(
        setup.run(OURS.as_path(), &["echoargs"]).status.code(),
        Some(0)
    );

    let file = real.join("test.filters");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = setup.run(OURS.as_path(), &["echoargs"]);
    assert_eq!(out.status.code(), Some(97), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("writable by others"), "{err}");
    assert!(
        err.contains(&*file.to_string_lossy()),
        "the real path: {err}"
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();

    // The file a link to one in a directory a user owns.
    let theirs = setup.dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::rename(&file, theirs.join("real.filters")).unwrap();
    std::os::unix::fs::symlink(theirs.join("real.filters"), &file).unwrap();
    assert_eq!(
        setup.run(OURS.as_path(), &["echoargs"]).status.code(),
        Some(0)
    );
    std::os::unix::fs::chown(&theirs, Some(4242), Some(4242)).unwrap();
    let out = setup.run(OURS.as_path(), &["echoargs"]);
    assert_eq!(out.status.code(), Some(97), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not owned by root"));
}
