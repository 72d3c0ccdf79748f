//! The crate's errors.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong in the registry and the managers.
///
/// Errors are cheap to clone: a manager keeps the outcome of its (lazy) by-name index and hands out copies.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No extension matched: an empty manager was mapped over, or a driver name is not registered.
    ///
    /// Python: `stevedore.exception.NoMatches`.
    #[error("{}", no_matches(namespace, name.as_deref()))]
    NoMatches {
        /// The namespace searched.
        namespace: String,
        /// The driver name looked for, when one was.
        name: Option<String>,
    },
    /// Several extensions share a name and the conflict resolver refused to choose.
    ///
    /// Python: `stevedore.exception.MultipleMatches`.
    #[error("multiple implementations found for `{name}` in the `{namespace}` namespace: {}", targets.join(", "))]
    MultipleMatches {
        /// The namespace.
        namespace: String,
        /// The duplicated name.
        name: String,
        /// The targets of the candidates, in registry order.
        targets: Vec<String>,
    },
    /// A plugin could not be loaded or invoked, and the load-failure policy said to stop.
    #[error("could not load `{name}` from the `{namespace}` namespace ({target})")]
    Load {
        /// The namespace.
        namespace: String,
        /// The plugin's name.
        name: String,
        /// Where the plugin points (`crate::path::factory`, or `library.so:symbol`).
        target: String,
        /// Why.
        #[source]
        source: PluginError,
    },
    /// A function given to `map` failed and the manager propagates map errors.
    #[error("error calling `{name}` of the `{namespace}` namespace")]
    Map {
        /// The namespace.
        namespace: String,
        /// The extension the function failed on.
        name: String,
        /// What the function returned.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// Names asked of a named manager are not registered (raised only by a missing-names callback that
    /// chooses to fail).
    #[error("no `{namespace}` plugins named {}", quoted(names))]
    MissingNames {
        /// The namespace.
        namespace: String,
        /// The names not found, sorted.
        names: Vec<String>,
    },
    /// The start-up check found expected plugins missing from the registry.
    #[error("expected plugins are not registered: {}", missing.iter().map(|(ns, n)| format!("`{ns}:{n}`")).collect::<Vec<_>>().join(", "))]
    NotRegistered {
        /// `(namespace, name)` pairs, in the order they were asked for.
        missing: Vec<(String, String)>,
    },
    /// A plugin library could not be used.
    #[cfg(feature = "dynamic")]
    #[error(transparent)]
    Dynamic(#[from] crate::dynamic::DynamicError),
    /// A plugin manifest could not be read or understood.
    #[error("bad plugin manifest `{}`: {reason}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A plugin directory could not be read.
    #[error("cannot read plugin directory `{}`", path.display())]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The system error.
        #[source]
        source: Arc<std::io::Error>,
    },
}

impl Error {
    /// True for [`Error::NoMatches`] (Python's `NoMatches`).
    pub fn is_no_matches(&self) -> bool {
        matches!(self, Error::NoMatches { .. })
    }

    /// True for [`Error::MultipleMatches`] (Python's `MultipleMatches`).
    pub fn is_multiple_matches(&self) -> bool {
        matches!(self, Error::MultipleMatches { .. })
    }

    /// True for either of the two errors Python groups under `NoUniqueMatch`.
    pub fn is_no_unique_match(&self) -> bool {
        self.is_no_matches() || self.is_multiple_matches()
    }
}

fn no_matches(namespace: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("no `{namespace}` driver found, looking for `{name}`"),
        None => format!("no `{namespace}` extensions found"),
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why one plugin failed: its factory refused, its library could not be opened, or its object has the wrong
/// type for the manager.
///
/// This is what a factory returns, and what a load-failure callback receives (Python passes the exception).
#[derive(Clone, PartialEq, Eq)]
pub struct PluginError {
    message: String,
}

impl PluginError {
    /// An error with this message (lowercase, no trailing period, by the crate's conventions).
    pub fn new(message: impl Into<String>) -> Self {
        PluginError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PluginError").field(&self.message).finish()
    }
}

impl std::error::Error for PluginError {}

impl From<String> for PluginError {
    fn from(message: String) -> Self {
        PluginError::new(message)
    }
}

impl From<&str> for PluginError {
    fn from(message: &str) -> Self {
        PluginError::new(message)
    }
}

#[cfg(feature = "dynamic")]
impl From<crate::dynamic::DynamicError> for PluginError {
    fn from(err: crate::dynamic::DynamicError) -> Self {
        PluginError::new(err.to_string())
    }
}
