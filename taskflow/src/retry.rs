//! Retry controllers: atoms that run before their subflow and decide what to do when it fails.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::atom::{Arguments, AtomSpec, atom_builder_methods};
use crate::failure::Failure;

/// What a retry controller decides when its subflow fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// Revert the subflow and run it again.
    Retry,
    /// Revert the subflow, then let an enclosing retry decide (if there is one).
    Revert,
    /// Revert everything: the whole flow fails.
    RevertAll,
}

/// One attempt of a retry controller: the value its `execute` provided and the failures seen during it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// What the controller's `execute` returned for this attempt.
    pub value: Value,
    /// The failures of this attempt, by atom name.
    pub failures: BTreeMap<String, Failure>,
}

/// The attempts of a retry controller so far (TaskFlow's `retry.History`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub(crate) entries: Vec<HistoryEntry>,
    pub(crate) failure: Option<Failure>,
}

impl History {
    /// How many attempts were made.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there were none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The attempts, oldest first.
    pub fn entries(&self) -> &[HistoryEntry] {
        &self.entries
    }

    /// The values provided by each attempt, oldest first.
    pub fn provided_iter(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|e| &e.value)
    }

    /// The failures of attempt `i`.
    pub fn outcomes(&self, i: usize) -> Option<&BTreeMap<String, Failure>> {
        self.entries.get(i).map(|e| &e.failures)
    }

    /// Whether any recorded failure (or the controller's own) is of the given kind.
    pub fn caused_by(&self, kind: &str) -> bool {
        self.failure.as_ref().is_some_and(|f| f.is(kind))
            || self
                .entries
                .iter()
                .any(|e| e.failures.values().any(|f| f.is(kind)))
    }

    /// The controller's own failure, when its `execute` failed.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }
}

/// A retry controller. Implement it for custom policies; [`AlwaysRevert`], [`AlwaysRevertAll`],
/// [`Times`], [`ForEach`] and [`ParameterizedForEach`] are TaskFlow's.
pub trait Retry: Send + Sync + 'static {
    /// Runs before each attempt of the subflow; the value is published under the retry's `provides`.
    fn execute(&self, history: &History, args: &Arguments) -> Result<Value, Failure>;

    /// Decides what to do after a failure in the subflow (the failure is already in `history`).
    fn on_failure(&self, history: &History, args: &Arguments) -> Decision;

    /// Runs when the controller itself is reverted. The default does nothing.
    fn revert(&self, history: &History, args: &Arguments) -> Result<(), Failure> {
        let _ = (history, args);
        Ok(())
    }

    /// Parameters this controller always requires.
    fn requires(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A retry controller with its declaration, ready to be given to a flow. Made by [`retry`].
#[derive(Clone)]
pub struct RetryNode {
    pub(crate) spec: AtomSpec,
    pub(crate) retry: Arc<dyn Retry>,
}

impl fmt::Debug for RetryNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryNode")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl RetryNode {
    atom_builder_methods!();
}

/// Declares a retry controller named `name`.
pub fn retry(name: impl Into<String>, r: impl Retry) -> RetryNode {
    let mut spec = AtomSpec::named(name.into());
    spec.requires = r.requires();
    RetryNode {
        spec,
        retry: Arc::new(r),
    }
}

/// Never retries: reverts the subflow and defers to the enclosing retry.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysRevert;

impl Retry for AlwaysRevert {
    fn execute(&self, _: &History, _: &Arguments) -> Result<Value, Failure> {
        Ok(Value::Null)
    }

    fn on_failure(&self, _: &History, _: &Arguments) -> Decision {
        Decision::Revert
    }
}

/// Never retries: reverts the whole flow.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysRevertAll;

impl Retry for AlwaysRevertAll {
    fn execute(&self, _: &History, _: &Arguments) -> Result<Value, Failure> {
        Ok(Value::Null)
    }

    fn on_failure(&self, _: &History, _: &Arguments) -> Decision {
        Decision::RevertAll
    }
}

fn give_up(revert_all: bool) -> Decision {
    if revert_all {
        Decision::RevertAll
    } else {
        Decision::Revert
    }
}

/// Runs the subflow up to `attempts` times; provides the attempt number (1, 2, 3...).
#[derive(Debug, Clone, Copy)]
pub struct Times {
    attempts: usize,
    revert_all: bool,
}

impl Times {
    /// At most `attempts` attempts (TaskFlow's default is 1).
    pub fn new(attempts: usize) -> Self {
        Times {
            attempts,
            revert_all: false,
        }
    }

    /// When attempts run out, revert the whole flow instead of deferring to the enclosing retry.
    pub fn revert_all(mut self, yes: bool) -> Self {
        self.revert_all = yes;
        self
    }
}

impl Retry for Times {
    fn execute(&self, history: &History, _: &Arguments) -> Result<Value, Failure> {
        Ok(Value::from(history.len() + 1))
    }

    fn on_failure(&self, history: &History, _: &Arguments) -> Decision {
        if history.len() < self.attempts {
            Decision::Retry
        } else {
            give_up(self.revert_all)
        }
    }
}

fn next_value<'a>(values: &'a [Value], history: &History) -> Option<&'a Value> {
    values
        .iter()
        .find(|v| !history.provided_iter().any(|p| p == *v))
}

fn values_arg(args: &Arguments) -> Result<Vec<Value>, Failure> {
    match args.require("values")? {
        Value::Array(a) => Ok(a.clone()),
        other => Err(Failure::new(
            "TypeError",
            format!("`values` must be a list, not {other}"),
        )),
    }
}

/// Tries the subflow once per value, providing the next untried value each time.
#[derive(Debug, Clone)]
pub struct ForEach {
    values: Vec<Value>,
    revert_all: bool,
}

impl ForEach {
    /// The values to try, in order.
    pub fn new(values: Vec<Value>) -> Self {
        ForEach {
            values,
            revert_all: false,
        }
    }

    /// When values run out, revert the whole flow.
    pub fn revert_all(mut self, yes: bool) -> Self {
        self.revert_all = yes;
        self
    }
}

impl Retry for ForEach {
    fn execute(&self, history: &History, _: &Arguments) -> Result<Value, Failure> {
        next_value(&self.values, history)
            .cloned()
            .ok_or_else(|| Failure::new("NotFound", "no elements left in collection of iterable"))
    }

    fn on_failure(&self, history: &History, _: &Arguments) -> Decision {
        if next_value(&self.values, history).is_some() {
            Decision::Retry
        } else {
            give_up(self.revert_all)
        }
    }
}

/// Like [`ForEach`], with the values read from storage as the `values` argument (rebind it as needed).
#[derive(Debug, Clone, Copy, Default)]
pub struct ParameterizedForEach {
    revert_all: bool,
}

impl ParameterizedForEach {
    /// A controller reading `values` from storage.
    pub fn new() -> Self {
        ParameterizedForEach::default()
    }

    /// When values run out, revert the whole flow.
    pub fn revert_all(mut self, yes: bool) -> Self {
        self.revert_all = yes;
        self
    }
}

impl Retry for ParameterizedForEach {
    fn execute(&self, history: &History, args: &Arguments) -> Result<Value, Failure> {
        let values = values_arg(args)?;
        next_value(&values, history)
            .cloned()
            .ok_or_else(|| Failure::new("NotFound", "no elements left in collection of iterable"))
    }

    fn on_failure(&self, history: &History, args: &Arguments) -> Decision {
        match values_arg(args) {
            Ok(values) if next_value(&values, history).is_some() => Decision::Retry,
            _ => give_up(self.revert_all),
        }
    }

    fn requires(&self) -> Vec<String> {
        vec!["values".to_owned()]
    }
}
