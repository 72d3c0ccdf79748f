//! Notifications of flow and atom state changes, and listeners built on them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::atom::Outcome;
use crate::states::State;

/// Task or retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtomKind {
    /// A task.
    Task,
    /// A retry controller.
    Retry,
}

/// One notification.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The flow changed state.
    Flow {
        /// The flow's name.
        name: String,
        /// The flow detail's uuid.
        uuid: String,
        /// The state before.
        old_state: State,
        /// The state now.
        state: State,
    },
    /// An atom changed state.
    Atom {
        /// The atom's name.
        name: String,
        /// Task or retry.
        kind: AtomKind,
        /// The atom detail's uuid.
        uuid: String,
        /// The state before.
        old_state: State,
        /// The state now.
        state: State,
        /// The result saved with this change (SUCCESS, FAILURE, REVERTED, REVERT_FAILURE).
        result: Option<Outcome>,
    },
    /// A task reported progress.
    Progress {
        /// The task's name.
        name: String,
        /// Between 0.0 and 1.0.
        progress: f64,
    },
}

type Callback = Arc<dyn Fn(&Event) + Send + Sync>;

/// Calls registered callbacks with each [`Event`], on the engine's thread.
#[derive(Clone, Default)]
pub struct Notifier {
    callbacks: Arc<Mutex<Vec<(u64, Callback)>>>,
    next: Arc<Mutex<u64>>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.callbacks.lock().map(|c| c.len()).unwrap_or(0);
        f.debug_struct("Notifier").field("callbacks", &n).finish()
    }
}

/// A registration, to pass to [`Notifier::deregister`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerId(u64);

impl Notifier {
    /// Registers a callback for every event.
    pub fn register(&self, cb: impl Fn(&Event) + Send + Sync + 'static) -> ListenerId {
        let id = match self.next.lock() {
            Ok(mut n) => {
                *n += 1;
                *n
            }
            Err(_) => 0,
        };
        if let Ok(mut c) = self.callbacks.lock() {
            c.push((id, Arc::new(cb)));
        }
        ListenerId(id)
    }

    /// Removes a callback.
    pub fn deregister(&self, id: ListenerId) {
        if let Ok(mut c) = self.callbacks.lock() {
            c.retain(|(i, _)| *i != id.0);
        }
    }

    pub(crate) fn notify(&self, e: &Event) {
        let cbs: Vec<Callback> = match self.callbacks.lock() {
            Ok(c) => c.iter().map(|(_, cb)| cb.clone()).collect(),
            Err(_) => return,
        };
        for cb in cbs {
            cb(e);
        }
    }
}

/// Records every transition, for tests (TaskFlow's `CaptureListener`).
#[derive(Debug, Clone, Default)]
pub struct CaptureListener {
    inner: Arc<Mutex<Captured>>,
}

#[derive(Debug, Default)]
struct Captured {
    flow: Vec<(State, State)>,
    atoms: Vec<(String, State, State)>,
    events: Vec<Event>,
}

impl CaptureListener {
    /// Attaches a new capture to a notifier.
    pub fn attach(notifier: &Notifier) -> Self {
        let me = CaptureListener::default();
        let inner = me.inner.clone();
        notifier.register(move |e| {
            if let Ok(mut c) = inner.lock() {
                match e {
                    Event::Flow {
                        old_state, state, ..
                    } => c.flow.push((*old_state, *state)),
                    Event::Atom {
                        name,
                        old_state,
                        state,
                        ..
                    } => c.atoms.push((name.clone(), *old_state, *state)),
                    Event::Progress { .. } => {}
                }
                c.events.push(e.clone());
            }
        });
        me
    }

    /// The flow's transitions, `(old, new)`.
    pub fn flow_transitions(&self) -> Vec<(State, State)> {
        self.inner
            .lock()
            .map(|c| c.flow.clone())
            .unwrap_or_default()
    }

    /// The atoms' transitions, `(atom, old, new)`, in order.
    pub fn atom_transitions(&self) -> Vec<(String, State, State)> {
        self.inner
            .lock()
            .map(|c| c.atoms.clone())
            .unwrap_or_default()
    }

    /// Every event, in order.
    pub fn events(&self) -> Vec<Event> {
        self.inner
            .lock()
            .map(|c| c.events.clone())
            .unwrap_or_default()
    }
}

/// Logs every event through `tracing` (TaskFlow's `LoggingListener`): flow changes at INFO, atom changes at
/// DEBUG, failures at WARN.
#[derive(Debug, Clone, Copy)]
pub struct LoggingListener;

impl LoggingListener {
    /// Attaches the logger to a notifier.
    pub fn attach(notifier: &Notifier) -> ListenerId {
        notifier.register(|e| match e {
            Event::Flow { name, old_state, state, .. } => {
                tracing::info!(target: "taskflow", flow = %name, from = %old_state, to = %state, "flow.transition");
            }
            Event::Atom { name, old_state, state, result, .. } => match result {
                Some(Outcome::Failure(f)) => {
                    tracing::warn!(target: "taskflow", atom = %name, from = %old_state, to = %state, failure = %f, "atom.transition");
                }
                _ => tracing::debug!(target: "taskflow", atom = %name, from = %old_state, to = %state, "atom.transition"),
            },
            Event::Progress { name, progress } => {
                tracing::trace!(target: "taskflow", atom = %name, progress, "atom.progress");
            }
        })
    }
}

/// Measures how long each atom ran and reverted (TaskFlow's `DurationListener`).
#[derive(Debug, Clone, Default)]
pub struct TimingListener {
    inner: Arc<Mutex<Timing>>,
}

#[derive(Debug, Default)]
struct Timing {
    started: BTreeMap<String, Instant>,
    durations: BTreeMap<String, Duration>,
    flow_started: Option<Instant>,
    flow_duration: Option<Duration>,
}

impl TimingListener {
    /// Attaches a new timer to a notifier.
    pub fn attach(notifier: &Notifier) -> Self {
        let me = TimingListener::default();
        let inner = me.inner.clone();
        notifier.register(move |e| {
            let Ok(mut t) = inner.lock() else { return };
            match e {
                Event::Flow {
                    state: State::Running,
                    ..
                } => t.flow_started = Some(Instant::now()),
                Event::Flow {
                    state: State::Success | State::Failure | State::Reverted | State::Suspended,
                    ..
                } => {
                    if let Some(s) = t.flow_started {
                        t.flow_duration = Some(s.elapsed());
                    }
                }
                Event::Atom { name, state, .. } => match state {
                    State::Running | State::Reverting => {
                        t.started.insert(name.clone(), Instant::now());
                    }
                    State::Success | State::Failure | State::Reverted | State::RevertFailure => {
                        if let Some(s) = t.started.remove(name) {
                            *t.durations.entry(name.clone()).or_default() += s.elapsed();
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
        });
        me
    }

    /// Time spent running (and reverting) each atom.
    pub fn durations(&self) -> BTreeMap<String, Duration> {
        self.inner
            .lock()
            .map(|t| t.durations.clone())
            .unwrap_or_default()
    }

    /// The flow's run time, once it finished.
    pub fn flow_duration(&self) -> Option<Duration> {
        self.inner.lock().ok().and_then(|t| t.flow_duration)
    }
}
