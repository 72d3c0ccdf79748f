//! Jobs and conductors (feature `sql`): a [`JobBoard`] of work posted to a SQL database, claimed by a
//! named owner for a limited time, and a [`Conductor`] that claims jobs and runs their flows.
//!
//! A job points at a logbook whose flow detail records the [`FlowFactories`] entry that builds its flow,
//! so whichever conductor claims it can rebuild the flow and resume it from the stored atom details. A
//! claim lapses unless its owner renews it (the conductor does while the flow runs), so when a conductor
//! dies its jobs become claimable again and another conductor finishes them without rerunning the tasks
//! that had completed.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::factory::{FACTORY_META, FlowFactories};
use crate::persistence::{Backend, FlowDetail, LogBook, SqlBackend, SqlConnection};
use crate::states::State;

/// How often a conductor looks at its stop flag.
const TICK: Duration = Duration::from_millis(50);

/// One posted unit of work (TaskFlow's `Job`).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Unique id.
    pub uuid: String,
    /// The board it was posted on.
    pub board: String,
    /// Its name.
    pub name: String,
    /// Free-form details; `flow_uuid` names the flow detail to run, `store` the engine's store.
    pub details: Value,
    /// The logbook holding the job's flow detail.
    pub book_uuid: Option<String>,
    /// Higher runs first.
    pub priority: i32,
    /// The owner of the current claim, if any (it may have lapsed, see [`Job::state`]).
    pub owner: Option<String>,
    /// When the current claim lapses unless renewed.
    pub claim_expires_at: Option<DateTime<Utc>>,
    /// When it was posted.
    pub created_at: DateTime<Utc>,
}

/// Whether a job may be claimed (TaskFlow's `UNCLAIMED` / `CLAIMED`; a consumed job is gone, TaskFlow's
/// `COMPLETE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Nobody holds it, or its owner's claim has lapsed.
    Unclaimed,
    /// Claimed, and the claim has not lapsed.
    Claimed,
}

impl Job {
    /// The job's state at `now`.
    pub fn state_at(&self, now: DateTime<Utc>) -> JobState {
        match (&self.owner, self.claim_expires_at) {
            (Some(_), Some(t)) if t >= now => JobState::Claimed,
            _ => JobState::Unclaimed,
        }
    }

    /// The job's state now.
    pub fn state(&self) -> JobState {
        self.state_at(Utc::now())
    }
}

/// A named board of jobs in the SQL database of a [`SqlBackend`] (TaskFlow's job boards live in
/// ZooKeeper, Redis or etcd). Several boards may share one database.
pub struct JobBoard<C: SqlConnection> {
    name: String,
    backend: Arc<SqlBackend<C>>,
}

impl<C: SqlConnection> Clone for JobBoard<C> {
    fn clone(&self) -> Self {
        JobBoard {
            name: self.name.clone(),
            backend: self.backend.clone(),
        }
    }
}

impl<C: SqlConnection> fmt::Debug for JobBoard<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobBoard")
            .field("name", &self.name)
            .field("backend", &self.backend)
            .finish()
    }
}

impl<C: SqlConnection> JobBoard<C> {
    /// The board `name` in `backend`'s database.
    pub fn new(name: impl Into<String>, backend: Arc<SqlBackend<C>>) -> Self {
        JobBoard {
            name: name.into(),
            backend,
        }
    }

    /// The board's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The persistence backend the board's jobs keep their logbooks in.
    pub fn backend(&self) -> &Arc<SqlBackend<C>> {
        &self.backend
    }

    /// Posts a job for `book` (saved first) with `details`.
    pub fn post(&self, name: &str, book: &LogBook, details: Value) -> Result<Job> {
        self.backend.save_logbook(book)?;
        let job = Job {
            uuid: uuid::Uuid::new_v4().to_string(),
            board: self.name.clone(),
            name: name.to_owned(),
            details,
            book_uuid: Some(book.uuid.clone()),
            priority: 0,
            owner: None,
            claim_expires_at: None,
            created_at: Utc::now(),
        };
        self.backend.write(|c| c.insert_job(&job))?;
        tracing::debug!(target: "taskflow", board = %self.name, job = %job.uuid, name, "job.post");
        Ok(job)
    }

    /// Posts a job that runs the flow `factory` of a [`FlowFactories`] builds from `args`, with `store`
    /// as the engine's store: a new logbook with one flow detail recording the factory.
    pub fn post_flow(&self, name: &str, factory: &str, args: Value, store: Value) -> Result<Job> {
        let mut fd = FlowDetail::new(name);
        fd.meta.insert(
            FACTORY_META.to_owned(),
            serde_json::json!({"name": factory, "args": args}),
        );
        let mut book = LogBook::new(name);
        let flow_uuid = fd.uuid.clone();
        book.flows.push(fd);
        self.post(
            name,
            &book,
            serde_json::json!({"flow_uuid": flow_uuid, "store": store}),
        )
    }

    /// Every job of the board, highest priority first, then oldest first.
    pub fn jobs(&self) -> Result<Vec<Job>> {
        self.backend.read(|c| c.list_jobs(&self.name))
    }

    /// One job, or [`Error::NotFound`] (a consumed job is gone).
    pub fn job(&self, uuid: &str) -> Result<Job> {
        self.backend
            .read(|c| c.load_job(uuid))?
            .ok_or_else(|| Error::NotFound(format!("no job with uuid `{uuid}`")))
    }

    /// Claims `job` for `owner` for `ttl`: succeeds only when nobody holds it or the holder's claim has
    /// lapsed; otherwise [`Error::Unclaimable`] (or [`Error::NotFound`] when the job is gone).
    pub fn claim(&self, job: &str, owner: &str, ttl: Duration) -> Result<Job> {
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
        let won = self
            .backend
            .write(|c| c.claim_job(job, owner, now, expires))?;
        if !won {
            let current = self.job(job)?;
            return Err(Error::Unclaimable(format!(
                "job `{job}` is already claimed by `{}`",
                current.owner.unwrap_or_default()
            )));
        }
        tracing::debug!(target: "taskflow", board = %self.name, job, owner, "job.claim");
        self.job(job)
    }

    /// Extends `owner`'s claim on `job` by `ttl` from now. Fails with [`Error::Unclaimable`] when the
    /// claim is no longer `owner`'s or has lapsed (someone else may have it now).
    pub fn renew(&self, job: &str, owner: &str, ttl: Duration) -> Result<()> {
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
        if self
            .backend
            .write(|c| c.renew_job(job, owner, now, expires))?
        {
            Ok(())
        } else {
            Err(Error::Unclaimable(format!(
                "the claim of `{owner}` on job `{job}` was lost"
            )))
        }
    }

    /// Gives `job` back unfinished: it becomes claimable at once. Only its owner may.
    pub fn abandon(&self, job: &str, owner: &str) -> Result<()> {
        if self.backend.write(|c| c.release_job(job, owner))? {
            tracing::debug!(target: "taskflow", board = %self.name, job, owner, "job.abandon");
            Ok(())
        } else {
            Err(self.not_owned(job, owner))
        }
    }

    /// Marks `job` done and removes it from the board. Only its owner may.
    pub fn consume(&self, job: &str, owner: &str) -> Result<()> {
        if self.backend.write(|c| c.delete_job(job, Some(owner)))? {
            tracing::debug!(target: "taskflow", board = %self.name, job, owner, "job.consume");
            Ok(())
        } else {
            Err(self.not_owned(job, owner))
        }
    }

    /// Removes `job` whoever holds it (an operator's action).
    pub fn delete(&self, job: &str) -> Result<()> {
        if self.backend.write(|c| c.delete_job(job, None))? {
            Ok(())
        } else {
            Err(Error::NotFound(format!("no job with uuid `{job}`")))
        }
    }

    fn not_owned(&self, job: &str, owner: &str) -> Error {
        match self.job(job) {
            Ok(_) => Error::JobFailure(format!("job `{job}` is not owned by `{owner}`")),
            Err(e) => e,
        }
    }
}

/// What a conductor did with a job it claimed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Dispatched {
    /// The flow ended (SUCCESS, REVERTED or FAILURE) and the job was consumed.
    Consumed {
        /// The job.
        job: Job,
        /// The flow's final state.
        state: State,
        /// The run's error, if the flow did not succeed.
        error: Option<Error>,
    },
    /// The job was given back: the flow was suspended (its claim was lost), could not be built, or its
    /// storage failed.
    Abandoned {
        /// The job.
        job: Job,
        /// Why.
        error: Option<Error>,
    },
}

/// Claims jobs from a [`JobBoard`] and runs their flows (TaskFlow's blocking conductor).
///
/// While a flow runs, a thread renews the claim every third of `claim_ttl`; should the claim be lost
/// (the database was unreachable for longer than the TTL and another conductor took the job), the engine
/// is suspended at its next step and the job left to its new owner.
pub struct Conductor<C: SqlConnection> {
    name: String,
    board: JobBoard<C>,
    factories: FlowFactories,
    claim_ttl: Duration,
    poll_interval: Duration,
    stopped: Arc<AtomicBool>,
}

impl<C: SqlConnection> fmt::Debug for Conductor<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conductor")
            .field("name", &self.name)
            .field("board", &self.board)
            .field("claim_ttl", &self.claim_ttl)
            .finish()
    }
}

impl<C: SqlConnection> Conductor<C> {
    /// A conductor named `name` (the owner name of its claims) on `board`, building flows with
    /// `factories`. Claims last 30 s unless renewed; the board is polled every second.
    pub fn new(name: impl Into<String>, board: JobBoard<C>, factories: FlowFactories) -> Self {
        Conductor {
            name: name.into(),
            board,
            factories,
            claim_ttl: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            stopped: Arc::new(AtomicBool::new(false)),
        }
    }

    /// How long a claim lasts without renewal: how soon another conductor can take over a dead one's jobs.
    pub fn claim_ttl(mut self, ttl: Duration) -> Self {
        self.claim_ttl = ttl;
        self
    }

    /// How often [`Conductor::run`] looks for claimable jobs when there are none.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// Asks the conductor to stop (from another thread): [`Conductor::run`] returns after the job at
    /// hand, whose flow is suspended at its next step and the job abandoned, so another conductor (or
    /// this one, started again) resumes it.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// Whether [`Conductor::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// The conductor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Claims the first claimable job and runs it; `None` when no job could be claimed.
    pub fn run_once(&self) -> Result<Option<Dispatched>> {
        self.run_one(&BTreeSet::new())
    }

    fn run_one(&self, skip: &BTreeSet<String>) -> Result<Option<Dispatched>> {
        for job in self.board.jobs()? {
            if job.state() == JobState::Claimed || skip.contains(&job.uuid) {
                continue;
            }
            match self.board.claim(&job.uuid, &self.name, self.claim_ttl) {
                Ok(job) => return self.dispatch(job).map(Some),
                // Someone else was quicker, or consumed it meanwhile.
                Err(Error::Unclaimable(_) | Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Runs jobs until none has been claimable for `idle` (`None`: forever); returns what it did.
    ///
    /// A job this conductor abandoned is not claimed again by the same call (it stays on the board
    /// for other conductors, or a later call).
    pub fn run(&self, idle: Option<Duration>) -> Result<Vec<Dispatched>> {
        let mut done = Vec::new();
        let mut skip = BTreeSet::new();
        let mut idle_since = Instant::now();
        while !self.is_stopped() {
            match self.run_one(&skip)? {
                Some(d) => {
                    if let Dispatched::Abandoned { job, .. } = &d {
                        skip.insert(job.uuid.clone());
                    }
                    done.push(d);
                    idle_since = Instant::now();
                }
                None => {
                    if idle.is_some_and(|limit| idle_since.elapsed() >= limit) {
                        return Ok(done);
                    }
                    let wake = Instant::now() + self.poll_interval;
                    while !self.is_stopped() && Instant::now() < wake {
                        std::thread::sleep(TICK.min(self.poll_interval));
                    }
                }
            }
        }
        Ok(done)
    }

    fn dispatch(&self, job: Job) -> Result<Dispatched> {
        let span = tracing::info_span!(target: "taskflow", "conductor.dispatch", conductor = %self.name, job = %job.uuid);
        let _g = span.enter();
        let mut engine = match self.engine_for(&job) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(target: "taskflow", error = %e, "job could not be loaded, abandoning it");
                self.board.abandon(&job.uuid, &self.name)?;
                return Ok(Dispatched::Abandoned {
                    job,
                    error: Some(e),
                });
            }
        };
        let suspend = engine.suspend_handle();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let board = self.board.clone();
        let (uuid, owner, ttl) = (job.uuid.clone(), self.name.clone(), self.claim_ttl);
        let stopped = self.stopped.clone();
        let result = std::thread::scope(|s| {
            s.spawn(move || {
                // Renews the claim every third of the TTL; suspends the engine when the claim is lost
                // or the conductor is stopped.
                let mut renewed = Instant::now();
                let mut suspended = false;
                loop {
                    match stop_rx.recv_timeout(TICK.min(ttl / 3)) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    if !suspended && stopped.load(Ordering::SeqCst) {
                        tracing::info!(target: "taskflow", job = %uuid, "conductor stopped, suspending the flow");
                        suspend.suspend();
                        suspended = true;
                    }
                    if renewed.elapsed() < ttl / 3 {
                        continue;
                    }
                    renewed = Instant::now();
                    if let Err(e) = board.renew(&uuid, &owner, ttl) {
                        tracing::warn!(target: "taskflow", job = %uuid, error = %e, "job.renew failed");
                        if matches!(e, Error::Unclaimable(_)) {
                            suspend.suspend();
                            return;
                        }
                    }
                }
            });
            let r = engine.run();
            // The heartbeat ends when the sender is dropped.
            drop(stop_tx);
            r
        });
        let state = engine.flow_state();
        let storage_failed = matches!(&result, Err(e) if e.kind() == "StorageFailure");
        if state == State::Suspended || storage_failed {
            tracing::info!(target: "taskflow", %state, "job not finished, abandoning it");
            // The claim may already be someone else's: then there is nothing to give back.
            match self.board.abandon(&job.uuid, &self.name) {
                Ok(()) | Err(Error::JobFailure(_) | Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            return Ok(Dispatched::Abandoned {
                job,
                error: result.err(),
            });
        }
        tracing::info!(target: "taskflow", %state, "job finished, consuming it");
        self.board.consume(&job.uuid, &self.name)?;
        Ok(Dispatched::Consumed {
            job,
            state,
            error: result.err(),
        })
    }

    fn engine_for(&self, job: &Job) -> Result<crate::engine::Engine> {
        let backend = self.board.backend().clone();
        let book_uuid = job
            .book_uuid
            .as_deref()
            .ok_or_else(|| Error::NotFound(format!("job `{}` has no logbook", job.uuid)))?;
        let book = backend.get_logbook(book_uuid)?;
        let wanted = job.details.get("flow_uuid").and_then(Value::as_str);
        let fd = book
            .flows
            .into_iter()
            .find(|f| wanted.is_none_or(|w| f.uuid == w))
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "job `{}` names no flow detail of its logbook",
                    job.uuid
                ))
            })?;
        let store: Vec<(String, Value)> = match job.details.get("store") {
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        };
        let backend: Arc<dyn Backend> = backend;
        self.factories
            .resume(fd)?
            .backend(backend)
            .store(store)
            .build()
    }
}
