//! Plugins: what is registered ([`StaticPlugin`], [`EntryPoint`]), what loading one gives ([`Plugin`]) and
//! what a manager holds ([`Extension`]).

use std::any::Any;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use crate::error::PluginError;

/// The arguments a manager passes to every factory it invokes (Python's `invoke_args` and `invoke_kwds`).
///
/// They are JSON values so that the same arguments reach compiled-in factories and, serialised, the
/// factories of plugin libraries.
#[derive(Clone, Default)]
pub struct InvokeArgs {
    args: Vec<Value>,
    kwargs: Map<String, Value>,
    /// The JSON form as a C string, made once for all the plugin libraries a manager invokes.
    json: OnceLock<std::ffi::CString>,
}

impl PartialEq for InvokeArgs {
    fn eq(&self, other: &Self) -> bool {
        self.args == other.args && self.kwargs == other.kwargs
    }
}

impl fmt::Debug for InvokeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvokeArgs")
            .field("args", &self.args)
            .field("kwargs", &self.kwargs)
            .finish()
    }
}

impl InvokeArgs {
    /// No arguments.
    pub fn new() -> Self {
        InvokeArgs::default()
    }

    /// Adds a positional argument.
    pub fn arg(mut self, value: impl Into<Value>) -> Self {
        self.args.push(value.into());
        self.json = OnceLock::new();
        self
    }

    /// Adds (or replaces) a keyword argument.
    pub fn kwarg(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.kwargs.insert(key.into(), value.into());
        self.json = OnceLock::new();
        self
    }

    /// The positional arguments.
    pub fn args(&self) -> &[Value] {
        &self.args
    }

    /// The keyword arguments.
    pub fn kwargs(&self) -> &Map<String, Value> {
        &self.kwargs
    }

    /// One keyword argument.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.kwargs.get(key)
    }

    /// `{"args": [...], "kwargs": {...}}`, the form plugin libraries receive.
    pub fn to_json(&self) -> Value {
        serde_json::json!({ "args": self.args, "kwargs": self.kwargs })
    }

    /// [`to_json`](Self::to_json) serialised as a C string, computed once. (Serialised JSON never holds a
    /// NUL byte: string contents escape it.)
    #[cfg(feature = "dynamic")]
    pub(crate) fn json_c_string(&self) -> &std::ffi::CStr {
        self.json
            .get_or_init(|| std::ffi::CString::new(self.to_json().to_string()).unwrap_or_default())
    }
}

/// The type-erased factory of a compiled-in plugin. [`register!`](crate::register) writes these.
///
/// The factory makes its object and hands it over with [`place_object`]: into the slot when the caller
/// passed one of the right type (`&mut Option<T>`, so a manager gets its objects without boxing them), or
/// boxed otherwise.
pub type Factory =
    fn(args: &InvokeArgs, slot: Option<&mut dyn Any>) -> Result<Option<Box<dyn Any>>, PluginError>;

/// How a [`Factory`] returns its object: moved into `slot` if it is an `Option<T>` (and `None` returned),
/// else boxed and returned.
pub fn place_object<T: Any>(obj: T, slot: Option<&mut dyn Any>) -> Option<Box<dyn Any>> {
    match slot.and_then(|s| s.downcast_mut::<Option<T>>()) {
        Some(slot) => {
            *slot = Some(obj);
            None
        }
        None => Some(Box::new(obj)),
    }
}

/// One compiled-in plugin, as [`register!`](crate::register) submits it to the registry.
#[derive(Debug, Clone, Copy)]
pub struct StaticPlugin {
    namespace: &'static str,
    name: &'static str,
    target: &'static str,
    factory: Factory,
}

impl StaticPlugin {
    /// A registration record. Prefer the [`register!`](crate::register) macro, which writes the factory.
    pub const fn new(
        namespace: &'static str,
        name: &'static str,
        target: &'static str,
        factory: Factory,
    ) -> Self {
        StaticPlugin {
            namespace,
            name,
            target,
            factory,
        }
    }

    /// The namespace.
    pub fn namespace(&self) -> &'static str {
        self.namespace
    }

    /// The plugin's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The factory's path, for diagnostics.
    pub fn target(&self) -> &'static str {
        self.target
    }

    /// The factory.
    pub fn factory(&self) -> Factory {
        self.factory
    }
}

inventory::collect!(StaticPlugin);

/// Where a registered plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// Compiled into the program with [`register!`](crate::register).
    Static,
    /// Found in a plugin library (a directory scan or [`Registry::load_library`](crate::Registry)).
    Library {
        /// The library file.
        path: PathBuf,
        /// The descriptor symbol.
        symbol: String,
    },
    /// Listed in a TOML manifest; the library is opened only when the plugin is loaded.
    Manifest {
        /// The manifest file.
        manifest: PathBuf,
        /// The library file it names.
        library: PathBuf,
        /// The descriptor symbol it names.
        symbol: String,
    },
    /// Added to a registry at run time with [`Registry::add`](crate::Registry::add).
    Runtime,
    /// Made by hand for a test instance ([`Extension::new`]).
    Test,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Static => f.write_str("static"),
            Origin::Library { path, symbol } => {
                write!(f, "library {} (symbol {symbol})", path.display())
            }
            Origin::Manifest {
                manifest,
                library,
                symbol,
            } => write!(
                f,
                "manifest {} -> {} (symbol {symbol})",
                manifest.display(),
                library.display()
            ),
            Origin::Runtime => f.write_str("runtime"),
            Origin::Test => f.write_str("test"),
        }
    }
}

/// How an entry point turns into a [`Plugin`].
#[derive(Clone)]
pub(crate) enum Loader {
    Factory(Factory),
    #[cfg(feature = "dynamic")]
    Dynamic(crate::dynamic::DynamicPlugin),
    #[cfg(feature = "dynamic")]
    Manifest {
        library: PathBuf,
        symbol: String,
    },
    None,
}

/// A registered plugin, before it is loaded: Python's entry point.
///
/// Reading an entry point (its name, target, origin) never runs or opens anything.
#[derive(Clone)]
pub struct EntryPoint {
    namespace: String,
    name: String,
    target: String,
    origin: Origin,
    pub(crate) loader: Loader,
}

impl EntryPoint {
    pub(crate) fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        target: impl Into<String>,
        origin: Origin,
        loader: Loader,
    ) -> Self {
        EntryPoint {
            namespace: namespace.into(),
            name: name.into(),
            target: target.into(),
            origin,
            loader,
        }
    }

    /// An entry point for a factory added at run time (see [`Registry::add`](crate::Registry::add)).
    pub fn from_factory(
        namespace: impl Into<String>,
        name: impl Into<String>,
        target: impl Into<String>,
        factory: Factory,
    ) -> Self {
        EntryPoint::new(
            namespace,
            name,
            target,
            Origin::Runtime,
            Loader::Factory(factory),
        )
    }

    /// The namespace (Python's entry-point group).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the plugin points at, for people: `crate::module::factory` for compiled-in plugins,
    /// `file.so:symbol` for library plugins (Python's `entry_point_target`, `module:attr`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Where the plugin came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Loads the plugin (Python's `EntryPoint.load()`): resolves its factory, opening its library if it comes
    /// from a manifest. Does not invoke it.
    pub fn load(&self) -> Result<Plugin, PluginError> {
        match &self.loader {
            Loader::Factory(f) => Ok(Plugin {
                kind: PluginKind::Factory(*f),
            }),
            #[cfg(feature = "dynamic")]
            Loader::Dynamic(d) => Ok(Plugin {
                kind: PluginKind::Dynamic(*d),
            }),
            #[cfg(feature = "dynamic")]
            Loader::Manifest { library, symbol } => {
                let plugin = crate::dynamic::resolve(library, symbol, &self.namespace, &self.name)?;
                Ok(Plugin {
                    kind: PluginKind::Dynamic(plugin),
                })
            }
            Loader::None => Err(PluginError::new(format!(
                "`{}` has no factory (a test extension)",
                self.name
            ))),
        }
    }
}

impl fmt::Debug for EntryPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntryPoint")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("target", &self.target)
            .field("origin", &self.origin)
            .finish()
    }
}

#[derive(Clone)]
enum PluginKind {
    Factory(Factory),
    #[cfg(feature = "dynamic")]
    Dynamic(crate::dynamic::DynamicPlugin),
}

/// A loaded plugin: something that can make objects (Python's `Extension.plugin`, the loaded class).
#[derive(Clone)]
pub struct Plugin {
    kind: PluginKind,
}

impl Plugin {
    /// Runs the factory with these arguments and returns what it made, type-erased. Library plugins make a
    /// [`DynamicObject`](crate::dynamic::DynamicObject).
    pub fn invoke(&self, args: &InvokeArgs) -> Result<Box<dyn Any>, PluginError> {
        match &self.kind {
            PluginKind::Factory(f) => {
                f(args, None)?.ok_or_else(|| PluginError::new("the factory kept its object"))
            }
            #[cfg(feature = "dynamic")]
            PluginKind::Dynamic(d) => d.create(args).map(|o| Box::new(o) as Box<dyn Any>),
        }
    }

    /// Runs the factory and downcasts its object to `T`.
    pub fn create<T: Any>(&self, args: &InvokeArgs) -> Result<T, PluginError> {
        match self.invoke_typed::<T>(args)? {
            Ok(obj) => Ok(obj),
            Err(_) => Err(PluginError::new(wrong_type::<T>())),
        }
    }

    /// Runs the factory: `Ok(Ok(obj))` when it made a `T` (without boxing it, for compiled-in plugins),
    /// `Ok(Err(boxed))` when it made something else.
    pub(crate) fn invoke_typed<T: Any>(
        &self,
        args: &InvokeArgs,
    ) -> Result<Result<T, Box<dyn Any>>, PluginError> {
        match &self.kind {
            PluginKind::Factory(f) => {
                let mut slot: Option<T> = None;
                match f(args, Some(&mut slot))? {
                    Some(other) => Ok(Err(other)),
                    None => slot
                        .map(Ok)
                        .ok_or_else(|| PluginError::new("the factory made no object")),
                }
            }
            #[cfg(feature = "dynamic")]
            PluginKind::Dynamic(d) => {
                let mut slot: Option<T> = None;
                // A manager of `DynamicObject`s (the usual case) gets the object moved straight into its
                // slot; any other `T` gets it boxed, for a conversion.
                match (&mut slot as &mut dyn Any)
                    .downcast_mut::<Option<crate::dynamic::DynamicObject>>()
                {
                    Some(dynamic) => {
                        *dynamic = Some(d.create(args)?);
                        slot.map(Ok)
                            .ok_or_else(|| PluginError::new("the plugin made no object"))
                    }
                    None => Ok(Err(Box::new(d.create(args)?))),
                }
            }
        }
    }
}

pub(crate) fn wrong_type<T>() -> String {
    format!(
        "the plugin makes objects of another type than `{}`",
        std::any::type_name::<T>()
    )
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            PluginKind::Factory(_) => f.write_str("Plugin(factory)"),
            #[cfg(feature = "dynamic")]
            PluginKind::Dynamic(d) => write!(f, "Plugin({d:?})"),
        }
    }
}

/// How an extension holds its entry point: borrowed for the life of the process from a registry that
/// lives that long (the global one: no reference counting on the hot path), or shared.
#[derive(Clone)]
pub(crate) enum EntryRef {
    Static(&'static EntryPoint),
    Shared(Arc<EntryPoint>),
}

impl std::ops::Deref for EntryRef {
    type Target = EntryPoint;

    fn deref(&self) -> &EntryPoint {
        match self {
            EntryRef::Static(e) => e,
            EntryRef::Shared(e) => e,
        }
    }
}

/// One loaded plugin in a manager: its entry point, the loaded plugin and, when the manager invoked it on
/// load, the object it made (Python's `Extension(name, entry_point, plugin, obj)`).
pub struct Extension<T> {
    entry_point: EntryRef,
    plugin: Option<Plugin>,
    obj: Option<T>,
}

impl<T> Extension<T> {
    /// A ready-made extension for a test instance (Python's `Extension('x', None, Cls, Cls())`): the object
    /// is given, there is no factory, the origin is [`Origin::Test`].
    pub fn new(name: impl Into<String>, obj: T) -> Self {
        let name = name.into();
        Extension {
            entry_point: EntryRef::Shared(Arc::new(EntryPoint::new(
                "TESTING",
                name,
                "test",
                Origin::Test,
                Loader::None,
            ))),
            plugin: None,
            obj: Some(obj),
        }
    }

    /// An extension from its parts, for test instances that need a particular entry point or no object.
    pub fn from_parts(entry_point: EntryPoint, plugin: Option<Plugin>, obj: Option<T>) -> Self {
        Extension {
            entry_point: EntryRef::Shared(Arc::new(entry_point)),
            plugin,
            obj,
        }
    }

    pub(crate) fn loaded(entry_point: EntryRef, plugin: Plugin, obj: Option<T>) -> Self {
        Extension {
            entry_point,
            plugin: Some(plugin),
            obj,
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.entry_point.name()
    }

    /// The entry point it was loaded from.
    pub fn entry_point(&self) -> &EntryPoint {
        &self.entry_point
    }

    /// The target (Python's `entry_point_target`).
    pub fn target(&self) -> &str {
        self.entry_point.target()
    }

    /// The loaded plugin, to make more objects with (`None` for hand-made test extensions).
    pub fn plugin(&self) -> Option<&Plugin> {
        self.plugin.as_ref()
    }

    /// The object made on load (`None` unless the manager invoked plugins on load).
    pub fn obj(&self) -> Option<&T> {
        self.obj.as_ref()
    }

    /// The object made on load, mutably.
    pub fn obj_mut(&mut self) -> Option<&mut T> {
        self.obj.as_mut()
    }

    /// Takes the object out.
    pub fn into_obj(self) -> Option<T> {
        self.obj
    }
}

impl<T> fmt::Debug for Extension<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("name", &self.name())
            .field("target", &self.target())
            .field("origin", self.entry_point.origin())
            .field("invoked", &self.obj.is_some())
            .finish()
    }
}

/// Calling a method by name with JSON in and out: what [`map_method`](crate::ExtensionManager::map_method)
/// needs of a manager's objects (Python looks the method up with `getattr`).
///
/// Library plugins implement it through their C vtable; compiled-in plugins may implement it to be driven
/// the same way.
pub trait CallMethod {
    /// Calls `method` with `input`.
    fn call_method(&self, method: &str, input: &Value) -> Result<Value, PluginError>;
}

impl<C: CallMethod + ?Sized> CallMethod for Box<C> {
    fn call_method(&self, method: &str, input: &Value) -> Result<Value, PluginError> {
        (**self).call_method(method, input)
    }
}

impl<C: CallMethod + ?Sized> CallMethod for Arc<C> {
    fn call_method(&self, method: &str, input: &Value) -> Result<Value, PluginError> {
        (**self).call_method(method, input)
    }
}
