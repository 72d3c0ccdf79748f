//! Failures: what an atom's `execute` or `revert` reports instead of a value.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The failure of one atom, kept in storage and handed to reverts, retries and the caller.
///
/// It is plain data (a kind, standing for the Python exception class, and a message), so it persists and
/// crosses process boundaries as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The kind of failure, like the exception class name in Python (`RuntimeError`, `IOError`...).
    pub kind: String,
    /// The human-readable message.
    pub message: String,
    /// Failures that caused this one, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<Failure>,
}

impl Failure {
    /// A failure of the given kind with a message.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Failure {
            kind: kind.into(),
            message: message.into(),
            causes: Vec::new(),
        }
    }

    /// A failure made from any error, its `source()` chain becoming the causes.
    pub fn from_error(kind: impl Into<String>, err: &(dyn std::error::Error + 'static)) -> Self {
        let mut causes = Vec::new();
        let mut next = err.source();
        while let Some(e) = next {
            causes.push(Failure::new("Error", e.to_string()));
            next = e.source();
        }
        Failure {
            kind: kind.into(),
            message: err.to_string(),
            causes,
        }
    }

    /// Whether this failure (or one of its causes) is of the given kind, like `Failure.check` in Python.
    pub fn is(&self, kind: &str) -> bool {
        self.kind == kind || self.causes.iter().any(|c| c.is(kind))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Failure {}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Failure::new("TypeError", e.to_string())
    }
}
