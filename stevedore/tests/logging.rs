//! What the managers log when they skip something (they never install a subscriber: this test does).

use std::io::Write;
use std::sync::{Arc, Mutex};

use stevedore::{
    DriverManager, Extension, ExtensionManager, InvokeArgs, NamedExtensionManager, PluginError,
};

fn ok(_: &InvokeArgs) -> Result<u8, PluginError> {
    Ok(1)
}
fn broken(_: &InvokeArgs) -> Result<u8, PluginError> {
    Err(PluginError::new("no database"))
}

stevedore::register! { namespace: "log.ns", name: "good", factory: ok }
stevedore::register! { namespace: "log.ns", name: "bad", factory: broken }

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with a subscriber that records WARN and above, and returns the lines.
fn logged(f: impl FnOnce()) -> Vec<String> {
    let buf = Buffer::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    text.lines().map(str::to_owned).collect()
}

#[test]
fn a_skipped_load_failure_is_logged_as_an_error() {
    let lines = logged(|| {
        let mgr = ExtensionManager::<u8>::builder("log.ns")
            .invoke_on_load(InvokeArgs::new())
            .build()
            .unwrap();
        assert_eq!(mgr.names(), ["good"]);
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("ERROR could not load `bad`: no database"),
        "{lines:?}"
    );
    assert!(
        lines[0].contains("namespace=log.ns") && lines[0].contains("target=\"logging::broken\""),
        "{lines:?}"
    );
}

#[test]
fn a_skipped_map_error_is_logged_and_a_propagated_one_is_not() {
    let mgr = ExtensionManager::from_extensions(vec![Extension::new("one", 1_u8)]);
    let lines = logged(|| {
        assert!(mgr.map(|_| Err::<(), _>("boom")).unwrap().is_empty());
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("ERROR error calling `one`: boom"),
        "{lines:?}"
    );

    let strict = ExtensionManager::<u8>::builder("TESTING")
        .with_extensions(vec![Extension::new("one", 1)])
        .propagate_map_exceptions(true)
        .build()
        .unwrap();
    let lines = logged(|| {
        assert!(strict.map(|_| Err::<(), _>("boom")).is_err());
    });
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn missing_names_and_conflicts_are_warnings() {
    let lines = logged(|| {
        let mgr = NamedExtensionManager::<u8>::builder("log.ns", ["good", "absent", "gone"])
            .build()
            .unwrap();
        assert_eq!(mgr.names(), ["good"]);
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(" WARN could not load absent, gone"),
        "{lines:?}"
    );

    // Hooks say nothing about a missing name.
    let lines = logged(|| {
        stevedore::HookManager::<u8>::builder("log.ns", "absent")
            .build()
            .unwrap();
    });
    assert!(lines.is_empty(), "{lines:?}");

    let lines = logged(|| {
        let mgr = ExtensionManager::<u8>::builder("TESTING")
            .with_extensions(vec![Extension::new("dup", 1), Extension::new("dup", 2)])
            .build()
            .unwrap();
        assert_eq!(mgr.get("dup").unwrap().unwrap().obj(), Some(&2));
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(
            "multiple implementations found for the `dup` extension in the `TESTING` namespace"
        ),
        "{lines:?}"
    );
    assert!(lines[0].contains("candidates=test, test"), "{lines:?}");

    // A driver's load failure is returned, not logged.
    let lines = logged(|| {
        assert!(
            DriverManager::<u8>::builder("log.ns", "bad")
                .invoke_on_load(InvokeArgs::new())
                .build()
                .is_err()
        );
    });
    assert!(lines.is_empty(), "{lines:?}");
}
