//! The engine's view of the flow detail: atom states, intentions, results, and name lookups.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;

use crate::atom::{ArgMap, Arguments, Outcome};
use crate::compiler::Compiled;
use crate::error::{Error, Result};
use crate::failure::Failure;
use crate::listener::{AtomKind, Event, Notifier};
use crate::persistence::{AtomDetail, AtomType, Backend, FlowDetail};
use crate::retry::{History, HistoryEntry};
use crate::states::{Intention, State};

pub(crate) const STORE_META: &str = "store";

pub(crate) struct Storage {
    pub(crate) fd: FlowDetail,
    pub(crate) backend: Option<Arc<dyn Backend>>,
    /// Values given with `store` (not persisted unless `inject_transient(false)`).
    pub(crate) transient: BTreeMap<String, Value>,
    pub(crate) notifier: Notifier,
    pub(crate) persist_error: Option<Error>,
    /// Failures seen since the last reset, by atom (TaskFlow's failure cache: a failure stays here even
    /// when the atom later succeeds, until the engine is reset).
    exec_failures: BTreeMap<String, Failure>,
    revert_failures: BTreeMap<String, Failure>,
}

fn execute_result_visible(state: State) -> bool {
    matches!(state, State::Success | State::Failure | State::Reverting)
}

impl Storage {
    pub(crate) fn new(
        c: &Compiled,
        existing: Option<FlowDetail>,
        flow_name: &str,
        backend: Option<Arc<dyn Backend>>,
        notifier: Notifier,
    ) -> Self {
        let mut fd = existing.unwrap_or_else(|| FlowDetail::new(flow_name));
        let mut old: BTreeMap<String, AtomDetail> =
            fd.atoms.drain(..).map(|a| (a.name.clone(), a)).collect();
        for a in &c.atoms {
            let ty = if a.is_retry() {
                AtomType::Retry
            } else {
                AtomType::Task
            };
            let mut ad = old
                .remove(&a.spec.name)
                .unwrap_or_else(|| AtomDetail::new(a.spec.name.clone(), ty));
            ad.version = format!("{}.{}", a.spec.version.0, a.spec.version.1);
            fd.atoms.push(ad);
        }
        let exec_failures = fd
            .atoms
            .iter()
            .filter_map(|a| a.failure.clone().map(|f| (a.name.clone(), f)))
            .collect();
        let revert_failures = fd
            .atoms
            .iter()
            .filter_map(|a| a.revert_failure.clone().map(|f| (a.name.clone(), f)))
            .collect();
        Storage {
            fd,
            backend,
            transient: BTreeMap::new(),
            notifier,
            persist_error: None,
            exec_failures,
            revert_failures,
        }
    }

    fn note(&mut self, r: Result<()>) {
        if let Err(e) = r
            && self.persist_error.is_none()
        {
            self.persist_error = Some(e);
        }
    }

    pub(crate) fn save_flow(&mut self) {
        self.fd.updated_at = Utc::now();
        if let Some(b) = self.backend.clone() {
            let r = b.update_flow_details(&self.fd);
            self.note(r);
        }
    }

    fn save_atom(&mut self, a: usize) {
        if let Some(ad) = self.fd.atoms.get_mut(a) {
            ad.updated_at = Utc::now();
        }
        if let (Some(b), Some(ad)) = (self.backend.clone(), self.fd.atoms.get(a)) {
            let r = b.update_atom_details(&self.fd.uuid, ad);
            self.note(r);
        }
    }

    pub(crate) fn persisted_store(&self) -> BTreeMap<String, Value> {
        match self.fd.meta.get(STORE_META) {
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => BTreeMap::new(),
        }
    }

    /// Persisted store values, then transient ones on top.
    pub(crate) fn store_value(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.transient.get(name) {
            return Some(v.clone());
        }
        match self.fd.meta.get(STORE_META) {
            Some(Value::Object(m)) => m.get(name).cloned(),
            _ => None,
        }
    }

    pub(crate) fn store_names(&self) -> BTreeMap<String, Value> {
        let mut all = self.persisted_store();
        all.extend(self.transient.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    pub(crate) fn inject_persistent(&mut self, values: BTreeMap<String, Value>) {
        let mut m = match self.fd.meta.remove(STORE_META) {
            Some(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        m.extend(values);
        self.fd.meta.insert(STORE_META.to_owned(), Value::Object(m));
        self.save_flow();
    }

    pub(crate) fn ad(&self, a: usize) -> &AtomDetail {
        &self.fd.atoms[a]
    }

    pub(crate) fn state(&self, a: usize) -> State {
        self.fd.atoms[a].state
    }

    pub(crate) fn intention(&self, a: usize) -> Intention {
        self.fd.atoms[a].intention
    }

    pub(crate) fn set_intention(&mut self, a: usize, i: Intention) {
        if self.fd.atoms[a].intention != i {
            self.fd.atoms[a].intention = i;
            self.save_atom(a);
        }
    }

    fn kind(&self, a: usize) -> AtomKind {
        match self.fd.atoms[a].atom_type {
            AtomType::Task => AtomKind::Task,
            AtomType::Retry => AtomKind::Retry,
        }
    }

    /// Changes an atom's state, saving `result` for the result-carrying states, and notifies.
    pub(crate) fn change_state(&mut self, a: usize, state: State, result: Option<Outcome>) {
        let old = self.fd.atoms[a].state;
        let saves = matches!(
            state,
            State::Success | State::Failure | State::Reverted | State::RevertFailure
        );
        if !saves && old == state {
            return;
        }
        {
            let ad = &mut self.fd.atoms[a];
            ad.state = state;
            let is_retry = ad.atom_type == AtomType::Retry;
            match (state, &result) {
                (State::Success, Some(Outcome::Value(v))) => {
                    if is_retry {
                        if let Value::Array(h) = &mut ad.results {
                            h.push(serde_json::json!({"value": v, "failures": {}}));
                        } else {
                            ad.results = serde_json::json!([{"value": v, "failures": {}}]);
                        }
                    } else {
                        ad.results = v.clone();
                    }
                    ad.failure = None;
                    ad.revert_results = Value::Null;
                    ad.revert_failure = None;
                }
                (State::Failure, Some(Outcome::Failure(f))) => {
                    ad.failure = Some(f.clone());
                    if !is_retry {
                        ad.results = Value::Null;
                    }
                    ad.revert_results = Value::Null;
                    ad.revert_failure = None;
                }
                (State::Reverted, r) => {
                    ad.revert_results = r
                        .as_ref()
                        .and_then(Outcome::value)
                        .cloned()
                        .unwrap_or(Value::Null);
                    ad.revert_failure = None;
                    if is_retry {
                        ad.results = Value::Array(Vec::new());
                    }
                }
                (State::RevertFailure, Some(Outcome::Failure(f))) => {
                    ad.revert_failure = Some(f.clone());
                    ad.revert_results = Value::Null;
                }
                _ => {}
            }
            if state == State::Running && !is_retry {
                ad.meta.insert("progress".to_owned(), Value::from(0.0));
            }
            if state == State::Success && !is_retry {
                ad.meta.insert("progress".to_owned(), Value::from(1.0));
            }
        }
        if let Some(Outcome::Failure(f)) = &result {
            let ad = &self.fd.atoms[a];
            match (state, ad.intention) {
                (State::Failure | State::RevertFailure, Intention::Execute) => {
                    self.exec_failures.insert(ad.name.clone(), f.clone());
                }
                (State::Failure | State::RevertFailure, Intention::Revert) => {
                    self.revert_failures.insert(ad.name.clone(), f.clone());
                }
                _ => {}
            }
        }
        if let Some(Outcome::Failure(f)) = &result {
            let ad = &self.fd.atoms[a];
            match (state, ad.intention) {
                (State::Failure | State::RevertFailure, Intention::Execute) => {
                    self.exec_failures.insert(ad.name.clone(), f.clone());
                }
                (State::Failure | State::RevertFailure, Intention::Revert) => {
                    self.revert_failures.insert(ad.name.clone(), f.clone());
                }
                _ => {}
            }
        }
        self.save_atom(a);
        let ad = &self.fd.atoms[a];
        let ev = Event::Atom {
            name: ad.name.clone(),
            kind: self.kind(a),
            uuid: ad.uuid.clone(),
            old_state: old,
            state,
            result,
        };
        self.notifier.notify(&ev);
    }

    pub(crate) fn set_progress(&mut self, a: usize, p: f64) {
        let name = self.fd.atoms[a].name.clone();
        self.fd.atoms[a]
            .meta
            .insert("progress".to_owned(), Value::from(p));
        self.save_atom(a);
        self.notifier.notify(&Event::Progress { name, progress: p });
    }

    /// What `execute` left: the failure, or the result (`None` when not accessible in this state).
    pub(crate) fn execute_outcome(&self, a: usize) -> Option<Outcome> {
        let ad = &self.fd.atoms[a];
        if let Some(f) = &ad.failure {
            return Some(Outcome::Failure(f.clone()));
        }
        if !execute_result_visible(ad.state) {
            return None;
        }
        Some(Outcome::Value(self.last_result(a)))
    }

    fn last_result(&self, a: usize) -> Value {
        let ad = &self.fd.atoms[a];
        match ad.atom_type {
            AtomType::Task => ad.results.clone(),
            AtomType::Retry => match &ad.results {
                Value::Array(h) => h
                    .last()
                    .and_then(|e| e.get("value"))
                    .cloned()
                    .unwrap_or(Value::Null),
                _ => Value::Null,
            },
        }
    }

    pub(crate) fn history(&self, a: usize) -> History {
        let ad = &self.fd.atoms[a];
        let entries = match &ad.results {
            Value::Array(h) => h
                .iter()
                .filter_map(|e| serde_json::from_value::<HistoryEntry>(e.clone()).ok())
                .collect(),
            _ => Vec::new(),
        };
        History {
            entries,
            failure: ad.failure.clone(),
        }
    }

    pub(crate) fn save_retry_failure(&mut self, retry: usize, atom_name: &str, f: &Failure) {
        let fv = serde_json::to_value(f).unwrap_or(Value::Null);
        if let Value::Array(h) = &mut self.fd.atoms[retry].results
            && let Some(Value::Object(last)) = h.last_mut()
        {
            match last.get_mut("failures") {
                Some(Value::Object(m)) => {
                    m.insert(atom_name.to_owned(), fv);
                }
                _ => {
                    let mut m = serde_json::Map::new();
                    m.insert(atom_name.to_owned(), fv);
                    last.insert("failures".to_owned(), Value::Object(m));
                }
            }
        }
        self.save_atom(retry);
    }

    /// The execute failures since the last reset, by atom name (TaskFlow's `get_failures`).
    pub(crate) fn failures(&self) -> BTreeMap<String, Failure> {
        self.exec_failures.clone()
    }

    /// The revert failures since the last reset.
    pub(crate) fn revert_failures(&self) -> Vec<Failure> {
        self.revert_failures.values().cloned().collect()
    }

    /// Resets an atom to `state` (TaskFlow's `storage.reset`), forgetting its results and failures.
    pub(crate) fn reset_atom(&mut self, a: usize, state: State) {
        self.change_state(a, state, None);
        {
            let ad = &mut self.fd.atoms[a];
            ad.results = match ad.atom_type {
                AtomType::Task => Value::Null,
                AtomType::Retry => Value::Array(Vec::new()),
            };
            ad.failure = None;
            ad.revert_results = Value::Null;
            ad.revert_failure = None;
            ad.intention = Intention::Execute;
        }
        let name = self.fd.atoms[a].name.clone();
        self.exec_failures.remove(&name);
        self.revert_failures.remove(&name);
        self.save_atom(a);
    }

    /// The value published under `name` by provider atom `p`.
    pub(crate) fn provided_value(
        &self,
        c: &Compiled,
        p: usize,
        name: &str,
    ) -> std::result::Result<Value, Failure> {
        match self.execute_outcome(p) {
            None => Err(Failure::new(
                "NotFound",
                format!(
                    "result for atom `{}` is not accessible in state {}",
                    c.atoms[p].spec.name,
                    self.state(p)
                ),
            )),
            Some(Outcome::Failure(f)) => Err(f),
            Some(Outcome::Value(v)) => {
                c.atoms[p].spec.provides.extract(name, &v).ok_or_else(|| {
                    Failure::new(
                        "NotFound",
                        format!(
                            "unable to find result `{name}` in the result of atom `{}`",
                            c.atoms[p].spec.name
                        ),
                    )
                })
            }
        }
    }

    /// The arguments of atom `a` under a mapping (TaskFlow's `fetch_mapped_args`).
    pub(crate) fn fetch_args(
        &self,
        c: &Compiled,
        a: usize,
        map: &[ArgMap],
    ) -> std::result::Result<Arguments, Failure> {
        let spec = &c.atoms[a].spec;
        let mut out = BTreeMap::new();
        for m in map {
            if let Some(v) = spec.inject.get(&m.name) {
                out.insert(m.param.clone(), v.clone());
                continue;
            }
            if let Some(v) = self.store_value(&m.name) {
                out.insert(m.param.clone(), v);
                continue;
            }
            let providers = c.visible_providers(a, &m.name);
            let Some(&first) = providers.first() else {
                if m.optional {
                    continue;
                }
                return Err(Failure::new(
                    "NotFound",
                    format!(
                        "mapped argument `{}` <= `{}` was not produced by any accessible provider",
                        m.param, m.name
                    ),
                ));
            };
            match self.provided_value(c, first, &m.name) {
                Ok(v) => {
                    out.insert(m.param.clone(), v);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Arguments::new(out))
    }

    /// `fetch(name)`: the store, else the first provider with a value.
    pub(crate) fn fetch(&self, c: &Compiled, name: &str) -> Option<Value> {
        if let Some(v) = self.store_value(name) {
            return Some(v);
        }
        c.providers
            .get(name)?
            .iter()
            .find_map(|&p| self.provided_value(c, p, name).ok())
    }

    pub(crate) fn fetch_all(&self, c: &Compiled) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for name in c.providers.keys() {
            if let Some(v) = self.fetch(c, name) {
                out.insert(name.clone(), v);
            }
        }
        out.extend(self.store_names());
        out
    }

    pub(crate) fn set_flow_state(&mut self, new: State) -> Result<bool> {
        let old = self.fd.state.unwrap_or(State::Pending);
        match crate::states::check_flow_transition(old, new) {
            crate::states::FlowTransition::Ignored => Ok(false),
            crate::states::FlowTransition::Invalid => {
                Err(Error::InvalidState(old.to_string(), new.to_string()))
            }
            crate::states::FlowTransition::Allowed => {
                self.fd.state = Some(new);
                self.save_flow();
                let ev = Event::Flow {
                    name: self.fd.name.clone(),
                    uuid: self.fd.uuid.clone(),
                    old_state: old,
                    state: new,
                };
                self.notifier.notify(&ev);
                Ok(true)
            }
        }
    }

    pub(crate) fn flow_state(&self) -> State {
        self.fd.state.unwrap_or(State::Pending)
    }
}
