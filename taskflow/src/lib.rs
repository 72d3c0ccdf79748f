#![doc = include_str!("../README.md")]

mod atom;
mod compiler;
mod engine;
mod error;
mod factory;
mod failure;
mod flow;
#[cfg(feature = "sql")]
mod jobs;
mod listener;
pub mod persistence;
#[cfg(feature = "stevedore")]
pub mod plugins;
mod retry;
mod states;
#[cfg(feature = "worker")]
pub mod worker;

pub use atom::{
    Arguments, ExecuteContext, FnTask, Outcome, Provides, Rebind, RevertContext, Task, TaskNode,
    fn_task, map_task, reduce_task, task,
};
pub use engine::{Engine, EngineBuilder, ExecutorKind, RunIter, SuspendHandle};
pub use error::{Error, MissingArgs, Result};
pub use factory::{FACTORY_META, FlowFactories};
pub use failure::Failure;
pub use flow::{DeciderFn, Depth, Flow, Item, Pattern};
#[cfg(feature = "sql")]
pub use jobs::{Conductor, Dispatched, Job, JobBoard, JobState};
pub use listener::{
    AtomKind, CaptureListener, Event, ListenerId, LoggingListener, Notifier, TimingListener,
};
pub use retry::{
    AlwaysRevert, AlwaysRevertAll, Decision, ForEach, History, HistoryEntry, ParameterizedForEach,
    Retry, RetryNode, Times, retry,
};
pub use states::{
    EngineState, FlowTransition, Intention, State, check_flow_transition, check_retry_transition,
    check_task_transition,
};

pub use serde_json::{Value, json};
