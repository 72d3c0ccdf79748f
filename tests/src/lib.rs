//! Shared support for the suite's cross-crate tests, the demo and the comparison benchmarks.
//!
//! The conformance tests compare our crates with the Python originals. [`python`] finds the interpreter of
//! the virtualenv that `scripts/test.sh` fills with the pinned Python libraries, and [`server_url`] reads the
//! addresses of the real servers the script starts on 127.0.0.1.

pub mod demo;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The root of the workspace checkout.
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// The Python interpreter that has the reference libraries installed.
///
/// `OSLO_PYTHON` wins; otherwise the virtualenv that `scripts/test.sh` creates under `target/venv`.
/// Panics with a message naming the fix when neither exists: a conformance test without its oracle must
/// fail, not pass silently.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("OSLO_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join("target/venv/bin/python");
    assert!(
        venv.exists(),
        "the Python reference libraries are missing: run `scripts/test.sh --setup` (or set OSLO_PYTHON)"
    );
    venv
}

/// A long-running reference-Python helper that prints one JSON document a line: the lines arrive on a
/// channel as it prints them; [`PythonProcess::finish`] closes its standard input (the helpers end on
/// that), and dropping it kills a helper still running.
#[derive(Debug)]
pub struct PythonProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl PythonProcess {
    /// Starts `cmd` (a reference-Python command line) with piped standard input and output.
    pub fn spawn(mut cmd: Command) -> PythonProcess {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the reference Python");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        PythonProcess { child, lines }
    }

    /// The next JSON line printed, within `secs`.
    pub fn next(&self, secs: u64) -> serde_json::Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(secs))
            .unwrap_or_else(|e| panic!("no line from the Python helper: {e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line `{line}`: {e}"))
    }

    /// Asserts that the helper prints nothing for half a second.
    pub fn quiet(&self) {
        if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            panic!("unexpected line from the Python helper: {l}");
        }
    }

    /// Writes `line` and a newline to the helper's standard input.
    pub fn send_line(&self, line: &str) {
        let mut stdin = self.child.stdin.as_ref().expect("piped stdin");
        writeln!(stdin, "{line}").expect("write to the Python helper");
        stdin.flush().expect("flush");
    }

    /// Closes the helper's standard input and waits for it to end.
    pub fn finish(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for PythonProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `script` with the reference Python, feeding `stdin`, and returns its standard output.
///
/// Panics with the script's standard error when it exits non-zero.
pub fn run_python(script: &str, stdin: &str) -> String {
    let mut child = Command::new(python())
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the reference Python");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write to the reference Python");
    let out = child
        .wait_with_output()
        .expect("wait for the reference Python");
    assert!(
        out.status.success(),
        "reference Python failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the reference Python printed UTF-8")
}

/// Runs `script` with the reference Python and parses its standard output as one JSON document.
pub fn run_python_json(script: &str, stdin: &str) -> serde_json::Value {
    let out = run_python(script, stdin);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("reference Python printed no JSON ({e}):\n{out}"))
}

/// The servers `scripts/test.sh` starts on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// RabbitMQ (`OSLO_TEST_RABBIT_URL`, an oslo `rabbit://` transport URL).
    Rabbit,
    /// PostgreSQL (`OSLO_TEST_POSTGRES_URL`, a `postgresql://` URL of a user that may create databases).
    Postgres,
    /// MariaDB (`OSLO_TEST_MYSQL_URL`, a `mysql://` URL of a user that may create databases).
    Mysql,
    /// Redis (`OSLO_TEST_REDIS_URL`, a `redis://` URL).
    Redis,
}

impl Server {
    fn var(self) -> &'static str {
        match self {
            Server::Rabbit => "OSLO_TEST_RABBIT_URL",
            Server::Postgres => "OSLO_TEST_POSTGRES_URL",
            Server::Mysql => "OSLO_TEST_MYSQL_URL",
            Server::Redis => "OSLO_TEST_REDIS_URL",
        }
    }
}

/// The URL of a server the test script started, or `None` when it was not started.
///
/// When `OSLO_TEST_REQUIRE_SERVERS=1` (the test script sets it) a missing server is a failure, so no
/// server-backed test is skipped in CI; outside the script, a test that gets `None` should return early
/// and say so on standard error.
pub fn server_url(server: Server) -> Option<String> {
    match std::env::var(server.var()) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("OSLO_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
                "{} is not set but OSLO_TEST_REQUIRE_SERVERS=1: the test script did not start the server",
                server.var()
            );
            eprintln!(
                "skipped: {} is not set (run through scripts/test.sh)",
                server.var()
            );
            None
        }
    }
}

/// Builds an example of a workspace package into the calling test's own target directory and returns the
/// path of its binary, for tests that run it as a separate process (kill it, restart it, run several).
///
/// `features` are passed to `cargo build --features` (none when empty). Panics when the build fails.
pub fn build_example(package: &str, features: &[&str], example: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // <target>/<profile>/deps/<test>-HASH → <target>/<profile> → <target>
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("profile dir")
        .to_owned();
    let target = profile_dir.parent().expect("target dir").to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-q", "-p", package, "--example", example]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    let status = cmd
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(workspace_root())
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "building the `{example}` example of `{package}` failed"
    );
    profile_dir.join("examples").join(example)
}

/// The lock file that every test using the RabbitMQ server takes: shared by ordinary tests
/// (`lock_shared`), exclusive by the fault tests that restart the broker (`lock`), so a restart never
/// happens under another test. oslo-messaging's own tests take the same file.
pub fn rabbit_lock_file() -> std::fs::File {
    std::fs::File::create(std::env::temp_dir().join("oslo-rs-rabbit-tests.lock"))
        .expect("lock file")
}
