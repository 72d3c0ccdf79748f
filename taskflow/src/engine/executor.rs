//! Where task `execute`/`revert` calls run: inline (serial) or on a pool of worker threads (parallel).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::Value;

use crate::failure::Failure;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Executed,
    Reverted,
    /// Queued but never started: cancelled because the engine is suspending.
    Cancelled,
}

#[derive(Debug)]
pub(crate) enum Msg {
    Done {
        atom: usize,
        outcome: Outcome,
        result: Result<Value, Failure>,
    },
    Progress {
        atom: usize,
        progress: f64,
    },
}

pub(crate) type Job = Box<dyn FnOnce(&Sender<Msg>) + Send>;

/// Runs a job, turning a panic into a failure of the atom.
pub(crate) fn run_guarded(
    atom: usize,
    outcome: Outcome,
    tx: &Sender<Msg>,
    f: impl FnOnce(&Sender<Msg>) -> Result<Value, Failure>,
) {
    let result = match catch_unwind(AssertUnwindSafe(|| f(tx))) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "task panicked".to_owned());
            Err(Failure::new("Panic", msg))
        }
    };
    let _ = tx.send(Msg::Done {
        atom,
        outcome,
        result,
    });
}

#[derive(Default)]
pub(crate) struct Queued {
    jobs: Vec<(usize, Arc<AtomicU8>)>,
    prune_at: usize,
}

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const CANCELLED: u8 = 2;

pub(crate) enum Executor {
    Serial {
        tx: Sender<Msg>,
        rx: Receiver<Msg>,
    },
    Parallel {
        jobs: Option<Sender<Job>>,
        rx: Receiver<Msg>,
        workers: Vec<JoinHandle<()>>,
        /// Submitted jobs and their state: queued, started or cancelled.
        queued: Mutex<Queued>,
    },
}

impl Executor {
    pub(crate) fn serial() -> Self {
        let (tx, rx) = channel();
        Executor::Serial { tx, rx }
    }

    pub(crate) fn parallel(max_workers: usize) -> Self {
        let (jtx, jrx) = channel::<Job>();
        let jrx = Arc::new(Mutex::new(jrx));
        let (tx, rx) = channel();
        let workers = (0..max_workers.max(1))
            .map(|i| {
                let jrx = jrx.clone();
                let tx = tx.clone();
                std::thread::Builder::new()
                    .name(format!("taskflow-worker-{i}"))
                    .spawn(move || {
                        loop {
                            let job = match jrx.lock() {
                                Ok(r) => r.recv(),
                                Err(_) => return,
                            };
                            match job {
                                Ok(j) => j(&tx),
                                Err(_) => return,
                            }
                        }
                    })
            })
            .filter_map(Result::ok)
            .collect();
        Executor::Parallel {
            jobs: Some(jtx),
            rx,
            workers,
            queued: Mutex::new(Queued {
                jobs: Vec::new(),
                prune_at: 64,
            }),
        }
    }

    /// Runs (serial) or queues (parallel) the job of `atom`.
    pub(crate) fn submit(&self, atom: usize, job: Job) {
        match self {
            Executor::Serial { tx, .. } => job(tx),
            Executor::Parallel { jobs, queued, .. } => {
                let state = Arc::new(AtomicU8::new(QUEUED));
                let mine = state.clone();
                let wrapped: Job = Box::new(move |tx| {
                    if mine
                        .compare_exchange(QUEUED, STARTED, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        job(tx);
                    } else {
                        let _ = tx.send(Msg::Done {
                            atom,
                            outcome: Outcome::Cancelled,
                            result: Ok(Value::Null),
                        });
                    }
                });
                if let Ok(mut q) = queued.lock() {
                    if q.jobs.len() >= q.prune_at {
                        q.jobs.retain(|(_, s)| s.load(Ordering::SeqCst) == QUEUED);
                        q.prune_at = (q.jobs.len() * 2).max(64);
                    }
                    q.jobs.push((atom, state));
                }
                if let Some(j) = jobs {
                    let _ = j.send(wrapped);
                }
            }
        }
    }

    /// Cancels the jobs that have not started yet (they come back as [`Outcome::Cancelled`]).
    pub(crate) fn cancel_queued(&self) {
        if let Executor::Parallel { queued, .. } = self
            && let Ok(mut q) = queued.lock()
        {
            for (_, s) in q.jobs.drain(..) {
                let _ = s.compare_exchange(QUEUED, CANCELLED, Ordering::SeqCst, Ordering::SeqCst);
            }
        }
    }

    /// Waits for at least one message when `block`, then takes every message available.
    pub(crate) fn drain(&self, block: bool) -> Vec<Msg> {
        let rx = match self {
            Executor::Serial { rx, .. } | Executor::Parallel { rx, .. } => rx,
        };
        let mut out = Vec::new();
        if block {
            match rx.recv() {
                Ok(m) => out.push(m),
                Err(_) => return out,
            }
        }
        while let Ok(m) = rx.try_recv() {
            out.push(m);
        }
        out
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        if let Executor::Parallel { jobs, workers, .. } = self {
            jobs.take();
            for w in workers.drain(..) {
                let _ = w.join();
            }
        }
    }
}
