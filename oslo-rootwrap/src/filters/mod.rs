//! The filter classes of filter files and how each matches a command line.
//!
//! One [`Filter`] is one line of a `[Filters]` section: `name: Class, field, field...`. The classes and
//! their fields are those of the Python original; [`FilterKind`] lists them. A filter answers three
//! questions about a command line (the words after `rootwrap.conf`): does it match, which executable runs
//! (found in `exec_dirs` only), and with which argument vector and environment.

mod chaining;
mod command;
mod env;
mod ip;
mod kill;
mod path;
mod regexp;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::pyregex::Pattern;

pub use path::realpath;

/// The class of a filter, as named in a filter file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilterKind {
    /// `CommandFilter, exec, run_as`: the command word only; any arguments.
    Command,
    /// `RegExpFilter, exec, run_as, pattern0, pattern1...`: one pattern per word, counts equal.
    RegExp,
    /// `PathFilter, exec, run_as, spec...`: `pass`, a literal, or a directory the real path must be in.
    Path,
    /// `EnvFilter, env, run_as, NAME=, ..., command`: exactly those leading variables, then the command.
    Env,
    /// `ReadFileFilter, file`: exactly `cat file`, run as `/bin/cat` by root.
    ReadFile,
    /// `KillFilter, run_as, target_exe, signal...`: `kill [-SIG] PID` of a process running `target_exe`.
    Kill,
    /// `IpFilter, exec, run_as`: `ip ...` except `ip netns exec`.
    Ip,
    /// `IpNetnsExecFilter, exec, run_as`: `ip netns exec NS cmd...`, `cmd...` allowed by another filter.
    IpNetnsExec,
    /// `ChainingFilter, exec, run_as`: the abstract base of chaining filters; never allows anything.
    Chaining,
    /// `ChainingRegExpFilter, exec, run_as, pattern...`: a regex-matched prefix, the rest allowed by another
    /// filter.
    ChainingRegExp,
}

impl FilterKind {
    /// The class name used in filter files.
    pub fn class_name(self) -> &'static str {
        match self {
            FilterKind::Command => "CommandFilter",
            FilterKind::RegExp => "RegExpFilter",
            FilterKind::Path => "PathFilter",
            FilterKind::Env => "EnvFilter",
            FilterKind::ReadFile => "ReadFileFilter",
            FilterKind::Kill => "KillFilter",
            FilterKind::Ip => "IpFilter",
            FilterKind::IpNetnsExec => "IpNetnsExecFilter",
            FilterKind::Chaining => "ChainingFilter",
            FilterKind::ChainingRegExp => "ChainingRegExpFilter",
        }
    }

    /// The class of a class name, `None` for an unknown one.
    pub fn from_class_name(name: &str) -> Option<FilterKind> {
        Some(match name {
            "CommandFilter" => FilterKind::Command,
            "RegExpFilter" => FilterKind::RegExp,
            "PathFilter" => FilterKind::Path,
            "EnvFilter" => FilterKind::Env,
            "ReadFileFilter" => FilterKind::ReadFile,
            "KillFilter" => FilterKind::Kill,
            "IpFilter" => FilterKind::Ip,
            "IpNetnsExecFilter" => FilterKind::IpNetnsExec,
            "ChainingFilter" => FilterKind::Chaining,
            "ChainingRegExpFilter" => FilterKind::ChainingRegExp,
            _ => return None,
        })
    }

    /// Whether the filter hands the rest of the command line to another filter.
    pub fn is_chaining(self) -> bool {
        matches!(
            self,
            FilterKind::IpNetnsExec | FilterKind::Chaining | FilterKind::ChainingRegExp
        )
    }

    /// How many fields the class needs at least.
    pub(crate) fn min_fields(self) -> usize {
        match self {
            FilterKind::ReadFile => 1,
            _ => 2,
        }
    }
}

/// One filter of a filter file.
#[derive(Debug)]
pub struct Filter {
    name: String,
    kind: FilterKind,
    exec_path: String,
    run_as: String,
    /// The fields after `exec_path, run_as` (for KillFilter: after `run_as`; ReadFileFilter: the file).
    args: Vec<String>,
    patterns: Vec<Pattern>,
    origin: Option<(Arc<Path>, usize)>,
}

/// Why a filter line cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BuildError {
    /// The class is not one of the known ones (the original skips such lines with a warning).
    UnknownClass(String),
    /// Too few fields for the class.
    TooFewFields(FilterKind, usize),
}

/// What a filter needs to know of its surroundings while matching.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) exec_dirs: &'a [PathBuf],
}

impl Filter {
    /// Builds a filter from a filter-file value already split on commas and trimmed.
    pub(crate) fn build(name: &str, fields: &[&str]) -> Result<Filter, BuildError> {
        let Some(class) = fields.first() else {
            return Err(BuildError::UnknownClass(String::new()));
        };
        let kind = FilterKind::from_class_name(class)
            .ok_or_else(|| BuildError::UnknownClass((*class).to_string()))?;
        let given = fields.len() - 1;
        if given < kind.min_fields() {
            return Err(BuildError::TooFewFields(kind, given));
        }
        let owned =
            |words: &[&str]| -> Vec<String> { words.iter().map(|w| w.to_string()).collect() };
        // [class, a, b, rest...]
        let (exec_path, run_as, args) = match kind {
            FilterKind::Kill => (
                "/bin/kill".to_string(),
                fields[1].to_string(),
                owned(&fields[2..]),
            ),
            FilterKind::ReadFile => (
                "/bin/cat".to_string(),
                "root".to_string(),
                owned(&fields[1..]),
            ),
            _ => (
                fields[1].to_string(),
                fields[2].to_string(),
                owned(&fields[3..]),
            ),
        };
        let patterns = match kind {
            FilterKind::RegExp | FilterKind::ChainingRegExp => {
                args.iter().map(|a| Pattern::new(a)).collect()
            }
            _ => Vec::new(),
        };
        let mut filter = Filter {
            name: name.to_string(),
            kind,
            exec_path,
            run_as,
            args,
            patterns,
            origin: None,
        };
        if kind == FilterKind::Env {
            env::adjust_exec_path(&mut filter);
        }
        Ok(filter)
    }

    /// A `CommandFilter` built in code (as the always-present `privsep-helper` one).
    pub(crate) fn command(name: &str, exec_path: &str, run_as: &str) -> Filter {
        Filter {
            name: name.to_string(),
            kind: FilterKind::Command,
            exec_path: exec_path.to_string(),
            run_as: run_as.to_string(),
            args: Vec::new(),
            patterns: Vec::new(),
            origin: None,
        }
    }

    pub(crate) fn with_origin(mut self, path: &Arc<Path>, line: usize) -> Filter {
        self.origin = Some((Arc::clone(path), line));
        self
    }

    /// The filter's name (the key of its line, lower-cased).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The filter's class.
    pub fn kind(&self) -> FilterKind {
        self.kind
    }

    /// The executable the filter allows, as written (relative ones are looked up in `exec_dirs`).
    pub fn exec_path(&self) -> &str {
        &self.exec_path
    }

    /// The user the command runs as.
    pub fn run_as(&self) -> &str {
        &self.run_as
    }

    /// The class-specific fields after the executable and user.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The patterns of a `RegExpFilter` or `ChainingRegExpFilter` that cannot be used (Python syntax
    /// without a faithful equivalent, or an invalid pattern); such a pattern never matches.
    pub fn unusable_patterns(&self) -> Vec<&str> {
        self.patterns
            .iter()
            .filter(|p| !p.is_usable())
            .map(|p| p.as_str())
            .collect()
    }

    /// The file and line the filter comes from (`None` for the built-in `privsep-helper` filter).
    pub fn origin(&self) -> Option<(&Path, usize)> {
        self.origin.as_ref().map(|(p, l)| (&**p, *l))
    }

    /// The executable that runs: `exec_path` itself when absolute and executable, else the first
    /// `exec_dirs` entry holding an executable file of that name.
    pub fn find_executable(&self, exec_dirs: &[PathBuf]) -> Option<PathBuf> {
        command::get_exec(&self.exec_path, exec_dirs)
    }

    /// Whether the command line matches. `userargs` may lose a leading `env` (the original's EnvFilter
    /// does this to the shared list, and later filters see it).
    pub(crate) fn matches(&self, userargs: &mut Vec<String>, ctx: Context<'_>) -> bool {
        match self.kind {
            FilterKind::Command | FilterKind::Chaining => command::matches(self, userargs),
            FilterKind::RegExp => regexp::matches(self, userargs),
            FilterKind::Path => path::matches(self, userargs),
            FilterKind::Env => env::matches(self, userargs),
            FilterKind::ReadFile => {
                userargs.len() == 2
                    && userargs[0] == "cat"
                    && self.args.first().is_some_and(|f| *f == userargs[1])
            }
            FilterKind::Kill => kill::matches(self, userargs, ctx),
            FilterKind::Ip => ip::ip_matches(userargs),
            FilterKind::IpNetnsExec => ip::netns_exec_matches(self, userargs),
            FilterKind::ChainingRegExp => chaining::regexp_matches(self, userargs),
        }
    }

    /// For a chaining filter, the command line handed to the other filters, and the word the chained
    /// command was given as (before its directory was cut off).
    pub(crate) fn exec_args(&self, userargs: &[String]) -> Option<(Vec<String>, String)> {
        match self.kind {
            FilterKind::IpNetnsExec => chaining::chained(userargs, 4),
            FilterKind::ChainingRegExp => chaining::chained(userargs, self.args.len()),
            _ => None,
        }
    }

    /// The argument vector to execute, the executable first; `None` when a `PathFilter` value no longer
    /// resolves inside its directory (a link changed since the match).
    pub(crate) fn command_line(
        &self,
        userargs: &[String],
        exec_dirs: &[PathBuf],
    ) -> Option<Vec<String>> {
        let exec = self
            .find_executable(exec_dirs)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.exec_path.clone());
        match self.kind {
            FilterKind::Path => path::command_line(self, exec, userargs),
            FilterKind::Env => Some(env::command_line(exec, userargs)),
            _ => {
                let mut cmd = vec![exec];
                cmd.extend(userargs.iter().skip(1).cloned());
                Some(cmd)
            }
        }
    }

    /// The variables the command gets on top of the base environment.
    pub(crate) fn environment(&self, userargs: &mut Vec<String>) -> Vec<(String, String)> {
        match self.kind {
            FilterKind::Env => env::environment(userargs),
            _ => Vec::new(),
        }
    }
}

/// `os.path.basename`: everything after the last `/`.
pub(crate) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
