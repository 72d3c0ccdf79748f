//! The command-line front ends, as functions the binaries (and tests) call.
//!
//! `oslo-rootwrap CONFIG COMMAND [ARGS...]`: exit statuses and messages as the original's, messages on
//! standard error prefixed by the program name as invoked.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::error::Error;
use crate::{Filters, LoadOptions, RC_BADCONFIG, RC_NOCOMMAND, RC_UNAUTHORIZED, Rootwrap, logging};

fn lossy(s: &OsString) -> String {
    s.to_string_lossy().into_owned()
}

/// Prints the original's message for a configuration error and returns 97.
fn bad_config(execname: &str, config: &str, e: &Error) -> i32 {
    match e {
        Error::Value { message, .. } => {
            eprintln!("{execname}: Incorrect value in {config}: {message}");
        }
        other => {
            eprintln!("{execname}: Incorrect configuration file: {config}");
            eprintln!("{execname}: {other}");
        }
    }
    RC_BADCONFIG
}

/// Reads the config (after the ownership checks when running as root), installs the log sink it asks
/// for, then reads the filters (so that their warnings reach that sink).
fn load(execname: &str, config_path: &std::path::Path) -> Result<Rootwrap, Error> {
    let options = LoadOptions::default();
    let config = Rootwrap::load_config(config_path, options)?;
    logging::install(execname, &config);
    let filters = Filters::load(&config.filters_path, options)?;
    Ok(Rootwrap::from_parts(config, filters))
}

/// `oslo-rootwrap CONFIG COMMAND [ARGS...]` with `args` the whole `argv`; returns the exit status.
pub fn rootwrap_main(args: Vec<OsString>) -> i32 {
    let mut it = args.into_iter();
    let execname = it
        .next()
        .map(|s| lossy(&s))
        .unwrap_or_else(|| "oslo-rootwrap".to_string());
    let rest: Vec<OsString> = it.collect();
    if rest.len() < 2 {
        eprintln!("{execname}: No command specified");
        return RC_NOCOMMAND;
    }
    let config_arg = lossy(&rest[0]);
    let config_path = PathBuf::from(&rest[0]);
    let rootwrap = match load(&execname, &config_path) {
        Ok(r) => r,
        Err(e) => return bad_config(&execname, &config_arg, &e),
    };
    // Words that are not UTF-8 never match a filter.
    let userargs: Option<Vec<String>> = rest[1..]
        .iter()
        .map(|a| a.to_str().map(str::to_string))
        .collect();
    let Some(userargs) = userargs else {
        let shown: Vec<String> = rest[1..].iter().map(lossy).collect();
        eprintln!(
            "{execname}: Unauthorized command: {} (no filter matched)",
            shown.join(" ")
        );
        return RC_UNAUTHORIZED;
    };
    // The filters are never freed: the process ends when the command does, and freeing a few hundred
    // filters costs more than the rest of the matching. They hold memory only, no descriptors.
    let started = rootwrap.start(&userargs);
    std::mem::forget(rootwrap);
    match started.and_then(crate::exec::Started::wait) {
        Ok(code) => code,
        Err(e) => {
            match &e {
                Error::Unauthorized { .. } | Error::NotExecutable { .. } | Error::NoCommand => {
                    eprintln!("{execname}: {}", logging::original_wording(&e));
                }
                Error::Read { .. }
                | Error::Syntax { .. }
                | Error::Value { .. }
                | Error::Insecure { .. } => return bad_config(&execname, &config_arg, &e),
                other => eprintln!("{execname}: {other}"),
            }
            e.exit_code()
        }
    }
}

/// `oslo-rootwrap-daemon CONFIG` with `args` the whole `argv`: prints the socket path and a newline on
/// standard output, then serves until idle for `daemon_timeout` seconds; returns the exit status.
pub fn daemon_main(args: Vec<OsString>) -> i32 {
    let mut it = args.into_iter();
    let execname = it
        .next()
        .map(|s| lossy(&s))
        .unwrap_or_else(|| "oslo-rootwrap-daemon".to_string());
    let rest: Vec<OsString> = it.collect();
    if rest.len() != 1 {
        eprintln!("{execname}: Extra arguments to daemon");
        return RC_NOCOMMAND;
    }
    let config_arg = lossy(&rest[0]);
    let config_path = PathBuf::from(&rest[0]);
    let rootwrap = match load(&execname, &config_path) {
        Ok(r) => r,
        Err(e) => return bad_config(&execname, &config_arg, &e),
    };
    crate::exec::lower_nofile_limit(rootwrap.config().rlimit_nofile);
    let daemon = match crate::Daemon::bind(rootwrap, crate::DaemonOptions::default()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{execname}: {e}");
            return 1;
        }
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{}", daemon.socket_path().display())
            .and_then(|()| out.flush())
            .is_err()
        {
            return 1;
        }
    }
    match daemon.serve() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{execname}: {e}");
            1
        }
    }
}
