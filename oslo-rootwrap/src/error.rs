//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while loading a configuration, matching a command or running it.
///
/// [`Error::exit_code`] maps each kind to the exit status the `oslo-rootwrap` binary reports, the same
/// numbers as the Python original (99 not allowed, 98 no command, 97 bad configuration, 96 executable not
/// found).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration or filter file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A configuration or filter file is not valid INI, or a filter line is malformed.
    #[error("{}", at_line(path, *line, message))]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The 1-based line the problem is on (0 when it is about the whole file).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A `rootwrap.conf` option has a value that cannot be used.
    #[error("incorrect value in `{path}`: {message}")]
    Value {
        /// The file.
        path: PathBuf,
        /// What is wrong, as the original words it (`Unexpected syslog_log_level: 'verbose'`).
        message: String,
    },
    /// A file or directory is not safe to trust while running as root.
    #[error("`{path}` is not safe to trust: {reason}")]
    Insecure {
        /// The file or directory.
        path: PathBuf,
        /// Why (for example `writable by group or others`).
        reason: String,
    },
    /// An input is over one of the crate's size limits.
    #[error("{what} is too large ({size} over the limit of {limit})")]
    TooLarge {
        /// What was too large.
        what: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The command line was empty.
    #[error("no command specified")]
    NoCommand,
    /// No filter allows the command.
    #[error("unauthorized command: `{command}` (no filter matched)")]
    Unauthorized {
        /// The refused command line, words joined by spaces.
        command: String,
    },
    /// A filter allows the command but its executable was not found in `exec_dirs`.
    #[error("executable not found: `{exec_path}` (filter match = `{filter}`)")]
    NotExecutable {
        /// The filter's executable, as written in the filter file.
        exec_path: String,
        /// The filter's name.
        filter: String,
    },
    /// The user a filter runs its command as does not exist.
    #[error("unknown user `{user}` (filter match = `{filter}`)")]
    UnknownUser {
        /// The user name.
        user: String,
        /// The filter's name.
        filter: String,
    },
    /// The command could not be started.
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        /// The executable.
        program: String,
        /// Why.
        source: io::Error,
    },
    /// The daemon or its client failed to talk to each other.
    #[error("rootwrap daemon: {message}")]
    Daemon {
        /// What went wrong.
        message: String,
        /// The I/O error behind it, if any.
        #[source]
        source: Option<io::Error>,
    },
}

impl Error {
    /// The exit status the `oslo-rootwrap` binary reports for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Unauthorized { .. } => crate::RC_UNAUTHORIZED,
            Error::NoCommand => crate::RC_NOCOMMAND,
            Error::NotExecutable { .. } => crate::RC_NOEXECFOUND,
            Error::Read { .. }
            | Error::Syntax { .. }
            | Error::Value { .. }
            | Error::Insecure { .. }
            | Error::TooLarge { .. }
            | Error::UnknownUser { .. } => crate::RC_BADCONFIG,
            Error::Spawn { .. } | Error::Daemon { .. } => 1,
        }
    }

    /// Whether trying again may succeed: only a daemon connection failure is.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Daemon { .. })
    }
}

/// `path:line: message`, or `path: message` for a problem of the whole file (line 0).
fn at_line(path: &std::path::Path, line: usize, message: &str) -> String {
    if line == 0 {
        format!("{}: {message}", path.display())
    } else {
        format!("{}:{line}: {message}", path.display())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
