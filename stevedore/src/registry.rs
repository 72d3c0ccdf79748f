//! The registry: every known plugin, by namespace, in a deterministic order.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::error::Error;
use crate::plugin::{EntryPoint, Loader, Origin, StaticPlugin};

/// The plugins a program knows, grouped by namespace.
///
/// # Order
///
/// Within a namespace, entry points are sorted by name. Entry points sharing a name keep this order:
/// compiled-in plugins first (sorted by target), then those added at run time in the order they were added
/// (plugin directories in the order given, the libraries of a directory sorted by file name, the plugins of
/// a library in the order its descriptor lists them, manifest entries in file order). So the order never
/// depends on link order, and a library plugin that reuses a compiled-in name comes after it — the one
/// [`ignore_conflicts`](crate::ignore_conflicts) picks. Python's order is the order of installed
/// distributions instead.
///
/// # Static plugins and the linker
///
/// [`Registry::global`] holds what [`register!`](crate::register) submitted anywhere in the program. A crate
/// that only registers plugins and is never named by the program is not linked at all, and its plugins
/// silently disappear: name it once, with `use my_plugins as _;` in the binary (or library) that needs
/// them, and check at start-up with [`Registry::require`].
#[derive(Debug, Clone, Default)]
pub struct Registry {
    namespaces: BTreeMap<String, Vec<Slot>>,
    next_seq: u64,
}

#[derive(Debug, Clone)]
struct Slot {
    /// 0 for compiled-in plugins, 1 for everything added later.
    rank: u8,
    seq: u64,
    entry: Arc<EntryPoint>,
}

static GLOBAL: OnceLock<Registry> = OnceLock::new();

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// The compiled-in plugins, collected once per process (like Python's per-process entry-point cache).
    pub fn global() -> &'static Registry {
        GLOBAL.get_or_init(Registry::from_static)
    }

    /// Keeps this registry for the rest of the process (as [`Registry::global`] is kept), for
    /// [`ManagerBuilder::static_registry`](crate::ManagerBuilder::static_registry). A program typically
    /// builds one registry at start-up — compiled-in plugins plus its plugin directories — and leaks it.
    pub fn leak(self) -> &'static Registry {
        Box::leak(Box::new(self))
    }

    /// A fresh registry of the compiled-in plugins, to add library plugins to.
    pub fn from_static() -> Self {
        let mut statics: Vec<&'static StaticPlugin> =
            inventory::iter::<StaticPlugin>.into_iter().collect();
        statics.sort_by(|a, b| {
            (a.namespace(), a.name(), a.target()).cmp(&(b.namespace(), b.name(), b.target()))
        });
        // The same registration seen twice (the same factory under the same name) counts once, as Python
        // drops duplicate `(name, value, group)` entry points.
        statics.dedup_by(|a, b| {
            (a.namespace(), a.name(), a.target()) == (b.namespace(), b.name(), b.target())
        });
        let mut reg = Registry::new();
        for p in statics {
            let entry = EntryPoint::new(
                p.namespace(),
                p.name(),
                p.target(),
                Origin::Static,
                Loader::Factory(p.factory()),
            );
            reg.insert(0, entry);
        }
        reg
    }

    fn insert(&mut self, rank: u8, entry: EntryPoint) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let list = self
            .namespaces
            .entry(entry.namespace().to_owned())
            .or_default();
        let slot = Slot {
            rank,
            seq,
            entry: Arc::new(entry),
        };
        fn key(s: &Slot) -> (&str, u8, u64) {
            (s.entry.name(), s.rank, s.seq)
        }
        let at = list.partition_point(|s| key(s) <= key(&slot));
        list.insert(at, slot);
    }

    /// Adds an entry point at run time (after the compiled-in plugins of the same name).
    pub fn add(&mut self, entry: EntryPoint) {
        self.insert(1, entry);
    }

    /// The namespaces that have at least one plugin, sorted.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.namespaces.keys().map(String::as_str)
    }

    /// The entry points of a namespace, in registry order (Python's `list_entry_points`).
    pub fn entry_points<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a EntryPoint> {
        self.slots(namespace).iter().map(|s| &*s.entry)
    }

    pub(crate) fn shared_entry_points(
        &self,
        namespace: &str,
    ) -> impl ExactSizeIterator<Item = &Arc<EntryPoint>> {
        self.slots(namespace).iter().map(|s| &s.entry)
    }

    /// The entry points of a namespace called `name`, found by binary search (entries are sorted by name).
    pub(crate) fn shared_entry_points_named(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Iterator<Item = &Arc<EntryPoint>> {
        let slots = self.slots(namespace);
        let start = slots.partition_point(|s| s.entry.name() < name);
        let end = start + slots[start..].partition_point(|s| s.entry.name() == name);
        slots[start..end].iter().map(|s| &s.entry)
    }

    fn slots(&self, namespace: &str) -> &[Slot] {
        self.namespaces
            .get(namespace)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The names in a namespace, in registry order, without loading anything (Python's
    /// `entry_points_names`).
    pub fn names(&self, namespace: &str) -> Vec<&str> {
        self.entry_points(namespace).map(EntryPoint::name).collect()
    }

    /// True when `namespace` has a plugin called `name`.
    pub fn contains(&self, namespace: &str, name: &str) -> bool {
        self.entry_points(namespace).any(|e| e.name() == name)
    }

    /// Every entry point, namespace by namespace.
    pub fn iter(&self) -> impl Iterator<Item = &EntryPoint> {
        self.namespaces
            .values()
            .flat_map(|v| v.iter().map(|s| &*s.entry))
    }

    /// How many entry points there are in all.
    pub fn len(&self) -> usize {
        self.namespaces.values().map(Vec::len).sum()
    }

    /// True when no plugin is registered.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
    }

    /// The start-up check: fails with [`Error::NotRegistered`] naming every `(namespace, name)` pair that
    /// is not registered — typically because the crate providing it was dropped by the linker or left out
    /// of the build.
    ///
    /// ```
    /// let err = stevedore::Registry::global()
    ///     .require(&[("example.none", "nothing")])
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "expected plugins are not registered: `example.none:nothing`"
    /// );
    /// ```
    pub fn require(&self, expected: &[(&str, &str)]) -> Result<(), Error> {
        let missing: Vec<(String, String)> = expected
            .iter()
            .filter(|(ns, name)| !self.contains(ns, name))
            .map(|(ns, name)| ((*ns).to_owned(), (*name).to_owned()))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::NotRegistered { missing })
        }
    }
}
