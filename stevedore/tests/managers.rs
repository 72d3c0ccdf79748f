//! The managers' behaviour, through the public API, over plugins registered in this test binary.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use stevedore::{
    CallMethod, DispatchExtensionManager, DriverManager, EnabledExtensionManager, Error, Extension,
    ExtensionManager, HookManager, InvokeArgs, NameDispatchExtensionManager, NamedExtensionManager,
    PluginError, Registry, error_on_conflict, ignore_conflicts,
};

/// What every test plugin makes.
#[derive(Debug, Clone, PartialEq)]
struct Obj {
    kind: &'static str,
    args: Value,
}

impl CallMethod for Obj {
    fn call_method(&self, method: &str, input: &Value) -> Result<Value, PluginError> {
        match method {
            "kind" => Ok(json!(self.kind)),
            "echo" => Ok(json!({ "kind": self.kind, "input": input })),
            "fail" if self.kind == "c" => Err(PluginError::new("c refuses")),
            "fail" => Ok(json!(self.kind)),
            _ => Err(PluginError::new(format!("no method `{method}`"))),
        }
    }
}

fn make(kind: &'static str, args: &InvokeArgs) -> Result<Obj, PluginError> {
    Ok(Obj {
        kind,
        args: args.to_json(),
    })
}

fn plugin_a(args: &InvokeArgs) -> Result<Obj, PluginError> {
    make("a", args)
}
fn plugin_b(_: &InvokeArgs) -> Result<Obj, String> {
    Err("b is broken".to_owned())
}
fn plugin_c(args: &InvokeArgs) -> Result<Obj, PluginError> {
    make("c", args)
}
fn not_an_obj(_: &InvokeArgs) -> Result<u32, PluginError> {
    Ok(7)
}

// Registered out of order on purpose: the registry sorts by name.
stevedore::register! { namespace: "t.ext", name: "c", factory: plugin_c }
stevedore::register! { namespace: "t.ext", name: "a", factory: plugin_a }
stevedore::register! { namespace: "t.ext", name: "b", factory: plugin_b }

stevedore::register! { namespace: "t.types", name: "number", factory: not_an_obj }
stevedore::register! { namespace: "t.types", name: "obj", factory: plugin_a }

fn plugin_x(args: &InvokeArgs) -> Result<Obj, PluginError> {
    make("x", args)
}
fn plugin_y(args: &InvokeArgs) -> Result<Obj, PluginError> {
    make("y", args)
}
fn plugin_z(args: &InvokeArgs) -> Result<Obj, PluginError> {
    make("z", args)
}

stevedore::register! { namespace: "t.named", name: "x", factory: plugin_x }
stevedore::register! { namespace: "t.named", name: "y", factory: plugin_y }
stevedore::register! { namespace: "t.named", name: "z", factory: plugin_z }

// Used by one test only, so that no other test constructs them.
static BUILT_LAZY_USED: AtomicUsize = AtomicUsize::new(0);
static BUILT_LAZY_UNUSED: AtomicUsize = AtomicUsize::new(0);

fn lazy_used(args: &InvokeArgs) -> Result<Obj, PluginError> {
    BUILT_LAZY_USED.fetch_add(1, Ordering::SeqCst);
    make("used", args)
}
fn lazy_unused(args: &InvokeArgs) -> Result<Obj, PluginError> {
    BUILT_LAZY_UNUSED.fetch_add(1, Ordering::SeqCst);
    make("unused", args)
}

stevedore::register! { namespace: "t.lazy", name: "used", factory: lazy_used }
stevedore::register! { namespace: "t.lazy", name: "unused", factory: lazy_unused }

fn dup_one(args: &InvokeArgs) -> Result<Obj, PluginError> {
    make("dup_one", args)
}
fn dup_two(args: &InvokeArgs) -> Result<Obj, PluginError> {
    make("dup_two", args)
}

stevedore::register! { namespace: "t.dup", name: "d", factory: dup_two }
stevedore::register! { namespace: "t.dup", name: "d", factory: dup_one }
stevedore::register! { namespace: "t.dup", name: "e", factory: plugin_a }
// The same registration twice counts once.
stevedore::register! { namespace: "t.dup", name: "e", factory: plugin_a }

stevedore::register! { namespace: "t.hooks", name: "h", factory: dup_one }
stevedore::register! { namespace: "t.hooks", name: "h", factory: dup_two }
stevedore::register! { namespace: "t.hooks", name: "other", factory: plugin_c }

fn kinds(mgr: &ExtensionManager<Obj>) -> Vec<&'static str> {
    mgr.iter()
        .map(|e| e.obj().map_or("-", |o| o.kind))
        .collect()
}

fn invoked() -> InvokeArgs {
    InvokeArgs::new().arg(1).kwarg("k", "v")
}

#[test]
fn the_registry_sorts_by_name_and_drops_repeated_registrations() {
    let reg = Registry::global();
    assert_eq!(reg.names("t.ext"), ["a", "b", "c"]);
    assert_eq!(reg.names("t.dup"), ["d", "d", "e"]);
    let targets: Vec<_> = reg.entry_points("t.dup").map(|e| e.target()).collect();
    assert_eq!(
        targets,
        [
            "managers::dup_one",
            "managers::dup_two",
            "managers::plugin_a"
        ]
    );
    assert!(reg.namespaces().any(|n| n == "t.named"));
    assert_eq!(reg.names("t.nothing"), Vec::<&str>::new());
}

#[test]
fn require_names_every_missing_plugin() {
    let reg = Registry::global();
    reg.require(&[("t.ext", "a"), ("t.named", "z")]).unwrap();
    let err = reg
        .require(&[("t.ext", "a"), ("t.ext", "nope"), ("t.gone", "x")])
        .unwrap_err();
    assert!(matches!(&err, Error::NotRegistered { missing } if missing.len() == 2));
    assert_eq!(
        err.to_string(),
        "expected plugins are not registered: `t.ext:nope`, `t.gone:x`"
    );
}

#[test]
fn extension_manager_loads_everything_without_invoking() {
    let mgr = ExtensionManager::<Obj>::builder("t.ext").build().unwrap();
    // Without invoke_on_load nothing is called, so `b` loads fine (its factory is what fails).
    assert_eq!(mgr.names(), ["a", "b", "c"]);
    assert!(mgr.iter().all(|e| e.obj().is_none()));
    let made = mgr
        .get("c")
        .unwrap()
        .unwrap()
        .plugin()
        .unwrap()
        .create::<Obj>(&InvokeArgs::new());
    assert_eq!(made.unwrap().kind, "c");
    assert!(mgr.contains("b"));
    assert!(!mgr.contains("zz"));
}

#[test]
fn invoke_on_load_passes_the_arguments_and_skips_failures() {
    let failures = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&failures);
    let mgr = ExtensionManager::<Obj>::builder("t.ext")
        .invoke_on_load(invoked())
        .on_load_failure(move |ep, err| {
            seen.borrow_mut()
                .push((ep.name().to_owned(), err.to_string()));
            Ok(())
        })
        .build()
        .unwrap();
    assert_eq!(mgr.names(), ["a", "c"]);
    assert_eq!(
        mgr.get("a").unwrap().unwrap().obj().unwrap().args,
        json!({"args": [1], "kwargs": {"k": "v"}})
    );
    assert_eq!(
        *failures.borrow(),
        [("b".to_owned(), "b is broken".to_owned())]
    );

    // Without a callback the failure is logged and skipped.
    let mgr = ExtensionManager::<Obj>::builder("t.ext")
        .invoke_on_load(invoked())
        .build()
        .unwrap();
    assert_eq!(mgr.names(), ["a", "c"]);
}

#[test]
fn a_load_failure_callback_can_stop_the_build() {
    let err = ExtensionManager::<Obj>::builder("t.ext")
        .invoke_on_load(InvokeArgs::new())
        .on_load_failure(|_, err| Err(err.clone()))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Load { name, .. } if name == "b"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "could not load `b` from the `t.ext` namespace (managers::plugin_b)"
    );
}

#[test]
fn an_object_of_the_wrong_type_is_a_load_failure() {
    let failed = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&failed);
    let mgr = ExtensionManager::<Obj>::builder("t.types")
        .invoke_on_load(InvokeArgs::new())
        .on_load_failure(move |ep, err| {
            seen.borrow_mut()
                .push((ep.name().to_owned(), err.to_string()));
            Ok(())
        })
        .build()
        .unwrap();
    assert_eq!(mgr.names(), ["obj"]);
    let failed = failed.borrow();
    assert_eq!(failed[0].0, "number");
    assert!(failed[0].1.contains("another type"), "{}", failed[0].1);

    // A converter can accept it.
    let mgr = ExtensionManager::<Obj>::builder("t.types")
        .invoke_on_load(InvokeArgs::new())
        .convert(|any| match any.downcast::<Obj>() {
            Ok(o) => Ok(*o),
            Err(any) => any
                .downcast::<u32>()
                .map(|_| Obj {
                    kind: "number",
                    args: Value::Null,
                })
                .map_err(|_| PluginError::new("neither")),
        })
        .build()
        .unwrap();
    assert_eq!(kinds(&mgr), ["number", "a"]);
}

#[test]
fn named_manager_never_constructs_unselected_plugins() {
    let missing = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&missing);
    let mgr = NamedExtensionManager::<Obj>::builder("t.lazy", ["used", "missing"])
        .invoke_on_load(InvokeArgs::new())
        .on_missing_names(move |ns, names| {
            seen.borrow_mut().push((ns.to_owned(), names.to_vec()));
            Ok(())
        })
        .build()
        .unwrap();
    assert_eq!(kinds(&mgr), ["used"]);
    assert_eq!(BUILT_LAZY_USED.load(Ordering::SeqCst), 1);
    assert_eq!(
        BUILT_LAZY_UNUSED.load(Ordering::SeqCst),
        0,
        "an unselected plugin was constructed"
    );
    assert_eq!(
        *missing.borrow(),
        [("t.lazy".to_owned(), vec!["missing".to_owned()])]
    );
    assert_eq!(mgr.missing_names(), ["missing"]);
    assert_eq!(mgr.requested_names(), ["used", "missing"]);

    let mgr = NamedExtensionManager::<Obj>::builder("t.named", ["z", "missing", "x"])
        .invoke_on_load(InvokeArgs::new())
        .ignore_missing_names()
        .build()
        .unwrap();
    assert_eq!(kinds(&mgr), ["x", "z"], "registry order by default");
}

#[test]
fn name_order_follows_the_list() {
    let mgr = NamedExtensionManager::<Obj>::builder("t.named", ["z", "missing", "x"])
        .invoke_on_load(InvokeArgs::new())
        .name_order(true)
        .ignore_missing_names()
        .build()
        .unwrap();
    assert_eq!(kinds(&mgr), ["z", "x"]);
    assert_eq!(mgr.names(), ["z", "x"]);
}

#[test]
fn a_missing_names_callback_can_stop_the_build() {
    let err = NamedExtensionManager::<Obj>::builder("t.named", ["x", "nope", "also"])
        .on_missing_names(|ns, names| {
            Err(Error::MissingNames {
                namespace: ns.to_owned(),
                names: names.to_vec(),
            })
        })
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "no `t.named` plugins named `also`, `nope`");
}

#[test]
fn enabled_manager_checks_after_invoking() {
    let mgr = EnabledExtensionManager::<Obj>::builder("t.named", |e: &Extension<Obj>| {
        e.obj().is_some_and(|o| o.kind != "y")
    })
    .invoke_on_load(InvokeArgs::new())
    .build()
    .unwrap();
    assert_eq!(kinds(&mgr), ["x", "z"]);
}

#[test]
fn driver_manager_loads_exactly_one() {
    let mgr = DriverManager::<Obj>::builder("t.ext", "c")
        .invoke_on_load(InvokeArgs::new().kwarg("size", 3))
        .build()
        .unwrap();
    assert_eq!(mgr.name(), "c");
    assert_eq!(mgr.driver().unwrap().kind, "c");
    assert_eq!(
        mgr.call(|e| Ok::<_, String>(e.name().len())).unwrap(),
        Some(1)
    );
    assert_eq!(mgr.into_driver().unwrap().args["kwargs"]["size"], 3);
}

#[test]
fn a_missing_driver_is_no_matches() {
    let err = DriverManager::<Obj>::builder("t.ext", "zz")
        .build()
        .unwrap_err();
    assert!(err.is_no_matches() && err.is_no_unique_match());
    assert_eq!(err.to_string(), "no `t.ext` driver found, looking for `zz`");
}

#[test]
fn a_driver_that_fails_to_load_fails_the_build() {
    let err = DriverManager::<Obj>::builder("t.ext", "b")
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap_err();
    assert!(matches!(&err, Error::Load { source, .. } if source.message() == "b is broken"));
}

#[test]
fn duplicated_driver_names_go_to_the_conflict_resolver() {
    let err = DriverManager::<Obj>::builder("t.dup", "d")
        .build()
        .unwrap_err();
    assert!(err.is_multiple_matches());
    assert_eq!(
        err.to_string(),
        "multiple implementations found for `d` in the `t.dup` namespace: managers::dup_one, managers::dup_two"
    );
    let mgr = DriverManager::<Obj>::builder("t.dup", "d")
        .invoke_on_load(InvokeArgs::new())
        .conflict_resolver(ignore_conflicts)
        .build()
        .unwrap();
    assert_eq!(mgr.driver().unwrap().kind, "dup_two", "the last one wins");
    let mgr = DriverManager::<Obj>::builder("t.dup", "d")
        .invoke_on_load(InvokeArgs::new())
        .conflict_resolver(|_, _, c| {
            Ok(c.iter()
                .position(|e| e.target().ends_with("one"))
                .unwrap_or(0))
        })
        .build()
        .unwrap();
    assert_eq!(mgr.driver().unwrap().kind, "dup_one");
}

#[test]
fn lookups_resolve_duplicates_lazily() {
    let mgr = ExtensionManager::<Obj>::builder("t.dup")
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    assert_eq!(mgr.names(), ["d", "d", "e"]);
    assert_eq!(
        mgr.get("d").unwrap().unwrap().obj().unwrap().kind,
        "dup_two"
    );
    assert!(mgr.get("nope").unwrap().is_none());
    let items: Vec<_> = mgr
        .items()
        .unwrap()
        .into_iter()
        .map(|(n, e)| (n, e.obj().unwrap().kind))
        .collect();
    assert_eq!(items, [("d", "dup_two"), ("e", "a")]);

    // error_on_conflict: the build succeeds, lookups fail.
    let mgr = ExtensionManager::<Obj>::builder("t.dup")
        .conflict_resolver(error_on_conflict)
        .build()
        .unwrap();
    assert_eq!(mgr.len(), 3);
    assert!(mgr.get("e").unwrap_err().is_multiple_matches());
    assert!(mgr.items().unwrap_err().is_multiple_matches());
}

#[test]
fn hook_manager_loads_every_plugin_of_one_name() {
    let mgr = HookManager::<Obj>::builder("t.hooks", "h")
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    assert_eq!(kinds(&mgr), ["dup_one", "dup_two"]);
    assert_eq!(mgr.get("h").map(<[_]>::len), Some(2));
    assert!(mgr.get("other").is_none());

    let none = HookManager::<Obj>::builder("t.hooks", "nothing")
        .build()
        .unwrap();
    assert!(none.is_empty());
    assert!(
        none.map(|_| Ok::<_, String>(()))
            .unwrap_err()
            .is_no_matches()
    );
}

#[test]
fn map_logs_or_propagates() {
    let mgr = ExtensionManager::<Obj>::builder("t.named")
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    let mut called = Vec::new();
    let out = mgr
        .map(|e| {
            called.push(e.name().to_owned());
            if e.name() == "y" {
                Err("y fails".to_owned())
            } else {
                Ok(e.name().to_uppercase())
            }
        })
        .unwrap();
    assert_eq!(out, ["X", "Z"]);
    assert_eq!(called, ["x", "y", "z"]);

    let mgr = ExtensionManager::<Obj>::builder("t.named")
        .propagate_map_exceptions(true)
        .build()
        .unwrap();
    let mut called = Vec::new();
    let err = mgr
        .map(|e| {
            called.push(e.name().to_owned());
            if e.name() == "y" {
                Err("y fails")
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert_eq!(called, ["x", "y"], "the map stops at the first error");
    assert!(
        matches!(&err, Error::Map { name, source, .. } if name == "y" && source.to_string() == "y fails")
    );
}

#[test]
fn map_over_nothing_is_no_matches() {
    let mgr = ExtensionManager::<Obj>::builder("t.empty").build().unwrap();
    let err = mgr.map(|_| Ok::<_, String>(())).unwrap_err();
    assert!(err.is_no_matches());
    assert_eq!(err.to_string(), "no `t.empty` extensions found");
}

#[test]
fn map_method_calls_by_name() {
    let mgr = ExtensionManager::<Obj>::builder("t.ext")
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    assert_eq!(
        mgr.map_method("kind", &Value::Null).unwrap(),
        [json!("a"), json!("c")]
    );
    assert_eq!(mgr.map_method("fail", &Value::Null).unwrap(), [json!("a")]);
    let strict = ExtensionManager::<Obj>::builder("t.ext")
        .invoke_on_load(InvokeArgs::new())
        .propagate_map_exceptions(true)
        .build()
        .unwrap();
    let err = strict.map_method("fail", &Value::Null).unwrap_err();
    assert!(matches!(&err, Error::Map { name, .. } if name == "c"));

    // Not invoked on load: every call fails (and is logged).
    let lazy = ExtensionManager::<Obj>::builder("t.ext").build().unwrap();
    assert!(lazy.map_method("kind", &Value::Null).unwrap().is_empty());
}

#[test]
fn map_mut_changes_the_objects() {
    let mut mgr = ExtensionManager::<Obj>::builder("t.ext")
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    mgr.map_mut(|e| {
        e.obj_mut()
            .map(|o| o.args = json!("changed"))
            .ok_or("no object")
    })
    .unwrap();
    assert!(
        mgr.iter()
            .all(|e| e.obj().unwrap().args == json!("changed"))
    );
}

#[test]
fn dispatch_filters_per_call() {
    let mgr = DispatchExtensionManager::<Obj>::builder("t.named", |_: &Extension<Obj>| true)
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    let out = mgr
        .map(
            |e| e.name() != "y",
            |e| Ok::<_, String>(e.name().to_owned()),
        )
        .unwrap();
    assert_eq!(out, ["x", "z"]);
    assert_eq!(
        mgr.map_method(|e| e.name() == "y", "kind", &Value::Null)
            .unwrap(),
        [json!("y")]
    );
    let empty = DispatchExtensionManager::<Obj>::builder("t.none", |_: &Extension<Obj>| true)
        .build()
        .unwrap();
    assert!(
        empty
            .map(|_| true, |_| Ok::<_, String>(()))
            .unwrap_err()
            .is_no_matches()
    );
}

#[test]
fn name_dispatch_calls_the_named_ones_in_the_given_order() {
    let mgr = NameDispatchExtensionManager::<Obj>::builder("t.named", |e: &Extension<Obj>| {
        e.name() != "x"
    })
    .invoke_on_load(InvokeArgs::new())
    .build()
    .unwrap();
    let out = mgr
        .map(["z", "unknown", "x", "y"], |e| {
            Ok::<_, String>(e.name().to_owned())
        })
        .unwrap();
    assert_eq!(out, ["z", "y"]);
    assert_eq!(
        mgr.map_method(["y"], "echo", &json!(5)).unwrap(),
        [json!({"kind": "y", "input": 5})]
    );

    let dups = NameDispatchExtensionManager::<Obj>::builder("t.dup", |_: &Extension<Obj>| true)
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    assert_eq!(dups.by_name("d").unwrap().obj().unwrap().kind, "dup_two");
}

#[test]
fn test_instances_bypass_the_registry() {
    let mgr = ExtensionManager::from_extensions(vec![
        Extension::new(
            "one",
            Obj {
                kind: "one",
                args: Value::Null,
            },
        ),
        Extension::new(
            "two",
            Obj {
                kind: "two",
                args: Value::Null,
            },
        ),
    ]);
    assert_eq!(mgr.namespace(), "TESTING");
    assert_eq!(
        mgr.map_method("kind", &Value::Null).unwrap(),
        [json!("one"), json!("two")]
    );

    let drv = DriverManager::from_extension(Extension::new("solo", 42_u8));
    assert_eq!(drv.name(), "solo");
    assert_eq!(drv.driver(), Some(&42));

    let named = NamedExtensionManager::from_extensions(vec![Extension::new("n", ())]);
    assert_eq!(named.requested_names(), ["n"]);

    // The builder form keeps the other options (here: propagate).
    let strict = ExtensionManager::<u8>::builder("TESTING")
        .with_extensions(vec![Extension::new("bad", 0)])
        .propagate_map_exceptions(true)
        .build()
        .unwrap();
    assert!(strict.map(|_| Err::<(), _>("nope")).is_err());

    let hooks = HookManager::<u8>::builder("TESTING", "ignored")
        .with_extensions(vec![Extension::new("h", 1), Extension::new("h", 2)])
        .build()
        .unwrap();
    assert_eq!(hooks.get("h").map(<[_]>::len), Some(2));

    let dispatch = NameDispatchExtensionManager::from_extensions(vec![Extension::new("p", 1_u8)]);
    assert_eq!(
        dispatch
            .map(["p"], |e| Ok::<_, String>(*e.obj().unwrap()))
            .unwrap(),
        [1]
    );
    let enabled = EnabledExtensionManager::from_extensions(vec![Extension::new("q", 1_u8)]);
    assert_eq!(enabled.names(), ["q"]);
    let plain = DispatchExtensionManager::from_extensions(vec![Extension::new("r", 1_u8)]);
    assert_eq!(plain.len(), 1);
}

#[test]
fn a_private_registry_takes_runtime_plugins_after_static_ones() {
    let mut reg = Registry::from_static();
    reg.add(stevedore::EntryPoint::from_factory(
        "t.ext",
        "a",
        "runtime::a",
        |_, slot| {
            Ok(stevedore::place_object(
                Obj {
                    kind: "runtime",
                    args: Value::Null,
                },
                slot,
            ))
        },
    ));
    let mgr = DriverManager::<Obj>::builder("t.ext", "a")
        .registry(&reg)
        .invoke_on_load(InvokeArgs::new())
        .conflict_resolver(ignore_conflicts)
        .build()
        .unwrap();
    assert_eq!(mgr.driver().unwrap().kind, "runtime");
    assert_eq!(reg.names("t.ext"), ["a", "a", "b", "c"]);
    let listing = reg.listing_of("t.ext").to_string();
    assert_eq!(
        listing,
        "t.ext\n  a  managers::plugin_a  static\n  a  runtime::a          runtime\n  b  managers::plugin_b  static\n  c  managers::plugin_c  static\n"
    );
}

#[test]
fn managers_can_cross_threads_when_their_objects_can() {
    fn send_sync<M: Send + Sync>(_: &M) {}
    let mgr = ExtensionManager::<Obj>::builder("t.ext")
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    send_sync(&mgr);
    let handle = std::thread::spawn(move || mgr.names().len());
    assert_eq!(handle.join().unwrap(), 2);
    send_sync(&DriverManager::from_extension(Extension::new("d", 1_u8)));
    send_sync(&HookManager::<u8>::builder("t.hooks", "h").build().unwrap());
    send_sync(&NameDispatchExtensionManager::from_extensions(vec![
        Extension::new("n", 1_u8),
    ]));
}

stevedore::register! {
    namespace: "t.closure",
    name: "inline",
    target: "managers::inline",
    factory: |args: &InvokeArgs| -> Result<Obj, String> { make("inline", args).map_err(|e| e.to_string()) },
}

#[test]
fn a_closure_can_be_a_factory_with_an_explicit_target() {
    let reg = Registry::global();
    let ep = reg.entry_points("t.closure").next().unwrap();
    assert_eq!((ep.name(), ep.target()), ("inline", "managers::inline"));
    let drv = DriverManager::<Obj>::builder("t.closure", "inline")
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    assert_eq!(drv.driver().unwrap().kind, "inline");
}
