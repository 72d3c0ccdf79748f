//! Running an allowed command: no shell, a cleared environment, the filter's user.

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

use crate::error::{Error, Result};
use crate::wrapper::Decision;

/// Exit statuses of commands killed by a signal are this plus the signal number, as in the original.
pub const SIGNAL_BASE: i32 = 128;

/// The output of a command run with its standard streams captured (the daemon's way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedOutput {
    /// The exit status: the command's own, or minus the signal number that killed it.
    pub code: i32,
    /// What the command wrote to its standard output.
    pub stdout: Vec<u8>,
    /// What the command wrote to its standard error.
    pub stderr: Vec<u8>,
}

/// The `PATH` commands get: the `exec_dirs`, in order.
fn path_value(exec_dirs: &[PathBuf]) -> String {
    exec_dirs
        .iter()
        .filter_map(|d| d.to_str())
        .filter(|d| !d.contains(':'))
        .collect::<Vec<_>>()
        .join(":")
}

/// Builds the process for a decision: the executable and arguments as decided, no shell, an environment
/// of `PATH` (the `exec_dirs`) and the filter's variables only, and the filter's user with its own
/// primary group and no supplementary groups (the original changes the user id only and keeps root's
/// groups).
pub(crate) fn command(decision: &Decision, exec_dirs: &[PathBuf]) -> Result<Command> {
    let Some((program, args)) = decision.command.split_first() else {
        return Err(Error::NoCommand);
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", path_value(exec_dirs));
    for (k, v) in &decision.env {
        cmd.env(k, v);
    }
    if decision.run_as != "root" {
        let user = nix::unistd::User::from_name(&decision.run_as)
            .ok()
            .flatten()
            .ok_or_else(|| Error::UnknownUser {
                user: decision.run_as.clone(),
                filter: decision.filter.clone(),
            })?;
        if user.uid != nix::unistd::geteuid() {
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
    }
    Ok(cmd)
}

fn spawn_error(decision: &Decision, source: std::io::Error) -> Error {
    Error::Spawn {
        program: decision.command.first().cloned().unwrap_or_default(),
        source,
    }
}

/// The exit status a shell would see: the code, or [`SIGNAL_BASE`] plus the signal.
pub(crate) fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => SIGNAL_BASE + s,
        (None, None) => 1,
    }
}

/// A command started with the caller's standard streams, not yet waited for.
#[derive(Debug)]
pub(crate) struct Started {
    child: std::process::Child,
    program: String,
}

impl Started {
    /// Waits for the command and returns its exit status.
    pub(crate) fn wait(mut self) -> Result<i32> {
        let status = self.child.wait().map_err(|source| Error::Spawn {
            program: self.program,
            source,
        })?;
        Ok(exit_code(status))
    }
}

/// Starts the command with the caller's standard streams.
pub(crate) fn start_inherited(decision: &Decision, exec_dirs: &[PathBuf]) -> Result<Started> {
    let mut cmd = command(decision, exec_dirs)?;
    let child = cmd.spawn().map_err(|e| spawn_error(decision, e))?;
    Ok(Started {
        child,
        program: decision.command.first().cloned().unwrap_or_default(),
    })
}

/// Runs the command with `stdin` fed to it and its output captured.
pub(crate) fn run_captured(
    decision: &Decision,
    exec_dirs: &[PathBuf],
    stdin: Option<&[u8]>,
) -> Result<CapturedOutput> {
    let mut cmd = command(decision, exec_dirs)?;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| spawn_error(decision, e))?;
    let writer = match (child.stdin.take(), stdin) {
        (Some(mut pipe), Some(data)) => {
            let data = data.to_vec();
            Some(std::thread::spawn(move || {
                // A command that exits without reading all of its input is not an error.
                let _ = pipe.write_all(&data);
            }))
        }
        _ => None,
    };
    let out = child
        .wait_with_output()
        .map_err(|e| spawn_error(decision, e))?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    let code = match (out.status.code(), out.status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => -s,
        (None, None) => 1,
    };
    Ok(CapturedOutput {
        code,
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

/// Lowers the soft open-files limit to `limit` when it is higher (the hard limit is kept, so commands
/// may raise it again), as the original does.
pub(crate) fn lower_nofile_limit(limit: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft > limit
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, limit, hard);
    }
}
