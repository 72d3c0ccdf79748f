//! Plugin libraries: a real one built from `tests/plugins/greeter.rs` with rustc, and broken variants.
#![cfg(feature = "dynamic")]

#[path = "support/plugin_build.rs"]
mod plugin_build;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use stevedore::dynamic::{ABI_MAGIC, ABI_VERSION, DEFAULT_SYMBOL, DynamicError, DynamicObject};
use stevedore::{
    DriverManager, Error, ExtensionManager, InvokeArgs, NamedExtensionManager, Origin, PluginError,
    Registry, ignore_conflicts,
};

struct Fixture {
    root: PathBuf,
}

impl Fixture {
    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
    fn good(&self) -> PathBuf {
        self.dir("good").join("libgreeter.so")
    }
}

/// Builds every plugin once, under cargo's temporary directory for tests, in a directory named after the
/// plugin's source: test runners that start one process per test (nextest) share it. Each process builds
/// into its own staging directory and renames it into place; the first rename wins and the libraries are
/// never written again, so a process never loads a half-written library.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let src = plugin_build::greeter_source(Path::new(env!("CARGO_MANIFEST_DIR")));
        let mut hasher = DefaultHasher::new();
        std::fs::read(&src).unwrap().hash(&mut hasher);
        // Bump when the layout below changes.
        1_u32.hash(&mut hasher);
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let root = base.join(format!("stevedore-dynamic-{:016x}", hasher.finish()));
        if !root.exists() {
            let staging = base.join(format!("stevedore-dynamic-staging-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&staging);
            build_fixture(&src, &staging);
            if std::fs::rename(&staging, &root).is_err() {
                // Another process published first.
                let _ = std::fs::remove_dir_all(&staging);
            }
        }
        Fixture { root }
    })
}

fn build_fixture(src: &Path, root: &Path) {
    for d in ["good", "mixed", "live", "many", "threads"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let mixed = root.join("mixed");
    std::thread::scope(|s| {
        s.spawn(|| plugin_build::build_plugin(src, &root.join("good"), "greeter", &[], &[]));
        s.spawn(|| {
            plugin_build::build_plugin(
                src,
                &root.join("many"),
                "many",
                &[],
                &[
                    ("STEVEDORE_TEST_PLUGIN_COUNT", "200"),
                    ("STEVEDORE_TEST_NAMESPACE", "many"),
                ],
            )
        });
        for cfg in [
            "bad_magic",
            "bad_version",
            "null_table",
            "null_fn",
            "other_symbol",
        ] {
            let mixed = &mixed;
            s.spawn(move || plugin_build::build_plugin(src, mixed, cfg, &[cfg], &[]));
        }
    });
    // Copies are distinct libraries to the dynamic loader (another file), with their own state.
    let good = root.join("good/libgreeter.so");
    std::fs::copy(&good, mixed.join("libaaa_good.so")).unwrap();
    std::fs::copy(&good, root.join("live/libgreeter_live.so")).unwrap();
    std::fs::copy(&good, root.join("threads/libgreeter_threads.so")).unwrap();
    std::fs::write(
        mixed.join("libcorrupt.so"),
        b"\x7fELF this is not really a library",
    )
    .unwrap();
    std::fs::write(mixed.join("notes.txt"), "not a library, not even looked at").unwrap();
}

fn dynamic_registry(dir: &Path) -> Registry {
    let mut reg = Registry::new();
    let report = reg.load_dir(dir).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    reg
}

#[test]
fn a_real_plugin_library_loads_and_runs() {
    let f = fixture();
    let mut reg = Registry::new();
    let report = reg.load_dir(f.dir("good")).unwrap();
    assert_eq!(report.plugins, 3);
    assert_eq!(report.loaded, [f.good()]);
    assert_eq!(reg.names("dyn.greeters"), ["failing", "hello", "shout"]);
    let hello = reg
        .entry_points("dyn.greeters")
        .find(|e| e.name() == "hello")
        .unwrap();
    assert_eq!(hello.target(), "greeter::Hello");
    assert_eq!(
        hello.origin(),
        &Origin::Library {
            path: f.good().canonicalize().unwrap(),
            symbol: DEFAULT_SYMBOL.to_owned()
        }
    );

    let mut failures = Vec::new();
    let failed = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = std::rc::Rc::clone(&failed);
    let mgr = ExtensionManager::<DynamicObject>::builder("dyn.greeters")
        .registry(&reg)
        .invoke_on_load(InvokeArgs::new().kwarg("greeting", "hi"))
        .on_load_failure(move |ep, err| {
            seen.borrow_mut()
                .push((ep.name().to_owned(), err.to_string()));
            Ok(())
        })
        .build()
        .unwrap();
    failures.extend(failed.borrow().iter().cloned());
    assert_eq!(
        failures,
        [("failing".to_owned(), "failing refuses to start".to_owned())]
    );
    assert_eq!(mgr.names(), ["hello", "shout"]);
    assert_eq!(
        mgr.map_method("greet", &json!("world")).unwrap(),
        [json!("hi, world"), json!("HI, WORLD")]
    );
    // Objects keep their state between calls.
    let hello = mgr.get("hello").unwrap().unwrap().obj().unwrap();
    assert_eq!(hello.call("calls", &Value::Null).unwrap(), json!(2));
}

#[test]
fn broken_libraries_are_clear_errors() {
    let f = fixture();
    let mixed = f.dir("mixed");
    let lib = |name: &str| mixed.join(format!("lib{name}.so"));
    let canon = |name: &str| lib(name).canonicalize().unwrap();
    let mut reg = Registry::new();

    let err = reg.load_library(lib("bad_magic")).unwrap_err();
    match &err {
        Error::Dynamic(DynamicError::BadMagic {
            path,
            symbol,
            expected,
            found,
        }) => {
            assert_eq!(path, &canon("bad_magic"));
            assert_eq!(symbol, DEFAULT_SYMBOL);
            assert_eq!(*expected, ABI_MAGIC);
            assert_eq!(*found, 0x0bad_0bad_0bad_0bad);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("is not a stevedore plugin table"),
        "{err}"
    );

    let err = reg.load_library(lib("bad_version")).unwrap_err();
    assert!(
        matches!(&err, Error::Dynamic(DynamicError::AbiVersion { expected, found: 99, .. }) if *expected == ABI_VERSION),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "plugin library `{}` (symbol `stevedore_plugins`) has ABI version 99, expected 1",
            canon("bad_version").display()
        )
    );

    let err = reg.load_library(lib("null_table")).unwrap_err();
    assert!(err.to_string().contains("null table"), "{err}");
    let err = reg.load_library(lib("null_fn")).unwrap_err();
    assert!(
        err.to_string().contains("function pointer is null"),
        "{err}"
    );
    assert!(matches!(
        err,
        Error::Dynamic(DynamicError::Malformed { .. })
    ));

    let err = reg.load_library(lib("other_symbol")).unwrap_err();
    assert!(
        matches!(&err, Error::Dynamic(DynamicError::Symbol { symbol, .. }) if symbol == "stevedore_plugins")
    );
    assert!(
        err.to_string()
            .contains("has no symbol `stevedore_plugins`"),
        "{err}"
    );
    // ...and under its real name it loads.
    assert_eq!(
        reg.load_library_symbol(lib("other_symbol"), "something_else")
            .unwrap(),
        3
    );

    let err = reg.load_library(lib("corrupt")).unwrap_err();
    assert!(
        matches!(&err, Error::Dynamic(DynamicError::Open { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("libcorrupt.so"), "{err}");

    let err = reg
        .load_library(f.root.join("nowhere/libmissing.so"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Dynamic(DynamicError::Open { path, .. }) if path.ends_with("nowhere/libmissing.so"))
    );

    // Only the library loaded under its real symbol added plugins.
    assert_eq!(reg.len(), 3);
}

#[test]
fn a_directory_scan_skips_broken_libraries_in_file_name_order() {
    let f = fixture();
    let mut reg = Registry::new();
    let report = reg.load_dir(f.dir("mixed")).unwrap();
    assert_eq!(report.loaded, [f.dir("mixed").join("libaaa_good.so")]);
    assert_eq!(report.plugins, 3);
    let failed: Vec<String> = report
        .failures
        .iter()
        .map(|e| match e {
            DynamicError::Open { path, .. }
            | DynamicError::Symbol { path, .. }
            | DynamicError::BadMagic { path, .. }
            | DynamicError::AbiVersion { path, .. }
            | DynamicError::Malformed { path, .. } => {
                path.file_name().unwrap().to_string_lossy().into_owned()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        failed,
        [
            "libbad_magic.so",
            "libbad_version.so",
            "libcorrupt.so",
            "libnull_fn.so",
            "libnull_table.so",
            "libother_symbol.so"
        ]
    );
    let err = reg.load_dir(f.root.join("no-such-dir")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
}

#[test]
fn a_manifest_defers_opening_libraries_until_a_plugin_is_loaded() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("plugins.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"
[[plugin]]
namespace = "dyn.greeters"
name = "hello"
library = "{good}"

[[plugin]]
namespace = "dyn.greeters"
name = "ghost"
library = "libmissing.so"

[[plugin]]
namespace = "dyn.greeters"
name = "nothere"
library = "{good}"
symbol = "stevedore_plugins"
"#,
            good = f.good().display()
        ),
    )
    .unwrap();
    let mut reg = Registry::new();
    assert_eq!(reg.load_manifest(&manifest).unwrap(), 3);
    assert_eq!(reg.names("dyn.greeters"), ["ghost", "hello", "nothere"]);
    let ghost = reg.entry_points("dyn.greeters").next().unwrap();
    assert_eq!(ghost.target(), "libmissing.so:stevedore_plugins");
    assert!(
        matches!(ghost.origin(), Origin::Manifest { library, .. } if library == &dir.path().join("libmissing.so"))
    );

    // Only `hello` is loaded: the missing library of `ghost` is never opened.
    let mgr = NamedExtensionManager::<DynamicObject>::builder("dyn.greeters", ["hello"])
        .registry(&reg)
        .invoke_on_load(InvokeArgs::new())
        .on_load_failure(|ep, err| panic!("{} failed: {err}", ep.name()))
        .build()
        .unwrap();
    assert_eq!(
        mgr.map_method("greet", &json!("you")).unwrap(),
        [json!("hello, you")]
    );

    let err = DriverManager::<DynamicObject>::builder("dyn.greeters", "ghost")
        .registry(&reg)
        .build()
        .unwrap_err();
    match &err {
        Error::Load { name, source, .. } => {
            assert_eq!(name, "ghost");
            assert!(source.message().contains("libmissing.so"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    let err = DriverManager::<DynamicObject>::builder("dyn.greeters", "nothere")
        .registry(&reg)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("nothere"), "{err}");
    let Error::Load { source, .. } = err else {
        panic!()
    };
    assert!(
        source
            .message()
            .contains("provides no `nothere` in `dyn.greeters`"),
        "{source}"
    );

    std::fs::write(
        &manifest,
        "[[plugin]]\nnamespace = \"a\"\nname = \"b\"\nlibrary = \"x.so\"\ncolour = 1\n",
    )
    .unwrap();
    let err = Registry::new().load_manifest(&manifest).unwrap_err();
    assert!(
        matches!(&err, Error::Manifest { reason, .. } if reason.contains("colour")),
        "{err:?}"
    );
    let err = Registry::new()
        .load_manifest(dir.path().join("none.toml"))
        .unwrap_err();
    assert!(matches!(err, Error::Manifest { .. }));
}

#[test]
fn objects_are_destroyed_by_their_library() {
    let f = fixture();
    let reg = dynamic_registry(&f.dir("live"));
    let live = |mgr: &ExtensionManager<DynamicObject>| {
        mgr.extensions()[0]
            .obj()
            .unwrap()
            .call("live", &Value::Null)
            .unwrap()
    };
    let mgr = ExtensionManager::<DynamicObject>::builder("dyn.greeters")
        .registry(&reg)
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    assert_eq!(mgr.len(), 2);
    assert_eq!(live(&mgr), json!(2));
    drop(mgr);
    let one = NamedExtensionManager::<DynamicObject>::builder("dyn.greeters", ["hello"])
        .registry(&reg)
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    assert_eq!(live(&one), json!(1));
}

#[test]
fn plugin_panics_and_bad_answers_are_errors() {
    let f = fixture();
    let reg = dynamic_registry(&f.dir("good"));
    let err = DriverManager::<DynamicObject>::builder("dyn.greeters", "hello")
        .registry(&reg)
        .invoke_on_load(InvokeArgs::new().kwarg("panic", true))
        .build()
        .unwrap_err();
    let Error::Load { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        source.message(),
        "the plugin panicked while creating its object"
    );

    let drv = DriverManager::<DynamicObject>::builder("dyn.greeters", "hello")
        .registry(&reg)
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    let obj = drv.driver().unwrap();
    assert_eq!(
        obj.call("panic", &Value::Null).unwrap_err().message(),
        "the plugin panicked"
    );
    assert!(
        obj.call("bad_json", &Value::Null)
            .unwrap_err()
            .message()
            .contains("invalid JSON")
    );
    assert_eq!(
        obj.call("fly", &Value::Null).unwrap_err().message(),
        "no method `fly`"
    );
    assert!(
        obj.call("has\0nul", &Value::Null)
            .unwrap_err()
            .message()
            .contains("NUL")
    );
    // Still usable afterwards.
    assert_eq!(
        obj.call("greet", &json!("again")).unwrap(),
        json!("hello, again")
    );
}

#[test]
fn objects_can_move_between_threads() {
    let f = fixture();
    let reg = dynamic_registry(&f.dir("threads"));
    let drv = DriverManager::<DynamicObject>::builder("dyn.greeters", "shout")
        .registry(&reg)
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    let obj = drv.into_driver().unwrap();
    let shared = std::sync::Arc::new(obj);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let obj = std::sync::Arc::clone(&shared);
            std::thread::spawn(move || obj.call("greet", &json!(format!("t{i}"))).unwrap())
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), json!(format!("HELLO, T{i}")));
    }
    assert_eq!(shared.call("calls", &Value::Null).unwrap(), json!(5));
}

/// A host-side trait, implemented by compiled-in plugins and by a wrapper over library objects.
trait Greet {
    fn greet(&self, who: &str) -> Result<String, PluginError>;
}

struct Static;

impl Greet for Static {
    fn greet(&self, who: &str) -> Result<String, PluginError> {
        Ok(format!("static hello, {who}"))
    }
}

struct FromLibrary(DynamicObject);

impl Greet for FromLibrary {
    fn greet(&self, who: &str) -> Result<String, PluginError> {
        let v = self.0.call("greet", &json!(who))?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| PluginError::new("not a string"))
    }
}

fn static_hello(_: &InvokeArgs) -> Result<Box<dyn Greet>, PluginError> {
    Ok(Box::new(Static))
}

stevedore::register! { namespace: "dyn.greeters", name: "hello", factory: static_hello }

#[test]
fn static_and_library_plugins_share_a_namespace() {
    let f = fixture();
    let mut reg = Registry::from_static();
    reg.load_dir(f.dir("good")).unwrap();
    assert_eq!(
        reg.names("dyn.greeters"),
        ["failing", "hello", "hello", "shout"]
    );
    let origins: Vec<_> = reg
        .entry_points("dyn.greeters")
        .filter(|e| e.name() == "hello")
        .map(|e| matches!(e.origin(), Origin::Static))
        .collect();
    assert_eq!(origins, [true, false], "compiled-in first");

    let err = DriverManager::<Box<dyn Greet>>::builder("dyn.greeters", "hello")
        .registry(&reg)
        .build()
        .unwrap_err();
    assert!(err.is_multiple_matches());

    let mgr = ExtensionManager::<Box<dyn Greet>>::builder("dyn.greeters")
        .registry(&reg)
        .invoke_on_load(InvokeArgs::new())
        .convert_dynamic(|obj| Box::new(FromLibrary(obj)) as Box<dyn Greet>)
        .conflict_resolver(ignore_conflicts)
        .build()
        .unwrap();
    let all = mgr.map(|e| e.obj().unwrap().greet("x")).unwrap();
    assert_eq!(all, ["static hello, x", "hello, x", "HELLO, X"]);
    // The last registered `hello` (the library's) wins a lookup.
    assert_eq!(
        mgr.get("hello")
            .unwrap()
            .unwrap()
            .obj()
            .unwrap()
            .greet("y")
            .unwrap(),
        "hello, y"
    );

    // Without a converter, library objects are the wrong type for this manager.
    let strict = ExtensionManager::<Box<dyn Greet>>::builder("dyn.greeters")
        .registry(&reg)
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    assert_eq!(strict.len(), 1);
}

#[test]
fn a_library_can_hold_many_plugins() {
    let f = fixture();
    let reg = dynamic_registry(&f.dir("many"));
    assert_eq!(reg.names("many").len(), 200);
    assert_eq!(reg.names("many")[199], "p199");
    let mgr = ExtensionManager::<DynamicObject>::builder("many")
        .registry(&reg)
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    assert_eq!(mgr.len(), 200);
}

#[test]
fn stevedore_list_shows_where_plugins_come_from() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(
        &manifest,
        "[[plugin]]\nnamespace = \"other.ns\"\nname = \"later\"\nlibrary = \"liblater.so\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stevedore-list"))
        .arg("--dir")
        .arg(f.dir("good"))
        .arg("--manifest")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let good = f.good().canonicalize().unwrap();
    let expected = format!(
        "dyn.greeters\n\
         \x20 failing  greeter::Failing  library {g} (symbol stevedore_plugins)\n\
         \x20 hello    greeter::Hello    library {g} (symbol stevedore_plugins)\n\
         \x20 shout    greeter::Shout    library {g} (symbol stevedore_plugins)\n\
         other.ns\n\
         \x20 later  liblater.so:stevedore_plugins  manifest {m} -> {l} (symbol stevedore_plugins)\n",
        g = good.display(),
        m = manifest.display(),
        l = dir.path().join("liblater.so").display()
    );
    assert_eq!(text, expected);

    let out = Command::new(env!("CARGO_BIN_EXE_stevedore-list"))
        .arg("--dir")
        .arg(f.dir("mixed"))
        .arg("dyn.greeters")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has ABI version 99, expected 1"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello"));
}

#[test]
fn a_plugin_library_written_in_c_loads() {
    let dir = tempfile::tempdir().unwrap();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = dir.path().join("libcounter.so");
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let out = Command::new(cc)
        .args(["-shared", "-fPIC", "-std=c99", "-Wall", "-Werror", "-I"])
        .arg(here.join("include"))
        .arg("-o")
        .arg(&lib)
        .arg(here.join("tests/plugins/counter.c"))
        .output()
        .expect("run the C compiler");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut reg = Registry::new();
    assert_eq!(reg.load_library(&lib).unwrap(), 1);
    let drv = DriverManager::<DynamicObject>::builder("c.counters", "counter")
        .registry(&reg)
        .invoke_on_load(InvokeArgs::new().kwarg("start", 5))
        .build()
        .unwrap();
    let counter = drv.driver().unwrap();
    assert_eq!(counter.call("next", &Value::Null).unwrap(), json!(5));
    assert_eq!(counter.call("next", &Value::Null).unwrap(), json!(6));
    assert_eq!(
        counter.call("reset", &Value::Null).unwrap_err().message(),
        "no method `reset`"
    );
    assert_eq!(drv.extension().unwrap().target(), "counter.c:counter");
}
