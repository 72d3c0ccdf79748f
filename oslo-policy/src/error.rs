//! The crate's error type.

use std::path::PathBuf;

use crate::parser::ParseError;

/// Everything that can go wrong in oslo-policy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The rule denied the request (oslo's `PolicyNotAuthorized`, from the `*_or_err` methods).
    #[error("{rule} is disallowed by policy")]
    NotAuthorized {
        /// The rule that was enforced.
        rule: String,
    },
    /// The token's scope is not one the rule allows (oslo's `InvalidScope`).
    #[error(
        "{rule} requires a scope of {scope_types:?}, request was made with {token_scope} scope"
    )]
    InvalidScope {
        /// The rule that was enforced.
        rule: String,
        /// The scopes the rule allows.
        scope_types: Vec<String>,
        /// The scope of the credentials: `system`, `domain` or `project`.
        token_scope: String,
    },
    /// `authorize` of a rule that was never registered (oslo's `PolicyNotRegistered`).
    #[error("policy `{0}` has not been registered")]
    NotRegistered(String),
    /// A rule registered twice (oslo's `DuplicatePolicyError`).
    #[error("policy `{0}` is already registered")]
    Duplicate(String),
    /// Rules that refer to undefined rules or to themselves (oslo's `InvalidDefinitionError`).
    #[error("policies {0:?} are not well defined")]
    InvalidDefinition(Vec<String>),
    /// A rule default that breaks a documented constraint (oslo's `InvalidRuleDefault`).
    #[error("invalid policy rule default: {0}")]
    InvalidRuleDefault(String),
    /// Credentials that are not a JSON object (oslo's `InvalidContextObject`).
    #[error("invalid context object: {0}")]
    InvalidContext(String),
    /// A target that is not a JSON object.
    #[error("the target must be a JSON object")]
    InvalidTarget,
    /// A check failed while it ran (where Python raises out of `enforce`): a bad `%`-format, a path
    /// into a credential that is not a mapping, a rule that refers to itself, a custom check's error.
    #[error("rule `{rule}` failed: {message}")]
    Check {
        /// The rule (or check) being evaluated.
        rule: String,
        /// What went wrong.
        message: String,
    },
    /// A policy file that cannot be loaded at all.
    #[error("policy file `{path}`: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A rule that does not parse (it is then treated as `!`, deny).
    #[error("{}rule `{rule}`: {source}", path.as_ref().map(|p| format!("policy file `{}`, ", p.display())).unwrap_or_default())]
    Rule {
        /// The file the rule came from, if any.
        path: Option<PathBuf>,
        /// The rule's name.
        rule: String,
        /// The parse error.
        source: ParseError,
    },
    /// Reading a file failed.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}
