//! Flows: linear, unordered and graph patterns of tasks and nested flows.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::atom::TaskNode;
use crate::error::{Error, Result};
use crate::retry::RetryNode;

/// How a flow orders its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// One after another, in the order added.
    Linear,
    /// No order: all items may run at once.
    Unordered,
    /// A directed acyclic graph: edges inferred from requires/provides, plus explicit links.
    Graph,
}

/// How far a decider's "no" reaches (TaskFlow's `deciders.Depth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Depth {
    /// Only the target atom.
    Atom,
    /// The target and its direct task successors.
    Neighbors,
    /// The target and its successors inside the same flow.
    Flow,
    /// The target and everything reachable from it (the default).
    All,
}

impl Depth {
    /// TaskFlow's name (`ALL`, `FLOW`, `NEIGHBORS`, `ATOM`).
    pub fn as_str(self) -> &'static str {
        match self {
            Depth::All => "ALL",
            Depth::Flow => "FLOW",
            Depth::Neighbors => "NEIGHBORS",
            Depth::Atom => "ATOM",
        }
    }
}

/// A decider: sees the results of the link's source atoms (`history`) and says whether the target runs.
pub type DeciderFn = dyn Fn(&BTreeMap<String, Value>) -> bool + Send + Sync;

/// A decider on a link, with its depth.
#[derive(Clone)]
pub(crate) struct Decider {
    pub(crate) f: Arc<DeciderFn>,
    pub(crate) depth: Depth,
}

impl fmt::Debug for Decider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decider")
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

/// An edge between two items of a flow.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) manual: bool,
    pub(crate) reasons: BTreeSet<String>,
    pub(crate) decider: Option<Decider>,
}

/// Something a flow holds: a task or a nested flow.
#[derive(Debug, Clone)]
pub enum Item {
    /// A task.
    Task(TaskNode),
    /// A nested flow.
    Flow(Flow),
}

impl Item {
    /// The item's name.
    pub fn name(&self) -> &str {
        match self {
            Item::Task(t) => &t.spec.name,
            Item::Flow(f) => &f.name,
        }
    }

    /// The names the item publishes.
    pub fn provides(&self) -> BTreeSet<String> {
        match self {
            Item::Task(t) => t.spec.provided_names().into_iter().collect(),
            Item::Flow(f) => f.provides(),
        }
    }

    /// The names the item needs from outside.
    pub fn requires(&self) -> BTreeSet<String> {
        match self {
            Item::Task(t) => t.spec.required_names(),
            Item::Flow(f) => f.requires(),
        }
    }
}

impl From<TaskNode> for Item {
    fn from(t: TaskNode) -> Self {
        Item::Task(t)
    }
}

impl From<Flow> for Item {
    fn from(f: Flow) -> Self {
        Item::Flow(f)
    }
}

/// A flow: a named pattern of items, optionally governed by one retry controller.
#[derive(Debug, Clone)]
pub struct Flow {
    pub(crate) name: String,
    pub(crate) pattern: Pattern,
    pub(crate) retry: Option<RetryNode>,
    pub(crate) items: Vec<Item>,
    pub(crate) edges: Vec<Edge>,
    /// Graph flows: per item, the required names no ancestor (nor the retry) provides.
    unsat: Vec<BTreeSet<String>>,
}

impl Flow {
    fn new(name: impl Into<String>, pattern: Pattern) -> Self {
        Flow {
            name: name.into(),
            pattern,
            retry: None,
            items: Vec::new(),
            edges: Vec::new(),
            unsat: Vec::new(),
        }
    }

    /// A linear flow (`linear_flow.Flow`).
    pub fn linear(name: impl Into<String>) -> Self {
        Flow::new(name, Pattern::Linear)
    }

    /// An unordered flow (`unordered_flow.Flow`).
    pub fn unordered(name: impl Into<String>) -> Self {
        Flow::new(name, Pattern::Unordered)
    }

    /// A graph flow (`graph_flow.Flow`).
    pub fn graph(name: impl Into<String>) -> Self {
        Flow::new(name, Pattern::Graph)
    }

    /// Puts the flow under a retry controller, which runs before its items.
    pub fn with_retry(mut self, retry: RetryNode) -> Self {
        self.retry = Some(retry);
        self.recompute_unsat();
        self
    }

    fn recompute_unsat(&mut self) {
        if self.pattern != Pattern::Graph {
            return;
        }
        let rp = self.retry_provides();
        let preds = pred_lists(self.items.len(), &self.edges);
        self.unsat = (0..self.items.len())
            .map(|i| self.compute_unsat(i, &preds, &rp))
            .collect();
    }

    fn compute_unsat(
        &self,
        idx: usize,
        preds: &[Vec<usize>],
        retry_provides: &BTreeSet<String>,
    ) -> BTreeSet<String> {
        let Some(item) = self.items.get(idx) else {
            return BTreeSet::new();
        };
        let mut req: BTreeSet<String> = item
            .requires()
            .difference(retry_provides)
            .cloned()
            .collect();
        if req.is_empty() {
            return req;
        }
        for a in walk(idx, preds) {
            if let Some(p) = self.items.get(a) {
                for name in p.provides() {
                    req.remove(&name);
                }
            }
        }
        req
    }

    /// The flow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The flow's pattern.
    pub fn pattern(&self) -> Pattern {
        self.pattern
    }

    /// The items, in the order added.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// How many items the flow holds directly.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn retry_provides(&self) -> BTreeSet<String> {
        self.retry
            .as_ref()
            .map(|r| r.spec.provided_names().into_iter().collect())
            .unwrap_or_default()
    }

    /// Everything the flow's items (and retry) publish.
    pub fn provides(&self) -> BTreeSet<String> {
        let mut out = self.retry_provides();
        for i in &self.items {
            out.extend(i.provides());
        }
        out
    }

    /// The names the flow needs from outside: required by an item and not provided before it.
    pub fn requires(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let retry_provides = self.retry_provides();
        if let Some(r) = &self.retry {
            out.extend(r.spec.required_names());
        }
        match self.pattern {
            Pattern::Linear => {
                let mut prior = retry_provides;
                for i in &self.items {
                    out.extend(i.requires().difference(&prior).cloned());
                    prior.extend(i.provides());
                }
            }
            Pattern::Unordered => {
                for i in &self.items {
                    out.extend(i.requires().difference(&retry_provides).cloned());
                }
            }
            Pattern::Graph => {
                for u in &self.unsat {
                    out.extend(u.iter().cloned());
                }
            }
        }
        out
    }

    fn index_of(&self, name: &str) -> Result<usize> {
        self.items
            .iter()
            .position(|i| i.name() == name)
            .ok_or_else(|| Error::NodeNotFound(name.to_owned(), self.name.clone()))
    }

    /// Adds an item. In a graph flow, edges are inferred: from the single existing provider of each
    /// symbol the item requires (several providers: [`Error::AmbiguousDependency`]), and from the item to
    /// existing items requiring what it provides; a cycle is [`Error::Cycle`] and nothing is added.
    pub fn add(&mut self, item: impl Into<Item>) -> Result<&mut Self> {
        let item = item.into();
        if self.pattern != Pattern::Graph {
            self.items.push(item);
            return Ok(self);
        }
        self.add_to_graph(item, true, true)
    }

    /// Adds an item to a graph flow choosing which edges to infer (TaskFlow's `resolve_requires` and
    /// `resolve_existing`). On other patterns this is [`Flow::add`].
    pub fn add_resolving(
        &mut self,
        item: impl Into<Item>,
        resolve_requires: bool,
        resolve_existing: bool,
    ) -> Result<&mut Self> {
        let item = item.into();
        if self.pattern != Pattern::Graph {
            self.items.push(item);
            return Ok(self);
        }
        self.add_to_graph(item, resolve_requires, resolve_existing)
    }

    fn add_to_graph(
        &mut self,
        item: Item,
        resolve_requires: bool,
        resolve_existing: bool,
    ) -> Result<&mut Self> {
        let retry_provides = self.retry_provides();
        let mut required: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut provided: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for idx in 0..self.items.len() {
            for v in self.unsat.get(idx).into_iter().flatten() {
                required.entry(v.clone()).or_default().push(idx);
            }
            if let Some(it) = self.items.get(idx) {
                for v in it.provides() {
                    provided.entry(v).or_default().push(idx);
                }
            }
        }
        let new = self.items.len();
        let mut edges = self.edges.clone();
        let item_provides = item.provides();
        if resolve_requires {
            let req: BTreeSet<String> = item
                .requires()
                .difference(&retry_provides)
                .cloned()
                .collect();
            for v in req {
                match provided.get(&v).map(Vec::as_slice) {
                    Some([one]) => add_edge(&mut edges, *one, new, Some(v), false, None),
                    Some(many) if many.len() > 1 => {
                        let mut providers: Vec<String> = many
                            .iter()
                            .filter_map(|i| self.items.get(*i))
                            .map(|i| i.name().to_owned())
                            .collect();
                        providers.sort();
                        return Err(Error::AmbiguousDependency {
                            node: item.name().to_owned(),
                            providers,
                            symbol: v,
                        });
                    }
                    _ => {}
                }
            }
        }
        let mut requirees_linked = Vec::new();
        if resolve_existing {
            for v in &item_provides {
                if let Some(requirees) = required.get(v) {
                    for r in requirees {
                        add_edge(&mut edges, new, *r, Some(v.clone()), false, None);
                        requirees_linked.push(*r);
                    }
                }
            }
        }
        if topo_order(new + 1, &edges).is_none() {
            return Err(Error::Cycle);
        }
        self.items.push(item);
        self.edges = edges;
        let preds = pred_lists(new + 1, &self.edges);
        let mine = self.compute_unsat(new, &preds, &retry_provides);
        self.unsat.push(mine);
        if !requirees_linked.is_empty() {
            // The new item (and its ancestors) now precede these items and everything after them.
            let succs = succ_lists(new + 1, &self.edges);
            let mut gained = item_provides.clone();
            for a in walk(new, &preds) {
                if let Some(p) = self.items.get(a) {
                    gained.extend(p.provides());
                }
            }
            for d in walk(new, &succs) {
                if let Some(u) = self.unsat.get_mut(d) {
                    u.retain(|n| !gained.contains(n));
                }
            }
        }
        Ok(self)
    }

    /// Adds an explicit edge `from → to` between two items of a graph flow.
    pub fn link(&mut self, from: &str, to: &str) -> Result<&mut Self> {
        self.link_inner(from, to, None)
    }

    /// Adds an explicit edge whose `decider` (given the results of the source atoms) can switch the target
    /// to IGNORE; `depth` says how far that reaches.
    pub fn link_with_decider(
        &mut self,
        from: &str,
        to: &str,
        decider: impl Fn(&BTreeMap<String, Value>) -> bool + Send + Sync + 'static,
        depth: Depth,
    ) -> Result<&mut Self> {
        self.link_inner(
            from,
            to,
            Some(Decider {
                f: Arc::new(decider),
                depth,
            }),
        )
    }

    fn link_inner(&mut self, from: &str, to: &str, decider: Option<Decider>) -> Result<&mut Self> {
        if self.pattern != Pattern::Graph {
            return Err(Error::InvalidArguments {
                atom: self.name.clone(),
                reason: "only graph flows take explicit links".to_owned(),
            });
        }
        let u = self.index_of(from)?;
        let v = self.index_of(to)?;
        let mut edges = self.edges.clone();
        add_edge(&mut edges, u, v, None, true, decider);
        if topo_order(self.items.len(), &edges).is_none() {
            return Err(Error::Cycle);
        }
        self.edges = edges;
        self.recompute_unsat();
        Ok(self)
    }

    /// The item order the compiler uses: insertion order, or a topological order for graph flows.
    pub(crate) fn ordered_items(&self) -> Vec<usize> {
        match self.pattern {
            Pattern::Graph => topo_order(self.items.len(), &self.edges).unwrap_or_default(),
            _ => (0..self.items.len()).collect(),
        }
    }

    /// The item-level links: consecutive pairs for linear flows, none for unordered, the edges of a graph.
    pub(crate) fn links(&self) -> Vec<Edge> {
        match self.pattern {
            Pattern::Linear => (1..self.items.len())
                .map(|i| Edge {
                    from: i - 1,
                    to: i,
                    manual: false,
                    reasons: BTreeSet::new(),
                    decider: None,
                })
                .collect(),
            Pattern::Unordered => Vec::new(),
            Pattern::Graph => self.edges.clone(),
        }
    }
}

fn add_edge(
    edges: &mut Vec<Edge>,
    from: usize,
    to: usize,
    reason: Option<String>,
    manual: bool,
    decider: Option<Decider>,
) {
    if let Some(e) = edges.iter_mut().find(|e| e.from == from && e.to == to) {
        if let Some(r) = reason {
            e.reasons.insert(r);
        }
        e.manual |= manual;
        if decider.is_some() {
            e.decider = decider;
        }
        return;
    }
    edges.push(Edge {
        from,
        to,
        manual,
        reasons: reason.into_iter().collect(),
        decider,
    });
}

fn pred_lists(n: usize, edges: &[Edge]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); n];
    for e in edges {
        if let Some(p) = out.get_mut(e.to) {
            p.push(e.from);
        }
    }
    out
}

fn succ_lists(n: usize, edges: &[Edge]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); n];
    for e in edges {
        if let Some(p) = out.get_mut(e.from) {
            p.push(e.to);
        }
    }
    out
}

/// Every node reachable from `start` (excluded) through `adj`.
fn walk(start: usize, adj: &[Vec<usize>]) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(n) = stack.pop() {
        for &m in adj.get(n).into_iter().flatten() {
            if seen.insert(m) {
                stack.push(m);
            }
        }
    }
    seen
}

/// Kahn's algorithm, lowest index first among ready nodes; `None` on a cycle.
pub(crate) fn topo_order(n: usize, edges: &[Edge]) -> Option<Vec<usize>> {
    let mut indeg = vec![0usize; n];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in edges {
        if e.from >= n || e.to >= n {
            continue;
        }
        indeg[e.to] += 1;
        succ[e.from].push(e.to);
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|i| indeg[*i] == 0).collect();
    let mut out = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        out.push(i);
        for &s in &succ[i] {
            indeg[s] -= 1;
            if indeg[s] == 0 {
                ready.insert(s);
            }
        }
    }
    (out.len() == n).then_some(out)
}
