#![doc = include_str!("../README.md")]

mod config;
mod error;
mod exec;
pub mod filters;
mod ini;
mod pyregex;
mod trust;
mod wrapper;

pub mod cli;
mod client;
mod daemon;
pub mod logging;
pub mod protocol;

use std::path::{Path, PathBuf};

pub use client::Client;
pub use config::{DEFAULT_EXEC_DIRS, Facility, MAX_CONFIG_BYTES, RootwrapConfig};
pub use daemon::{Daemon, DaemonOptions, MAX_CONNECTIONS};
pub use error::{Error, Result};
pub use exec::{CapturedOutput, SIGNAL_BASE};
pub use filters::{Filter, FilterKind};
pub use wrapper::{
    Decision, Filters, LoadOptions, MAX_ARGS, MAX_ARGS_BYTES, MAX_FIELDS, MAX_FILTER_FILE_BYTES,
    MAX_FILTER_FILES, MAX_FILTERS,
};

/// Exit status when no filter allows the command.
pub const RC_UNAUTHORIZED: i32 = 99;
/// Exit status when no command was given.
pub const RC_NOCOMMAND: i32 = 98;
/// Exit status when the configuration cannot be used.
pub const RC_BADCONFIG: i32 = 97;
/// Exit status when a filter allows the command but its executable is missing.
pub const RC_NOEXECFOUND: i32 = 96;

/// A loaded configuration: `rootwrap.conf` and every filter it points at.
#[derive(Debug)]
pub struct Rootwrap {
    config: RootwrapConfig,
    filters: Filters,
}

impl Rootwrap {
    /// Loads `rootwrap.conf` and its filter files. When running as root, a config file, config
    /// directory, filter directory or filter file that a non-root user could have written is refused,
    /// and an `exec_dirs` directory such a user could write to (or that does not exist) is left out.
    pub fn load(config_path: &Path) -> Result<Rootwrap> {
        Rootwrap::load_with(config_path, LoadOptions::default())
    }

    /// As [`Rootwrap::load`], with explicit options.
    pub fn load_with(config_path: &Path, options: LoadOptions) -> Result<Rootwrap> {
        let config = Rootwrap::load_config(config_path, options)?;
        let filters = Filters::load(&config.filters_path, options)?;
        Ok(Rootwrap { config, filters })
    }

    /// Reads `rootwrap.conf` after the ownership checks the options ask for.
    pub(crate) fn load_config(config_path: &Path, options: LoadOptions) -> Result<RootwrapConfig> {
        let mut checked = trust::Checked::default();
        if options.checks_trust() {
            trust::check_trusted(config_path, &mut checked)?;
            trust::check_root_only(config_path)?;
            if let Some(dir) = config_path.parent().filter(|d| !d.as_os_str().is_empty()) {
                trust::check_root_only(dir)?;
            }
        }
        let mut config = RootwrapConfig::load(config_path)?;
        if options.checks_trust() {
            // Another user who can add to (or swap) an `exec_dirs` directory chooses what root runs.
            config
                .exec_dirs
                .retain(|dir| match trust::check_trusted(dir, &mut checked) {
                    Ok(()) => true,
                    Err(Error::Read { .. }) => false,
                    Err(e) => {
                        tracing::warn!(dir = %dir.display(), "ignoring an exec_dirs entry: {e}");
                        false
                    }
                });
        }
        Ok(config)
    }

    /// A configuration assembled in code.
    pub fn from_parts(config: RootwrapConfig, filters: Filters) -> Rootwrap {
        Rootwrap { config, filters }
    }

    /// The parsed `rootwrap.conf`.
    pub fn config(&self) -> &RootwrapConfig {
        &self.config
    }

    /// The loaded filters.
    pub fn filters(&self) -> &Filters {
        &self.filters
    }

    /// Decides whether the command line may run (see [`Filters::decide`]), and logs the refusal.
    pub fn decide(&self, userargs: &[String]) -> Result<Decision> {
        let result = self.filters.decide(userargs, &self.config.exec_dirs);
        match &result {
            Ok(_) => {}
            Err(e @ Error::Unauthorized { .. }) => {
                tracing::error!(target: "oslo_rootwrap::decision", "{}", logging::original_wording(e));
            }
            Err(e @ Error::NotExecutable { .. }) => {
                tracing::error!(target: "oslo_rootwrap::decision", "{}", logging::original_wording(e));
            }
            Err(_) => {}
        }
        result
    }

    /// Decides, then runs an allowed command with the caller's standard streams; returns its exit status
    /// ([`SIGNAL_BASE`] plus the signal when a signal killed it). Lowers the process's soft open-files
    /// limit to `rlimit_nofile` first, as the binary does, so the command inherits it.
    pub fn run(&self, userargs: &[String]) -> Result<i32> {
        self.start(userargs)?.wait()
    }

    /// [`Rootwrap::run`] up to the start of the command (the binary frees the configuration while the
    /// command runs, then waits).
    pub(crate) fn start(&self, userargs: &[String]) -> Result<exec::Started> {
        let decision = self.decide(userargs)?;
        log_execution(&decision);
        exec::lower_nofile_limit(self.config.rlimit_nofile);
        exec::start_inherited(&decision, &self.config.exec_dirs)
    }

    /// Decides, then runs an allowed command with `stdin` fed to it and its output captured (the daemon's
    /// way: a signal death is reported as minus the signal number).
    pub fn run_captured(
        &self,
        userargs: &[String],
        stdin: Option<&[u8]>,
    ) -> Result<CapturedOutput> {
        let decision = self.decide(userargs)?;
        log_execution(&decision);
        exec::run_captured(&decision, &self.config.exec_dirs, stdin)
    }

    /// The directories executables are looked up in.
    pub fn exec_dirs(&self) -> &[PathBuf] {
        &self.config.exec_dirs
    }
}

fn log_execution(decision: &Decision) {
    tracing::info!(
        target: "oslo_rootwrap::decision",
        filter = %decision.filter,
        run_as = %decision.run_as,
        "({} > {}) Executing {} (filter match = {})",
        logging::login_name(),
        logging::current_user_name(),
        logging::python_list(&decision.command),
        decision.filter
    );
}
