//! A plugin library for stevedore's `dynamic` feature, written against the C ABI contract only: it does not
//! depend on the stevedore crate. The tests compile it with `rustc --crate-type cdylib`, and compile broken
//! variants of it with `--cfg` flags:
//!
//! - `bad_magic`, `bad_version`: a table with the wrong magic or ABI version;
//! - `null_table`: the symbol returns a null pointer;
//! - `null_fn`: a descriptor without its `destroy` function;
//! - `other_symbol`: the table is exported under another name.
//!
//! At compile time, `STEVEDORE_TEST_PLUGIN_COUNT=N` (with `STEVEDORE_TEST_NAMESPACE`) replaces the greeters
//! with N numbered plugins `p000`, `p001`, ... (the benchmark's library). With `--cfg name_from_file`, the
//! library has one plugin in `STEVEDORE_TEST_NAMESPACE` named after its own file (`libp017.so` holds `p017`):
//! the benchmark builds it once and copies it into many files, each a separate library for the loader.
//! With `--cfg size_only`, the plugins do what the benchmark's Python and compiled-in plugins do: each
//! object keeps the `size` keyword argument (one allocation, no greeting, no panic switch, no live count).
#![allow(clippy::missing_safety_doc)]
#![cfg_attr(size_only, allow(dead_code))]

use std::ffi::{CStr, CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(not(bad_magic))]
const MAGIC: u64 = 0x5354_4556_4544_4f52;
#[cfg(bad_magic)]
const MAGIC: u64 = 0x0bad_0bad_0bad_0bad;

#[cfg(not(bad_version))]
const ABI_VERSION: u32 = 1;
#[cfg(bad_version)]
const ABI_VERSION: u32 = 99;

type CreateFn =
    unsafe extern "C" fn(*const c_void, *const c_char, *mut *mut c_void, *mut *mut c_char) -> i32;
type CallFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *mut *mut c_char,
    *mut *mut c_char,
) -> i32;
type DestroyFn = unsafe extern "C" fn(*mut c_void);
type FreeStringFn = unsafe extern "C" fn(*mut c_char);

#[repr(C)]
pub struct PluginTable {
    magic: u64,
    abi_version: u32,
    table_size: u32,
    plugin_count: usize,
    plugins: *const PluginDescriptor,
    free_string: Option<FreeStringFn>,
}

#[repr(C)]
pub struct PluginDescriptor {
    namespace: *const c_char,
    name: *const c_char,
    target: *const c_char,
    plugin_data: *const c_void,
    create: Option<CreateFn>,
    call: Option<CallFn>,
    destroy: Option<DestroyFn>,
}

struct Shared(PluginTable);
// The table is built once and never changes; its pointers are to leaked, immutable data.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

/// Objects alive in this library, to check that the host destroys what it creates.
static LIVE: AtomicUsize = AtomicUsize::new(0);

struct Greeter {
    greeting: String,
    shout: bool,
    calls: usize,
}

fn leak(s: &str) -> *const c_char {
    CString::new(s).unwrap().into_raw()
}

fn descriptor(namespace: &str, name: &str, target: &str) -> PluginDescriptor {
    let name = leak(name);
    PluginDescriptor {
        namespace: leak(namespace),
        name,
        target: leak(target),
        // `create` is shared: it finds which plugin it makes from its name.
        plugin_data: name.cast(),
        #[cfg(not(size_only))]
        create: Some(create),
        #[cfg(not(size_only))]
        call: Some(call),
        #[cfg(not(size_only))]
        destroy: if cfg!(null_fn) { None } else { Some(destroy) },
        #[cfg(size_only)]
        create: Some(sized::create),
        #[cfg(size_only)]
        call: Some(sized::call),
        #[cfg(size_only)]
        destroy: Some(sized::destroy),
    }
}

/// The stem of this library's file name without its `lib` prefix (`libp017.so` gives `p017`), from the
/// dynamic loader.
#[cfg(name_from_file)]
fn own_name() -> Option<String> {
    #[repr(C)]
    struct DlInfo {
        fname: *const c_char,
        fbase: *mut c_void,
        sname: *const c_char,
        saddr: *mut c_void,
    }
    unsafe extern "C" {
        fn dladdr(addr: *const c_void, info: *mut DlInfo) -> i32;
    }
    let mut info = DlInfo {
        fname: std::ptr::null(),
        fbase: std::ptr::null_mut(),
        sname: std::ptr::null(),
        saddr: std::ptr::null_mut(),
    };
    let addr = stevedore_plugins as *const c_void;
    if unsafe { dladdr(addr, &mut info) } == 0 || info.fname.is_null() {
        return None;
    }
    let path = unsafe { CStr::from_ptr(info.fname) }.to_str().ok()?;
    let file = path.rsplit('/').next()?;
    Some(file.strip_prefix("lib")?.split('.').next()?.to_owned())
}

fn table() -> &'static Shared {
    static TABLE: OnceLock<Shared> = OnceLock::new();
    TABLE.get_or_init(|| {
        #[cfg(name_from_file)]
        let plugins: Vec<PluginDescriptor> = {
            let ns = option_env!("STEVEDORE_TEST_NAMESPACE").unwrap_or("bench.files");
            let name = own_name().unwrap_or_else(|| "unnamed".to_owned());
            vec![descriptor(ns, &name, &format!("greeter::{name}"))]
        };
        #[cfg(not(name_from_file))]
        let plugins: Vec<PluginDescriptor> = match option_env!("STEVEDORE_TEST_PLUGIN_COUNT") {
            Some(n) => {
                let ns = option_env!("STEVEDORE_TEST_NAMESPACE").unwrap_or("bench.dynamic");
                (0..n.parse::<usize>().unwrap())
                    .map(|i| descriptor(ns, &format!("p{i:03}"), &format!("greeter::P{i:03}")))
                    .collect()
            }
            None => vec![
                descriptor("dyn.greeters", "hello", "greeter::Hello"),
                descriptor("dyn.greeters", "shout", "greeter::Shout"),
                descriptor("dyn.greeters", "failing", "greeter::Failing"),
            ],
        };
        let plugins = Box::leak(plugins.into_boxed_slice());
        Shared(PluginTable {
            magic: MAGIC,
            abi_version: ABI_VERSION,
            table_size: std::mem::size_of::<PluginTable>() as u32,
            plugin_count: plugins.len(),
            plugins: plugins.as_ptr(),
            free_string: Some(free_string),
        })
    })
}

#[cfg_attr(not(other_symbol), unsafe(no_mangle))]
#[cfg_attr(other_symbol, unsafe(export_name = "something_else"))]
pub extern "C" fn stevedore_plugins() -> *const PluginTable {
    if cfg!(null_table) {
        return std::ptr::null();
    }
    match catch_unwind(table) {
        Ok(t) => &t.0,
        Err(_) => std::ptr::null(),
    }
}

/// The string value of `"greeting":"..."` in a small JSON document (enough for this test plugin).
fn greeting(json: &str) -> Option<&str> {
    const PAT: &str = "\"greeting\":\"";
    let start = json.find(PAT)? + PAT.len();
    let end = json[start..].find('"')?;
    Some(&json[start..start + end])
}

fn set(out: *mut *mut c_char, s: &str) {
    if !out.is_null() {
        unsafe { *out = CString::new(s).unwrap_or_default().into_raw() };
    }
}

unsafe extern "C" fn create(
    plugin_data: *const c_void,
    args_json: *const c_char,
    out_obj: *mut *mut c_void,
    out_error: *mut *mut c_char,
) -> i32 {
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<*mut c_void, String> {
        let args = unsafe { CStr::from_ptr(args_json) }
            .to_str()
            .map_err(|e| e.to_string())?;
        let kind = unsafe { CStr::from_ptr(plugin_data.cast::<c_char>()) }
            .to_str()
            .unwrap_or_default();
        if kind == "failing" {
            return Err("failing refuses to start".to_owned());
        }
        if args.contains("\"panic\":true") {
            panic!("asked to panic");
        }
        let obj = Box::new(Greeter {
            greeting: greeting(args).unwrap_or("hello").to_owned(),
            shout: kind == "shout",
            calls: 0,
        });
        LIVE.fetch_add(1, Ordering::SeqCst);
        Ok(Box::into_raw(obj).cast())
    }));
    match result {
        Ok(Ok(obj)) => {
            unsafe { *out_obj = obj };
            0
        }
        Ok(Err(msg)) => {
            set(out_error, &msg);
            1
        }
        Err(_) => {
            set(out_error, "the plugin panicked while creating its object");
            2
        }
    }
}

unsafe extern "C" fn call(
    obj: *mut c_void,
    method: *const c_char,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
    out_error: *mut *mut c_char,
) -> i32 {
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<String, String> {
        let g = unsafe { &mut *obj.cast::<Greeter>() };
        let method = unsafe { CStr::from_ptr(method) }
            .to_str()
            .map_err(|e| e.to_string())?;
        let input = unsafe { CStr::from_ptr(input_json) }
            .to_str()
            .map_err(|e| e.to_string())?;
        g.calls += 1;
        match method {
            "greet" => {
                let who = input.trim_matches('"');
                let text = format!("{}, {who}", g.greeting);
                let text = if g.shout { text.to_uppercase() } else { text };
                Ok(format!("\"{text}\""))
            }
            "calls" => Ok(g.calls.to_string()),
            "live" => Ok(LIVE.load(Ordering::SeqCst).to_string()),
            "panic" => panic!("asked to panic"),
            "bad_json" => Ok("not json {".to_owned()),
            other => Err(format!("no method `{other}`")),
        }
    }));
    match result {
        Ok(Ok(json)) => {
            set(out_json, &json);
            0
        }
        Ok(Err(msg)) => {
            set(out_error, &msg);
            1
        }
        Err(_) => {
            set(out_error, "the plugin panicked");
            2
        }
    }
}

unsafe extern "C" fn destroy(obj: *mut c_void) {
    if obj.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        drop(unsafe { Box::from_raw(obj.cast::<Greeter>()) });
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }));
}

unsafe extern "C" fn free_string(s: *mut c_char) {
    if !s.is_null() {
        drop(unsafe { CString::from_raw(s) });
    }
}

/// The `size_only` plugins: objects that keep the `size` keyword argument.
#[cfg(size_only)]
mod sized {
    use super::set;
    use std::ffi::{CStr, c_char, c_void};
    use std::panic::{AssertUnwindSafe, catch_unwind};

    struct Sized {
        size: i64,
    }

    /// The integer after `"size":` in the arguments' JSON, if any.
    fn size(json: &[u8]) -> Option<i64> {
        const PAT: &[u8] = b"\"size\":";
        let start = json.windows(PAT.len()).position(|w| w == PAT)? + PAT.len();
        let digits = json[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'-')
            .count();
        std::str::from_utf8(&json[start..start + digits])
            .ok()?
            .parse()
            .ok()
    }

    pub(super) unsafe extern "C" fn create(
        _plugin_data: *const c_void,
        args_json: *const c_char,
        out_obj: *mut *mut c_void,
        out_error: *mut *mut c_char,
    ) -> i32 {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let args = unsafe { CStr::from_ptr(args_json) }.to_bytes();
            Box::into_raw(Box::new(Sized {
                size: size(args).unwrap_or(0),
            }))
        }));
        match result {
            Ok(obj) => {
                unsafe { *out_obj = obj.cast() };
                0
            }
            Err(_) => {
                set(out_error, "the plugin panicked while creating its object");
                2
            }
        }
    }

    pub(super) unsafe extern "C" fn call(
        obj: *mut c_void,
        method: *const c_char,
        _input_json: *const c_char,
        out_json: *mut *mut c_char,
        out_error: *mut *mut c_char,
    ) -> i32 {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let s = unsafe { &*obj.cast::<Sized>() };
            match unsafe { CStr::from_ptr(method) }.to_bytes() {
                b"size" => Ok(s.size.to_string()),
                _ => Err("no such method".to_owned()),
            }
        }));
        match result {
            Ok(Ok(json)) => {
                set(out_json, &json);
                0
            }
            Ok(Err(msg)) => {
                set(out_error, &msg);
                1
            }
            Err(_) => {
                set(out_error, "the plugin panicked");
                2
            }
        }
    }

    pub(super) unsafe extern "C" fn destroy(obj: *mut c_void) {
        if !obj.is_null() {
            let _ = catch_unwind(AssertUnwindSafe(|| {
                drop(unsafe { Box::from_raw(obj.cast::<Sized>()) })
            }));
        }
    }
}
