//! Compilation: a flow tree becomes one execution graph of atoms (plus no-op flow entry/exit nodes), with
//! the scope information that name lookups need.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::atom::{ArgMap, AtomSpec, Task};
use crate::error::{Error, Result};
use crate::flow::{Decider, Depth, Flow, Item, Pattern};
use crate::retry::Retry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Task,
    Retry,
    Flow,
    FlowEnd,
}

#[derive(Debug)]
pub(crate) struct GNode {
    pub(crate) kind: NodeKind,
    /// The atom index, for task and retry nodes.
    pub(crate) atom: Option<usize>,
}

#[derive(Clone)]
pub(crate) enum AtomImpl {
    Task(Arc<dyn Task>),
    Retry(Arc<dyn Retry>),
}

/// A decider on an edge into an atom (or into a flow node that leads to it).
#[derive(Debug, Clone)]
pub(crate) struct EdgeDecider {
    pub(crate) from_node: usize,
    pub(crate) decider: Decider,
}

pub(crate) struct CAtom {
    pub(crate) spec: AtomSpec,
    pub(crate) imp: AtomImpl,
    pub(crate) node: usize,
    /// The atom index of the retry controller governing this atom.
    pub(crate) retry: Option<usize>,
    /// The path in the flow tree: (flow index, position among that flow's tree children).
    pub(crate) path: Vec<(usize, usize)>,
    pub(crate) exec_map: Vec<ArgMap>,
    pub(crate) revert_map: Vec<ArgMap>,
    pub(crate) deciders: Vec<EdgeDecider>,
    /// Nearest atoms before / after this one in the graph (through flow nodes).
    pub(crate) atom_preds: Vec<usize>,
    pub(crate) atom_succs: Vec<usize>,
}

impl CAtom {
    pub(crate) fn is_retry(&self) -> bool {
        matches!(self.imp, AtomImpl::Retry(_))
    }
}

pub(crate) struct CFlow {
    pub(crate) pattern: Pattern,
    pub(crate) has_retry: bool,
    /// Item-level successor lists (by item index), for graph flows.
    pub(crate) item_succs: Vec<Vec<usize>>,
    /// Tree position (after the retry) → item index.
    pub(crate) tree_items: Vec<usize>,
}

/// The compiled flow.
pub(crate) struct Compiled {
    pub(crate) nodes: Vec<GNode>,
    pub(crate) succ: Vec<Vec<usize>>,
    pub(crate) pred: Vec<Vec<usize>>,
    pub(crate) deciders: HashMap<(usize, usize), Decider>,
    pub(crate) atoms: Vec<CAtom>,
    pub(crate) flows: Vec<CFlow>,
    pub(crate) by_name: HashMap<String, usize>,
    /// Stored name → atoms providing it.
    pub(crate) providers: HashMap<String, Vec<usize>>,
}

/// A position in the flow tree: (flow index, position among that flow's children).
type TreePos = (usize, usize);

struct Sub {
    entries: Vec<usize>,
    exits: Vec<usize>,
}

pub(crate) fn compile(root: &Flow) -> Result<Compiled> {
    let mut c = Compiled {
        nodes: Vec::new(),
        succ: Vec::new(),
        pred: Vec::new(),
        deciders: HashMap::new(),
        atoms: Vec::new(),
        flows: Vec::new(),
        by_name: HashMap::new(),
        providers: HashMap::new(),
    };
    let mut path = Vec::new();
    compile_flow(&mut c, root, &mut path)?;
    // Duplicate names.
    let mut seen = BTreeSet::new();
    let mut dups = BTreeSet::new();
    for a in &c.atoms {
        if !seen.insert(a.spec.name.clone()) {
            dups.insert(a.spec.name.clone());
        }
    }
    if !dups.is_empty() {
        return Err(Error::Duplicate(dups.into_iter().collect()));
    }
    for (i, a) in c.atoms.iter().enumerate() {
        c.by_name.insert(a.spec.name.clone(), i);
        for n in a.spec.provided_names() {
            c.providers.entry(n).or_default().push(i);
        }
    }
    // Nearest atom neighbours and deciders.
    for i in 0..c.atoms.len() {
        let node = c.atoms[i].node;
        let preds = c.nearest_atoms(node, false);
        let succs = c.nearest_atoms(node, true);
        let deciders = c.walk_edge_deciders(node);
        let a = &mut c.atoms[i];
        a.atom_preds = preds;
        a.atom_succs = succs;
        a.deciders = deciders;
    }
    Ok(c)
}

fn add_node(c: &mut Compiled, kind: NodeKind, atom: Option<usize>) -> usize {
    c.nodes.push(GNode { kind, atom });
    c.succ.push(Vec::new());
    c.pred.push(Vec::new());
    c.nodes.len() - 1
}

fn add_edge(c: &mut Compiled, u: usize, v: usize, decider: Option<&Decider>) {
    if !c.succ[u].contains(&v) {
        c.succ[u].push(v);
        c.pred[v].push(u);
    }
    if let Some(d) = decider {
        c.deciders.insert((u, v), d.clone());
    }
}

fn make_atom(
    c: &mut Compiled,
    spec: &AtomSpec,
    imp: AtomImpl,
    path: &[(usize, usize)],
) -> Result<usize> {
    let exec_map = spec.arg_mapping()?;
    let revert_map = spec.revert_arg_mapping()?;
    let idx = c.atoms.len();
    let kind = match imp {
        AtomImpl::Task(_) => NodeKind::Task,
        AtomImpl::Retry(_) => NodeKind::Retry,
    };
    let node = add_node(c, kind, Some(idx));
    c.atoms.push(CAtom {
        spec: spec.clone(),
        imp,
        node,
        retry: None,
        path: path.to_vec(),
        exec_map,
        revert_map,
        deciders: Vec::new(),
        atom_preds: Vec::new(),
        atom_succs: Vec::new(),
    });
    Ok(node)
}

fn compile_flow(c: &mut Compiled, flow: &Flow, path: &mut Vec<(usize, usize)>) -> Result<Sub> {
    let fidx = c.flows.len();
    let order = flow.ordered_items();
    c.flows.push(CFlow {
        pattern: flow.pattern,
        has_retry: flow.retry.is_some(),
        item_succs: {
            let mut s = vec![Vec::new(); flow.items.len()];
            for e in flow.links() {
                if let Some(v) = s.get_mut(e.from) {
                    v.push(e.to);
                }
            }
            s
        },
        tree_items: order.clone(),
    });
    let first_node = c.nodes.len();
    let fnode = add_node(c, NodeKind::Flow, None);
    let offset = usize::from(flow.retry.is_some());
    let mut subs: Vec<Option<Sub>> = (0..flow.items.len()).map(|_| None).collect();
    for (pos, &item_idx) in order.iter().enumerate() {
        let Some(item) = flow.items.get(item_idx) else {
            continue;
        };
        path.push((fidx, pos + offset));
        let sub = match item {
            Item::Task(t) => {
                let n = make_atom(c, &t.spec, AtomImpl::Task(t.task.clone()), path)?;
                Sub {
                    entries: vec![n],
                    exits: vec![n],
                }
            }
            Item::Flow(f) => compile_flow(c, f, path)?,
        };
        path.pop();
        subs[item_idx] = Some(sub);
    }
    for e in flow.links() {
        let (Some(Some(u)), Some(Some(v))) = (subs.get(e.from), subs.get(e.to)) else {
            continue;
        };
        let (exits, entries) = (u.exits.clone(), v.entries.clone());
        for &x in &exits {
            for &y in &entries {
                add_edge(c, x, y, e.decider.as_ref());
            }
        }
    }
    let last_node = c.nodes.len();
    let from = if let Some(r) = &flow.retry {
        path.push((fidx, 0));
        let rnode = make_atom(c, &r.spec, AtomImpl::Retry(r.retry.clone()), path)?;
        path.pop();
        add_edge(c, fnode, rnode, None);
        let ratom = c.nodes[rnode].atom;
        for n in first_node..last_node {
            if let Some(a) = c.nodes[n].atom
                && c.atoms[a].retry.is_none()
                && n != rnode
            {
                c.atoms[a].retry = ratom;
            }
        }
        rnode
    } else {
        fnode
    };
    let sources: Vec<usize> = (first_node..c.nodes.len())
        .filter(|&n| n != fnode && n != from && c.pred[n].is_empty())
        .collect();
    for s in sources {
        add_edge(c, from, s, None);
    }
    let end = add_node(c, NodeKind::FlowEnd, None);
    let sinks: Vec<usize> = (first_node..end)
        .filter(|&n| c.succ[n].is_empty())
        .collect();
    for s in sinks {
        add_edge(c, s, end, None);
    }
    Ok(Sub {
        entries: vec![fnode],
        exits: vec![end],
    })
}

impl Compiled {
    /// The nearest atom nodes' atom indices before (`forward == false`) or after a node, through flow nodes.
    fn nearest_atoms(&self, node: usize, forward: bool) -> Vec<usize> {
        let adj = if forward { &self.succ } else { &self.pred };
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = adj[node].iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            match self.nodes[n].atom {
                Some(a) => out.push(a),
                None => stack.extend(adj[n].iter().rev().copied()),
            }
        }
        out
    }

    fn walk_edge_deciders(&self, node: usize) -> Vec<EdgeDecider> {
        let mut out = Vec::new();
        let mut queue: std::collections::VecDeque<(usize, usize)> =
            self.pred[node].iter().map(|&u| (u, node)).collect();
        let mut visited = BTreeSet::new();
        while let Some((u, v)) = queue.pop_front() {
            if let Some(d) = self.deciders.get(&(u, v)) {
                out.push(EdgeDecider {
                    from_node: u,
                    decider: d.clone(),
                });
            }
            if self.nodes[u].kind == NodeKind::Flow && visited.insert(u) {
                queue.extend(self.pred[u].iter().map(|&p| (p, u)));
            }
        }
        out
    }

    /// TaskFlow's depth-first traversal from an atom, yielding atom indices.
    pub(crate) fn traverse(
        &self,
        atom: usize,
        forward: bool,
        through_flows: bool,
        through_retries: bool,
    ) -> Vec<usize> {
        let adj = if forward { &self.succ } else { &self.pred };
        let start = self.atoms[atom].node;
        let mut stack: Vec<usize> = adj[start].clone();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            let kind = self.nodes[n].kind;
            if let Some(a) = self.nodes[n].atom {
                out.push(a);
            }
            let go = match kind {
                NodeKind::Flow | NodeKind::FlowEnd => through_flows,
                NodeKind::Retry => through_retries,
                NodeKind::Task => true,
            };
            if go {
                stack.extend(adj[n].iter().copied());
            }
        }
        out
    }

    /// The atoms a decider's "no" on `atom` switches to IGNORE.
    pub(crate) fn affected_by_decider(&self, atom: usize, depth: Depth) -> Vec<usize> {
        let mut out = vec![atom];
        match depth {
            Depth::Atom => {}
            Depth::All => out.extend(self.traverse(atom, true, true, true)),
            Depth::Flow => out.extend(self.traverse(atom, true, false, false)),
            Depth::Neighbors => {
                let node = self.atoms[atom].node;
                for &s in &self.succ[node] {
                    if self.nodes[s].kind == NodeKind::Task
                        && let Some(a) = self.nodes[s].atom
                    {
                        out.push(a);
                    }
                }
            }
        }
        out
    }

    /// Whether tree position `from` precedes tree position `to` in flow `f` along graph edges.
    fn precedes(&self, f: usize, from: usize, to: usize) -> bool {
        let flow = &self.flows[f];
        if flow.has_retry && from == 0 {
            return to != 0;
        }
        let off = usize::from(flow.has_retry);
        if from < off || to < off || from >= to {
            return false;
        }
        match flow.pattern {
            Pattern::Linear => true,
            Pattern::Unordered => false,
            Pattern::Graph => {
                let (Some(&fi), Some(&ti)) = (
                    flow.tree_items.get(from - off),
                    flow.tree_items.get(to - off),
                ) else {
                    return false;
                };
                let mut stack = vec![fi];
                let mut seen = BTreeSet::new();
                while let Some(n) = stack.pop() {
                    if n == ti {
                        return true;
                    }
                    if seen.insert(n) {
                        stack.extend(flow.item_succs.get(n).into_iter().flatten().copied());
                    }
                }
                false
            }
        }
    }

    /// The providers of `name` visible to `atom`, closest first (TaskFlow's scope walk).
    pub(crate) fn visible_providers(&self, atom: usize, name: &str) -> Vec<usize> {
        let Some(cands) = self.providers.get(name) else {
            return Vec::new();
        };
        let me = &self.atoms[atom].path;
        let mut found: Vec<(usize, &[TreePos], usize)> = Vec::new();
        for &p in cands {
            if p == atom {
                continue;
            }
            let pp = &self.atoms[p].path;
            let k = pp.iter().zip(me.iter()).take_while(|(a, b)| a == b).count();
            let (Some(&(f, from)), Some(&(f2, to))) = (pp.get(k), me.get(k)) else {
                continue;
            };
            if f != f2 || !self.precedes(f, from, to) {
                continue;
            }
            let level = me.len() - 1 - k;
            found.push((level, pp.as_slice(), p));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)));
        found.into_iter().map(|(_, _, p)| p).collect()
    }

    /// Every mapped stored name of every atom nothing can provide (given the store's names).
    pub(crate) fn missing(
        &self,
        store: &BTreeMap<String, serde_json::Value>,
    ) -> Vec<crate::error::MissingArgs> {
        let mut out = Vec::new();
        for (i, a) in self.atoms.iter().enumerate() {
            for (method, map) in [("execute", &a.exec_map), ("revert", &a.revert_map)] {
                let names: Vec<String> = map
                    .iter()
                    .filter(|m| !m.optional)
                    .filter(|m| {
                        !a.spec.inject.contains_key(&m.name) && !store.contains_key(&m.name)
                    })
                    .filter(|m| self.visible_providers(i, &m.name).is_empty())
                    .map(|m| m.name.clone())
                    .collect();
                let same_as_execute = method == "revert" && a.revert_map == a.exec_map;
                if !names.is_empty() && !same_as_execute {
                    out.push(crate::error::MissingArgs {
                        atom: a.spec.name.clone(),
                        method,
                        names,
                    });
                }
            }
        }
        out
    }
}
