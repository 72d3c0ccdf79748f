//! `KillFilter`: `kill [-SIGNAL] PID` of a process that runs a given executable.

use std::path::Path;

use super::{Context, Filter, basename};

/// The executable a process runs, from the kernel's `/proc/PID/exe` link: cut at a NUL, without the
/// ` (deleted)` suffix a replaced or removed executable gets.
///
/// The original falls back to the first word of `/proc/PID/cmdline` when that path is not a file, which
/// any process can set to anything; this reads the kernel's answer only.
fn program(pid: u32) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let link = link.to_str()?;
    let link = link.split('\0').next().unwrap_or(link);
    Some(link.strip_suffix(" (deleted)").unwrap_or(link).to_string())
}

/// A process id: ASCII digits only, not zero (the original's `int()` also takes signs, spaces and
/// non-ASCII digits).
fn parse_pid(word: &str) -> Option<u32> {
    if word.is_empty() || word.len() > 10 || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse().ok().filter(|&p| p > 0)
}

pub(crate) fn matches(filter: &Filter, userargs: &[String], ctx: Context<'_>) -> bool {
    if userargs.first().map(String::as_str) != Some("kill") {
        return false;
    }
    let Some((target, signals)) = filter.args.split_first() else {
        return false;
    };
    let pid_word = match userargs.len() {
        3 => {
            if !signals.contains(&userargs[1]) {
                return false;
            }
            &userargs[2]
        }
        2 => {
            if !signals.is_empty() {
                return false;
            }
            &userargs[1]
        }
        _ => return false,
    };
    let Some(pid) = parse_pid(pid_word) else {
        return false;
    };
    let Some(command) = program(pid) else {
        return false;
    };
    if command.is_empty() {
        return false;
    }
    if target.starts_with('/') {
        return *target == command;
    }
    // A bare name: the process's executable must have that name and live in one of `exec_dirs` (the
    // original trusts the caller's `PATH` here).
    let dir = Path::new(&command).parent();
    command.starts_with('/')
        && basename(&command) == target
        && dir.is_some_and(|d| ctx.exec_dirs.iter().any(|e| e == d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_plain_digits() {
        assert_eq!(parse_pid("12"), Some(12));
        for bad in ["", "+1", " 1", "1 ", "0", "-1", "١", "99999999999"] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
    }
}
