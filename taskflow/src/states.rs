//! The state machines of flows, atoms and the engine, with TaskFlow's names and allowed transitions.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The state of a flow or an atom (task or retry). Names are TaskFlow's, and so is the JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Not started.
    Pending,
    /// Executing.
    Running,
    /// Executed without failure.
    Success,
    /// Execution failed (a flow: failed and could not be reverted cleanly).
    Failure,
    /// Reverting.
    Reverting,
    /// Reverted.
    Reverted,
    /// Reverting failed (terminal for an atom).
    RevertFailure,
    /// A retry controller about to run its subflow again.
    Retrying,
    /// Skipped by a decider.
    Ignore,
    /// A flow asked to suspend, waiting for running atoms.
    Suspending,
    /// A suspended flow.
    Suspended,
    /// A flow being resumed.
    Resuming,
}

impl State {
    /// TaskFlow's name of the state (`PENDING`, `REVERT_FAILURE`...).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "PENDING",
            State::Running => "RUNNING",
            State::Success => "SUCCESS",
            State::Failure => "FAILURE",
            State::Reverting => "REVERTING",
            State::Reverted => "REVERTED",
            State::RevertFailure => "REVERT_FAILURE",
            State::Retrying => "RETRYING",
            State::Ignore => "IGNORE",
            State::Suspending => "SUSPENDING",
            State::Suspended => "SUSPENDED",
            State::Resuming => "RESUMING",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the engine means to do with an atom next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Intention {
    /// Run it.
    Execute,
    /// Skip it (a decider said no).
    Ignore,
    /// Undo it.
    Revert,
    /// Undo its subflow and run it again (retries only).
    Retry,
}

impl Intention {
    /// TaskFlow's name of the intention.
    pub fn as_str(self) -> &'static str {
        match self {
            Intention::Execute => "EXECUTE",
            Intention::Ignore => "IGNORE",
            Intention::Revert => "REVERT",
            Intention::Retry => "RETRY",
        }
    }
}

impl fmt::Display for Intention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The states the engine's own machine goes through, as `run_iter` yields them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EngineState {
    /// Finding the atoms left unfinished and the first ones to run.
    Resuming,
    /// Handing ready atoms to the executor.
    Scheduling,
    /// Waiting for running atoms.
    Waiting,
    /// Recording results and finding what comes next.
    Analyzing,
    /// Done: every atom succeeded (or was ignored).
    Success,
    /// Done: the failure was reverted.
    Reverted,
    /// Done: the flow failed and could not be reverted cleanly.
    Failure,
    /// Stopped on request with work left.
    Suspended,
}

impl EngineState {
    /// TaskFlow's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineState::Resuming => "RESUMING",
            EngineState::Scheduling => "SCHEDULING",
            EngineState::Waiting => "WAITING",
            EngineState::Analyzing => "ANALYZING",
            EngineState::Success => "SUCCESS",
            EngineState::Reverted => "REVERTED",
            EngineState::Failure => "FAILURE",
            EngineState::Suspended => "SUSPENDED",
        }
    }
}

impl fmt::Display for EngineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a task may go from `old` to `new` (TaskFlow's `check_task_transition`).
pub fn check_task_transition(old: State, new: State) -> bool {
    use State::*;
    matches!(
        (old, new),
        (Failure, Reverting)
            | (Ignore, Pending)
            | (Pending, Ignore)
            | (Pending, Running)
            | (Reverted, Pending)
            | (Reverting, Reverted)
            | (Reverting, RevertFailure)
            | (Running, Failure)
            | (Running, Success)
            | (Success, Reverting)
    )
}

/// Whether a retry may go from `old` to `new` (the task table plus `SUCCESS → RETRYING → RUNNING`).
pub fn check_retry_transition(old: State, new: State) -> bool {
    check_task_transition(old, new)
        || matches!(
            (old, new),
            (State::Retrying, State::Running) | (State::Success, State::Retrying)
        )
}

/// What a flow state change amounts to (TaskFlow's `check_flow_transition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowTransition {
    /// Allowed: apply it.
    Allowed,
    /// Same state, or one TaskFlow silently ignores: do nothing.
    Ignored,
    /// Not allowed.
    Invalid,
}

/// Checks a flow state change.
pub fn check_flow_transition(old: State, new: State) -> FlowTransition {
    use State::*;
    if old == new {
        return FlowTransition::Ignored;
    }
    let allowed = matches!(
        (old, new),
        (Failure, Running)
            | (Pending, Running)
            | (Resuming, Suspended)
            | (Reverted, Pending)
            | (Running, Failure)
            | (Running, Resuming)
            | (Running, Reverted)
            | (Running, Success)
            | (Running, Suspending)
            | (Success, Pending)
            | (Success, Running)
            | (Suspended, Running)
            | (Suspending, Failure)
            | (Suspending, Resuming)
            | (Suspending, Reverted)
            | (Suspending, Success)
            | (Suspending, Suspended)
    );
    if allowed {
        return FlowTransition::Allowed;
    }
    let ignored = matches!(
        (old, new),
        (
            Failure | Pending | Reverted | Success | Suspended,
            Resuming | Suspended | Suspending
        )
    );
    if ignored && !(old == Suspended && new == Suspended) {
        FlowTransition::Ignored
    } else {
        FlowTransition::Invalid
    }
}
