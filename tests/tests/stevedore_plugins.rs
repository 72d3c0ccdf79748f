//! The other crates' plugins through stevedore (their `stevedore` features): every namespace the Python
//! libraries use is in the listing an operator gets from `Registry::listing`, and each holds the names of
//! the installed Python packages' entry points, less the drivers we do not provide and plus our own
//! synonyms (checked against `importlib.metadata` in the virtualenv).
#![cfg(feature = "stevedore-plugins")]

use std::collections::BTreeSet;

use oslo_tests::run_python_json;
use serde_json::Value;
use stevedore::Registry;

/// The namespaces, what Python's entry points have that we do not, and what we add.
const NAMESPACES: &[(&str, &[&str], &[&str])] = &[
    // Kafka is not a transport of ours; `memory` is our name for the in-memory driver (Python's `fake`
    // is kept as a synonym), `amqp` a synonym of `rabbit`, `zmq` the brokerless transport.
    (
        "oslo.messaging.drivers",
        &["kafka"],
        &["memory", "amqp", "zmq"],
    ),
    ("oslo.messaging.notify.drivers", &[], &[]),
    ("oslo.policy.rule_checks", &[], &[]),
    ("taskflow.engines", &[], &[]),
    // No ZooKeeper backend.
    ("taskflow.persistence", &["zookeeper"], &[]),
];

const PYTHON: &str = r#"
import json, sys
from importlib.metadata import entry_points
groups = json.load(sys.stdin)
print(json.dumps({g: sorted({ep.name for ep in entry_points(group=g)}) for g in groups}))
"#;

#[test]
fn the_namespaces_hold_the_python_entry_point_names() {
    let groups: Vec<&str> = NAMESPACES.iter().map(|(ns, _, _)| *ns).collect();
    let python = run_python_json(PYTHON, &serde_json::to_string(&groups).unwrap());
    let registry = Registry::global();
    for (ns, missing, extra) in NAMESPACES {
        let theirs: BTreeSet<&str> = python[ns]
            .as_array()
            .unwrap_or_else(|| panic!("no `{ns}` in {python}"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(!theirs.is_empty(), "{ns}: Python has no entry points");
        let expected: BTreeSet<&str> = theirs
            .iter()
            .copied()
            .filter(|n| !missing.contains(n))
            .chain(extra.iter().copied())
            .collect();
        let ours: BTreeSet<&str> = registry.names(ns).into_iter().collect();
        assert_eq!(ours, expected, "{ns}");
    }
}

#[test]
fn the_listing_shows_every_namespace_with_targets_and_origins() {
    let listing = Registry::global().listing().to_string();
    for (ns, _, _) in NAMESPACES {
        assert!(listing.contains(&format!("{ns}\n")), "{ns} in\n{listing}");
    }
    let lines: Vec<&str> = listing.lines().collect();
    let has = |name: &str, target: &str, origin: &str| {
        lines.iter().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.first() == Some(&name) && words.contains(&target) && l.ends_with(origin)
        })
    };
    for (name, target) in [
        ("rabbit", "oslo_messaging::transport::rabbit::RabbitDriver"),
        ("fake", "oslo_messaging::transport::memory::MemoryDriver"),
        ("messagingv2", "oslo_messaging::notify::messagingv2"),
        ("https", "oslo_policy::Check::Http"),
        ("parallel", "taskflow::ExecutorKind::Parallel"),
        ("file", "taskflow::persistence::DirBackend"),
    ] {
        assert!(has(name, target, "static"), "{name} {target} in\n{listing}");
    }
}

#[test]
fn the_generator_namespaces_include_the_optlist_registrations() {
    // The oslo crates list their options with `OptList`; with oslo-config's `stevedore` feature they are
    // entries of stevedore's `oslo.config.opts`, as in Python.
    let registry = oslo_config::plugins::registry();
    let names = registry.names(oslo_config::plugins::OPTS);
    for ns in ["oslo.messaging", "oslo.policy"] {
        assert!(names.contains(&ns), "{ns} in {names:?}");
    }
    let listing = registry.listing_of(oslo_config::plugins::OPTS).to_string();
    assert!(
        listing
            .lines()
            .any(|l| l.trim_start().starts_with("oslo.messaging ")
                && l.contains("oslo_config::generator::OptList(oslo.messaging)")
                && l.ends_with("runtime")),
        "{listing}"
    );
    let found = oslo_config::generator::list_opts(&["oslo.policy".to_owned()]).unwrap();
    let sample = oslo_config::generator::sample_ini(&found, &Default::default());
    assert!(sample.contains("\n[oslo_policy]\n"), "{sample}");
}
