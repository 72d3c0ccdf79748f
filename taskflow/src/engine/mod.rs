//! Engines: run a compiled flow, serially or on a thread pool, reverting and retrying as the original.

mod executor;
mod storage;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::atom::{ExecuteContext, Outcome, RevertContext};
use crate::compiler::{AtomImpl, Compiled, compile};
use crate::error::{Error, Result};
use crate::failure::Failure;
use crate::flow::Flow;
use crate::listener::Notifier;
use crate::persistence::{AtomDetail, Backend, FlowDetail, LogBook};
use crate::retry::{Decision, History};
use crate::states::{EngineState, Intention, State, check_retry_transition, check_task_transition};

use executor::{Executor, Msg, Outcome as Done};
use storage::Storage;

/// Which executor runs the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorKind {
    /// One at a time, on the caller's thread (TaskFlow's `serial` / `default` engine).
    Serial,
    /// On a pool of worker threads (TaskFlow's `parallel` engine).
    Parallel {
        /// Pool size.
        max_workers: usize,
    },
}

/// Engine options.
#[derive(Debug, Clone, Copy)]
struct Options {
    executor: ExecutorKind,
    defer_reverts: bool,
    never_resolve: bool,
}

/// Builds an [`Engine`] (TaskFlow's `engines.load`).
#[derive(Debug)]
pub struct EngineBuilder {
    flow: Flow,
    store: BTreeMap<String, Value>,
    inject_transient: bool,
    backend: Option<Arc<dyn Backend>>,
    book: Option<LogBook>,
    flow_detail: Option<FlowDetail>,
    flow_meta: BTreeMap<String, Value>,
    options: Options,
    #[cfg(feature = "worker")]
    workers: Option<crate::worker::WorkerOptions>,
}

impl EngineBuilder {
    /// Records `value` under `key` in the new flow detail's metadata (ignored when resuming a detail).
    pub fn flow_meta(mut self, key: impl Into<String>, value: Value) -> Self {
        self.flow_meta.insert(key.into(), value);
        self
    }

    /// Values every atom can read (TaskFlow's `store=`); they win over values atoms provide.
    pub fn store<I, K>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        self.store
            .extend(values.into_iter().map(|(k, v)| (k.into(), v)));
        self
    }

    /// Whether store values stay in memory only (default `true`, as TaskFlow) or are persisted.
    pub fn inject_transient(mut self, yes: bool) -> Self {
        self.inject_transient = yes;
        self
    }

    /// Runs tasks one at a time on the caller's thread (the default).
    pub fn serial(mut self) -> Self {
        self.options.executor = ExecutorKind::Serial;
        self
    }

    /// Runs tasks on a pool of `max_workers` threads.
    pub fn parallel(mut self, max_workers: usize) -> Self {
        self.options.executor = ExecutorKind::Parallel { max_workers };
        self
    }

    /// A failing subflow whose retry says REVERT defers to the enclosing retry, and without one reverts
    /// the whole flow (default `false`).
    pub fn defer_reverts(mut self, yes: bool) -> Self {
        self.options.defer_reverts = yes;
        self
    }

    /// Never revert: a failure ends the flow in FAILURE as it stands (default `false`).
    pub fn never_resolve(mut self, yes: bool) -> Self {
        self.options.never_resolve = yes;
        self
    }

    /// Runs every task in remote workers (TaskFlow's worker-based engine, feature `worker`): each task's
    /// execute and revert go, with their arguments, to a worker advertising the task on one of the
    /// topics; retries still run in the engine. Ordering and revert semantics are unchanged.
    #[cfg(feature = "worker")]
    pub fn workers(mut self, options: crate::worker::WorkerOptions) -> Self {
        self.workers = Some(options);
        self
    }

    /// Persists every state change through `backend`.
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The logbook the new flow detail goes into (default: a new book named after the flow).
    pub fn book(mut self, book: LogBook) -> Self {
        self.book = Some(book);
        self
    }

    /// Resumes from (or keeps writing to) an existing flow detail, usually read back from the backend.
    pub fn flow_detail(mut self, fd: FlowDetail) -> Self {
        self.flow_detail = Some(fd);
        self
    }

    /// Compiles the flow and prepares storage.
    ///
    /// Errors: [`Error::Duplicate`] for atoms sharing a name, [`Error::InvalidArguments`], and persistence
    /// errors.
    pub fn build(self) -> Result<Engine> {
        let compiled = compile(&self.flow)?;
        let notifier = Notifier::default();
        let is_new = self.flow_detail.is_none();
        let flow_detail = self.flow_detail.or_else(|| {
            (!self.flow_meta.is_empty()).then(|| {
                let mut fd = FlowDetail::new(self.flow.name.clone());
                fd.meta = self.flow_meta;
                fd
            })
        });
        let mut storage = Storage::new(
            &compiled,
            flow_detail,
            &self.flow.name,
            self.backend.clone(),
            notifier.clone(),
        );
        if let Some(b) = &self.backend {
            b.update_flow_details(&storage.fd)?;
            if is_new {
                let mut book = self
                    .book
                    .unwrap_or_else(|| LogBook::new(self.flow.name.clone()));
                book.flows.retain(|f| f.uuid != storage.fd.uuid);
                book.flows.push(storage.fd.clone());
                b.save_logbook(&book)?;
            }
        }
        if self.inject_transient {
            storage.transient = self.store;
        } else if !self.store.is_empty() {
            storage.inject_persistent(self.store);
        }
        if let Some(e) = storage.persist_error.take() {
            return Err(e);
        }
        Ok(Engine {
            compiled,
            storage,
            options: self.options,
            notifier,
            suspend: Arc::new(AtomicBool::new(false)),
            #[cfg(feature = "worker")]
            workers: self.workers,
            #[cfg(feature = "worker")]
            proxy: None,
        })
    }
}

/// Asks a running engine to suspend: atoms already running finish, nothing new starts, and the flow ends
/// SUSPENDED. Cheap to clone; usable from any thread, including inside a task.
#[derive(Debug, Clone)]
pub struct SuspendHandle(Arc<AtomicBool>);

impl SuspendHandle {
    /// Requests the suspension.
    pub fn suspend(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs one flow (TaskFlow's action engine).
pub struct Engine {
    compiled: Compiled,
    storage: Storage,
    options: Options,
    notifier: Notifier,
    suspend: Arc<AtomicBool>,
    #[cfg(feature = "worker")]
    workers: Option<crate::worker::WorkerOptions>,
    #[cfg(feature = "worker")]
    proxy: Option<Arc<crate::worker::Proxy>>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("flow", &self.storage.fd.name)
            .field("atoms", &self.compiled.atoms.len())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Starts building an engine for `flow`.
    pub fn builder(flow: Flow) -> EngineBuilder {
        EngineBuilder {
            flow,
            store: BTreeMap::new(),
            inject_transient: true,
            backend: None,
            book: None,
            flow_detail: None,
            flow_meta: BTreeMap::new(),
            options: Options {
                executor: ExecutorKind::Serial,
                defer_reverts: false,
                never_resolve: false,
            },
            #[cfg(feature = "worker")]
            workers: None,
        }
    }

    /// A serial engine for `flow` with no store and no persistence.
    pub fn load(flow: Flow) -> Result<Engine> {
        Engine::builder(flow).build()
    }

    /// The notifier of flow, atom and progress events.
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// A handle that suspends this engine while it runs.
    pub fn suspend_handle(&self) -> SuspendHandle {
        SuspendHandle(self.suspend.clone())
    }

    /// Requests suspension (same as [`SuspendHandle::suspend`]).
    pub fn suspend(&self) {
        self.suspend.store(true, Ordering::SeqCst);
    }

    /// Checks that every atom's required inputs can be provided ([`Error::MissingDependencies`]).
    pub fn validate(&self) -> Result<()> {
        let missing = self.compiled.missing(&self.storage.store_names());
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::MissingDependencies(missing))
        }
    }

    /// Runs the flow to its end.
    ///
    /// Ok when it ends SUCCESS or SUSPENDED. When it ends REVERTED, the failure(s) that caused the revert
    /// are returned ([`Error::Failed`], or [`Error::Wrapped`] for several); when it ends FAILURE, the
    /// failure(s) that could not be resolved (a revert that failed, or any failure with `never_resolve`).
    pub fn run(&mut self) -> Result<()> {
        let span =
            tracing::debug_span!(target: "taskflow", "flow.run", flow = %self.storage.fd.name);
        let _entered = span.enter();
        let mut it = self.run_iter();
        for step in &mut it {
            step?;
        }
        Ok(())
    }

    /// Runs the flow step by step, yielding the engine's states (`RESUMING`, `SCHEDULING`, `WAITING`,
    /// `ANALYZING`... then `SUCCESS`, `REVERTED` or `SUSPENDED`). A flow that ends REVERTED yields that state
    /// and then its failure as an `Err`; one that ends FAILURE yields the `Err` only.
    pub fn run_iter(&mut self) -> RunIter<'_> {
        RunIter {
            engine: self,
            machine: None,
            pending: VecDeque::new(),
            finished: false,
        }
    }

    /// Puts every atom back to PENDING/EXECUTE and the flow to PENDING, so it can run again.
    pub fn reset(&mut self) -> Result<()> {
        for a in 0..self.compiled.atoms.len() {
            self.storage.reset_atom(a, State::Pending);
        }
        self.storage.set_flow_state(State::Pending)?;
        self.take_persist_error()
    }

    fn take_persist_error(&mut self) -> Result<()> {
        match self.storage.persist_error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Adds values to the flow's persisted store.
    pub fn inject<I, K>(&mut self, values: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        self.storage
            .inject_persistent(values.into_iter().map(|(k, v)| (k.into(), v)).collect());
        self.take_persist_error()
    }

    /// The flow's state.
    pub fn flow_state(&self) -> State {
        self.storage.flow_state()
    }

    /// The flow detail (every atom's record).
    pub fn flow_detail(&self) -> &FlowDetail {
        &self.storage.fd
    }

    fn atom_index(&self, name: &str) -> Option<usize> {
        self.compiled.by_name.get(name).copied()
    }

    /// An atom's record.
    pub fn atom_detail(&self, name: &str) -> Option<&AtomDetail> {
        self.atom_index(name).map(|a| self.storage.ad(a))
    }

    /// An atom's state.
    pub fn atom_state(&self, name: &str) -> Option<State> {
        self.atom_index(name).map(|a| self.storage.state(a))
    }

    /// An atom's intention.
    pub fn atom_intention(&self, name: &str) -> Option<Intention> {
        self.atom_index(name).map(|a| self.storage.intention(a))
    }

    /// What an atom's `execute` left (its value or failure), when accessible in its state.
    pub fn result(&self, name: &str) -> Option<Outcome> {
        self.atom_index(name)
            .and_then(|a| self.storage.execute_outcome(a))
    }

    /// A retry controller's history.
    pub fn retry_history(&self, name: &str) -> Option<History> {
        let a = self.atom_index(name)?;
        self.compiled.atoms[a]
            .is_retry()
            .then(|| self.storage.history(a))
    }

    /// The value stored under `name`: from the store, else from the first atom providing it.
    pub fn fetch(&self, name: &str) -> Result<Value> {
        self.storage.fetch(&self.compiled, name).ok_or_else(|| {
            Error::NotFound(format!(
                "name `{name}` is not mapped as a produced output by any providers"
            ))
        })
    }

    /// Every accessible stored value by name.
    pub fn fetch_all(&self) -> BTreeMap<String, Value> {
        self.storage.fetch_all(&self.compiled)
    }

    /// The names of the atoms, in compiled order.
    pub fn atom_names(&self) -> Vec<String> {
        self.compiled
            .atoms
            .iter()
            .map(|a| a.spec.name.clone())
            .collect()
    }
}

/// The running state machine of one `run_iter`.
struct Machine {
    exec: Executor,
    next_up: Vec<usize>,
    not_done: usize,
    failures: Vec<Failure>,
    done: VecDeque<(usize, Done, std::result::Result<Value, Failure>)>,
    state: EngineState,
}

/// The iterator [`Engine::run_iter`] returns.
pub struct RunIter<'a> {
    engine: &'a mut Engine,
    machine: Option<Machine>,
    pending: VecDeque<Result<EngineState>>,
    finished: bool,
}

impl fmt::Debug for RunIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunIter")
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Iterator for RunIter<'_> {
    type Item = Result<EngineState>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(p) = self.pending.pop_front() {
            return Some(p);
        }
        if self.finished {
            return None;
        }
        let step = match self.machine.take() {
            None => self.engine.start().map(|m| {
                self.machine = Some(m);
                EngineState::Resuming
            }),
            Some(mut m) => {
                let r = self.engine.step(&mut m);
                self.machine = Some(m);
                r
            }
        };
        let step = step.and_then(|s| self.engine.take_persist_error().map(|()| s));
        match step {
            Err(e) => {
                self.finished = true;
                // Errors before the run started (validation) leave the flow as it was.
                if self.machine.take().is_some() {
                    let _ = self.engine.storage.set_flow_state(State::Failure);
                }
                Some(Err(e))
            }
            Ok(s) => {
                if matches!(
                    s,
                    EngineState::Success | EngineState::Reverted | EngineState::Suspended
                ) {
                    self.finished = true;
                    self.machine = None;
                    let fs = match s {
                        EngineState::Success => State::Success,
                        EngineState::Reverted => State::Reverted,
                        _ => State::Suspended,
                    };
                    if let Err(e) = self.engine.storage.set_flow_state(fs) {
                        return Some(Err(e));
                    }
                    if s == EngineState::Reverted {
                        let mut fails: Vec<Failure> =
                            self.engine.storage.failures().into_values().collect();
                        fails.extend(self.engine.storage.revert_failures());
                        if let Some(e) = failures_error(fails) {
                            self.pending.push_back(Err(e));
                        }
                    }
                }
                Some(Ok(s))
            }
        }
    }
}

fn failures_error(mut fails: Vec<Failure>) -> Option<Error> {
    match fails.len() {
        0 => None,
        1 => fails.pop().map(Error::Failed),
        _ => Some(Error::Wrapped(fails)),
    }
}

/// How a failure is resolved (TaskFlow's completer strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolver {
    /// No retry controller: revert everything.
    Undefined,
    RevertAll,
    Revert(usize),
    RevertAndRetry(usize),
}

impl Resolver {
    fn strategy(self) -> Decision {
        match self {
            Resolver::Undefined | Resolver::RevertAll => Decision::RevertAll,
            Resolver::Revert(_) => Decision::Revert,
            Resolver::RevertAndRetry(_) => Decision::Retry,
        }
    }
}

impl Engine {
    fn resolve(&self) -> bool {
        !self.options.never_resolve
    }

    fn start(&mut self) -> Result<Machine> {
        self.suspend.store(false, Ordering::SeqCst);
        if self.storage.flow_state() == State::Reverted {
            self.reset()?;
        }
        self.validate()?;
        self.storage.set_flow_state(State::Running)?;
        let exec = match self.options.executor {
            ExecutorKind::Serial => Executor::serial(),
            ExecutorKind::Parallel { max_workers } => Executor::parallel(max_workers),
        };
        let mut m = Machine {
            exec,
            next_up: Vec::new(),
            not_done: 0,
            failures: Vec::new(),
            done: VecDeque::new(),
            state: EngineState::Resuming,
        };
        // RESUMING: process failures left from before, reset retrying subflows, and find unfinished atoms.
        let n = self.compiled.atoms.len();
        if self.resolve() {
            for a in 0..n {
                if self.storage.state(a) == State::Failure
                    && let Some(Outcome::Failure(f)) = self.storage.execute_outcome(a)
                {
                    self.process_atom_failure(a, &f);
                }
            }
            for a in 0..n {
                if self.compiled.atoms[a].is_retry() && self.storage.state(a) == State::Retrying {
                    self.retry_subflow(a);
                }
            }
        }
        let mut next: Vec<usize> = (0..n)
            .filter(|&a| matches!(self.storage.state(a), State::Running | State::Reverting))
            .collect();
        for a in self.iter_next_all(true) {
            if !next.contains(&a) {
                next.push(a);
            }
        }
        m.next_up = next;
        Ok(m)
    }

    fn check_suspend(&mut self) -> Result<()> {
        if self.suspend.load(Ordering::SeqCst) && self.storage.flow_state() == State::Running {
            self.storage.set_flow_state(State::Suspending)?;
        }
        Ok(())
    }

    fn step(&mut self, m: &mut Machine) -> Result<EngineState> {
        let next = match m.state {
            EngineState::Resuming => EngineState::Scheduling,
            EngineState::Analyzing => {
                self.check_suspend()?;
                self.analyze(m)?
            }
            EngineState::Scheduling => {
                self.check_suspend()?;
                self.schedule(m);
                EngineState::Waiting
            }
            EngineState::Waiting => {
                self.wait(m);
                EngineState::Analyzing
            }
            s => return Ok(s),
        };
        m.state = next;
        if next == EngineState::Failure {
            let fails = std::mem::take(&mut m.failures);
            return Err(failures_error(fails)
                .unwrap_or_else(|| Error::Failed(Failure::new("Failure", "engine failed"))));
        }
        Ok(next)
    }

    fn schedule(&mut self, m: &mut Machine) {
        if self.storage.flow_state() != State::Running || m.next_up.is_empty() {
            return;
        }
        let mut atoms = std::mem::take(&mut m.next_up);
        atoms.sort_by_key(|&a| std::cmp::Reverse(self.compiled.atoms[a].spec.priority));
        for a in atoms {
            // An atom picked for execution may have been switched to REVERT by a failure processed in
            // the same analysis (the parallel engine); one that never ran is not reverted.
            let target = match self.storage.intention(a) {
                Intention::Execute | Intention::Retry => State::Running,
                Intention::Revert => State::Reverting,
                Intention::Ignore => continue,
            };
            let resuming = self.storage.state(a) == target;
            let retrying = self.storage.intention(a) == Intention::Retry;
            if !resuming && !retrying && !self.can_transition(a, target) {
                continue;
            }
            match self.schedule_atom(m, a) {
                Ok(()) => m.not_done += 1,
                Err(f) => {
                    m.failures.push(f);
                    break;
                }
            }
        }
    }

    /// The connection to the workers, made on first use (feature `worker`).
    #[cfg(feature = "worker")]
    fn remote(&mut self) -> std::result::Result<Option<Arc<crate::worker::Proxy>>, Failure> {
        let Some(opts) = &self.workers else {
            return Ok(None);
        };
        if self.proxy.is_none() {
            self.proxy = Some(Arc::new(crate::worker::Proxy::connect(opts)?));
        }
        Ok(self.proxy.clone())
    }

    fn schedule_atom(&mut self, m: &mut Machine, a: usize) -> std::result::Result<(), Failure> {
        let intention = self.storage.intention(a);
        let catom = &self.compiled.atoms[a];
        let name = catom.spec.name.clone();
        match catom.imp.clone() {
            AtomImpl::Task(task) => match intention {
                Intention::Execute => {
                    self.storage.change_state(a, State::Running, None);
                    let args = self.storage.fetch_args(
                        &self.compiled,
                        a,
                        &self.compiled.atoms[a].exec_map,
                    )?;
                    #[cfg(feature = "worker")]
                    if let Some(p) = self.remote()? {
                        m.exec.submit(
                            a,
                            Box::new(move |tx| {
                                executor::run_guarded(a, Done::Executed, tx, |_| {
                                    p.execute(&name, &args)
                                });
                            }),
                        );
                        return Ok(());
                    }
                    m.exec.submit(
                        a,
                        Box::new(move |tx| {
                            executor::run_guarded(a, Done::Executed, tx, |tx| {
                                let progress = |p: f64| {
                                    let _ = tx.send(Msg::Progress {
                                        atom: a,
                                        progress: p,
                                    });
                                };
                                let ctx = ExecuteContext {
                                    name: &name,
                                    args: &args,
                                    progress: &progress,
                                };
                                task.execute(&ctx)
                            });
                        }),
                    );
                    Ok(())
                }
                Intention::Revert => {
                    self.storage.change_state(a, State::Reverting, None);
                    let args = self.storage.fetch_args(
                        &self.compiled,
                        a,
                        &self.compiled.atoms[a].revert_map,
                    )?;
                    let result = self
                        .storage
                        .execute_outcome(a)
                        .unwrap_or(Outcome::Value(Value::Null));
                    let flow_failures = self.storage.failures();
                    #[cfg(feature = "worker")]
                    if let Some(p) = self.remote()? {
                        m.exec.submit(
                            a,
                            Box::new(move |tx| {
                                executor::run_guarded(a, Done::Reverted, tx, |_| {
                                    p.revert(&name, &args, &result, &flow_failures)
                                });
                            }),
                        );
                        return Ok(());
                    }
                    m.exec.submit(
                        a,
                        Box::new(move |tx| {
                            executor::run_guarded(a, Done::Reverted, tx, |_| {
                                let ctx = RevertContext {
                                    name: &name,
                                    args: &args,
                                    result: &result,
                                    flow_failures: &flow_failures,
                                };
                                task.revert(&ctx).map(|()| Value::Null)
                            });
                        }),
                    );
                    Ok(())
                }
                other => Err(Failure::new(
                    "ExecutionFailure",
                    format!("unknown how to schedule task with intention {other}"),
                )),
            },
            AtomImpl::Retry(r) => {
                let (done, result) = match intention {
                    Intention::Execute | Intention::Retry => {
                        if intention == Intention::Retry {
                            self.storage.change_state(a, State::Retrying, None);
                            self.retry_subflow(a);
                        }
                        self.storage.change_state(a, State::Running, None);
                        let args = self.storage.fetch_args(
                            &self.compiled,
                            a,
                            &self.compiled.atoms[a].exec_map,
                        )?;
                        let history = self.storage.history(a);
                        (Done::Executed, guard(|| r.execute(&history, &args)))
                    }
                    Intention::Revert => {
                        self.storage.change_state(a, State::Reverting, None);
                        let args = self.storage.fetch_args(
                            &self.compiled,
                            a,
                            &self.compiled.atoms[a].revert_map,
                        )?;
                        let history = self.storage.history(a);
                        (
                            Done::Reverted,
                            guard(|| r.revert(&history, &args).map(|()| Value::Null)),
                        )
                    }
                    Intention::Ignore => {
                        return Err(Failure::new(
                            "ExecutionFailure",
                            "unknown how to schedule retry with intention IGNORE",
                        ));
                    }
                };
                m.done.push_back((a, done, result));
                Ok(())
            }
        }
    }

    fn wait(&mut self, m: &mut Machine) {
        loop {
            let block = m.not_done > m.done.len();
            for msg in m.exec.drain(block) {
                match msg {
                    Msg::Progress { atom, progress } => self.storage.set_progress(atom, progress),
                    Msg::Done {
                        atom,
                        outcome,
                        result,
                    } => m.done.push_back((atom, outcome, result)),
                }
            }
            if !m.done.is_empty() || m.not_done == 0 || !block {
                break;
            }
        }
    }

    fn analyze(&mut self, m: &mut Machine) -> Result<EngineState> {
        let mut next_up: Vec<usize> = Vec::new();
        while let Some((a, outcome, result)) = m.done.pop_front() {
            m.not_done = m.not_done.saturating_sub(1);
            if outcome == Done::Cancelled {
                // Never started: the atom stays RUNNING (or REVERTING) and runs when the flow resumes.
                continue;
            }
            self.complete(m, a, outcome, result);
            if m.failures.is_empty() {
                for n in self.iter_next(a) {
                    if !next_up.contains(&n) {
                        next_up.push(n);
                    }
                }
            }
        }
        let fs = self.storage.flow_state();
        if fs == State::Running && !next_up.is_empty() && m.failures.is_empty() {
            for n in next_up {
                if !m.next_up.contains(&n) {
                    m.next_up.push(n);
                }
            }
            return Ok(EngineState::Scheduling);
        }
        if m.not_done > 0 {
            if fs == State::Suspending {
                m.exec.cancel_queued();
            }
            return Ok(EngineState::Waiting);
        }
        // GAME_OVER.
        if !m.failures.is_empty() {
            return Ok(EngineState::Failure);
        }
        let cancelled = (0..self.compiled.atoms.len())
            .any(|a| matches!(self.storage.state(a), State::Running | State::Reverting));
        if cancelled || !self.iter_next_all(false).is_empty() {
            return Ok(EngineState::Suspended);
        }
        if self.is_success() {
            Ok(EngineState::Success)
        } else {
            Ok(EngineState::Reverted)
        }
    }

    fn complete(
        &mut self,
        m: &mut Machine,
        a: usize,
        outcome: Done,
        result: std::result::Result<Value, Failure>,
    ) {
        match (outcome, result) {
            (Done::Executed, Ok(v)) => {
                self.storage
                    .change_state(a, State::Success, Some(Outcome::Value(v)))
            }
            (Done::Executed, Err(f)) => {
                self.storage
                    .change_state(a, State::Failure, Some(Outcome::Failure(f.clone())));
                if self.resolve() {
                    self.process_atom_failure(a, &f);
                } else {
                    m.failures.push(f);
                }
            }
            (Done::Reverted, Ok(v)) => {
                self.storage
                    .change_state(a, State::Reverted, Some(Outcome::Value(v)))
            }
            (Done::Reverted, Err(f)) => {
                self.storage.change_state(
                    a,
                    State::RevertFailure,
                    Some(Outcome::Failure(f.clone())),
                );
                m.failures.push(f);
            }
            (Done::Cancelled, _) => {}
        }
    }

    fn is_success(&self) -> bool {
        (0..self.compiled.atoms.len())
            .all(|a| matches!(self.storage.state(a), State::Success | State::Ignore))
    }

    // --- failure resolution -------------------------------------------------------------------------

    fn determine(&mut self, atom: usize, f: &Failure) -> Resolver {
        let Some(r) = self.compiled.atoms[atom].retry else {
            return Resolver::Undefined;
        };
        let name = self.compiled.atoms[atom].spec.name.clone();
        self.storage.save_retry_failure(r, &name, f);
        let decision = match &self.compiled.atoms[r].imp {
            AtomImpl::Retry(retry) => {
                let args = self
                    .storage
                    .fetch_args(&self.compiled, r, &self.compiled.atoms[r].exec_map)
                    .unwrap_or_default();
                let history = self.storage.history(r);
                let retry = retry.clone();
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    retry.on_failure(&history, &args)
                }))
                .unwrap_or(Decision::RevertAll)
            }
            AtomImpl::Task(_) => Decision::RevertAll,
        };
        tracing::debug!(target: "taskflow", retry = %self.compiled.atoms[r].spec.name, atom = %name, ?decision, "retry.on_failure");
        match decision {
            Decision::Retry => Resolver::RevertAndRetry(r),
            Decision::Revert => {
                let parent = self.determine(r, f);
                if self.options.defer_reverts {
                    return parent;
                }
                if parent != Resolver::Undefined && parent.strategy() != Decision::Revert {
                    return parent;
                }
                Resolver::Revert(r)
            }
            Decision::RevertAll => Resolver::RevertAll,
        }
    }

    fn process_atom_failure(&mut self, atom: usize, f: &Failure) {
        let resolver = self.determine(atom, f);
        tracing::debug!(target: "taskflow", atom = %self.compiled.atoms[atom].spec.name, ?resolver, "engine.resolve");
        match resolver {
            Resolver::RevertAndRetry(r) => {
                self.reset_atoms(&[r], None, Some(Intention::Retry));
                let sub = self.compiled.traverse(r, true, true, true);
                self.reset_atoms(&sub, None, Some(Intention::Revert));
            }
            Resolver::Undefined | Resolver::RevertAll => {
                let all: Vec<usize> = (0..self.compiled.atoms.len()).collect();
                self.reset_atoms(&all, None, Some(Intention::Revert));
            }
            Resolver::Revert(r) => {
                self.reset_atoms(&[r], None, Some(Intention::Revert));
                let sub = self.compiled.traverse(r, true, true, true);
                self.reset_atoms(&sub, None, Some(Intention::Revert));
            }
        }
    }

    fn reset_atoms(&mut self, atoms: &[usize], state: Option<State>, intention: Option<Intention>) {
        for &a in atoms {
            if self.storage.intention(a) == Intention::Revert && intention == Some(Intention::Retry)
            {
                continue;
            }
            if let Some(s) = state {
                self.storage.change_state(a, s, None);
            }
            if let Some(i) = intention {
                self.storage.set_intention(a, i);
            }
        }
    }

    fn retry_subflow(&mut self, r: usize) {
        self.reset_atoms(&[r], None, Some(Intention::Execute));
        let sub = self.compiled.traverse(r, true, true, true);
        self.reset_atoms(&sub, Some(State::Pending), Some(Intention::Execute));
    }

    // --- selection of the next atoms ---------------------------------------------------------------------

    fn can_transition(&self, a: usize, to: State) -> bool {
        let from = self.storage.state(a);
        if self.compiled.atoms[a].is_retry() {
            check_retry_transition(from, to)
        } else {
            check_task_transition(from, to)
        }
    }

    /// Whether every atom before `a` succeeded or was ignored (looking through ignored ones).
    fn preds_done(&self, a: usize) -> bool {
        let mut stack: Vec<usize> = self.compiled.atoms[a].atom_preds.clone();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(p) = stack.pop() {
            if !seen.insert(p) {
                continue;
            }
            let s = self.storage.state(p);
            let i = self.storage.intention(p);
            if !(matches!(s, State::Success | State::Ignore)
                && matches!(i, Intention::Execute | Intention::Ignore))
            {
                return false;
            }
            if s == State::Ignore {
                stack.extend(self.compiled.atoms[p].atom_preds.iter().copied());
            }
        }
        true
    }

    /// Whether every atom after `a` is pending, reverted or ignored (looking through ignored ones).
    fn succs_clear(&self, a: usize) -> bool {
        let mut stack: Vec<usize> = self.compiled.atoms[a].atom_succs.clone();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(s) = stack.pop() {
            if !seen.insert(s) {
                continue;
            }
            let st = self.storage.state(s);
            if !matches!(st, State::Pending | State::Reverted | State::Ignore) {
                return false;
            }
            if st != State::Reverted {
                stack.extend(self.compiled.atoms[s].atom_succs.iter().copied());
            }
        }
        true
    }

    fn ready_for_execute(&self, a: usize) -> bool {
        self.can_transition(a, State::Running)
            && self.storage.intention(a) == Intention::Execute
            && self.preds_done(a)
    }

    fn ready_for_revert(&self, a: usize) -> bool {
        self.can_transition(a, State::Reverting)
            && matches!(
                self.storage.intention(a),
                Intention::Revert | Intention::Retry
            )
            && self.succs_clear(a)
    }

    /// Applies the deciders on the edges into `a`; false when they switched it (and more) to IGNORE.
    fn decide(&mut self, a: usize, ignored: &mut Vec<usize>) -> bool {
        let eds = self.compiled.atoms[a].deciders.clone();
        if eds.is_empty() {
            return true;
        }
        let mut history = BTreeMap::new();
        for ed in &eds {
            if let Some(src) = self.compiled.nodes[ed.from_node].atom
                && self.storage.state(src) != State::Ignore
            {
                let v = match self.storage.execute_outcome(src) {
                    Some(Outcome::Value(v)) => v,
                    _ => Value::Null,
                };
                history.insert(self.compiled.atoms[src].spec.name.clone(), v);
            }
        }
        let mut widest = None;
        for ed in &eds {
            if let Some(src) = self.compiled.nodes[ed.from_node].atom
                && !history.contains_key(&self.compiled.atoms[src].spec.name)
            {
                continue;
            }
            if !(ed.decider.f)(&history) {
                widest = Some(widest.map_or(ed.decider.depth, |w: crate::flow::Depth| {
                    w.max(ed.decider.depth)
                }));
            }
        }
        let Some(depth) = widest else { return true };
        let affected = self.compiled.affected_by_decider(a, depth);
        self.reset_atoms(&affected, Some(State::Ignore), Some(Intention::Ignore));
        ignored.extend(affected);
        false
    }

    /// The atoms to schedule after `a` completed (TaskFlow's `iter_next_atoms(atom)`).
    fn iter_next(&mut self, a: usize) -> Vec<usize> {
        let state = self.storage.state(a);
        let intention = self.storage.intention(a);
        match (state, intention) {
            (State::Success, Intention::Revert) => vec![a],
            (State::Success, Intention::Execute) => {
                let mut out = Vec::new();
                let mut queue: VecDeque<usize> =
                    self.compiled.atoms[a].atom_succs.iter().copied().collect();
                let mut seen = std::collections::BTreeSet::new();
                while let Some(s) = queue.pop_front() {
                    if !seen.insert(s) {
                        continue;
                    }
                    if !self.ready_for_execute(s) {
                        continue;
                    }
                    let mut ignored = Vec::new();
                    if self.decide(s, &mut ignored) {
                        out.push(s);
                    } else {
                        for i in ignored {
                            queue.extend(self.compiled.atoms[i].atom_succs.iter().copied());
                        }
                    }
                }
                out
            }
            (State::Success, _) => Vec::new(),
            (State::Reverted, _) => {
                let mut out = Vec::new();
                let mut queue: VecDeque<usize> =
                    self.compiled.atoms[a].atom_preds.iter().copied().collect();
                let mut seen = std::collections::BTreeSet::new();
                while let Some(p) = queue.pop_front() {
                    if !seen.insert(p) {
                        continue;
                    }
                    if self.ready_for_revert(p) {
                        out.push(p);
                        continue;
                    }
                    let st = self.storage.state(p);
                    if !self.compiled.atoms[p].is_retry()
                        && matches!(st, State::Pending | State::Ignore | State::Reverted)
                    {
                        queue.extend(self.compiled.atoms[p].atom_preds.iter().copied());
                    }
                }
                out
            }
            (State::Failure, _) => self.iter_revertable_all(),
            _ => Vec::new(),
        }
    }

    fn iter_revertable_all(&self) -> Vec<usize> {
        (0..self.compiled.atoms.len())
            .filter(|&a| self.ready_for_revert(a))
            .collect()
    }

    /// Every atom ready to execute (deciders applied when `apply_deciders`) or revert.
    fn iter_next_all(&mut self, apply_deciders: bool) -> Vec<usize> {
        let mut out = Vec::new();
        let mut queue: VecDeque<usize> = (0..self.compiled.atoms.len()).collect();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(a) = queue.pop_front() {
            if !self.ready_for_execute(a) {
                continue;
            }
            if !apply_deciders {
                out.push(a);
                continue;
            }
            if !seen.insert(a) {
                continue;
            }
            let mut ignored = Vec::new();
            if self.decide(a, &mut ignored) {
                out.push(a);
            } else {
                for i in ignored {
                    queue.extend(self.compiled.atoms[i].atom_succs.iter().copied());
                }
            }
        }
        for a in self.iter_revertable_all() {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }
}

fn guard(
    f: impl FnOnce() -> std::result::Result<Value, Failure>,
) -> std::result::Result<Value, Failure> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(Failure::new("Panic", "retry controller panicked")))
}
