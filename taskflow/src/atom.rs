//! Atoms (tasks and retries): what they require, what they provide, and how their arguments are found.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::failure::Failure;

/// The arguments an atom receives, by parameter name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Arguments {
    values: BTreeMap<String, Value>,
}

impl Arguments {
    /// Arguments from a map of parameter names to values.
    pub fn new(values: BTreeMap<String, Value>) -> Self {
        Arguments { values }
    }

    /// The value of a parameter, if it was found (optional parameters may be absent).
    pub fn get(&self, param: &str) -> Option<&Value> {
        self.values.get(param)
    }

    /// The value of a parameter, or a `NotFound` failure.
    pub fn require(&self, param: &str) -> Result<&Value, Failure> {
        self.values
            .get(param)
            .ok_or_else(|| Failure::new("NotFound", format!("argument `{param}` was not given")))
    }

    /// The value of a parameter converted to `T`, or a failure naming the parameter.
    pub fn parse<T: DeserializeOwned>(&self, param: &str) -> Result<T, Failure> {
        let v = self.require(param)?;
        serde_json::from_value(v.clone())
            .map_err(|e| Failure::new("TypeError", format!("argument `{param}`: {e}")))
    }

    /// Every argument, by parameter name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The arguments as a map.
    pub fn into_map(self) -> BTreeMap<String, Value> {
        self.values
    }
}

/// What a task's `execute` sees: its name, its arguments and a way to report progress.
pub struct ExecuteContext<'a> {
    pub(crate) name: &'a str,
    pub(crate) args: &'a Arguments,
    pub(crate) progress: &'a (dyn Fn(f64) + Sync),
}

impl ExecuteContext<'_> {
    /// The atom's name.
    pub fn name(&self) -> &str {
        self.name
    }

    /// The arguments.
    pub fn args(&self) -> &Arguments {
        self.args
    }

    /// Shorthand for `args().parse(param)`.
    pub fn arg<T: DeserializeOwned>(&self, param: &str) -> Result<T, Failure> {
        self.args.parse(param)
    }

    /// Reports progress between 0.0 and 1.0 (clamped), as an `update_progress` event for listeners.
    pub fn update_progress(&self, progress: f64) {
        let p = if progress.is_nan() {
            0.0
        } else {
            progress.clamp(0.0, 1.0)
        };
        (self.progress)(p);
    }
}

impl fmt::Debug for ExecuteContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecuteContext")
            .field("name", &self.name)
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}

/// What an atom's `execute` left behind: its value or its failure.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `execute` returned this value.
    Value(Value),
    /// `execute` failed (or never ran: a task reverted before finishing has no value, see `Value(Null)`).
    Failure(Failure),
}

impl Outcome {
    /// The failure, when `execute` failed.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Outcome::Failure(f) => Some(f),
            Outcome::Value(_) => None,
        }
    }

    /// The value, when `execute` succeeded.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Outcome::Value(v) => Some(v),
            Outcome::Failure(_) => None,
        }
    }
}

/// What a task's `revert` sees: its arguments, its own outcome and the failures that caused the revert.
#[derive(Debug)]
pub struct RevertContext<'a> {
    pub(crate) name: &'a str,
    pub(crate) args: &'a Arguments,
    pub(crate) result: &'a Outcome,
    pub(crate) flow_failures: &'a BTreeMap<String, Failure>,
}

impl RevertContext<'_> {
    /// The atom's name.
    pub fn name(&self) -> &str {
        self.name
    }

    /// The arguments (mapped through the revert mapping when one was given).
    pub fn args(&self) -> &Arguments {
        self.args
    }

    /// Shorthand for `args().parse(param)`.
    pub fn arg<T: DeserializeOwned>(&self, param: &str) -> Result<T, Failure> {
        self.args.parse(param)
    }

    /// What this task's `execute` produced: its value, or its failure when it is the task that failed.
    pub fn result(&self) -> &Outcome {
        self.result
    }

    /// The failures that caused the revert, by atom name.
    pub fn flow_failures(&self) -> &BTreeMap<String, Failure> {
        self.flow_failures
    }
}

/// A unit of work that can be undone.
///
/// `execute` returns a JSON value (stored, and handed to consumers through `provides`) or a [`Failure`].
/// `revert` undoes it; the default does nothing. Implementations must be `Send + Sync`: the parallel engine
/// runs them on worker threads.
pub trait Task: Send + Sync + 'static {
    /// Does the work.
    fn execute(&self, ctx: &ExecuteContext<'_>) -> Result<Value, Failure>;

    /// Undoes the work. `ctx.result()` is the value `execute` returned, or its failure.
    fn revert(&self, ctx: &RevertContext<'_>) -> Result<(), Failure> {
        let _ = ctx;
        Ok(())
    }

    /// Parameters this task always requires (added before those given to the builder).
    fn requires(&self) -> Vec<String> {
        Vec::new()
    }

    /// What the task provides when the builder says nothing (`default_provides` in TaskFlow).
    fn default_provides(&self) -> Provides {
        Provides::None
    }
}

/// How an atom's result is published under names (TaskFlow's `provides`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Provides {
    /// Nothing is published.
    #[default]
    None,
    /// The whole result under one name.
    Name(String),
    /// `result[i]` under the i-th name (the result must be an array).
    Tuple(Vec<String>),
    /// `result[key]` under each key (the result must be an object).
    Keys(Vec<String>),
}

impl Provides {
    /// The published names, in declaration order.
    pub fn names(&self) -> Vec<String> {
        match self {
            Provides::None => Vec::new(),
            Provides::Name(n) => vec![n.clone()],
            Provides::Tuple(ns) | Provides::Keys(ns) => ns.clone(),
        }
    }

    /// Several names taken by position from an array result.
    pub fn tuple<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Provides::Tuple(names.into_iter().map(Into::into).collect())
    }

    /// Several names taken by key from an object result.
    pub fn keys<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Provides::Keys(names.into_iter().map(Into::into).collect())
    }

    /// The part of `result` published under `name`, or `None` when that part is missing.
    pub(crate) fn extract(&self, name: &str, result: &Value) -> Option<Value> {
        match self {
            Provides::None => None,
            Provides::Name(n) => (n == name).then(|| result.clone()),
            Provides::Tuple(ns) => {
                let i = ns.iter().position(|n| n == name)?;
                result.as_array()?.get(i).cloned()
            }
            Provides::Keys(ns) => {
                if !ns.iter().any(|n| n == name) {
                    return None;
                }
                result.as_object()?.get(name).cloned()
            }
        }
    }
}

impl From<&str> for Provides {
    fn from(s: &str) -> Self {
        Provides::Name(s.to_owned())
    }
}

impl From<String> for Provides {
    fn from(s: String) -> Self {
        Provides::Name(s)
    }
}

/// Where an atom's parameters come from when their names differ from the stored names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rebind {
    /// `param → stored name`; a parameter not otherwise declared becomes an extra requirement.
    Map(BTreeMap<String, String>),
    /// Stored names by position of the required parameters; extra names become extra requirements.
    List(Vec<String>),
}

impl Rebind {
    /// A map rebind from `(param, stored name)` pairs.
    pub fn map<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Rebind::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// A positional rebind.
    pub fn list<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Rebind::List(names.into_iter().map(Into::into).collect())
    }
}

/// One parameter of an atom and the stored name it is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArgMap {
    pub(crate) param: String,
    pub(crate) name: String,
    pub(crate) optional: bool,
}

/// The declaration shared by tasks and retries.
#[derive(Debug, Clone, Default)]
pub(crate) struct AtomSpec {
    pub(crate) name: String,
    pub(crate) requires: Vec<String>,
    pub(crate) optional: Vec<String>,
    pub(crate) provides: Provides,
    pub(crate) rebind: Option<Rebind>,
    pub(crate) inject: BTreeMap<String, Value>,
    pub(crate) revert_requires: Option<Vec<String>>,
    pub(crate) revert_optional: Vec<String>,
    pub(crate) revert_rebind: Option<Rebind>,
    pub(crate) priority: i32,
    pub(crate) version: (u32, u32),
}

fn build_mapping(
    atom: &str,
    required: &[String],
    optional: &[String],
    rebind: Option<&Rebind>,
) -> Result<Vec<ArgMap>> {
    let mut out: Vec<ArgMap> = Vec::new();
    for p in required {
        if out.iter().any(|a| &a.param == p) {
            continue;
        }
        out.push(ArgMap {
            param: p.clone(),
            name: p.clone(),
            optional: false,
        });
    }
    for p in optional {
        if out.iter().any(|a| &a.param == p) {
            return Err(Error::InvalidArguments {
                atom: atom.to_owned(),
                reason: format!("`{p}` is both required and optional"),
            });
        }
        out.push(ArgMap {
            param: p.clone(),
            name: p.clone(),
            optional: true,
        });
    }
    match rebind {
        None => {}
        Some(Rebind::List(names)) => {
            let req: Vec<String> = required.to_vec();
            for (i, n) in names.iter().enumerate() {
                match req.get(i) {
                    Some(p) => {
                        if let Some(a) = out.iter_mut().find(|a| &a.param == p) {
                            a.name = n.clone();
                        }
                    }
                    None => {
                        if !out.iter().any(|a| &a.param == n) {
                            out.push(ArgMap {
                                param: n.clone(),
                                name: n.clone(),
                                optional: false,
                            });
                        }
                    }
                }
            }
        }
        Some(Rebind::Map(map)) => {
            for (p, n) in map {
                match out.iter_mut().find(|a| &a.param == p) {
                    Some(a) => a.name = n.clone(),
                    None => out.push(ArgMap {
                        param: p.clone(),
                        name: n.clone(),
                        optional: false,
                    }),
                }
            }
        }
    }
    Ok(out)
}

impl AtomSpec {
    pub(crate) fn named(name: String) -> Self {
        AtomSpec {
            name,
            version: (1, 0),
            ..AtomSpec::default()
        }
    }

    /// The execute mapping: parameter → stored name.
    pub(crate) fn arg_mapping(&self) -> Result<Vec<ArgMap>> {
        build_mapping(
            &self.name,
            &self.requires,
            &self.optional,
            self.rebind.as_ref(),
        )
    }

    /// The revert mapping (the execute one unless revert arguments were given).
    pub(crate) fn revert_arg_mapping(&self) -> Result<Vec<ArgMap>> {
        if self.revert_requires.is_none()
            && self.revert_rebind.is_none()
            && self.revert_optional.is_empty()
        {
            return self.arg_mapping();
        }
        let req = self
            .revert_requires
            .clone()
            .unwrap_or_else(|| self.requires.clone());
        build_mapping(
            &self.name,
            &req,
            &self.revert_optional,
            self.revert_rebind.as_ref(),
        )
    }

    /// The stored names this atom cannot run without (execute and revert), minus injected ones.
    pub(crate) fn required_names(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for m in [self.arg_mapping(), self.revert_arg_mapping()]
            .into_iter()
            .flatten()
        {
            for a in m {
                if !a.optional && !self.inject.contains_key(&a.name) {
                    out.insert(a.name);
                }
            }
        }
        out
    }

    pub(crate) fn provided_names(&self) -> Vec<String> {
        self.provides.names()
    }
}

macro_rules! atom_builder_methods {
    () => {
        /// The atom's name.
        pub fn name(&self) -> &str {
            &self.spec.name
        }

        /// Adds required parameters (read from storage under the same names unless rebound).
        pub fn requires<I, S>(mut self, names: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            for n in names {
                let n = n.into();
                if !self.spec.requires.contains(&n) {
                    self.spec.requires.push(n);
                }
            }
            self
        }

        /// Adds optional parameters: filled from storage when a value exists, absent otherwise.
        pub fn optional<I, S>(mut self, names: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.spec.optional.extend(names.into_iter().map(Into::into));
            self
        }

        /// Sets how the result is published (a name, [`Provides::tuple`](crate::Provides::tuple) or [`Provides::keys`](crate::Provides::keys)).
        pub fn provides(mut self, provides: impl Into<$crate::atom::Provides>) -> Self {
            self.spec.provides = provides.into();
            self
        }

        /// Reads parameters from other stored names ([`Rebind::map`](crate::Rebind::map) or [`Rebind::list`](crate::Rebind::list)).
        pub fn rebind(mut self, rebind: $crate::atom::Rebind) -> Self {
            self.spec.rebind = Some(rebind);
            self
        }

        /// Gives this atom values of its own, which win over anything in storage.
        pub fn inject<I, K>(mut self, values: I) -> Self
        where
            I: IntoIterator<Item = (K, serde_json::Value)>,
            K: Into<String>,
        {
            self.spec
                .inject
                .extend(values.into_iter().map(|(k, v)| (k.into(), v)));
            self
        }

        /// Gives `revert` its own required parameters (default: the execute ones).
        pub fn revert_requires<I, S>(mut self, names: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.spec.revert_requires = Some(names.into_iter().map(Into::into).collect());
            self
        }

        /// Gives `revert` optional parameters.
        pub fn revert_optional<I, S>(mut self, names: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.spec
                .revert_optional
                .extend(names.into_iter().map(Into::into));
            self
        }

        /// Rebinds `revert`'s parameters.
        pub fn revert_rebind(mut self, rebind: $crate::atom::Rebind) -> Self {
            self.spec.revert_rebind = Some(rebind);
            self
        }

        /// Higher runs first among atoms ready at the same time (default 0).
        pub fn priority(mut self, priority: i32) -> Self {
            self.spec.priority = priority;
            self
        }

        /// The atom's version, stored with its details (default 1.0).
        pub fn version(mut self, major: u32, minor: u32) -> Self {
            self.spec.version = (major, minor);
            self
        }
    };
}
pub(crate) use atom_builder_methods;

/// A task with its declaration, ready to be added to a flow. Made by [`task`] or [`fn_task`].
#[derive(Clone)]
pub struct TaskNode {
    pub(crate) spec: AtomSpec,
    pub(crate) task: Arc<dyn Task>,
}

impl fmt::Debug for TaskNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskNode")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl TaskNode {
    atom_builder_methods!();
}

/// Declares a task named `name` running `t`.
pub fn task(name: impl Into<String>, t: impl Task) -> TaskNode {
    let mut spec = AtomSpec::named(name.into());
    spec.requires = t.requires();
    spec.provides = t.default_provides();
    TaskNode {
        spec,
        task: Arc::new(t),
    }
}

type ExecFn = dyn Fn(&ExecuteContext<'_>) -> Result<Value, Failure> + Send + Sync;
type RevertFn = dyn Fn(&RevertContext<'_>) -> Result<(), Failure> + Send + Sync;

/// A task made of closures (TaskFlow's `FunctorTask`).
pub struct FnTask {
    exec: Box<ExecFn>,
    revert: Option<Box<RevertFn>>,
}

impl fmt::Debug for FnTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnTask")
            .field("has_revert", &self.revert.is_some())
            .finish()
    }
}

impl FnTask {
    /// A task running `exec`.
    pub fn new(
        exec: impl Fn(&ExecuteContext<'_>) -> Result<Value, Failure> + Send + Sync + 'static,
    ) -> Self {
        FnTask {
            exec: Box::new(exec),
            revert: None,
        }
    }

    /// Adds a revert closure.
    pub fn with_revert(
        mut self,
        revert: impl Fn(&RevertContext<'_>) -> Result<(), Failure> + Send + Sync + 'static,
    ) -> Self {
        self.revert = Some(Box::new(revert));
        self
    }
}

impl Task for FnTask {
    fn execute(&self, ctx: &ExecuteContext<'_>) -> Result<Value, Failure> {
        (self.exec)(ctx)
    }

    fn revert(&self, ctx: &RevertContext<'_>) -> Result<(), Failure> {
        match &self.revert {
            Some(r) => r(ctx),
            None => Ok(()),
        }
    }
}

/// Declares a task running a closure.
pub fn fn_task(
    name: impl Into<String>,
    exec: impl Fn(&ExecuteContext<'_>) -> Result<Value, Failure> + Send + Sync + 'static,
) -> TaskNode {
    task(name, FnTask::new(exec))
}

type MapFn = dyn Fn(&Value) -> Result<Value, Failure> + Send + Sync;
type ReduceFn = dyn Fn(Value, &Value) -> Result<Value, Failure> + Send + Sync;

struct MapTask {
    params: Vec<String>,
    f: Box<MapFn>,
}

impl Task for MapTask {
    fn execute(&self, ctx: &ExecuteContext<'_>) -> Result<Value, Failure> {
        let mut out = Vec::with_capacity(self.params.len());
        for p in &self.params {
            out.push((self.f)(ctx.args().require(p)?)?);
        }
        Ok(Value::Array(out))
    }

    fn requires(&self) -> Vec<String> {
        self.params.clone()
    }
}

struct ReduceTask {
    params: Vec<String>,
    f: Box<ReduceFn>,
}

impl Task for ReduceTask {
    fn execute(&self, ctx: &ExecuteContext<'_>) -> Result<Value, Failure> {
        let mut it = self.params.iter();
        let first = it
            .next()
            .ok_or_else(|| Failure::new("ValueError", "reduce needs at least two inputs"))?;
        let mut acc = ctx.args().require(first)?.clone();
        for p in it {
            acc = (self.f)(acc, ctx.args().require(p)?)?;
        }
        Ok(acc)
    }

    fn requires(&self) -> Vec<String> {
        self.params.clone()
    }
}

/// A task applying `f` to each required value, in order, giving an array (TaskFlow's `MapFunctorTask`).
pub fn map_task<I, S>(
    name: impl Into<String>,
    requires: I,
    f: impl Fn(&Value) -> Result<Value, Failure> + Send + Sync + 'static,
) -> TaskNode
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let params = requires.into_iter().map(Into::into).collect();
    task(
        name,
        MapTask {
            params,
            f: Box::new(f),
        },
    )
}

/// A task folding the required values with `f`, in order (TaskFlow's `ReduceFunctorTask`).
///
/// TaskFlow refuses fewer than two inputs; here one input is returned as is, and none fails at run time.
pub fn reduce_task<I, S>(
    name: impl Into<String>,
    requires: I,
    f: impl Fn(Value, &Value) -> Result<Value, Failure> + Send + Sync + 'static,
) -> TaskNode
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let params = requires.into_iter().map(Into::into).collect();
    task(
        name,
        ReduceTask {
            params,
            f: Box::new(f),
        },
    )
}
