//! Through real sudo, as operators deploy it: the binary in a root-owned directory, a root-owned
//! `rootwrap.conf` and filter file, a sudoers drop-in that lets an unprivileged user run exactly
//! `oslo-rootwrap CONF *`, and that user running allowed and refused commands.
//!
//! Needs root (to install the pieces) and `OSLO_TEST_UNPRIVILEGED_USER` (the test script creates the user
//! `oslo-rw-test` and sets it). Without them the test says so and returns, unless
//! `OSLO_TEST_REQUIRE_SERVERS=1` (the test script's runs), where that is a failure.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN_DIR: &str = "/usr/local/libexec/oslo-rs-test";
const CONF_DIR: &str = "/etc/oslo-rs-test";
const SUDOERS: &str = "/etc/sudoers.d/oslo-rs-test";

/// Removes everything the test installed, even when it fails.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(SUDOERS);
        let _ = std::fs::remove_dir_all(BIN_DIR);
        let _ = std::fs::remove_dir_all(CONF_DIR);
    }
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mkdir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn user() -> Option<String> {
    let required = std::env::var("OSLO_TEST_REQUIRE_SERVERS").as_deref() == Ok("1");
    if !nix::unistd::geteuid().is_root() {
        assert!(
            !required,
            "the sudo test must run as root under the test script"
        );
        eprintln!("skipped: the sudo test installs a sudoers rule and needs root");
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

fn as_user(user: &str, args: &[&str]) -> Output {
    Command::new("runuser")
        .args(["-u", user, "--", "sudo", "-n"])
        .args(args)
        .current_dir("/")
        .output()
        .unwrap()
}

#[test]
fn allowed_and_refused_commands_through_real_sudo() {
    let Some(user) = user() else { return };
    let _cleanup = Installed;
    let bin_dir = PathBuf::from(BIN_DIR);
    let stubs = bin_dir.join("bin");
    let conf_dir = PathBuf::from(CONF_DIR);
    let filters_dir = conf_dir.join("rootwrap.d");
    for d in [&bin_dir, &stubs, &conf_dir, &filters_dir] {
        mkdir(d);
    }
    let exe = bin_dir.join("oslo-rootwrap");
    // The binary cargo built, or the build `OSLO_ROOTWRAP_TEST_BIN` names (as in tests/cli.rs).
    let built = std::env::var_os("OSLO_ROOTWRAP_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_oslo-rootwrap")));
    std::fs::copy(built, &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    write(
        &stubs.join("whoami-stub"),
        "#!/bin/sh\necho \"args: $* uid=$(id -u) sudo_user=${SUDO_USER:-none}\"\n",
        0o755,
    );
    write(&stubs.join("failing-stub"), "#!/bin/sh\nexit 42\n", 0o755);
    let conf = conf_dir.join("rootwrap.conf");
    write(
        &conf,
        &format!(
            "[DEFAULT]\nfilters_path={}\nexec_dirs={},/usr/bin,/bin\nuse_syslog=False\n",
            filters_dir.display(),
            stubs.display()
        ),
        0o644,
    );
    let filter_file = filters_dir.join("test.filters");
    write(
        &filter_file,
        "[Filters]\nnobody: RegExpFilter, whoami-stub, nobody, whoami-stub, as-nobody\n\
         whoami: CommandFilter, whoami-stub, root\nfailing: CommandFilter, failing-stub, root\n",
        0o644,
    );
    let daemon = bin_dir.join("oslo-rootwrap-daemon");
    std::fs::copy(env!("CARGO_BIN_EXE_oslo-rootwrap-daemon"), &daemon).unwrap();
    std::fs::set_permissions(&daemon, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rule = format!(
        "{user} ALL = (root) NOPASSWD: {} {} *\n{user} ALL = (root) NOPASSWD: {} {}\n",
        exe.display(),
        conf.display(),
        daemon.display(),
        conf.display()
    );
    let staged = PathBuf::from(format!("{SUDOERS}.tmp"));
    write(&staged, &rule, 0o440);
    let check = Command::new("visudo")
        .arg("-cf")
        .arg(&staged)
        .output()
        .unwrap();
    assert!(check.status.success(), "visudo refused the rule: {check:?}");
    std::fs::rename(&staged, SUDOERS).unwrap();

    let exe_s = exe.to_string_lossy().into_owned();
    let conf_s = conf.to_string_lossy().into_owned();

    // Allowed: runs as root, the caller's name known to sudo but not passed in the environment.
    let out = as_user(&user, &[&exe_s, &conf_s, "whoami-stub", "a", "b"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "args: a b uid=0 sudo_user=none\n"
    );

    // Allowed, as another user.
    let out = as_user(&user, &[&exe_s, &conf_s, "whoami-stub", "as-nobody"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("uid={}", nobody.uid)),
        "{out:?}"
    );

    // The command's own status.
    let out = as_user(&user, &[&exe_s, &conf_s, "failing-stub"]);
    assert_eq!(out.status.code(), Some(42), "{out:?}");

    // Refused: 99 and the original's message.
    let out = as_user(&user, &[&exe_s, &conf_s, "cat", "/etc/shadow"]);
    assert_eq!(out.status.code(), Some(99), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("{exe_s}: Unauthorized command: cat /etc/shadow (no filter matched)\n")
    );
    assert!(out.stdout.is_empty());

    // No command: 98.
    let out = as_user(&user, &[&exe_s, &conf_s]);
    // sudo's rule needs at least one word after the config (`*`), so sudo itself may refuse; either way
    // nothing runs.
    assert_ne!(out.status.code(), Some(0), "{out:?}");

    // A config the rule does not name: sudo refuses before we run.
    let out = as_user(&user, &[&exe_s, "/tmp/other.conf", "whoami-stub"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // A filter file the user can write: refused with 97, nothing runs.
    std::os::unix::fs::chown(
        &filter_file,
        nix::unistd::User::from_name(&user)
            .unwrap()
            .map(|u| u.uid.as_raw()),
        None,
    )
    .unwrap();
    let out = as_user(&user, &[&exe_s, &conf_s, "whoami-stub"]);
    assert_eq!(out.status.code(), Some(97), "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not owned by root"),
        "{out:?}"
    );
    std::os::unix::fs::chown(&filter_file, Some(0), None).unwrap();

    // A config writable by everyone: refused with 97.
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = as_user(&user, &[&exe_s, &conf_s, "whoami-stub"]);
    assert_eq!(out.status.code(), Some(97), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("writable by others"),
        "{out:?}"
    );
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();

    // A filter directory the user can write (they could add a filter file): refused.
    std::os::unix::fs::chown(
        &filters_dir,
        nix::unistd::User::from_name(&user)
            .unwrap()
            .map(|u| u.uid.as_raw()),
        None,
    )
    .unwrap();
    let out = as_user(&user, &[&exe_s, &conf_s, "whoami-stub"]);
    assert_eq!(out.status.code(), Some(97), "{out:?}");
    std::os::unix::fs::chown(&filters_dir, Some(0), None).unwrap();

    // And back to normal.
    let out = as_user(&user, &[&exe_s, &conf_s, "whoami-stub"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // The daemon, started through sudo by a `Client` running as the user: this test binary, copied where
    // the user can run it, in client mode (see `client_mode` below).
    let me = bin_dir.join("sudo-test-client");
    std::fs::copy(std::env::current_exe().unwrap(), &me).unwrap();
    std::fs::set_permissions(&me, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("runuser")
        .args(["-u", &user, "--"])
        .arg(&me)
        .args(["client_mode", "--exact", "--nocapture", "--test-threads=1"])
        .env(
            "OSLO_RW_SUDO_CLIENT",
            format!("{}\n{}", daemon.display(), conf.display()),
        )
        .current_dir("/")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the client as {user} failed: {out:?}");
    assert!(text.contains("allowed: 0 args: via-daemon uid=0"), "{text}");
    assert!(text.contains("refused: 99"), "{text}");
    assert!(text.contains("socket owner matches"), "{text}");
}

/// Runs only when the test above starts this binary as the unprivileged user: a `Client` that starts
/// the daemon through `sudo -n`, runs an allowed and a refused command, and checks that the daemon's
/// socket directory belongs to the user and is private.
#[test]
fn client_mode() {
    let Ok(spec) = std::env::var("OSLO_RW_SUDO_CLIENT") else {
        return;
    };
    let (daemon, conf) = spec.split_once('\n').unwrap();
    let client = oslo_rootwrap::Client::new(["sudo", "-n", daemon, conf]);
    let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    let out = client
        .execute(&words("whoami-stub via-daemon"), None)
        .unwrap();
    println!(
        "allowed: {} {}",
        out.code,
        String::from_utf8_lossy(&out.stdout).trim()
    );
    let out = client.execute(&words("cat /etc/shadow"), None).unwrap();
    println!("refused: {}", out.code);
    let me = nix::unistd::getuid().as_raw();
    let mine = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("rootwrap-"))
        .filter_map(|e| {
            use std::os::unix::fs::MetadataExt;
            let m = e.metadata().ok()?;
            (m.uid() == me && m.mode() & 0o777 == 0o700).then_some(e.path())
        })
        .count();
    if mine > 0 {
        println!("socket owner matches");
    }
    client.shutdown();
}
