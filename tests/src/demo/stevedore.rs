//! stevedore at work: a storage driver chosen by name in a configuration file, the start-up hooks of a
//! namespace, and the checks a configuration list enables — all compiled-in plugins registered in this
//! module with `stevedore::register!`.

use std::cell::RefCell;
use std::collections::BTreeMap;

use stevedore::{
    DriverManager, HookManager, InvokeArgs, NamedExtensionManager, PluginError, Registry,
};

/// What a service would read from its configuration file.
const CONFIG: &str = "\
[storage]
driver = memory
prefix = demo-

[checks]
enabled = not_empty, no_spaces, missing_check
";

/// The drivers' interface.
pub trait Storage {
    /// Stores a value.
    fn put(&self, key: &str, value: &str);
    /// Reads a value back.
    fn get(&self, key: &str) -> Option<String>;
}

struct Memory {
    prefix: String,
    data: RefCell<BTreeMap<String, String>>,
}

impl Storage for Memory {
    fn put(&self, key: &str, value: &str) {
        self.data
            .borrow_mut()
            .insert(format!("{}{key}", self.prefix), value.to_owned());
    }
    fn get(&self, key: &str) -> Option<String> {
        self.data
            .borrow()
            .get(&format!("{}{key}", self.prefix))
            .cloned()
    }
}

fn memory(args: &InvokeArgs) -> Result<Box<dyn Storage>, PluginError> {
    let prefix = args.get("prefix").and_then(|v| v.as_str()).unwrap_or("");
    Ok(Box::new(Memory {
        prefix: prefix.to_owned(),
        data: RefCell::default(),
    }))
}

fn unreachable_backend(_: &InvokeArgs) -> Result<Box<dyn Storage>, PluginError> {
    Err(PluginError::new("no server at 192.0.2.1:9999"))
}

stevedore::register! { namespace: "demo.storage", name: "memory", factory: memory }
stevedore::register! { namespace: "demo.storage", name: "remote", factory: unreachable_backend }

/// A start-up hook: returns what it did.
type Hook = fn() -> String;

fn hook_banner(_: &InvokeArgs) -> Result<Hook, PluginError> {
    Ok(|| "printed the banner".to_owned())
}

fn hook_metrics(_: &InvokeArgs) -> Result<Hook, PluginError> {
    Ok(|| "registered 3 metrics".to_owned())
}

stevedore::register! { namespace: "demo.hooks", name: "startup", factory: hook_banner }
stevedore::register! { namespace: "demo.hooks", name: "startup", factory: hook_metrics }

/// A value check: `Err` explains the refusal.
type Check = fn(&str) -> Result<(), String>;

fn not_empty(_: &InvokeArgs) -> Result<Check, PluginError> {
    Ok(|v| {
        if v.is_empty() {
            Err("is empty".into())
        } else {
            Ok(())
        }
    })
}

fn no_spaces(_: &InvokeArgs) -> Result<Check, PluginError> {
    Ok(|v| {
        if v.contains(' ') {
            Err("contains a space".into())
        } else {
            Ok(())
        }
    })
}

fn shouting(_: &InvokeArgs) -> Result<Check, PluginError> {
    Ok(|v| {
        if v.chars().any(char::is_lowercase) {
            Ok(())
        } else {
            Err("is all capitals".into())
        }
    })
}

stevedore::register! { namespace: "demo.checks", name: "not_empty", factory: not_empty }
stevedore::register! { namespace: "demo.checks", name: "no_spaces", factory: no_spaces }
stevedore::register! { namespace: "demo.checks", name: "shouting", factory: shouting }

/// The value of `key` in `[section]` of a small INI text.
fn setting<'a>(ini: &'a str, section: &str, key: &str) -> Option<&'a str> {
    let mut current = "";
    for line in ini.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name;
        } else if let Some((k, v)) = line.split_once('=')
            && current == section
            && k.trim() == key
        {
            return Some(v.trim());
        }
    }
    None
}

/// Runs the part.
pub fn run() -> Result<(), String> {
    let registry = Registry::global();
    // The start-up check a service makes for the plugins it cannot run without.
    registry
        .require(&[("demo.storage", "memory"), ("demo.hooks", "startup")])
        .map_err(|e| e.to_string())?;
    for ns in ["demo.storage", "demo.hooks", "demo.checks"] {
        print!("{}", registry.listing_of(ns));
    }

    println!("\nconfiguration:\n{CONFIG}");
    let driver = setting(CONFIG, "storage", "driver").ok_or("no [storage] driver")?;
    let prefix = setting(CONFIG, "storage", "prefix").unwrap_or("");
    let storage = DriverManager::<Box<dyn Storage>>::builder("demo.storage", driver)
        .invoke_on_load(InvokeArgs::new().kwarg("prefix", prefix))
        .build()
        .map_err(|e| e.to_string())?;
    let store = storage.driver().ok_or("the driver was not invoked")?;
    store.put("greeting", "hello from the memory driver");
    println!(
        "driver `{}` ({}): get(greeting) = {:?}",
        storage.name(),
        storage.extension().map_or("", |e| e.target()),
        store.get("greeting")
    );

    // A driver whose factory fails is an error, not a silent fallback.
    match DriverManager::<Box<dyn Storage>>::builder("demo.storage", "remote")
        .invoke_on_load(InvokeArgs::new())
        .build()
    {
        Ok(_) => return Err("the failing driver loaded".into()),
        Err(e) => println!(
            "driver `remote`: {e}: {}",
            std::error::Error::source(&e).map_or(String::new(), |s| s.to_string())
        ),
    }

    let hooks = HookManager::<Hook>::builder("demo.hooks", "startup")
        .invoke_on_load(InvokeArgs::new())
        .build()
        .map_err(|e| e.to_string())?;
    let done = hooks
        .map(|ext| ext.obj().map(|hook| hook()).ok_or("not invoked"))
        .map_err(|e| e.to_string())?;
    println!("hooks `startup`: {}", done.join("; "));

    let enabled: Vec<&str> = setting(CONFIG, "checks", "enabled")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .collect();
    let checks = NamedExtensionManager::<Check>::builder("demo.checks", enabled)
        .invoke_on_load(InvokeArgs::new())
        .name_order(true)
        .ignore_missing_names()
        .build()
        .map_err(|e| e.to_string())?;
    println!(
        "checks enabled: {} (not registered: {})",
        checks.names().join(", "),
        checks.missing_names().join(", ")
    );
    for value in ["demo", "two words"] {
        let refusals = checks
            .map(|ext| {
                let check = ext.obj().ok_or("not invoked")?;
                Ok::<_, String>(
                    check(value)
                        .err()
                        .map(|why| format!("{}: {why}", ext.name())),
                )
            })
            .map_err(|e| e.to_string())?;
        let refusals: Vec<String> = refusals.into_iter().flatten().collect();
        println!(
            "  {value:?}: {}",
            if refusals.is_empty() {
                "accepted".to_owned()
            } else {
                refusals.join(", ")
            }
        );
    }
    if checks.names() != ["not_empty", "no_spaces"] || done.len() != 2 {
        return Err("unexpected plugins".into());
    }
    Ok(())
}
