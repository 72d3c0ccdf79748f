//! Provenance: where a resolved value came from.

use std::fmt;
use std::path::PathBuf;

/// Where an option's value came from (oslo's `LocationInfo`, with the exact line or flag).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// The option's own default (`Locations.opt_default`).
    OptDefault,
    /// A default replaced through [`ConfigOpts::set_default`](crate::ConfigOpts::set_default).
    SetDefault,
    /// An override set through [`ConfigOpts::set_override`](crate::ConfigOpts::set_override).
    SetOverride,
    /// A config file (`Locations.user`), with the line of the key (the last line for a single value, the
    /// first contributing line for a multi-valued option).
    File {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the key.
        line: usize,
    },
    /// The command line.
    CommandLine {
        /// The flag as written on the command line (`--debug`, `-v`), or the positional argument's name.
        flag: String,
    },
    /// An environment variable (`OS_<GROUP>__<OPT>`).
    Environment {
        /// The variable's name.
        var: String,
    },
    /// A TOML layer (feature `toml`).
    Toml {
        /// The file.
        path: PathBuf,
    },
}

impl Location {
    /// oslo's `Locations` number: opt_default 1, set_default 2, set_override 3, user (files) 4,
    /// command_line 5, environment 6 (TOML layers count as files).
    pub fn oslo_code(&self) -> u8 {
        match self {
            Location::OptDefault => 1,
            Location::SetDefault => 2,
            Location::SetOverride => 3,
            Location::File { .. } | Location::Toml { .. } => 4,
            Location::CommandLine { .. } => 5,
            Location::Environment { .. } => 6,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::OptDefault => f.write_str("the default"),
            Location::SetDefault => f.write_str("set_default"),
            Location::SetOverride => f.write_str("set_override"),
            Location::File { path, line } => write!(f, "{}:{line}", path.display()),
            Location::CommandLine { flag } => write!(f, "command line `{flag}`"),
            Location::Environment { var } => write!(f, "environment variable `{var}`"),
            Location::Toml { path } => write!(f, "{}", path.display()),
        }
    }
}
