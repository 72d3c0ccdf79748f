//! Flows: linear, unordered and graph patterns of tasks and nested flows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
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
// Both variants are a few hundred bytes and items are built once per flow: boxing would only add noise.
#[allow(clippy::large_enum_variant)]
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
    index: GraphIndex,
}

/// Graph flows: adjacency and symbol indexes kept up to date as items are added.
#[derive(Debug, Clone, Default)]
struct GraphIndex {
    preds: Vec<Vec<usize>>,
    succs: Vec<Vec<usize>>,
    provides: Vec<BTreeSet<String>>,
    provided: BTreeMap<String, Vec<usize>>,
    required: BTreeMap<String, BTreeSet<usize>>,
    edge_at: HashMap<(usize, usize), usize>,
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
            index: GraphIndex::default(),
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
        self.rebuild();
        self
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
        let rp = self.retry_provides();
        let new = self.items.len();
        let item_provides = item.provides();
        let item_requires: BTreeSet<String> = item.requires().difference(&rp).cloned().collect();
        let mut in_edges: Vec<(usize, String)> = Vec::new();
        let mut unresolved = BTreeSet::new();
        for v in item_requires {
            match self.index.provided.get(&v).map(Vec::as_slice) {
                Some([one]) if resolve_requires => in_edges.push((*one, v)),
                Some(many) if resolve_requires && many.len() > 1 => {
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
                _ => {
                    unresolved.insert(v);
                }
            }
        }
        let mut out_edges: Vec<(usize, String)> = Vec::new();
        if resolve_existing {
            for v in &item_provides {
                for &r in self.index.required.get(v).into_iter().flatten() {
                    out_edges.push((r, v.clone()));
                }
            }
        }
        // Ancestors of the new item (its providers and everything before them) matter only when it must
        // come before existing items (a cycle check) or when its requirements were not resolved by links.
        let need_ancestors = !out_edges.is_empty() || !resolve_requires;
        let mut ancestors: BTreeSet<usize> = BTreeSet::new();
        if need_ancestors {
            let mut stack: Vec<usize> = in_edges.iter().map(|(p, _)| *p).collect();
            while let Some(n) = stack.pop() {
                if ancestors.insert(n) {
                    stack.extend(self.index.preds.get(n).into_iter().flatten().copied());
                }
            }
        }
        if out_edges.iter().any(|(r, _)| ancestors.contains(r)) {
            return Err(Error::Cycle);
        }
        // Commit.
        self.items.push(item);
        self.index.preds.push(Vec::new());
        self.index.succs.push(Vec::new());
        for v in &item_provides {
            self.index.provided.entry(v.clone()).or_default().push(new);
        }
        self.index.provides.push(item_provides.clone());
        for (p, v) in in_edges {
            self.add_edge(p, new, Some(v), false, None);
        }
        let linked = !out_edges.is_empty();
        for (r, v) in out_edges {
            self.add_edge(new, r, Some(v), false, None);
        }
        let mine = if resolve_requires {
            unresolved
        } else {
            let mut u = unresolved;
            for a in &ancestors {
                for n in self.index.provides.get(*a).into_iter().flatten() {
                    u.remove(n);
                }
            }
            u
        };
        self.unsat.push(BTreeSet::new());
        self.set_unsat(new, mine);
        if linked {
            // The new item (and its ancestors) now precede these items and everything after them.
            let mut gained = item_provides;
            for a in &ancestors {
                gained.extend(self.index.provides.get(*a).into_iter().flatten().cloned());
            }
            for d in walk(new, &self.index.succs) {
                let mut u = self.unsat.get(d).cloned().unwrap_or_default();
                u.retain(|n| !gained.contains(n));
                self.set_unsat(d, u);
            }
        }
        Ok(self)
    }

    fn set_unsat(&mut self, idx: usize, set: BTreeSet<String>) {
        if let Some(old) = self.unsat.get(idx) {
            for n in old {
                if let Some(r) = self.index.required.get_mut(n) {
                    r.remove(&idx);
                }
            }
        }
        for n in &set {
            self.index
                .required
                .entry(n.clone())
                .or_default()
                .insert(idx);
        }
        if let Some(slot) = self.unsat.get_mut(idx) {
            *slot = set;
        }
    }

    fn add_edge(
        &mut self,
        from: usize,
        to: usize,
        reason: Option<String>,
        manual: bool,
        decider: Option<Decider>,
    ) {
        if let Some(&i) = self.index.edge_at.get(&(from, to)) {
            if let Some(e) = self.edges.get_mut(i) {
                if let Some(r) = reason {
                    e.reasons.insert(r);
                }
                e.manual |= manual;
                if decider.is_some() {
                    e.decider = decider;
                }
            }
            return;
        }
        self.index.edge_at.insert((from, to), self.edges.len());
        self.edges.push(Edge {
            from,
            to,
            manual,
            reasons: reason.into_iter().collect(),
            decider,
        });
        if let Some(p) = self.index.preds.get_mut(to) {
            p.push(from);
        }
        if let Some(s) = self.index.succs.get_mut(from) {
            s.push(to);
        }
    }

    /// Rebuilds the graph index and the unsatisfied requirements from scratch.
    fn rebuild(&mut self) {
        if self.pattern != Pattern::Graph {
            return;
        }
        let n = self.items.len();
        let mut index = GraphIndex {
            preds: pred_lists(n, &self.edges),
            succs: succ_lists(n, &self.edges),
            provides: self.items.iter().map(Item::provides).collect(),
            ..GraphIndex::default()
        };
        for (i, e) in self.edges.iter().enumerate() {
            index.edge_at.insert((e.from, e.to), i);
        }
        for (i, p) in index.provides.iter().enumerate() {
            for v in p {
                index.provided.entry(v.clone()).or_default().push(i);
            }
        }
        let rp = self.retry_provides();
        let unsat: Vec<BTreeSet<String>> = (0..n)
            .map(|i| {
                let mut req: BTreeSet<String> =
                    self.items[i].requires().difference(&rp).cloned().collect();
                for a in walk(i, &index.preds) {
                    for v in index.provides.get(a).into_iter().flatten() {
                        req.remove(v);
                    }
                }
                req
            })
            .collect();
        for (i, u) in unsat.iter().enumerate() {
            for v in u {
                index.required.entry(v.clone()).or_default().insert(i);
            }
        }
        self.index = index;
        self.unsat = unsat;
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
        if u == v || walk(v, &self.index.succs).contains(&u) {
            return Err(Error::Cycle);
        }
        self.add_edge(u, v, None, true, decider);
        self.rebuild();
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
