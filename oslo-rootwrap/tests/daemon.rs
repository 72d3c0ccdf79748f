//! The daemon and its client: the real `oslo-rootwrap-daemon` binary started by `Client`, commands with
//! standard input and output, refusals as statuses, the idle timeout and the restart after it, and the
//! private socket.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use oslo_rootwrap::protocol::{self, Reply, Request};
use oslo_rootwrap::{Client, Daemon, DaemonOptions, LoadOptions, Rootwrap};

const DAEMON: &str = env!("CARGO_BIN_EXE_oslo-rootwrap-daemon");

fn setup(extra_conf: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("rootwrap.d")).unwrap();
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::write(
        root.join("rootwrap.d/test.filters"),
        "[Filters]\nechoargs: CommandFilter, echoargs, root\nreader: CommandFilter, reader, root\n\
         selfkill: CommandFilter, selfkill, root\ngone: CommandFilter, notinstalled, root\n",
    )
    .unwrap();
    for (name, body) in [
        (
            "echoargs",
            "#!/bin/sh\necho \"args: $*\"\necho err >&2\nexit 5\n",
        ),
        (
            "reader",
            "#!/bin/sh\nwhile read l; do echo \"got $l\"; done\n",
        ),
        ("selfkill", "#!/bin/sh\nkill -KILL $$\n"),
    ] {
        let p = root.join("bin").join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let conf = root.join("rootwrap.conf");
    std::fs::write(
        &conf,
        format!(
            "[DEFAULT]\nfilters_path={0}/rootwrap.d\nexec_dirs={0}/bin\n{extra_conf}",
            root.display()
        ),
    )
    .unwrap();
    (dir, conf)
}

/// A daemon over the filters of `setup("")`, bound in its directory and not yet serving, with the idle
/// timeout `idle`.
fn bound_daemon(idle: Duration) -> (tempfile::TempDir, Daemon) {
    let (dir, conf) = setup("");
    let rootwrap = Rootwrap::load_with(&conf, LoadOptions::default()).unwrap();
    let daemon = Daemon::bind(
        rootwrap,
        DaemonOptions::default()
            .parent_dir(dir.path())
            .idle_timeout(idle),
    )
    .unwrap();
    (dir, daemon)
}

fn words(s: &str) -> Vec<String> {
    s.split(' ').map(String::from).collect()
}

#[test]
fn client_runs_commands_through_the_daemon() {
    let (_dir, conf) = setup("");
    let client = Client::new([DAEMON.to_string(), conf.to_string_lossy().into_owned()]);
    let out = client.execute(&words("echoargs a b"), None).unwrap();
    assert_eq!(out.code, 5);
    assert_eq!(out.stdout, b"args: a b\n");
    assert_eq!(out.stderr, b"err\n");
    assert!(client.is_running());

    let out = client
        .execute(&words("reader"), Some(b"one\ntwo\n"))
        .unwrap();
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, b"got one\ngot two\n");

    // Refusals are statuses, as in the original's daemon.
    let out = client.execute(&words("cat /etc/shadow"), None).unwrap();
    assert_eq!((out.code, out.stdout.len(), out.stderr.len()), (99, 0, 0));
    let out = client.execute(&words("notinstalled"), None).unwrap();
    assert_eq!(out.code, 96);

    // A signal death is minus the signal number, as in the original's daemon.
    let out = client.execute(&words("selfkill"), None).unwrap();
    assert_eq!(out.code, -9);

    client.shutdown();
    assert!(!client.is_running());
    // And it comes back on the next call.
    let out = client.execute(&words("echoargs again"), None).unwrap();
    assert_eq!(out.stdout, b"args: again\n");
}

#[test]
fn the_daemon_exits_when_idle_and_the_client_restarts_it() {
    let (_dir, conf) = setup("daemon_timeout = 1\n");
    let client = Client::new([DAEMON.to_string(), conf.to_string_lossy().into_owned()]);
    assert_eq!(client.execute(&words("echoargs 1"), None).unwrap().code, 5);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while client.is_running() {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon did not exit when idle"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = client.execute(&words("echoargs 2"), None).unwrap();
    assert_eq!(out.stdout, b"args: 2\n");
}

#[test]
fn a_bad_configuration_fails_the_spawn() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("rootwrap.conf");
    std::fs::write(&conf, "[DEFAULT]\nsyslog_log_level = verbose\n").unwrap();
    let client = Client::new([DAEMON.to_string(), conf.to_string_lossy().into_owned()]);
    let err = client.execute(&words("ls"), None).unwrap_err();
    assert!(err.to_string().contains("failed to spawn"), "{err}");
    let extra = std::process::Command::new(DAEMON)
        .args(["a", "b"])
        .output()
        .unwrap();
    assert_eq!(extra.status.code(), Some(98));
    assert!(String::from_utf8_lossy(&extra.stderr).ends_with(": Extra arguments to daemon\n"));
}

#[test]
fn the_socket_is_private_and_speaks_the_documented_protocol() {
    let (_dir, daemon) = bound_daemon(Duration::from_secs(30));
    let socket = daemon.socket_path().to_path_buf();
    let sock_mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    let dir_mode = std::fs::metadata(socket.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!((sock_mode, dir_mode), (0o600, 0o700));
    let server = std::thread::spawn(move || daemon.serve());

    let mut stream = UnixStream::connect(&socket).unwrap();
    // Two requests on one connection.
    for word in ["x", "y"] {
        let request = Request::Run {
            args: words(&format!("echoargs {word}")),
            stdin: None,
        };
        protocol::write_frame(&mut stream, &request.encode()).unwrap();
        let reply = Reply::decode(&protocol::read_frame(&mut stream).unwrap().unwrap()).unwrap();
        assert_eq!(reply.code, 5);
        assert_eq!(reply.stdout, format!("args: {word}\n").into_bytes());
    }
    // Garbage closes the connection without harming the daemon.
    protocol::write_frame(&mut stream, b"\x07garbage").unwrap();
    assert!(matches!(
        protocol::read_frame(&mut stream),
        Ok(None) | Err(_)
    ));

    let mut stream = UnixStream::connect(&socket).unwrap();
    protocol::write_frame(&mut stream, &Request::Shutdown.encode()).unwrap();
    let reply = Reply::decode(&protocol::read_frame(&mut stream).unwrap().unwrap()).unwrap();
    assert_eq!(reply.code, 0);
    server.join().unwrap().unwrap();
    assert!(
        !socket.parent().unwrap().exists(),
        "the socket directory is removed"
    );
}

#[test]
fn other_users_cannot_connect() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: connecting as another user needs root");
        return;
    }
    let (dir, conf) = setup("");
    // Make the directories reachable, so only the daemon's own checks stand in the way.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let rootwrap = Rootwrap::load_with(&conf, LoadOptions::default()).unwrap();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    // The daemon belongs to a caller that is neither root nor nobody.
    let daemon = Daemon::bind(
        rootwrap,
        DaemonOptions::default()
            .parent_dir(dir.path())
            .owner(4242, 4242)
            .idle_timeout(Duration::from_secs(30)),
    )
    .unwrap();
    let socket = daemon.socket_path().to_path_buf();
    let server = std::thread::spawn(move || daemon.serve());
    let probe = format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n    s.connect({:?})\nexcept OSError as e:\n    print('refused', e.errno); sys.exit(0)\nprint('connected')\n",
        socket.to_string_lossy()
    );
    let out = std::process::Command::new("runuser")
        .args(["-u", "nobody", "--", "python3", "-c", &probe])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("refused"),
        "nobody reached the socket: {text} {out:?}"
    );
    let _ = nobody;
    let mut stream = UnixStream::connect(&socket).unwrap();
    protocol::write_frame(&mut stream, &Request::Shutdown.encode()).unwrap();
    let _ = protocol::read_frame(&mut stream);
    server.join().unwrap().unwrap();
}

/// Our daemon and Python's, each started by its own client on the same configuration: the same status,
/// output and error output for allowed commands (with standard input, a failing command, a signal).
#[test]
fn same_results_as_pythons_daemon() {
    let venv_bin = match std::env::var_os("OSLO_PYTHON") {
        Some(p) => PathBuf::from(p)
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default(),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/venv/bin"),
    };
    let python = venv_bin.join("python");
    assert!(
        python.exists(),
        "the Python reference libraries are missing: run scripts/test.sh --setup"
    );
    let (_dir, conf) = setup("");
    let cases: Vec<(Vec<String>, Option<&[u8]>)> = vec![
        (words("echoargs a b"), None),
        (words("echoargs"), Some(b"ignored")),
        (words("reader"), Some(b"one\ntwo\n")),
        (words("reader"), None),
        (words("selfkill"), None),
    ];
    let script = r#"
import json, sys
from oslo_rootwrap import client
daemon, conf = sys.argv[1], sys.argv[2]
cases = json.load(sys.stdin)
c = client.Client([daemon, conf])
out = []
for args, stdin in cases:
    rc, o, e = c.execute(args, stdin)
    out.append([rc, o, e])
c._finalize()
print(json.dumps(out))
"#;
    let request: Vec<serde_json::Value> = cases
        .iter()
        .map(|(a, s)| serde_json::json!([a, s.map(|b| String::from_utf8_lossy(b).into_owned())]))
        .collect();
    let mut child = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(venv_bin.join("oslo-rootwrap-daemon"))
        .arg(&conf)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(&request).unwrap().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "Python's client failed: {out:?}");
    let python: Vec<(i32, String, String)> = serde_json::from_slice(&out.stdout).unwrap();

    let client = Client::new([DAEMON.to_string(), conf.to_string_lossy().into_owned()]);
    for ((args, stdin), py) in cases.iter().zip(python) {
        let ours = client.execute(args, *stdin).unwrap();
        let ours = (
            ours.code,
            String::from_utf8_lossy(&ours.stdout).into_owned(),
            String::from_utf8_lossy(&ours.stderr).into_owned(),
        );
        assert_eq!(ours, py, "{args:?}");
    }
}

/// Running as root, the daemon refuses to make its private directory where another user could swap it
/// for a link (a caller's `TMPDIR`); a root-owned sticky directory such as `/tmp` is fine.
#[test]
fn the_socket_directory_is_made_only_where_others_cannot_swap_it() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: the ownership checks apply to root only");
        return;
    }
    let (dir, conf) = setup("");
    let theirs = dir.path().join("caller-tmp");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(4242), Some(4242)).unwrap();
    let bind = |parent: &std::path::Path| {
        let rootwrap = Rootwrap::load_with(&conf, LoadOptions::default()).unwrap();
        Daemon::bind(
            rootwrap,
            DaemonOptions::default()
                .parent_dir(parent)
                .owner(4242, 4242),
        )
    };
    let err = bind(&theirs).unwrap_err();
    assert!(
        matches!(err, oslo_rootwrap::Error::Insecure { .. }),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0);
    let sticky = dir.path().join("sticky");
    std::fs::create_dir(&sticky).unwrap();
    std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let daemon = bind(&sticky).unwrap();
    assert!(daemon.socket_path().starts_with(&sticky));
}

/// A client that connects and then says nothing (or stops half-way through a frame) does not keep the
/// daemon alive past its idle timeout.
#[test]
fn a_silent_connection_does_not_keep_the_daemon_alive() {
    let (_dir, daemon) = bound_daemon(Duration::from_millis(300));
    let socket = daemon.socket_path().to_path_buf();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(daemon.serve());
    });
    let _silent = UnixStream::connect(&socket).unwrap();
    let mut partial = UnixStream::connect(&socket).unwrap();
    std::io::Write::write_all(&mut partial, &[0, 0, 0, 9, 1]).unwrap();
    let served = done_rx.recv_timeout(Duration::from_secs(10));
    assert!(
        matches!(served, Ok(Ok(()))),
        "the daemon still runs with idle connections open: {served:?}"
    );
    assert!(!socket.exists());
}

/// The daemon serves at most `MAX_CONNECTIONS` connections at once (each has a thread and up to a frame
/// of memory); one more is closed at once, and a place frees up when a connection ends.
#[test]
fn connections_beyond_the_limit_are_closed() {
    let (_dir, daemon) = bound_daemon(Duration::from_secs(30));
    let socket = daemon.socket_path().to_path_buf();
    let server = std::thread::spawn(move || daemon.serve());
    let run = |stream: &mut UnixStream| {
        let request = Request::Run {
            args: words("echoargs z"),
            stdin: None,
        };
        protocol::write_frame(stream, &request.encode())?;
        protocol::read_frame(stream)
    };
    let mut held: Vec<UnixStream> = (0..oslo_rootwrap::MAX_CONNECTIONS)
        .map(|_| UnixStream::connect(&socket).unwrap())
        .collect();
    // Every held connection is being served.
    for s in held.iter_mut().take(3) {
        assert!(matches!(run(s), Ok(Some(_))));
    }
    let mut extra = UnixStream::connect(&socket).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(
        !matches!(run(&mut extra), Ok(Some(_))),
        "a connection over the limit was served"
    );
    held.truncate(oslo_rootwrap::MAX_CONNECTIONS - 1);
    let mut served = false;
    for _ in 0..50 {
        let mut again = UnixStream::connect(&socket).unwrap();
        if matches!(run(&mut again), Ok(Some(_))) {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(served, "a freed place is used again");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let mut stop = UnixStream::connect(&socket).unwrap();
    protocol::write_frame(&mut stop, &Request::Shutdown.encode()).unwrap();
    let _ = protocol::read_frame(&mut stop);
    server.join().unwrap().unwrap();
}

/// A daemon that is bound but never serves (its caller could not be told the socket) leaves nothing
/// behind.
#[test]
fn a_daemon_dropped_before_serving_removes_its_directory() {
    let (dir, conf) = setup("");
    let rootwrap = Rootwrap::load_with(&conf, LoadOptions::default()).unwrap();
    let daemon = Daemon::bind(rootwrap, DaemonOptions::default().parent_dir(dir.path())).unwrap();
    let private = daemon.socket_path().parent().unwrap().to_path_buf();
    assert!(private.exists());
    drop(daemon);
    assert!(!private.exists());
}
