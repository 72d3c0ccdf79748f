//! stevedore's managers against Python stevedore 5.10 in the same situations: the Python side sees fake
//! entry points (a temporary `dist-info` directory put on `sys.path`), the Rust side sees the same plugins
//! registered with `stevedore::register!` in this file, and both report the same JSON.
#![cfg(feature = "stevedore")]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use oslo_tests::run_python_json;
use serde_json::{Value, json};
use stevedore::{
    CallMethod, DispatchExtensionManager, DriverManager, EnabledExtensionManager, Error, Extension,
    ExtensionManager, HookManager, InvokeArgs, NameDispatchExtensionManager, NamedExtensionManager,
    PluginError, error_on_conflict, ignore_conflicts,
};

/// The Python half: builds the fake distribution, runs every scenario, prints one JSON document.
const PYTHON: &str = r#####"
import json, os, shutil, sys, tempfile, logging
logging.disable(logging.CRITICAL)
tmp = tempfile.mkdtemp()
with open(os.path.join(tmp, 'fakeplugs.py'), 'w') as f:
    f.write('''
class Base:
    KIND = "?"
    def __init__(self, *args, **kwargs):
        self.args = list(args); self.kwargs = kwargs
    def kind(self):
        return self.KIND
class A(Base): KIND = "a"
class C(Base): KIND = "c"
class X(Base): KIND = "x"
class Z(Base): KIND = "z"
class D1(Base): KIND = "dup_one"
class D2(Base): KIND = "dup_two"
class H1(Base): KIND = "h1"
class H2(Base): KIND = "h2"
class Broken(Base):
    def __init__(self, *a, **k):
        raise RuntimeError("b is broken")
''')
with open(os.path.join(tmp, 'fakeplugs_y.py'), 'w') as f:
    f.write('class Y:\n    KIND = "y"\n    def __init__(self, *a, **k): pass\n    def kind(self): return "y"\n')
di = os.path.join(tmp, 'fakeplugs-1.0.dist-info')
os.mkdir(di)
with open(os.path.join(di, 'METADATA'), 'w') as f:
    f.write('Metadata-Version: 2.1\nName: fakeplugs\nVersion: 1.0\n')
with open(os.path.join(di, 'entry_points.txt'), 'w') as f:
    f.write('''[diff.ext]
a = fakeplugs:A
b = fakeplugs:Broken
c = fakeplugs:C

[diff.named]
x = fakeplugs:X
y = fakeplugs_y:Y
z = fakeplugs:Z

[diff.dup]
d = fakeplugs:D1
d = fakeplugs:D2
e = fakeplugs:A

[diff.hooks]
h = fakeplugs:H1
h = fakeplugs:H2
other = fakeplugs:C

[diff.order]
zeta = fakeplugs:Z
alpha = fakeplugs:A

[diff.import]
a = fakeplugs:A
gone = nosuchmodule:Gone
''')
sys.path.insert(0, tmp)
from stevedore import (ExtensionManager, NamedExtensionManager, EnabledExtensionManager, DriverManager,
    HookManager, exception)
from stevedore.dispatch import DispatchExtensionManager, NameDispatchExtensionManager
from stevedore.extension import ignore_conflicts, error_on_conflict

def err(e):
    if isinstance(e, exception.NoMatches): return "NoMatches"
    if isinstance(e, exception.MultipleMatches): return "MultipleMatches"
    if isinstance(e, KeyError): return "KeyError"
    return "PluginError"

def attempt(f):
    try:
        return {"ok": f()}
    except Exception as e:
        return {"err": err(e)}

out = {}
fails = []
m = ExtensionManager('diff.ext', invoke_on_load=True, invoke_args=(1,), invoke_kwds={'k': 'v'},
                     on_load_failure_callback=lambda mgr, ep, exc: fails.append([ep.name, str(exc)]))
out['ext_invoke'] = {"names": m.names(), "failures": fails,
                     "a_args": {"args": m['a'].obj.args, "kwargs": m['a'].obj.kwargs}}
out['ext_plain'] = ExtensionManager('diff.ext').names()
missing = []
m = NamedExtensionManager('diff.named', ['z', 'missing', 'x'], invoke_on_load=True,
                          on_missing_entrypoints_callback=lambda names: missing.append(sorted(names)))
out['named'] = {"names": m.names(), "missing": missing, "y_constructed": 'fakeplugs_y' in sys.modules}
out['named_order'] = NamedExtensionManager('diff.named', ['z', 'missing', 'x'], invoke_on_load=True,
                                           name_order=True).names()
out['enabled'] = EnabledExtensionManager('diff.named', lambda e: e.name != 'y', invoke_on_load=True).names()
out['driver'] = attempt(lambda: DriverManager('diff.ext', 'c', invoke_on_load=True).driver.kind())
out['driver_missing'] = attempt(lambda: DriverManager('diff.ext', 'zz').driver.kind())
out['driver_broken'] = attempt(lambda: DriverManager('diff.ext', 'b', invoke_on_load=True).driver.kind())
out['driver_dup'] = attempt(lambda: DriverManager('diff.dup', 'd', invoke_on_load=True).driver.kind())
out['driver_dup_ignore'] = attempt(lambda: DriverManager('diff.dup', 'd', invoke_on_load=True,
                                                         conflict_resolver=ignore_conflicts).driver.kind())
m = ExtensionManager('diff.dup', invoke_on_load=True)
out['dup'] = {"names": m.names(), "d": m['d'].obj.kind(),
              "items": [[n, e.obj.kind()] for n, e in m.items()]}
m = ExtensionManager('diff.dup', conflict_resolver=error_on_conflict)
out['dup_strict'] = {"len": len(m.extensions), "lookup": attempt(lambda: m['e'].name)}
h = HookManager('diff.hooks', 'h', invoke_on_load=True)
out['hooks'] = {"kinds": [e.obj.kind() for e in h], "get_h": len(h['h']),
                "get_other": attempt(lambda: len(h['other']))}
h = HookManager('diff.hooks', 'nothing')
out['hooks_none'] = {"names": h.names(), "map": attempt(lambda: h.map(lambda e: 1))}
called = []
def f(e):
    called.append(e.name)
    if e.name == 'y':
        raise RuntimeError('y fails')
    return e.name.upper()
m = ExtensionManager('diff.named', invoke_on_load=True)
out['map_log'] = {"result": m.map(f), "called": called}
called = []
m = ExtensionManager('diff.named', invoke_on_load=True, propagate_map_exceptions=True)
out['map_propagate'] = {"result": attempt(lambda: m.map(f)), "called": called}
m = ExtensionManager('diff.ext', invoke_on_load=True)
out['map_method'] = m.map_method('kind')
m = DispatchExtensionManager('diff.named', lambda e: True, invoke_on_load=True)
out['dispatch'] = m.map(lambda e: e.name != 'y', lambda e: e.name)
m = NameDispatchExtensionManager('diff.named', lambda e: e.name != 'x', invoke_on_load=True)
out['name_dispatch'] = m.map(['z', 'unknown', 'x', 'y'], lambda e: e.name)
out['map_empty'] = attempt(lambda: ExtensionManager('diff.empty').map(lambda e: 1))
fails = []
m = ExtensionManager('diff.import', on_load_failure_callback=lambda mgr, ep, exc: fails.append(ep.name))
out['import_failure'] = {"names": m.names(), "failures": fails}
missing = []
m = NamedExtensionManager('diff.import', ['gone', 'a'], on_missing_entrypoints_callback=lambda n: missing.append(sorted(n)))
out['import_failure_named'] = {"names": m.names(), "missing": missing}
out['import_failure_driver'] = attempt(lambda: DriverManager('diff.import', 'gone').driver)
out['order'] = ExtensionManager('diff.order').names()
shutil.rmtree(tmp)
print(json.dumps(out))
"#####;

struct Obj {
    kind: &'static str,
    args: Value,
}

impl CallMethod for Obj {
    fn call_method(&self, method: &str, _input: &Value) -> Result<Value, PluginError> {
        match method {
            "kind" => Ok(json!(self.kind)),
            other => Err(PluginError::new(format!("no method `{other}`"))),
        }
    }
}

fn obj(kind: &'static str, args: &InvokeArgs) -> Result<Obj, PluginError> {
    Ok(Obj {
        kind,
        args: args.to_json(),
    })
}

fn a(args: &InvokeArgs) -> Result<Obj, PluginError> {
    obj("a", args)
}
fn broken(_: &InvokeArgs) -> Result<Obj, PluginError> {
    Err(PluginError::new("b is broken"))
}
fn c(args: &InvokeArgs) -> Result<Obj, PluginError> {
    obj("c", args)
}
fn x(args: &InvokeArgs) -> Result<Obj, PluginError> {
    obj("x", args)
}
static Y_BUILT: AtomicUsize = AtomicUsize::new(0);
fn y(args: &InvokeArgs) -> Result<Obj, PluginError> {
    Y_BUILT.fetch_add(1, Ordering::SeqCst);
    obj("y", args)
}
fn z(args: &InvokeArgs) -> Result<Obj, PluginError> {
    obj("z", args)
}
fn dup_one(args: &InvokeArgs) -> Result<Obj, PluginError> {
    obj("dup_one", args)
}
fn dup_two(args: &InvokeArgs) -> Result<Obj, PluginError> {
    obj("dup_two", args)
}
fn h1(args: &InvokeArgs) -> Result<Obj, PluginError> {
    obj("h1", args)
}
fn h2(args: &InvokeArgs) -> Result<Obj, PluginError> {
    obj("h2", args)
}

stevedore::register! { namespace: "diff.ext", name: "a", factory: a }
stevedore::register! { namespace: "diff.ext", name: "b", factory: broken }
stevedore::register! { namespace: "diff.ext", name: "c", factory: c }
stevedore::register! { namespace: "diff.named", name: "x", factory: x }
stevedore::register! { namespace: "diff.named", name: "y", factory: y }
stevedore::register! { namespace: "diff.named", name: "z", factory: z }
stevedore::register! { namespace: "diff.dup", name: "d", factory: dup_one }
stevedore::register! { namespace: "diff.dup", name: "d", factory: dup_two }
stevedore::register! { namespace: "diff.dup", name: "e", factory: a }
stevedore::register! { namespace: "diff.hooks", name: "h", factory: h1 }
stevedore::register! { namespace: "diff.hooks", name: "h", factory: h2 }
stevedore::register! { namespace: "diff.hooks", name: "other", factory: c }
stevedore::register! { namespace: "diff.order", name: "zeta", factory: z }
stevedore::register! { namespace: "diff.order", name: "alpha", factory: a }

/// Python's exception classes, as the script names them.
fn err(e: &Error) -> &'static str {
    match e {
        Error::NoMatches { .. } => "NoMatches",
        Error::MultipleMatches { .. } => "MultipleMatches",
        _ => "PluginError",
    }
}

fn attempt<V: Into<Value>>(r: Result<V, Error>) -> Value {
    match r {
        Ok(v) => json!({ "ok": v.into() }),
        Err(e) => json!({ "err": err(&e) }),
    }
}

fn kind(e: &Extension<Obj>) -> &'static str {
    e.obj().map_or("-", |o| o.kind)
}

fn invoke() -> InvokeArgs {
    InvokeArgs::new()
}

fn driver_kind(b: stevedore::ManagerBuilder<'static, Obj, DriverManager<Obj>>) -> Value {
    attempt(b.build().map(|d| d.driver().map_or("-", |o| o.kind)))
}

/// The Rust half: the same scenarios, the same report.
fn rust_report() -> Value {
    let mut out = serde_json::Map::new();
    import_failures(&mut out);

    let fails = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&fails);
    let m = ExtensionManager::<Obj>::builder("diff.ext")
        .invoke_on_load(InvokeArgs::new().arg(1).kwarg("k", "v"))
        .on_load_failure(move |ep, e| {
            seen.borrow_mut().push(json!([ep.name(), e.to_string()]));
            Ok(())
        })
        .build()
        .unwrap();
    out.insert(
        "ext_invoke".into(),
        json!({
            "names": m.names(),
            "failures": *fails.borrow(),
            "a_args": m.get("a").unwrap().unwrap().obj().unwrap().args,
        }),
    );
    out.insert(
        "ext_plain".into(),
        json!(
            ExtensionManager::<Obj>::builder("diff.ext")
                .build()
                .unwrap()
                .names()
        ),
    );

    let missing = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&missing);
    let m = NamedExtensionManager::<Obj>::builder("diff.named", ["z", "missing", "x"])
        .invoke_on_load(invoke())
        .on_missing_names(move |_, names| {
            seen.borrow_mut().push(names.to_vec());
            Ok(())
        })
        .build()
        .unwrap();
    out.insert(
        "named".into(),
        json!({
            "names": m.names(),
            "missing": *missing.borrow(),
            "y_constructed": Y_BUILT.load(Ordering::SeqCst) > 0,
        }),
    );
    let m = NamedExtensionManager::<Obj>::builder("diff.named", ["z", "missing", "x"])
        .invoke_on_load(invoke())
        .name_order(true)
        .build()
        .unwrap();
    out.insert("named_order".into(), json!(m.names()));
    let m =
        EnabledExtensionManager::<Obj>::builder("diff.named", |e: &Extension<Obj>| e.name() != "y")
            .invoke_on_load(invoke())
            .build()
            .unwrap();
    out.insert("enabled".into(), json!(m.names()));

    out.insert(
        "driver".into(),
        driver_kind(DriverManager::builder("diff.ext", "c").invoke_on_load(invoke())),
    );
    out.insert(
        "driver_missing".into(),
        driver_kind(DriverManager::builder("diff.ext", "zz")),
    );
    out.insert(
        "driver_broken".into(),
        driver_kind(DriverManager::builder("diff.ext", "b").invoke_on_load(invoke())),
    );
    out.insert(
        "driver_dup".into(),
        driver_kind(DriverManager::builder("diff.dup", "d").invoke_on_load(invoke())),
    );
    out.insert(
        "driver_dup_ignore".into(),
        driver_kind(
            DriverManager::builder("diff.dup", "d")
                .invoke_on_load(invoke())
                .conflict_resolver(ignore_conflicts),
        ),
    );

    let m = ExtensionManager::<Obj>::builder("diff.dup")
        .invoke_on_load(invoke())
        .build()
        .unwrap();
    let items: Vec<Value> = m
        .items()
        .unwrap()
        .into_iter()
        .map(|(n, e)| json!([n, kind(e)]))
        .collect();
    out.insert(
        "dup".into(),
        json!({ "names": m.names(), "d": kind(m.get("d").unwrap().unwrap()), "items": items }),
    );
    let m = ExtensionManager::<Obj>::builder("diff.dup")
        .conflict_resolver(error_on_conflict)
        .build()
        .unwrap();
    out.insert(
        "dup_strict".into(),
        json!({ "len": m.len(), "lookup": attempt(m.get("e").map(|e| e.map(|e| e.name().to_owned()))) }),
    );

    let h = HookManager::<Obj>::builder("diff.hooks", "h")
        .invoke_on_load(invoke())
        .build()
        .unwrap();
    out.insert(
        "hooks".into(),
        json!({
            "kinds": h.iter().map(kind).collect::<Vec<_>>(),
            "get_h": h.get("h").map_or(0, <[_]>::len),
            "get_other": match h.get("other") {
                Some(v) => json!({ "ok": v.len() }),
                None => json!({ "err": "KeyError" }),
            },
        }),
    );
    let h = HookManager::<Obj>::builder("diff.hooks", "nothing")
        .build()
        .unwrap();
    out.insert(
        "hooks_none".into(),
        json!({ "names": h.names(), "map": attempt(h.map(|_| Ok::<_, String>(1)).map(|v| json!(v))) }),
    );

    let fail_on_y = |called: &RefCell<Vec<String>>, e: &Extension<Obj>| {
        called.borrow_mut().push(e.name().to_owned());
        if e.name() == "y" {
            Err("y fails".to_owned())
        } else {
            Ok(e.name().to_uppercase())
        }
    };
    let called = RefCell::new(Vec::new());
    let m = ExtensionManager::<Obj>::builder("diff.named")
        .invoke_on_load(invoke())
        .build()
        .unwrap();
    let result = m.map(|e| fail_on_y(&called, e)).unwrap();
    out.insert(
        "map_log".into(),
        json!({ "result": result, "called": *called.borrow() }),
    );
    let called = RefCell::new(Vec::new());
    let m = ExtensionManager::<Obj>::builder("diff.named")
        .invoke_on_load(invoke())
        .propagate_map_exceptions(true)
        .build()
        .unwrap();
    let result = attempt(m.map(|e| fail_on_y(&called, e)).map(|v| json!(v)));
    out.insert(
        "map_propagate".into(),
        json!({ "result": result, "called": *called.borrow() }),
    );

    let m = ExtensionManager::<Obj>::builder("diff.ext")
        .invoke_on_load(invoke())
        .build()
        .unwrap();
    out.insert(
        "map_method".into(),
        json!(m.map_method("kind", &Value::Null).unwrap()),
    );
    let m = DispatchExtensionManager::<Obj>::builder("diff.named", |_: &Extension<Obj>| true)
        .invoke_on_load(invoke())
        .build()
        .unwrap();
    out.insert(
        "dispatch".into(),
        json!(
            m.map(
                |e| e.name() != "y",
                |e| Ok::<_, String>(e.name().to_owned())
            )
            .unwrap()
        ),
    );
    let m = NameDispatchExtensionManager::<Obj>::builder("diff.named", |e: &Extension<Obj>| {
        e.name() != "x"
    })
    .invoke_on_load(invoke())
    .build()
    .unwrap();
    out.insert(
        "name_dispatch".into(),
        json!(
            m.map(["z", "unknown", "x", "y"], |e| Ok::<_, String>(
                e.name().to_owned()
            ))
            .unwrap()
        ),
    );
    out.insert(
        "map_empty".into(),
        attempt(
            ExtensionManager::<Obj>::builder("diff.empty")
                .build()
                .unwrap()
                .map(|_| Ok::<_, String>(1))
                .map(|v| json!(v)),
        ),
    );
    out.insert(
        "order".into(),
        json!(
            ExtensionManager::<Obj>::builder("diff.order")
                .build()
                .unwrap()
                .names()
        ),
    );
    Value::Object(out)
}

stevedore::register! { namespace: "diff.import", name: "a", factory: a }

/// An entry point whose module cannot be imported is, here, a manifest entry whose library is missing:
/// loading it fails, as importing fails.
fn import_failures(out: &mut serde_json::Map<String, Value>) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("plugins.toml");
    std::fs::write(
        &manifest,
        "[[plugin]]\nnamespace = \"diff.import\"\nname = \"gone\"\nlibrary = \"libnosuchmodule.so\"\n",
    )
    .unwrap();
    let mut reg = stevedore::Registry::from_static();
    reg.load_manifest(&manifest).unwrap();

    let fails = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&fails);
    let m = ExtensionManager::<Obj>::builder("diff.import")
        .registry(&reg)
        .on_load_failure(move |ep, _| {
            seen.borrow_mut().push(ep.name().to_owned());
            Ok(())
        })
        .build()
        .unwrap();
    out.insert(
        "import_failure".into(),
        json!({ "names": m.names(), "failures": *fails.borrow() }),
    );

    let missing = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&missing);
    let m = NamedExtensionManager::<Obj>::builder("diff.import", ["gone", "a"])
        .registry(&reg)
        .on_missing_names(move |_, names| {
            seen.borrow_mut().push(names.to_vec());
            Ok(())
        })
        .build()
        .unwrap();
    out.insert(
        "import_failure_named".into(),
        json!({ "names": m.names(), "missing": *missing.borrow() }),
    );
    out.insert(
        "import_failure_driver".into(),
        attempt(
            DriverManager::<Obj>::builder("diff.import", "gone")
                .registry(&reg)
                .build()
                .map(|d| d.name().to_owned()),
        ),
    );
}

#[test]
fn managers_behave_as_python_stevedore() {
    let mut python = run_python_json(PYTHON, "");
    let mut rust = rust_report();

    // The one deliberate difference: Python keeps the order entry points were installed in (here the
    // order of `entry_points.txt`); we sort by name so that the order never depends on link order.
    assert_eq!(python["order"], json!(["zeta", "alpha"]));
    assert_eq!(rust["order"], json!(["alpha", "zeta"]));
    python.as_object_mut().unwrap().remove("order");
    rust.as_object_mut().unwrap().remove("order");

    for (key, expected) in python.as_object().unwrap() {
        assert_eq!(
            &rust[key], expected,
            "scenario `{key}` differs from Python stevedore"
        );
    }
    assert_eq!(
        rust.as_object().unwrap().len(),
        python.as_object().unwrap().len()
    );
}
