//! The crate's one error type.

use std::path::PathBuf;

use crate::location::Location;
use crate::types::InvalidValue;

/// Everything that can go wrong while declaring, parsing or reading options.
///
/// Messages are oslo.config's own where oslo has one, so logs read the same as a Python service's.
/// [`Error::kind`] names the oslo exception class an error corresponds to.
///
/// ```
/// use oslo_config::{ConfigOpts, ErrorKind, Location, Opt, ParseArgs};
///
/// let dir = tempfile::tempdir().unwrap();
/// let file = dir.path().join("a.conf");
/// std::fs::write(&file, "[pool]\nsize = lots\n").unwrap();
/// let mut conf = ConfigOpts::new();
/// conf.register_opt(Opt::integer("size"), Some("pool")).unwrap();
/// conf.parse(ParseArgs::new(["--config-file", file.to_str().unwrap()]).use_env(false)).unwrap();
///
/// let err = conf.get("size", Some("pool")).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::ConfigFileValue);
/// assert_eq!(err.option(), Some(("pool", "size")));
/// assert_eq!(err.location(), Some(&Location::File { path: file.clone(), line: 2 }));
/// assert!(err.to_string().ends_with("is not valid: invalid literal for int() with base 10: 'lots'"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option that is not registered was asked for.
    #[error("no such option {name} in group [{group}]")]
    NoSuchOpt {
        /// The option name.
        name: String,
        /// The group (`DEFAULT` for the default group).
        group: String,
    },
    /// A group that is not registered was asked for.
    #[error("no such group [{name}]")]
    NoSuchGroup {
        /// The group name.
        name: String,
    },
    /// A different option is already registered under the same name.
    #[error("duplicate option: {name}")]
    DuplicateOpt {
        /// The option name.
        name: String,
        /// The group (`DEFAULT` for the default group).
        group: String,
    },
    /// A required option has no value.
    #[error("value required for option {name} in group [{group}]")]
    RequiredOpt {
        /// The option name.
        name: String,
        /// The group (`DEFAULT` for the default group).
        group: String,
    },
    /// A `$name` reference could not be substituted.
    #[error("template substitution error: {message}")]
    TemplateSubstitution {
        /// What went wrong.
        message: String,
    },
    /// Config files named on the command line (or found by default) do not exist.
    #[error("Failed to find some config files: {}", join(paths))]
    ConfigFilesNotFound {
        /// The missing files, in the order they were named.
        paths: Vec<PathBuf>,
    },
    /// Config files could not be opened for lack of permission.
    #[error("Failed to open some config files: {}", join(paths))]
    ConfigFilesPermissionDenied {
        /// The unreadable files.
        paths: Vec<PathBuf>,
    },
    /// A `--config-dir` does not exist.
    #[error("Failed to read config file directory: {}", dir.display())]
    ConfigDirNotFound {
        /// The directory.
        dir: PathBuf,
    },
    /// A config file is not valid oslo INI.
    #[error("Failed to parse {}: at {}:{line}, {message}: {text}", path.display(), path.display())]
    ConfigFileParse {
        /// The file.
        path: PathBuf,
        /// The 1-based line oslo reports.
        line: usize,
        /// What is wrong.
        message: String,
        /// The offending line, as Python's `repr()` shows it.
        text: String,
    },
    /// A config file could not be read for another reason (not UTF-8, an I/O error).
    #[error("Failed to read {}: {reason}", path.display())]
    ConfigFileRead {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A value from a file, the environment, the command line or an override is not valid for its option.
    #[error("value for option {name} in group [{group}] from {location} is not valid: {reason}")]
    InvalidValue {
        /// The option name.
        name: String,
        /// The group (`DEFAULT` for the default group).
        group: String,
        /// Where the value came from.
        location: Location,
        /// Why the type refused it (oslo's message).
        reason: InvalidValue,
    },
    /// An option's default is not valid for its type.
    #[error("Error processing default value {value} for Opt type of {type_name}.")]
    InvalidDefault {
        /// The option name.
        name: String,
        /// The default, as written.
        value: String,
        /// The type's name.
        type_name: String,
        /// Why the type refused it.
        reason: InvalidValue,
    },
    /// An option definition breaks a rule (reserved name, `_` prefix, choices with a regex, ...).
    #[error("invalid option `{name}`: {reason}")]
    InvalidOpt {
        /// The option name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A typed getter was used on an option of another type.
    #[error("option {name} in group [{group}] is not {expected}")]
    WrongType {
        /// The option name.
        name: String,
        /// The group (`DEFAULT` for the default group).
        group: String,
        /// What the getter expected.
        expected: String,
    },
    /// No crate registered options under this namespace (generator, validator).
    #[error("no options registered under namespace `{name}`")]
    NoSuchNamespace {
        /// The namespace.
        name: String,
    },
    /// A stevedore plugin of the generator (a list of options, a defaults hook) failed (feature
    /// `stevedore`).
    #[cfg(feature = "stevedore")]
    #[error("could not load `{name}` from the `{namespace}` namespace: {reason}")]
    Plugin {
        /// The stevedore namespace.
        namespace: String,
        /// The plugin's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Output could not be written or serialised (generator).
    #[error("cannot write the output: {reason}")]
    Output {
        /// Why.
        reason: String,
    },
    /// The command line has not been parsed yet.
    #[error("call expression on parser has not been invoked")]
    NotInitialized,
    /// Command-line options must be registered before the command line is parsed.
    #[error("arguments already parsed: {message}")]
    ArgsAlreadyParsed {
        /// What was attempted.
        message: String,
    },
    /// The command line was not understood, or asked for `--help`/`--version` (see [`Error::exit_code`]).
    #[error("{message}")]
    CommandLine {
        /// The text to print: the usage error, the help or the version.
        message: String,
        /// The process exit code oslo (argparse) uses: 0 for help and version, 2 for usage errors.
        exit_code: i32,
    },
    /// A TOML layer could not be read (feature `toml`).
    #[cfg(feature = "toml")]
    #[error("Failed to read {}: {reason}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The oslo.config exception class an [`Error`] corresponds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `NoSuchOptError`.
    NoSuchOpt,
    /// `NoSuchGroupError`.
    NoSuchGroup,
    /// `DuplicateOptError`.
    DuplicateOpt,
    /// `RequiredOptError`.
    RequiredOpt,
    /// `TemplateSubstitutionError`.
    TemplateSubstitution,
    /// `ConfigFilesNotFoundError`.
    ConfigFilesNotFound,
    /// `ConfigFilesPermissionDeniedError`.
    ConfigFilesPermissionDenied,
    /// `ConfigDirNotFoundError`.
    ConfigDirNotFound,
    /// `ConfigFileParseError`.
    ConfigFileParse,
    /// `ConfigFileValueError` (a value from a file).
    ConfigFileValue,
    /// `ConfigSourceValueError` (a value from the environment or another source).
    ConfigSourceValue,
    /// A bad command-line value: oslo exits with status 1.
    CommandLineValue,
    /// A plain `ValueError` (a bad override or default).
    Value,
    /// `DefaultValueError`.
    DefaultValue,
    /// `ArgsAlreadyParsedError`.
    ArgsAlreadyParsed,
    /// `NotInitializedError`.
    NotInitialized,
    /// argparse's `SystemExit` (usage error, `--help`, `--version`).
    CommandLine,
    /// No oslo counterpart (I/O, invalid UTF-8, TOML).
    Other,
}

impl Error {
    /// The oslo exception class this error corresponds to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoSuchOpt { .. } => ErrorKind::NoSuchOpt,
            Error::NoSuchGroup { .. } => ErrorKind::NoSuchGroup,
            Error::DuplicateOpt { .. } => ErrorKind::DuplicateOpt,
            Error::RequiredOpt { .. } => ErrorKind::RequiredOpt,
            Error::TemplateSubstitution { .. } => ErrorKind::TemplateSubstitution,
            Error::ConfigFilesNotFound { .. } => ErrorKind::ConfigFilesNotFound,
            Error::ConfigFilesPermissionDenied { .. } => ErrorKind::ConfigFilesPermissionDenied,
            Error::ConfigDirNotFound { .. } => ErrorKind::ConfigDirNotFound,
            Error::ConfigFileParse { .. } => ErrorKind::ConfigFileParse,
            Error::InvalidValue { location, .. } => match location {
                Location::File { .. } => ErrorKind::ConfigFileValue,
                Location::Environment { .. } => ErrorKind::ConfigSourceValue,
                Location::CommandLine { .. } => ErrorKind::CommandLineValue,
                Location::Toml { .. } => ErrorKind::ConfigSourceValue,
                _ => ErrorKind::Value,
            },
            Error::InvalidDefault { .. } => ErrorKind::DefaultValue,
            Error::InvalidOpt { .. } => ErrorKind::Value,
            Error::ArgsAlreadyParsed { .. } => ErrorKind::ArgsAlreadyParsed,
            Error::NotInitialized => ErrorKind::NotInitialized,
            Error::WrongType { .. } | Error::NoSuchNamespace { .. } | Error::Output { .. } => {
                ErrorKind::Other
            }
            Error::CommandLine { .. } => ErrorKind::CommandLine,
            Error::ConfigFileRead { .. } => ErrorKind::Other,
            #[cfg(feature = "toml")]
            Error::Toml { .. } => ErrorKind::Other,
            #[cfg(feature = "stevedore")]
            Error::Plugin { .. } => ErrorKind::Other,
        }
    }

    /// The exit status a command-line program should end with on this error, as oslo services do:
    /// 0 after `--help`/`--version`, 2 for a usage error, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::CommandLine { exit_code, .. } => *exit_code,
            _ => 1,
        }
    }

    /// The option the error is about, with its group, where there is one.
    pub fn option(&self) -> Option<(&str, &str)> {
        match self {
            Error::NoSuchOpt { name, group }
            | Error::DuplicateOpt { name, group }
            | Error::RequiredOpt { name, group }
            | Error::InvalidValue { name, group, .. }
            | Error::WrongType { name, group, .. } => Some((group, name)),
            _ => None,
        }
    }

    /// Where the refused value came from, for [`Error::InvalidValue`].
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::InvalidValue { location, .. } => Some(location),
            _ => None,
        }
    }
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(",")
}
