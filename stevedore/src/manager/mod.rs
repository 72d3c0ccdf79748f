//! The managers, and the builder they share.
//!
//! Every manager is built the same way: `Manager::<T>::builder(namespace, ..)`, options, `build()`. `T` is
//! the type of the objects the plugins make (often a `Box<dyn YourTrait>`); it only matters when plugins are
//! invoked on load, when each object is checked to be a `T` (or converted, see
//! [`ManagerBuilder::convert`]).

mod dispatch;
mod driver;
mod enabled;
mod extension;
mod hook;
mod named;

pub use dispatch::{DispatchExtensionManager, NameDispatchExtensionManager};
pub use driver::DriverManager;
pub use enabled::EnabledExtensionManager;
pub use extension::ExtensionManager;
pub use hook::HookManager;
pub use named::NamedExtensionManager;

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use crate::error::{Error, PluginError};
use crate::plugin::{EntryPoint, EntryRef, Extension, InvokeArgs, Plugin, wrong_type};
use crate::registry::Registry;

/// Called when a plugin fails to load or to be invoked (Python's `on_load_failure_callback`). `Ok(())`
/// skips the plugin; `Err` stops the build with [`Error::Load`].
pub type LoadFailureCallback = Box<dyn FnMut(&EntryPoint, &PluginError) -> Result<(), PluginError>>;

/// Called with the namespace and the sorted names a named manager could not find (Python's
/// `on_missing_entrypoints_callback`). `Err` stops the build.
pub type MissingNamesCallback = Box<dyn FnMut(&str, &[String]) -> Result<(), Error>>;

/// Chooses among extensions sharing a name (Python's `conflict_resolver`): given the namespace, the name and
/// the candidates' entry points in manager order, returns the index of the chosen one.
pub type ConflictResolver =
    Arc<dyn Fn(&str, &str, &[&EntryPoint]) -> Result<usize, Error> + Send + Sync>;

type Check<T> = Box<dyn Fn(&Extension<T>) -> bool>;
type Convert<T> = Box<dyn Fn(Box<dyn Any>) -> Result<T, PluginError>>;

/// The default conflict resolver of most managers: logs a warning naming the candidates and picks the last.
pub fn ignore_conflicts(
    namespace: &str,
    name: &str,
    candidates: &[&EntryPoint],
) -> Result<usize, Error> {
    tracing::warn!(
        namespace,
        name,
        candidates = %targets(candidates).join(", "),
        "multiple implementations found for the `{name}` extension in the `{namespace}` namespace"
    );
    Ok(candidates.len().saturating_sub(1))
}

/// The conflict resolver of [`DriverManager`]: refuses with [`Error::MultipleMatches`].
pub fn error_on_conflict(
    namespace: &str,
    name: &str,
    candidates: &[&EntryPoint],
) -> Result<usize, Error> {
    Err(Error::MultipleMatches {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        targets: targets(candidates),
    })
}

fn targets(candidates: &[&EntryPoint]) -> Vec<String> {
    candidates.iter().map(|e| e.target().to_owned()).collect()
}

/// The missing-names callback named managers and drivers use by default: logs a warning.
pub fn warn_on_missing_names(namespace: &str, names: &[String]) -> Result<(), Error> {
    tracing::warn!(namespace, missing = %names.join(", "), "could not load {}", names.join(", "));
    Ok(())
}

/// Options shared by every manager; each manager's `builder` returns one, typed by the manager it builds.
pub struct ManagerBuilder<'r, T, M> {
    namespace: String,
    registry: &'r Registry,
    /// The same registry when it lives as long as the process, so extensions borrow their entry points.
    static_registry: Option<&'static Registry>,
    invoke: Option<InvokeArgs>,
    propagate: bool,
    on_load_failure: Option<LoadFailureCallback>,
    resolver: ConflictResolver,
    convert: Option<Convert<T>>,
    names: Option<Vec<String>>,
    name_order: bool,
    on_missing: Option<MissingNamesCallback>,
    check: Option<Check<T>>,
    extensions: Option<Vec<Extension<T>>>,
    _manager: PhantomData<fn() -> M>,
}

impl<T, M> fmt::Debug for ManagerBuilder<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagerBuilder")
            .field("namespace", &self.namespace)
            .field("invoke", &self.invoke)
            .field("propagate", &self.propagate)
            .field("names", &self.names)
            .field("name_order", &self.name_order)
            .finish_non_exhaustive()
    }
}

impl<T: 'static, M> ManagerBuilder<'static, T, M> {
    pub(crate) fn new(namespace: impl Into<String>) -> Self {
        ManagerBuilder {
            namespace: namespace.into(),
            registry: Registry::global(),
            static_registry: Some(Registry::global()),
            invoke: None,
            propagate: false,
            on_load_failure: None,
            resolver: Arc::new(ignore_conflicts),
            convert: None,
            names: None,
            name_order: false,
            on_missing: None,
            check: None,
            extensions: None,
            _manager: PhantomData,
        }
    }
}

impl<'r, T: 'static, M> ManagerBuilder<'r, T, M> {
    /// Looks plugins up in this registry instead of [`Registry::global`] (for library plugins).
    pub fn registry<'s>(self, registry: &'s Registry) -> ManagerBuilder<'s, T, M> {
        self.with_registry(registry, None)
    }

    /// Looks plugins up in a registry that lives as long as the process (see [`Registry::leak`]):
    /// the same as [`registry`](Self::registry), but the extensions borrow their entry points instead of
    /// sharing them, which makes building managers cheaper.
    pub fn static_registry(self, registry: &'static Registry) -> ManagerBuilder<'static, T, M> {
        self.with_registry(registry, Some(registry))
    }

    fn with_registry<'s>(
        self,
        registry: &'s Registry,
        static_registry: Option<&'static Registry>,
    ) -> ManagerBuilder<'s, T, M> {
        ManagerBuilder {
            namespace: self.namespace,
            registry,
            static_registry,
            invoke: self.invoke,
            propagate: self.propagate,
            on_load_failure: self.on_load_failure,
            resolver: self.resolver,
            convert: self.convert,
            names: self.names,
            name_order: self.name_order,
            on_missing: self.on_missing,
            check: self.check,
            extensions: self.extensions,
            _manager: PhantomData,
        }
    }

    /// Invokes every loaded plugin with these arguments and keeps the object (Python's `invoke_on_load`,
    /// `invoke_args`, `invoke_kwds`).
    pub fn invoke_on_load(mut self, args: InvokeArgs) -> Self {
        self.invoke = Some(args);
        self
    }

    /// Whether an error from a function given to `map` stops the map and is returned (`true`) or is logged
    /// and skipped (`false`, the default).
    pub fn propagate_map_exceptions(mut self, propagate: bool) -> Self {
        self.propagate = propagate;
        self
    }

    /// What to do when a plugin fails to load or to be invoked. Without one, the failure is logged and the
    /// plugin skipped ([`DriverManager`] fails instead).
    pub fn on_load_failure(
        mut self,
        callback: impl FnMut(&EntryPoint, &PluginError) -> Result<(), PluginError> + 'static,
    ) -> Self {
        self.on_load_failure = Some(Box::new(callback));
        self
    }

    /// How to choose among extensions sharing a name: [`ignore_conflicts`] (the default, except for
    /// [`DriverManager`]), [`error_on_conflict`], or your own.
    pub fn conflict_resolver(
        mut self,
        resolver: impl Fn(&str, &str, &[&EntryPoint]) -> Result<usize, Error> + Send + Sync + 'static,
    ) -> Self {
        self.resolver = Arc::new(resolver);
        self
    }

    /// Turns what a factory made into a `T`. The default downcasts, and a plugin that made something else
    /// fails to load.
    pub fn convert(
        mut self,
        convert: impl Fn(Box<dyn Any>) -> Result<T, PluginError> + 'static,
    ) -> Self {
        self.convert = Some(Box::new(convert));
        self
    }

    /// Accepts library plugins in a manager of another type: objects that are already a `T` are kept,
    /// [`DynamicObject`](crate::dynamic::DynamicObject)s go through `wrap`.
    #[cfg(feature = "dynamic")]
    pub fn convert_dynamic(
        self,
        wrap: impl Fn(crate::dynamic::DynamicObject) -> T + 'static,
    ) -> Self {
        self.convert(move |obj| match obj.downcast::<T>() {
            Ok(t) => Ok(*t),
            Err(obj) => obj
                .downcast::<crate::dynamic::DynamicObject>()
                .map(|d| wrap(*d))
                .map_err(|_| PluginError::new(wrong_type::<T>())),
        })
    }

    /// Builds a test instance from ready-made extensions instead of the registry (Python's
    /// `make_test_instance`): nothing is loaded, no check function or missing-names callback runs.
    pub fn with_extensions(mut self, extensions: Vec<Extension<T>>) -> Self {
        self.extensions = Some(extensions);
        self
    }

    fn set_names(mut self, names: Vec<String>) -> Self {
        self.names = Some(names);
        self
    }

    fn set_check(mut self, check: Check<T>) -> Self {
        self.check = Some(check);
        self
    }

    /// Loads the extensions: registry order, unselected names skipped before anything is loaded, each
    /// plugin loaded, invoked if asked, converted, then checked.
    fn load(&mut self) -> Result<Vec<Extension<T>>, Error> {
        if let Some(extensions) = self.extensions.take() {
            return Ok(extensions);
        }
        // Registry order is name order, so the entries of the wanted names, taken name by sorted name,
        // come out in registry order; the others are never looked at.
        let wanted: Option<Vec<&str>> = self.names.as_ref().map(|names| {
            let mut v: Vec<&str> = names.iter().map(String::as_str).collect();
            v.sort_unstable();
            v.dedup();
            v
        });
        let wanted = wanted.as_deref();
        let entries: Vec<EntryRef> = match self.static_registry {
            Some(registry) => select(registry, &self.namespace, wanted, |e| EntryRef::Static(e)),
            None => select(self.registry, &self.namespace, wanted, |e| {
                EntryRef::Shared(Arc::clone(e))
            }),
        };
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            tracing::debug!(namespace = %self.namespace, name = entry.name(), target = entry.target(), "found extension");
            match self.load_one(&entry) {
                Ok((plugin, obj)) => {
                    let ext = Extension::loaded(entry, plugin, obj);
                    if let Some(check) = &self.check
                        && !check(&ext)
                    {
                        tracing::debug!(namespace = %self.namespace, name = ext.name(), "ignoring extension");
                        continue;
                    }
                    out.push(ext);
                }
                Err(err) => match &mut self.on_load_failure {
                    Some(callback) => {
                        callback(&entry, &err).map_err(|source| Error::Load {
                            namespace: self.namespace.clone(),
                            name: entry.name().to_owned(),
                            target: entry.target().to_owned(),
                            source,
                        })?;
                    }
                    None => {
                        tracing::error!(
                            namespace = %self.namespace,
                            name = entry.name(),
                            target = entry.target(),
                            error = %err,
                            "could not load `{}`: {err}",
                            entry.name()
                        );
                    }
                },
            }
        }
        Ok(out)
    }

    fn load_one(&self, entry: &EntryRef) -> Result<(Plugin, Option<T>), PluginError> {
        let plugin = entry.load()?;
        let obj = match &self.invoke {
            Some(args) => Some(match plugin.invoke_typed::<T>(args)? {
                Ok(obj) => obj,
                Err(other) => match &self.convert {
                    Some(convert) => convert(other)?,
                    None => return Err(PluginError::new(wrong_type::<T>())),
                },
            }),
            None => None,
        };
        Ok((plugin, obj))
    }

    /// For named managers: the names asked for that did not load, sorted, after calling the callback.
    fn report_missing(&mut self, loaded: &[Extension<T>]) -> Result<Vec<String>, Error> {
        let Some(names) = &self.names else {
            return Ok(Vec::new());
        };
        let mut missing: Vec<String> = names
            .iter()
            .filter(|n| !loaded.iter().any(|e| e.name() == n.as_str()))
            .cloned()
            .collect();
        missing.sort();
        missing.dedup();
        if !missing.is_empty()
            && let Some(callback) = &mut self.on_missing
        {
            callback(&self.namespace, &missing)?;
        }
        Ok(missing)
    }

    fn core(self, extensions: Vec<Extension<T>>) -> Core<T> {
        Core {
            namespace: self.namespace,
            extensions,
            propagate: self.propagate,
            resolver: self.resolver,
            by_name: OnceLock::new(),
        }
    }
}

/// The entry points of `namespace` in registry order: all of them, or only those called one of `wanted`
/// (sorted and deduplicated), found by binary search without looking at the others.
fn select<'r, E>(
    registry: &'r Registry,
    namespace: &str,
    wanted: Option<&[&str]>,
    wrap: impl Fn(&'r Arc<EntryPoint>) -> E,
) -> Vec<E> {
    match wanted {
        Some(names) => names
            .iter()
            .flat_map(|n| registry.shared_entry_points_named(namespace, n))
            .map(wrap)
            .collect(),
        // An exact-size iterator: one allocation of the right size.
        None => registry.shared_entry_points(namespace).map(wrap).collect(),
    }
}

/// What every manager holds.
pub(crate) struct Core<T> {
    namespace: String,
    extensions: Vec<Extension<T>>,
    propagate: bool,
    resolver: ConflictResolver,
    /// name → index, built on first lookup: consecutive duplicates go through the resolver, as Python's
    /// `itertools.groupby`.
    by_name: OnceLock<Result<HashMap<String, usize>, Error>>,
}

impl<T> Core<T> {
    fn by_name(&self) -> Result<&HashMap<String, usize>, Error> {
        self.by_name
            .get_or_init(|| resolve_names(&self.namespace, &self.extensions, &self.resolver))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The name index, and the order names first appear in.
fn resolve_names<T>(
    namespace: &str,
    extensions: &[Extension<T>],
    resolver: &ConflictResolver,
) -> Result<HashMap<String, usize>, Error> {
    let mut map = HashMap::with_capacity(extensions.len());
    let mut start = 0;
    while start < extensions.len() {
        let name = extensions[start].name();
        let mut end = start + 1;
        while end < extensions.len() && extensions[end].name() == name {
            end += 1;
        }
        let chosen = if end - start > 1 {
            let candidates: Vec<&EntryPoint> = extensions[start..end]
                .iter()
                .map(Extension::entry_point)
                .collect();
            let i = resolver(namespace, name, &candidates)?;
            if i >= candidates.len() {
                return Err(Error::MultipleMatches {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    targets: targets(&candidates),
                });
            }
            start + i
        } else {
            start
        };
        map.insert(name.to_owned(), chosen);
        start = end;
    }
    Ok(map)
}

impl<T> fmt::Debug for Core<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("namespace", &self.namespace)
            .field("extensions", &self.extensions)
            .field("propagate_map_exceptions", &self.propagate)
            .finish_non_exhaustive()
    }
}

/// Runs `f` on one extension under the propagate-or-log rule, pushing its result.
fn invoke_one<T, U, E>(
    core: &Core<T>,
    out: &mut Vec<U>,
    ext: &Extension<T>,
    f: &mut impl FnMut(&Extension<T>) -> Result<U, E>,
) -> Result<(), Error>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match f(ext) {
        Ok(v) => {
            out.push(v);
            Ok(())
        }
        Err(err) => map_failure(core, ext.name(), err.into()),
    }
}

/// The propagate-or-log rule for one failed call.
fn map_failure<T>(
    core: &Core<T>,
    name: &str,
    err: Box<dyn std::error::Error + Send + Sync>,
) -> Result<(), Error> {
    if core.propagate {
        Err(Error::Map {
            namespace: core.namespace.clone(),
            name: name.to_owned(),
            source: Arc::from(err),
        })
    } else {
        tracing::error!(namespace = %core.namespace, name, error = %err, "error calling `{name}`: {err}");
        Ok(())
    }
}

/// The function `map_method` maps: the object's method, or an error when the plugin was not invoked.
fn call_method<T: crate::plugin::CallMethod>(
    ext: &Extension<T>,
    method: &str,
    input: &serde_json::Value,
) -> Result<serde_json::Value, PluginError> {
    match ext.obj() {
        Some(obj) => obj.call_method(method, input),
        None => Err(PluginError::new(format!(
            "`{}` has no object to call `{method}` on (it was not invoked on load)",
            ext.name()
        ))),
    }
}
