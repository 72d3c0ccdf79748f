//! The crate's one error type.

use crate::failure::Failure;

/// Everything that can go wrong while building, validating or running a flow.
///
/// [`Error::kind`] names the TaskFlow exception class an error corresponds to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Adding an item or a link would create a cycle (`DependencyFailure`).
    #[error(
        "no path through the node(s) in the graph produces an ordering that will allow for logical edge traversal"
    )]
    Cycle,
    /// Several items of a graph flow provide a symbol that a newly added item requires.
    #[error(
        "resolution error detected when adding `{node}`, multiple providers {providers:?} found for required symbol `{symbol}`"
    )]
    AmbiguousDependency {
        /// The item being added.
        node: String,
        /// The names of the providers, sorted.
        providers: Vec<String>,
        /// The symbol they all provide.
        symbol: String,
    },
    /// A link names an item the flow does not hold.
    #[error("node `{0}` not found in flow `{1}`")]
    NodeNotFound(String, String),
    /// Two atoms of one compiled flow share a name (`Duplicate`).
    #[error("atoms with duplicate names found: {0:?}")]
    Duplicate(Vec<String>),
    /// Some atoms need values nothing provides (`MissingDependencies`).
    #[error("{}", missing_message(.0))]
    MissingDependencies(Vec<MissingArgs>),
    /// An atom's argument declaration is inconsistent (`ValueError` in TaskFlow).
    #[error("invalid arguments for atom `{atom}`: {reason}")]
    InvalidArguments {
        /// The atom.
        atom: String,
        /// What is wrong.
        reason: String,
    },
    /// A flow state transition that the state machine forbids (`InvalidState`).
    #[error("flow transition from `{0}` to `{1}` is not allowed")]
    InvalidState(String, String),
    /// A name or record was asked for that does not exist (`NotFound`).
    #[error("{0}")]
    NotFound(String),
    /// One atom failed and the flow could not go on (the original exception, re-raised).
    #[error("{0}")]
    Failed(Failure),
    /// Several atoms failed (`WrappedFailure`).
    #[error("wrapped failure: {}", wrapped_message(.0))]
    Wrapped(Vec<Failure>),
    /// The persistence backend failed.
    #[error("persistence failed: {0}")]
    Persistence(String),
    /// A persisted record could not be read or written.
    #[error("persistence i/o on `{path}` failed: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The SQL database failed (feature `sql`).
    #[cfg(feature = "sql")]
    #[error("database failed: {0}")]
    Database(#[from] oslo_db::Error),
    /// A job cannot be claimed: someone else holds it (`UnclaimableJob`).
    #[error("{0}")]
    Unclaimable(String),
    /// A job operation by someone who does not own the job (`JobFailure`).
    #[error("{0}")]
    JobFailure(String),
    /// An engine or backend option (or a plugin of those) is missing or has a bad value (`ValueError`).
    #[error("invalid option `{name}`: {reason}")]
    InvalidOption {
        /// The option (or the plugin's name).
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A persisted record is not valid JSON of the expected shape.
    #[error("persisted record `{path}` is invalid: {source}")]
    Json {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

/// The unsatisfied inputs of one atom, as [`Error::MissingDependencies`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingArgs {
    /// The atom.
    pub atom: String,
    /// `execute` or `revert`.
    pub method: &'static str,
    /// The storage names nothing provides.
    pub names: Vec<String>,
}

fn missing_message(missing: &[MissingArgs]) -> String {
    let parts: Vec<String> = missing
        .iter()
        .map(|m| format!("`{}` {} requires {:?}", m.atom, m.method, m.names))
        .collect();
    format!("missing dependencies: {}", parts.join("; "))
}

fn wrapped_message(failures: &[Failure]) -> String {
    let parts: Vec<String> = failures.iter().map(ToString::to_string).collect();
    parts.join(", ")
}

impl Error {
    /// The name of the TaskFlow exception class this error corresponds to.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Cycle => "DependencyFailure",
            Error::AmbiguousDependency { .. } => "AmbiguousDependency",
            Error::NodeNotFound(..)
            | Error::InvalidArguments { .. }
            | Error::InvalidOption { .. } => "ValueError",
            Error::Duplicate(_) => "Duplicate",
            Error::MissingDependencies(_) => "MissingDependencies",
            Error::InvalidState(..) => "InvalidState",
            Error::NotFound(_) => "NotFound",
            Error::Failed(_) => "Failure",
            Error::Wrapped(_) => "WrappedFailure",
            Error::Persistence(_) | Error::Io { .. } | Error::Json { .. } => "StorageFailure",
            #[cfg(feature = "sql")]
            Error::Database(_) => "StorageFailure",
            Error::Unclaimable(_) => "UnclaimableJob",
            Error::JobFailure(_) => "JobFailure",
        }
    }

    /// The atom failures this error carries (one for [`Error::Failed`], all for [`Error::Wrapped`]).
    pub fn failures(&self) -> &[Failure] {
        match self {
            Error::Failed(f) => std::slice::from_ref(f),
            Error::Wrapped(fs) => fs,
            _ => &[],
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
