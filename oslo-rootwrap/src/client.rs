//! The client of `oslo-rootwrap-daemon`: starts it through the root helper on first use, restarts it when
//! it has gone (idle timeout, crash), and runs commands through it.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::exec::CapturedOutput;
use crate::protocol::{self, Reply, Request};

/// A running daemon: its process (to reap) and its socket.
#[derive(Debug)]
struct Running {
    child: Child,
    socket: PathBuf,
}

/// Runs commands through a long-lived `oslo-rootwrap-daemon`, started with the command given (usually
/// `["sudo", "oslo-rootwrap-daemon", "/etc/<svc>/rootwrap.conf"]`).
///
/// The daemon is started on the first [`Client::execute`]; when it has exited (idle timeout, killed), the
/// next call starts a new one and retries once. Dropping the client asks the daemon to shut down.
#[derive(Debug)]
pub struct Client {
    command: Vec<String>,
    running: Mutex<Option<Running>>,
}

fn daemon_err(message: impl Into<String>, source: Option<std::io::Error>) -> Error {
    Error::Daemon {
        message: message.into(),
        source,
    }
}

impl Client {
    /// A client that starts the daemon with `command` (program first).
    pub fn new<S: Into<String>>(command: impl IntoIterator<Item = S>) -> Client {
        Client {
            command: command.into_iter().map(Into::into).collect(),
            running: Mutex::new(None),
        }
    }

    fn spawn(&self) -> Result<Running> {
        let (program, args) = self
            .command
            .split_first()
            .ok_or_else(|| daemon_err("no daemon command given", None))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| daemon_err(format!("cannot start `{program}`"), Some(e)))?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        let path = line.trim_end_matches('\n');
        if !matches!(read, Some(Ok(n)) if n > 0) || path.is_empty() {
            let status = child.wait().ok();
            return Err(daemon_err(
                format!("failed to spawn rootwrap process (exit status {status:?})"),
                None,
            ));
        }
        Ok(Running {
            child,
            socket: PathBuf::from(path),
        })
    }

    fn call(socket: &PathBuf, request: &Request) -> std::io::Result<Reply> {
        let mut stream = UnixStream::connect(socket)?;
        protocol::write_frame(&mut stream, &request.encode())?;
        let payload = protocol::read_frame(&mut stream)?
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        Reply::decode(&payload).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Runs `cmd` (the words after `rootwrap.conf`) through the daemon with `stdin` fed to it; returns its
    /// status and output. A refused command comes back as status 99 (96 when its executable is missing),
    /// not as an error; errors are about reaching the daemon.
    pub fn execute(&self, cmd: &[String], stdin: Option<&[u8]>) -> Result<CapturedOutput> {
        let request = Request::Run {
            args: cmd.to_vec(),
            stdin: stdin.map(<[u8]>::to_vec),
        };
        let mut guard = self
            .running
            .lock()
            .map_err(|_| daemon_err("the client's state is poisoned", None))?;
        for attempt in 0..2 {
            if guard.is_none() {
                *guard = Some(self.spawn()?);
            }
            let Some(running) = guard.as_mut() else {
                continue;
            };
            match Client::call(&running.socket, &request) {
                Ok(reply) => {
                    return Ok(CapturedOutput {
                        code: reply.code,
                        stdout: reply.stdout,
                        stderr: reply.stderr,
                    });
                }
                Err(e) => {
                    tracing::info!(error = %e, attempt, "rootwrap.client.restart");
                    if let Some(mut old) = guard.take() {
                        let _ = old.child.try_wait();
                    }
                    if attempt == 1 {
                        return Err(daemon_err("the daemon does not answer", Some(e)));
                    }
                }
            }
        }
        Err(daemon_err("the daemon does not answer", None))
    }

    /// Whether a daemon process is known to be running.
    pub fn is_running(&self) -> bool {
        self.running
            .lock()
            .ok()
            .and_then(|mut g| g.as_mut().map(|r| matches!(r.child.try_wait(), Ok(None))))
            .unwrap_or(false)
    }

    /// Asks the daemon to shut down and waits for it.
    pub fn shutdown(&self) {
        if let Ok(mut guard) = self.running.lock()
            && let Some(mut running) = guard.take()
        {
            let _ = Client::call(&running.socket, &Request::Shutdown);
            let _ = running.child.wait();
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown();
    }
}
