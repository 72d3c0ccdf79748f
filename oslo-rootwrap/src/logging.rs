//! The binaries' log sink: syslog (`/dev/log`) when `use_syslog` is set, otherwise warnings on standard
//! error, as the original's logging setup behaves.
//!
//! The library emits `tracing` events; [`RootwrapSubscriber`] is the small subscriber the binaries
//! install. Syslog datagrams have the original's shape: `<PRI>oslo-rootwrap: message` and a NUL.

use std::fmt::Write as _;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::config::{Facility, RootwrapConfig};
use crate::error::Error;

/// The Python logging level number of a `tracing` level.
fn python_level(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        _ => 5,
    }
}

/// The syslog severity of a Python logging level number.
fn severity(level: u8) -> u8 {
    match level {
        50.. => 2,
        40..=49 => 3,
        30..=39 => 4,
        20..=29 => 6,
        _ => 7,
    }
}

/// A connection to the local syslog socket.
#[derive(Debug)]
pub struct Syslog {
    socket: Mutex<UnixDatagram>,
    facility: Facility,
    ident: String,
}

impl Syslog {
    /// Connects to `/dev/log`.
    pub fn connect(ident: &str, facility: Facility) -> std::io::Result<Syslog> {
        Syslog::connect_to("/dev/log", ident, facility)
    }

    /// Connects to a syslog datagram socket at `path`.
    pub fn connect_to(path: &str, ident: &str, facility: Facility) -> std::io::Result<Syslog> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        Ok(Syslog {
            socket: Mutex::new(socket),
            facility,
            ident: ident.to_string(),
        })
    }

    /// Sends one message at a Python logging level.
    pub fn send(&self, level: u8, message: &str) {
        let pri = u32::from(self.facility.0) * 8 + u32::from(severity(level));
        let line = format!("<{pri}>{}: {message}\0", self.ident);
        if let Ok(sock) = self.socket.lock() {
            // Logging must never stop the command.
            let _ = sock.send(line.as_bytes());
        }
    }
}

/// The `tracing` subscriber of the binaries.
#[derive(Debug)]
pub struct RootwrapSubscriber {
    syslog: Option<Syslog>,
    level: u8,
}

impl RootwrapSubscriber {
    /// Warnings and worse to standard error (the original's behaviour without syslog).
    pub fn stderr() -> RootwrapSubscriber {
        RootwrapSubscriber {
            syslog: None,
            level: 30,
        }
    }

    /// Events at `level` (a Python level number) and worse to syslog.
    pub fn syslog(syslog: Syslog, level: u8) -> RootwrapSubscriber {
        RootwrapSubscriber {
            syslog: Some(syslog),
            level,
        }
    }
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
}

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        }
    }
}

impl Subscriber for RootwrapSubscriber {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let level = python_level(metadata.level());
        match self.syslog {
            Some(_) => level >= self.level,
            // Without syslog the original has no handler: only warnings reach standard error (errors
            // are printed by the binary itself).
            None => level == 30,
        }
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let level = python_level(event.metadata().level());
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        match &self.syslog {
            Some(s) => s.send(level, &visitor.message),
            None => eprintln!("{}", visitor.message),
        }
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// Installs the subscriber the configuration asks for, as the process-wide default. `execname` is the
/// binary's `argv[0]`; its base name prefixes syslog lines.
pub fn install(execname: &str, config: &RootwrapConfig) {
    let subscriber = if config.use_syslog {
        let ident = crate::filters::basename(execname);
        match Syslog::connect(ident, config.syslog_log_facility) {
            Ok(s) => RootwrapSubscriber::syslog(s, config.syslog_log_level),
            Err(_) => {
                eprintln!(
                    "Unable to setup syslog, maybe /dev/log socket needs to be restarted. Ignoring \
                     syslog configuration options."
                );
                RootwrapSubscriber::stderr()
            }
        }
    } else {
        RootwrapSubscriber::stderr()
    };
    // A second installation (tests calling the CLI twice) keeps the first.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The name of the user who called: `SUDO_USER`, else `USER`, `USERNAME` or `LOGNAME`.
pub fn login_name() -> String {
    ["SUDO_USER", "USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "None".to_string())
}

/// The name of the user the process runs as.
pub fn current_user_name() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

/// A list of strings as Python prints one: `['/bin/ls', '-l']`.
pub fn python_list(words: &[String]) -> String {
    let items: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect();
    format!("[{}]", items.join(", "))
}

/// The message the original prints (and logs) for a refusal, without the program name.
pub fn original_wording(e: &Error) -> String {
    match e {
        Error::Unauthorized { command } => {
            format!("Unauthorized command: {command} (no filter matched)")
        }
        Error::NotExecutable { exec_path, filter } => {
            format!("Executable not found: {exec_path} (filter match = {filter})")
        }
        Error::NoCommand => "No command specified".to_string(),
        other => other.to_string(),
    }
}
