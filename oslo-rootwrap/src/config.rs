//! `rootwrap.conf`: where the filter files are, where executables may come from, and logging.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ini::{DEFAULT_SECTION, Ini};
use crate::trust;

/// The largest `rootwrap.conf` accepted.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// Where executables are looked up when `exec_dirs` is not set. The original uses the caller's `PATH`
/// instead; this is the `secure_path` Debian's sudo sets.
pub const DEFAULT_EXEC_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// A syslog facility, by its number (`LOG_AUTH` is 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(pub u8);

impl Facility {
    /// The facility of a `syslog_log_facility` value: a `LOG_*` constant name (`LOG_AUTH`) or a lower-case
    /// facility name (`auth`, `local0`).
    pub fn from_name(name: &str) -> Option<Facility> {
        const NAMES: [(&str, u8); 24] = [
            ("kern", 0),
            ("user", 1),
            ("mail", 2),
            ("daemon", 3),
            ("auth", 4),
            ("syslog", 5),
            ("lpr", 6),
            ("news", 7),
            ("uucp", 8),
            ("cron", 9),
            ("authpriv", 10),
            ("ftp", 11),
            ("ntp", 12),
            ("security", 13),
            ("console", 14),
            ("solaris-cron", 15),
            ("local0", 16),
            ("local1", 17),
            ("local2", 18),
            ("local3", 19),
            ("local4", 20),
            ("local5", 21),
            ("local6", 22),
            ("local7", 23),
        ];
        if let Some(constant) = name.strip_prefix("LOG_") {
            let lower = constant.to_ascii_lowercase();
            if lower == "solaris-cron" || lower.contains('-') {
                return None;
            }
            let lower = if lower == "solcron" {
                "solaris-cron".to_string()
            } else {
                lower
            };
            return NAMES
                .iter()
                .find(|(n, _)| *n == lower)
                .map(|(_, v)| Facility(*v));
        }
        NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| Facility(*v))
    }
}

/// The parsed `rootwrap.conf` (every key in `[DEFAULT]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RootwrapConfig {
    /// `filters_path`: the directories of filter files, comma-separated. Entries that are not absolute
    /// are ignored (the original ignores those that are not directories).
    pub filters_path: Vec<PathBuf>,
    /// `exec_dirs`: the directories executables of relative filters are looked up in, in order; only
    /// absolute entries count. Defaults to [`DEFAULT_EXEC_DIRS`].
    pub exec_dirs: Vec<PathBuf>,
    /// `use_syslog`: log every decision to syslog (`/dev/log`).
    pub use_syslog: bool,
    /// `syslog_log_facility`: default `LOG_SYSLOG`.
    pub syslog_log_facility: Facility,
    /// `syslog_log_level` as a Python logging level number (`ERROR` = 40, the default; `INFO` = 20).
    pub syslog_log_level: u8,
    /// `daemon_timeout`: seconds the daemon waits idle before it exits (default 600).
    pub daemon_timeout: u64,
    /// `rlimit_nofile`: the soft open-files limit the commands get when ours is higher (default 1024).
    pub rlimit_nofile: u64,
}

/// Python's `int()` on a config string: optional surrounding whitespace, sign, digits, `_` separators.
fn python_int(v: &str) -> Option<i128> {
    let t = v.trim_matches(crate::ini::py_space);
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let n: i128 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -n } else { n })
}

fn level_number(name: &str) -> Option<u8> {
    Some(match name.to_uppercase().as_str() {
        "CRITICAL" | "FATAL" => 50,
        "ERROR" => 40,
        "WARNING" | "WARN" => 30,
        "INFO" => 20,
        "DEBUG" => 10,
        "NOTSET" => 0,
        _ => return None,
    })
}

impl RootwrapConfig {
    /// Reads and parses a `rootwrap.conf`.
    pub fn load(path: &Path) -> Result<RootwrapConfig> {
        let text = trust::read_bounded(path, MAX_CONFIG_BYTES)?;
        RootwrapConfig::parse(&text, path)
    }

    /// Parses the text of a `rootwrap.conf`; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<RootwrapConfig> {
        let ini = Ini::parse(text, true).map_err(|e| Error::Syntax {
            path: path.to_path_buf(),
            line: e.line,
            message: e.message,
        })?;
        let get = |key: &str| ini.get(DEFAULT_SECTION, key).map(|e| e.value.as_ref());
        let value_err = |message: String| Error::Value {
            path: path.to_path_buf(),
            message,
        };
        let int = |v: &str| -> Result<i128> {
            python_int(v)
                .ok_or_else(|| value_err(format!("invalid literal for int() with base 10: '{v}'")))
        };
        let filters_path = get("filters_path").ok_or_else(|| Error::Syntax {
            path: path.to_path_buf(),
            line: 0,
            message: "no option `filters_path` in section `DEFAULT`".into(),
        })?;
        let absolute = |list: &str| -> Vec<PathBuf> {
            list.split(',')
                .filter(|s| s.starts_with('/'))
                .map(PathBuf::from)
                .collect()
        };
        let exec_dirs = match get("exec_dirs") {
            Some(v) => absolute(v),
            None => DEFAULT_EXEC_DIRS.iter().map(PathBuf::from).collect(),
        };
        let syslog_log_facility = match get("syslog_log_facility") {
            Some(v) => Facility::from_name(v)
                .ok_or_else(|| value_err(format!("Unexpected syslog_log_facility: {v}")))?,
            None => Facility(5),
        };
        let syslog_log_level = match get("syslog_log_level") {
            Some(v) => level_number(v)
                .ok_or_else(|| value_err(format!("Unexpected syslog_log_level: '{v}'")))?,
            None => 40,
        };
        let use_syslog = match get("use_syslog") {
            Some(v) => match v.to_lowercase().as_str() {
                "1" | "yes" | "true" | "on" => true,
                "0" | "no" | "false" | "off" => false,
                _ => return Err(value_err(format!("Not a boolean: {v}"))),
            },
            None => false,
        };
        let daemon_timeout = match get("daemon_timeout") {
            Some(v) => u64::try_from(int(v)?.max(0)).unwrap_or(u64::MAX),
            None => 600,
        };
        let rlimit_nofile = match get("rlimit_nofile") {
            Some(v) => {
                let n = int(v)?;
                u64::try_from(n)
                    .map_err(|_| value_err(format!("rlimit_nofile must not be negative: '{v}'")))?
            }
            None => 1024,
        };
        Ok(RootwrapConfig {
            filters_path: absolute(filters_path),
            exec_dirs,
            use_syslog,
            syslog_log_facility,
            syslog_log_level,
            daemon_timeout,
            rlimit_nofile,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_ints() {
        assert_eq!(python_int(" 12 "), Some(12));
        assert_eq!(python_int("1_000"), Some(1000));
        assert_eq!(python_int("-3"), Some(-3));
        assert_eq!(python_int("1.5"), None);
        assert_eq!(python_int("_1"), None);
    }

    #[test]
    fn facilities() {
        assert_eq!(Facility::from_name("LOG_AUTH"), Some(Facility(4)));
        assert_eq!(Facility::from_name("local7"), Some(Facility(23)));
        assert_eq!(Facility::from_name("user0"), None);
        assert_eq!(Facility::from_name("LOG_ERR"), None);
    }
}
