//! Plugins loaded at run time from shared libraries (feature `dynamic`): the Rust counterpart of installing
//! a Python distribution with entry points.
//!
//! A plugin library is found by scanning directories ([`Registry::load_dir`], libraries sorted by file name,
//! like a configuration directory) or through a TOML manifest ([`Registry::load_manifest`]) that names, for
//! each plugin, its namespace, name, library and symbol — the manifest is read without opening anything,
//! and a library is opened only when a manager loads one of its plugins.
//!
//! # The ABI contract
//!
//! Only C types cross the boundary: `#[repr(C)]` structs, integers, raw pointers and `extern "C"` functions.
//! No Rust type (`String`, `Vec`, trait objects, enums) and no panic crosses it.
//!
//! 1. The library exports a symbol (by default [`DEFAULT_SYMBOL`], `stevedore_plugins`) that is a function
//!    `extern "C" fn() -> *const PluginTable`. The table and everything it points to (strings, descriptors)
//!    must stay valid and unchanged for the life of the process.
//! 2. The host reads the table's first 8 bytes, [`PluginTable::magic`], and refuses the library unless they
//!    are [`ABI_MAGIC`]; it then reads [`PluginTable::abi_version`] and refuses anything but
//!    [`ABI_VERSION`]; then [`PluginTable::table_size`], which must be at least the size of the table this
//!    host knows. Only then does it read the rest. The pointer must be non-null and aligned for `u64`.
//! 3. Every string is NUL-terminated UTF-8. Every descriptor has a namespace, a name and a target, and its
//!    three functions; the table has a `free_string` function.
//! 4. `create(plugin_data, args_json, out_obj, out_error)` gets its descriptor's `plugin_data` back
//!    (so one function can serve several plugins) and the invoke arguments as JSON
//!    (`{"args": [...], "kwargs": {...}}`), borrowed for the call only. It returns 0 and sets `*out_obj`
//!    to a non-null object, or returns non-zero and may set `*out_error` to a message.
//! 5. `call(obj, method, input_json, out_json, out_error)` calls a method by name: 0 with `*out_json` set to
//!    a JSON document, or non-zero with an optional `*out_error`. The host never calls one object from two
//!    threads at once, but may call it from different threads over time (the object must be `Send`).
//! 6. Memory is freed by the side that allocated it: strings the plugin returns through `out_json` and
//!    `out_error` are freed by the host calling the table's `free_string`; objects are freed by the host
//!    calling the descriptor's `destroy` exactly once; the host's strings are only borrowed.
//! 7. No function may unwind into the host: a Rust plugin wraps every exported function in
//!    `std::panic::catch_unwind` and reports a panic as an error (a panic that escapes an `extern "C"`
//!    function aborts the process, it cannot be caught here).
//! 8. Libraries are never unloaded, so their functions, strings and objects never dangle. A library that
//!    fails these checks is not unloaded either (its initialisers have run; unloading would not be safer).
//!
//! A mismatched, corrupt or missing library is a [`DynamicError`] naming the path, the symbol and, for a
//! version mismatch, the expected and found versions. What the host cannot detect — a library that lies in
//! a well-formed table, or crashes in its own code — is outside what any loader can guard against.
//!
//! The crate ships the contract as a C header, `include/stevedore_plugin.h`. `tests/plugins/greeter.rs`
//! (Rust, no dependency on this crate) and `tests/plugins/counter.c` (C, against the header) are complete
//! plugin libraries; the tests build them with `rustc --crate-type cdylib` and `cc -shared`.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_void};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, PluginError};
use crate::plugin::{CallMethod, EntryPoint, InvokeArgs, Loader, Origin};
use crate::registry::Registry;

/// The first 8 bytes of every plugin table: `STEVEDOR` in ASCII, read as a native-endian `u64` written
/// by the plugin with the same constant.
pub const ABI_MAGIC: u64 = 0x5354_4556_4544_4f52;

/// The version of this contract. Any change to [`PluginTable`] or [`PluginDescriptor`] bumps it.
pub const ABI_VERSION: u32 = 1;

/// The symbol looked up when none is given.
pub const DEFAULT_SYMBOL: &str = "stevedore_plugins";

/// At most this many plugins in one library (a larger count is taken for corruption).
const MAX_PLUGINS: usize = 1 << 16;

/// `create`: makes an object from JSON arguments.
pub type CreateFn = unsafe extern "C" fn(
    plugin_data: *const c_void,
    args_json: *const c_char,
    out_obj: *mut *mut c_void,
    out_error: *mut *mut c_char,
) -> i32;

/// `call`: calls a method of an object with JSON in and out.
pub type CallFn = unsafe extern "C" fn(
    obj: *mut c_void,
    method: *const c_char,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
    out_error: *mut *mut c_char,
) -> i32;

/// `destroy`: frees an object made by `create`.
pub type DestroyFn = unsafe extern "C" fn(obj: *mut c_void);

/// `free_string`: frees a string the plugin returned.
pub type FreeStringFn = unsafe extern "C" fn(s: *mut c_char);

/// What the exported symbol returns.
#[repr(C)]
#[derive(Debug)]
pub struct PluginTable {
    /// [`ABI_MAGIC`].
    pub magic: u64,
    /// [`ABI_VERSION`].
    pub abi_version: u32,
    /// `size_of::<PluginTable>()` as the plugin was built.
    pub table_size: u32,
    /// How many descriptors `plugins` points to.
    pub plugin_count: usize,
    /// The descriptors.
    pub plugins: *const PluginDescriptor,
    /// Frees the strings the plugin returns.
    pub free_string: Option<FreeStringFn>,
}

/// One plugin of a library.
#[repr(C)]
#[derive(Debug)]
pub struct PluginDescriptor {
    /// The namespace, NUL-terminated UTF-8.
    pub namespace: *const c_char,
    /// The plugin's name.
    pub name: *const c_char,
    /// A human-readable target (`crate::Type`).
    pub target: *const c_char,
    /// Passed back, untouched, as the first argument of `create` (lets one `create` serve several
    /// plugins); may be null.
    pub plugin_data: *const c_void,
    /// Makes an object.
    pub create: Option<CreateFn>,
    /// Calls a method on an object.
    pub call: Option<CallFn>,
    /// Frees an object.
    pub destroy: Option<DestroyFn>,
}

/// Why a plugin library could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DynamicError {
    /// The file could not be opened as a shared library (missing, not a library, wrong architecture,
    /// unresolved dependencies).
    #[error("cannot open plugin library `{}`: {reason}", path.display())]
    Open {
        /// The library.
        path: PathBuf,
        /// The dynamic loader's message.
        reason: String,
    },
    /// The library does not export the symbol.
    #[error("plugin library `{}` has no symbol `{symbol}`: {reason}", path.display())]
    Symbol {
        /// The library.
        path: PathBuf,
        /// The symbol.
        symbol: String,
        /// The dynamic loader's message.
        reason: String,
    },
    /// The symbol's table does not start with [`ABI_MAGIC`].
    #[error("`{symbol}` in `{}` is not a stevedore plugin table: magic {found:#018x}, expected {expected:#018x}", path.display())]
    BadMagic {
        /// The library.
        path: PathBuf,
        /// The symbol.
        symbol: String,
        /// [`ABI_MAGIC`].
        expected: u64,
        /// What the table starts with.
        found: u64,
    },
    /// The table is of another version of the contract.
    #[error("plugin library `{}` (symbol `{symbol}`) has ABI version {found}, expected {expected}", path.display())]
    AbiVersion {
        /// The library.
        path: PathBuf,
        /// The symbol.
        symbol: String,
        /// [`ABI_VERSION`].
        expected: u32,
        /// The library's version.
        found: u32,
    },
    /// The table breaks the contract otherwise (null pointers, missing functions, bad strings).
    #[error("plugin library `{}` (symbol `{symbol}`) is malformed: {reason}", path.display())]
    Malformed {
        /// The library.
        path: PathBuf,
        /// The symbol.
        symbol: String,
        /// What is wrong.
        reason: String,
    },
    /// A manifest names a plugin the library does not provide.
    #[error("plugin library `{}` (symbol `{symbol}`) provides no `{name}` in `{namespace}`", path.display())]
    NotInLibrary {
        /// The library.
        path: PathBuf,
        /// The symbol.
        symbol: String,
        /// The namespace asked for.
        namespace: String,
        /// The name asked for.
        name: String,
    },
}

/// One checked descriptor, with its strings copied.
#[derive(Debug)]
struct Checked {
    namespace: String,
    name: String,
    target: String,
    /// `plugin_data`, as an address (never dereferenced by the host).
    plugin_data: usize,
    create: CreateFn,
    call: CallFn,
    destroy: DestroyFn,
}

/// A library that passed the checks. Lives for the rest of the process, as does the library.
struct LoadedLibrary {
    path: PathBuf,
    symbol: String,
    free_string: FreeStringFn,
    plugins: Vec<Checked>,
    _library: libloading::Library,
}

impl fmt::Debug for LoadedLibrary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedLibrary")
            .field("path", &self.path)
            .field("symbol", &self.symbol)
            .field("plugins", &self.plugins.len())
            .finish()
    }
}

/// Every library opened so far, by canonical path and symbol, so each is opened and checked once.
fn opened() -> &'static Mutex<Vec<&'static LoadedLibrary>> {
    static OPENED: OnceLock<Mutex<Vec<&'static LoadedLibrary>>> = OnceLock::new();
    OPENED.get_or_init(|| Mutex::new(Vec::new()))
}

/// Opens (once) and checks a library.
fn open(path: &Path, symbol: &str) -> Result<&'static LoadedLibrary, DynamicError> {
    let canonical = path.canonicalize().map_err(|e| DynamicError::Open {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let mut cache = opened().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(lib) = cache
        .iter()
        .find(|l| l.path == canonical && l.symbol == symbol)
    {
        return Ok(lib);
    }
    let lib = load_and_check(&canonical, symbol)?;
    let lib: &'static LoadedLibrary = Box::leak(Box::new(lib));
    cache.push(lib);
    Ok(lib)
}

fn load_and_check(path: &Path, symbol: &str) -> Result<LoadedLibrary, DynamicError> {
    // SAFETY: opening a library runs its initialisers. That is the one thing we must trust about a plugin
    // library before any check: the operator put it in a plugin directory or manifest, as a Python operator
    // installs a distribution. The library is never unloaded (it is moved into a leaked `LoadedLibrary`,
    // or forgotten below when the checks fail), so nothing it hands out dangles.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| DynamicError::Open {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let table_ptr = {
        // SAFETY: the contract (rule 1) says the symbol is an `extern "C" fn() -> *const PluginTable`; a
        // library exporting the name with another type breaks the contract, which no loader can detect.
        let get: libloading::Symbol<'_, unsafe extern "C" fn() -> *const PluginTable> =
            match unsafe { library.get(symbol.as_bytes()) } {
                Ok(f) => f,
                Err(e) => {
                    std::mem::forget(library);
                    return Err(DynamicError::Symbol {
                        path: path.to_owned(),
                        symbol: symbol.to_owned(),
                        reason: e.to_string(),
                    });
                }
            };
        // SAFETY: calling the descriptor function takes no arguments and, by rule 1, returns a pointer to a
        // table valid for the life of the process (or null, checked next).
        unsafe { get() }
    };
    match check_table(table_ptr, path, symbol) {
        Ok((free_string, plugins)) => Ok(LoadedLibrary {
            path: path.to_owned(),
            symbol: symbol.to_owned(),
            free_string,
            plugins,
            _library: library,
        }),
        Err(e) => {
            // Never unloaded, even when refused (rule 8).
            std::mem::forget(library);
            Err(e)
        }
    }
}

/// Reads a table in the order the contract fixes: magic, version, size, then the rest.
fn check_table(
    table: *const PluginTable,
    path: &Path,
    symbol: &str,
) -> Result<(FreeStringFn, Vec<Checked>), DynamicError> {
    let malformed = |reason: &str| DynamicError::Malformed {
        path: path.to_owned(),
        symbol: symbol.to_owned(),
        reason: reason.to_owned(),
    };
    if table.is_null() {
        return Err(malformed("the descriptor function returned a null table"));
    }
    if !table.cast::<u64>().is_aligned() {
        return Err(malformed("the table is not aligned"));
    }
    // SAFETY: `table` is non-null and aligned; rule 1 says it points to a table, and every table starts
    // with the 8-byte magic, so reading the first `u64` is within it. Nothing else is read before the
    // magic matches.
    let magic = unsafe { std::ptr::addr_of!((*table).magic).read() };
    if magic != ABI_MAGIC {
        return Err(DynamicError::BadMagic {
            path: path.to_owned(),
            symbol: symbol.to_owned(),
            expected: ABI_MAGIC,
            found: magic,
        });
    }
    // SAFETY: the magic matched, so this is a stevedore table of some version, and every version starts
    // with the magic followed by the 4-byte version.
    let version = unsafe { std::ptr::addr_of!((*table).abi_version).read() };
    if version != ABI_VERSION {
        return Err(DynamicError::AbiVersion {
            path: path.to_owned(),
            symbol: symbol.to_owned(),
            expected: ABI_VERSION,
            found: version,
        });
    }
    // SAFETY: version 1 tables have the 4-byte size right after the version.
    let size = unsafe { std::ptr::addr_of!((*table).table_size).read() };
    if (size as usize) < std::mem::size_of::<PluginTable>() {
        return Err(malformed(&format!(
            "the table is {size} bytes, expected at least {}",
            std::mem::size_of::<PluginTable>()
        )));
    }
    // SAFETY: magic, version and size say this is a complete version 1 table, valid for the process's
    // life (rule 1); its fields are plain integers, a pointer and a nullable function pointer.
    let table = unsafe { &*table };
    let free_string = table
        .free_string
        .ok_or_else(|| malformed("`free_string` is null"))?;
    if table.plugin_count > MAX_PLUGINS {
        return Err(malformed(&format!(
            "{} plugins is more than the {MAX_PLUGINS} allowed",
            table.plugin_count
        )));
    }
    let descriptors: &[PluginDescriptor] = if table.plugin_count == 0 {
        &[]
    } else {
        if table.plugins.is_null() {
            return Err(malformed("`plugins` is null"));
        }
        if !table.plugins.is_aligned() {
            return Err(malformed("`plugins` is not aligned"));
        }
        // SAFETY: non-null, aligned, and rule 1 says `plugins` points to `plugin_count` descriptors that
        // live as long as the process.
        unsafe { std::slice::from_raw_parts(table.plugins, table.plugin_count) }
    };
    let mut plugins = Vec::with_capacity(descriptors.len());
    for (i, d) in descriptors.iter().enumerate() {
        let field = |p: *const c_char, what: &str| -> Result<String, DynamicError> {
            if p.is_null() {
                return Err(malformed(&format!("plugin {i}: `{what}` is null")));
            }
            // SAFETY: non-null, and rule 3 says every string is NUL-terminated and lives as long as the
            // process.
            let s = unsafe { CStr::from_ptr(p) };
            s.to_str()
                .map(str::to_owned)
                .map_err(|_| malformed(&format!("plugin {i}: `{what}` is not UTF-8")))
        };
        let namespace = field(d.namespace, "namespace")?;
        let name = field(d.name, "name")?;
        let target = field(d.target, "target")?;
        let (Some(create), Some(call), Some(destroy)) = (d.create, d.call, d.destroy) else {
            return Err(malformed(&format!(
                "plugin {i} (`{name}`): a function pointer is null"
            )));
        };
        plugins.push(Checked {
            namespace,
            name,
            target,
            plugin_data: d.plugin_data as usize,
            create,
            call,
            destroy,
        });
    }
    Ok((free_string, plugins))
}

/// One plugin of a loaded library: what a library entry point loads to.
#[derive(Clone, Copy)]
pub struct DynamicPlugin {
    library: &'static LoadedLibrary,
    index: usize,
}

impl fmt::Debug for DynamicPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.checked();
        write!(
            f,
            "DynamicPlugin({}:{} in {})",
            p.namespace,
            p.name,
            self.library.path.display()
        )
    }
}

impl DynamicPlugin {
    fn checked(&self) -> &'static Checked {
        &self.library.plugins[self.index]
    }

    /// Makes an object with these arguments.
    pub fn create(&self, args: &InvokeArgs) -> Result<DynamicObject, PluginError> {
        let p = self.checked();
        let json = args.json_c_string();
        let mut obj: *mut c_void = std::ptr::null_mut();
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: `create` passed the checks (rule 3); the JSON is a valid NUL-terminated string borrowed
        // for the call; the out-pointers point to our locals (rule 4).
        let rc = unsafe {
            (p.create)(
                p.plugin_data as *const c_void,
                json.as_ptr(),
                &mut obj,
                &mut err,
            )
        };
        let message = self.take_string(err);
        if rc != 0 || obj.is_null() {
            if !obj.is_null() {
                // SAFETY: the plugin made an object despite failing; it is ours to free, once (rule 6).
                unsafe { (p.destroy)(obj) };
            }
            return Err(PluginError::new(message.unwrap_or_else(|| {
                format!("`{}` failed to create its object (code {rc})", p.name)
            })));
        }
        Ok(DynamicObject {
            raw: Mutex::new(RawObject { plugin: *self, obj }),
        })
    }

    /// Copies and frees a string the plugin returned.
    fn take_string(&self, s: *mut c_char) -> Option<String> {
        if s.is_null() {
            return None;
        }
        // SAFETY: a non-null string returned by the plugin is NUL-terminated (rule 3) and ours until we
        // free it.
        let copy = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
        // SAFETY: freed once, by the allocator's side (rule 6).
        unsafe { (self.library.free_string)(s) };
        Some(copy)
    }
}

fn c_string(s: &str) -> Result<CString, PluginError> {
    CString::new(s).map_err(|_| PluginError::new("a string for the plugin contains a NUL byte"))
}

struct RawObject {
    plugin: DynamicPlugin,
    obj: *mut c_void,
}

// SAFETY: rule 5 — a plugin object may be used from any thread, one call at a time; the `Mutex` in
// `DynamicObject` provides the one-at-a-time part.
unsafe impl Send for RawObject {}

impl Drop for RawObject {
    fn drop(&mut self) {
        // SAFETY: `obj` came from this plugin's `create`, and is destroyed exactly once, here (rule 6).
        unsafe { (self.plugin.checked().destroy)(self.obj) }
    }
}

/// An object made by a library plugin. Methods are called by name with JSON in and out
/// ([`CallMethod`]); the object is destroyed by its library when dropped.
pub struct DynamicObject {
    raw: Mutex<RawObject>,
}

impl fmt::Debug for DynamicObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = self.raw.lock().unwrap_or_else(|p| p.into_inner());
        write!(f, "DynamicObject({:?})", raw.plugin)
    }
}

impl DynamicObject {
    /// Calls `method` with `input`.
    pub fn call(&self, method: &str, input: &Value) -> Result<Value, PluginError> {
        let raw = self.raw.lock().unwrap_or_else(|p| p.into_inner());
        let p = raw.plugin.checked();
        let method_c = c_string(method)?;
        let input_c = c_string(&input.to_string())?;
        let mut out: *mut c_char = std::ptr::null_mut();
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: `call` passed the checks; `raw.obj` is a live object of this plugin (destroyed only on
        // drop) and the lock makes this the only call on it; the strings are borrowed for the call; the
        // out-pointers point to our locals (rule 5).
        let rc = unsafe {
            (p.call)(
                raw.obj,
                method_c.as_ptr(),
                input_c.as_ptr(),
                &mut out,
                &mut err,
            )
        };
        let out = raw.plugin.take_string(out);
        let err = raw.plugin.take_string(err);
        if rc != 0 {
            return Err(PluginError::new(err.unwrap_or_else(|| {
                format!("`{}` failed to call `{method}` (code {rc})", p.name)
            })));
        }
        let out = out.ok_or_else(|| {
            PluginError::new(format!("`{}` returned nothing from `{method}`", p.name))
        })?;
        serde_json::from_str(&out).map_err(|e| {
            PluginError::new(format!(
                "`{}` returned invalid JSON from `{method}`: {e}",
                p.name
            ))
        })
    }
}

impl CallMethod for DynamicObject {
    fn call_method(&self, method: &str, input: &Value) -> Result<Value, PluginError> {
        self.call(method, input)
    }
}

/// Loads the plugin a manifest entry names.
pub(crate) fn resolve(
    library: &Path,
    symbol: &str,
    namespace: &str,
    name: &str,
) -> Result<DynamicPlugin, DynamicError> {
    let lib = open(library, symbol)?;
    lib.plugins
        .iter()
        .position(|p| p.namespace == namespace && p.name == name)
        .map(|index| DynamicPlugin {
            library: lib,
            index,
        })
        .ok_or_else(|| DynamicError::NotInLibrary {
            path: lib.path.clone(),
            symbol: symbol.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
}

/// What a directory scan found.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct DirReport {
    /// The libraries loaded, in load order.
    pub loaded: Vec<PathBuf>,
    /// How many plugins they added.
    pub plugins: usize,
    /// The libraries refused, and why (each also logged).
    pub failures: Vec<DynamicError>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[serde(default)]
    plugin: Vec<ManifestEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestEntry {
    namespace: String,
    name: String,
    library: PathBuf,
    symbol: Option<String>,
}

impl Registry {
    /// Opens a plugin library, checks it and adds its plugins, with [`DEFAULT_SYMBOL`].
    pub fn load_library(&mut self, path: impl AsRef<Path>) -> Result<usize, Error> {
        self.load_library_symbol(path, DEFAULT_SYMBOL)
    }

    /// Opens a plugin library, checks the table `symbol` returns and adds its plugins. Opening the same
    /// library again (in any registry) reuses the first opening.
    pub fn load_library_symbol(
        &mut self,
        path: impl AsRef<Path>,
        symbol: &str,
    ) -> Result<usize, Error> {
        let lib = open(path.as_ref(), symbol)?;
        for (index, p) in lib.plugins.iter().enumerate() {
            self.add(EntryPoint::new(
                p.namespace.clone(),
                p.name.clone(),
                p.target.clone(),
                Origin::Library {
                    path: lib.path.clone(),
                    symbol: symbol.to_owned(),
                },
                Loader::Dynamic(DynamicPlugin {
                    library: lib,
                    index,
                }),
            ));
        }
        tracing::debug!(path = %lib.path.display(), symbol, plugins = lib.plugins.len(), "loaded plugin library");
        Ok(lib.plugins.len())
    }

    /// Loads every shared library (`*.so` on Linux) of `dir`, in file-name order. A library that fails its
    /// checks is logged, reported and skipped; an unreadable directory is an error.
    pub fn load_dir(&mut self, dir: impl AsRef<Path>) -> Result<DirReport, Error> {
        let dir = dir.as_ref();
        let io = |e: std::io::Error| Error::Io {
            path: dir.to_owned(),
            source: std::sync::Arc::new(e),
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension().and_then(|e| e.to_str())
                        == Some(std::env::consts::DLL_EXTENSION)
            })
            .collect();
        files.sort();
        let mut report = DirReport::default();
        for file in files {
            match self.load_library(&file) {
                Ok(n) => {
                    report.plugins += n;
                    report.loaded.push(file);
                }
                Err(Error::Dynamic(e)) => {
                    tracing::error!(path = %file.display(), error = %e, "skipping plugin library: {e}");
                    report.failures.push(e);
                }
                Err(other) => return Err(other),
            }
        }
        Ok(report)
    }

    /// Reads a TOML manifest and adds its plugins without opening any library; a library is opened when a
    /// manager loads one of its plugins (a missing or broken library is then that plugin's load failure).
    ///
    /// ```toml
    /// [[plugin]]
    /// namespace = "example.greeters"
    /// name = "hello"
    /// library = "libgreeter.so"        # relative paths are relative to the manifest's directory
    /// symbol = "stevedore_plugins"     # optional, this is the default
    /// ```
    pub fn load_manifest(&mut self, path: impl AsRef<Path>) -> Result<usize, Error> {
        let path = path.as_ref();
        let bad = |reason: String| Error::Manifest {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let count = manifest.plugin.len();
        for entry in manifest.plugin {
            if entry.namespace.is_empty() || entry.name.is_empty() {
                return Err(bad("a plugin has an empty namespace or name".to_owned()));
            }
            let library = base.join(&entry.library);
            let symbol = entry.symbol.unwrap_or_else(|| DEFAULT_SYMBOL.to_owned());
            self.add(EntryPoint::new(
                entry.namespace,
                entry.name,
                format!("{}:{symbol}", entry.library.display()),
                Origin::Manifest {
                    manifest: path.to_owned(),
                    library: library.clone(),
                    symbol: symbol.clone(),
                },
                Loader::Manifest { library, symbol },
            ));
        }
        Ok(count)
    }
}
