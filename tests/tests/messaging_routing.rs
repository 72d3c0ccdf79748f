//! The `routing` notification driver configured as in Python: `[oslo_messaging_notifications] driver =
//! routing` and `routing_config` naming a YAML file of groups → drivers → `accepted_events` /
//! `accepted_priorities` patterns. Which drivers a notification reaches is compared with Python's
//! `RoutingDriver._get_drivers_for_message` (oslo.messaging 18.3.1's routing driver itself cannot load the
//! drivers it routes to, so its decisions are what can be compared): each driver of the rules in turn is
//! renamed `test`, and whether a notification reaches the test driver must match Python's decision for it.
#![cfg(feature = "messaging")]

use oslo_config::{ConfigOpts, ParseArgs};
use oslo_messaging::blocking::Runtime;
use oslo_messaging::notify::take_test_notifications;
use oslo_messaging::{Context, Notifier, Priority, Transport, config};
use oslo_tests::run_python_json;
use serde_json::{Value, json};

/// The rules: several groups naming the same drivers, wildcards, classes, case in priorities, a driver
/// without rules (accepts everything), an unknown key (ignored), and `routing` itself (never called).
const RULES: &str = r#"
group_1:
  rpc:
    accepted_events:
      - compute.instance.*
      - volume.[!b]*
  log:
    accepted_priorities:
      - ERROR
      - Crit*
group_2:
  rpc:
    accepted_priorities:
      - warn
  mail:
    accepted_events:
      - '*.delete.end'
    accepted_priorities:
      - info
      - warn
  audit_all: {}
  odd:
    accepted_events:
      - image.???
    unknown_key:
      - whatever
  routing:
    accepted_events:
      - '*'
"#;

const DRIVERS: &[&str] = &["rpc", "log", "mail", "audit_all", "odd", "routing"];

/// (event type, priority)
const CASES: &[(&str, &str)] = &[
    ("compute.instance.create.end", "info"),
    ("compute.instance.delete.end", "warn"),
    ("compute.host.update", "warn"),
    ("volume.attach", "debug"),
    ("volume.backup", "info"),
    ("network.delete.end", "info"),
    ("network.delete.end", "error"),
    ("network.create.end", "critical"),
    ("image.new", "audit"),
    ("image.newer", "audit"),
    ("Compute.instance.x", "sample"),
    ("", "info"),
];

const PY_DECISIONS: &str = r#"
import json, sys, warnings
warnings.simplefilter('ignore')
import yaml
from oslo_messaging.notify._impl_routing import RoutingDriver
args = json.load(sys.stdin)
groups = yaml.safe_load(args['rules'])
driver = RoutingDriver.__new__(RoutingDriver)
out = []
for event, priority in args['cases']:
    accepted = set()
    for group in groups.values():
        accepted.update(driver._get_drivers_for_message(group, event, priority.lower()))
    out.append(sorted(accepted))
print(json.dumps(out))
"#;

/// Whether a notification of `event` at `priority` reaches the `test` driver, through a notifier built
/// from a config file naming `rules_file`.
fn reaches_test(rt: &Runtime, conf: &ConfigOpts, event: &str, priority: Priority) -> bool {
    let transport = Transport::notification_from_config(conf).expect("transport");
    let notifier = Notifier::builder_from_config(transport, conf)
        .expect("builder")
        .build()
        .expect("notifier");
    take_test_notifications();
    rt.block_on(notifier.notify(&Context::new(), priority, event, json!({"e": event})))
        .expect("notify");
    let got = take_test_notifications();
    assert!(got.len() <= 1, "the test driver is called once at most");
    !got.is_empty()
}

#[test]
fn routing_config_decides_as_python() {
    let python: Value = run_python_json(
        PY_DECISIONS,
        &json!({"rules": RULES, "cases": CASES}).to_string(),
    );
    let python: Vec<Vec<String>> = serde_json::from_value(python).expect("lists of drivers");
    let rt = Runtime::new(1).expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let conf_path = dir.path().join("routing.conf");
    let mut checked = 0;
    for &driver in DRIVERS {
        // This driver becomes `test`; the others keep their names (`log` logs, unknown names are
        // skipped as the original's plugin manager skips them, `routing` is never called).
        let mut rules = String::new();
        for line in RULES.lines() {
            let renamed = line
                .strip_prefix("  ")
                .and_then(|rest| rest.strip_prefix(driver))
                .filter(|rest| rest.starts_with(':'));
            match renamed {
                Some(rest) if driver != "routing" => rules.push_str(&format!("  test{rest}\n")),
                _ => {
                    rules.push_str(line);
                    rules.push('\n');
                }
            }
        }
        let rules_path = dir.path().join(format!("rules_{driver}.yaml"));
        std::fs::write(&rules_path, &rules).expect("write the rules");
        std::fs::write(
            &conf_path,
            format!(
                "[DEFAULT]\ntransport_url = memory://routing\n[oslo_messaging_notifications]\n\
                 driver = routing\nrouting_config = {}\n",
                rules_path.display()
            ),
        )
        .expect("write the config");
        let mut conf = ConfigOpts::new();
        config::register_opts(&mut conf).expect("register");
        conf.parse(
            ParseArgs::new(["--config-file", conf_path.to_str().expect("utf-8")]).use_env(false),
        )
        .expect("parse");
        for (&(event, priority), accepted) in CASES.iter().zip(&python) {
            let want = driver != "routing" && accepted.iter().any(|d| d == driver);
            let priority: Priority = priority.parse().expect("priority");
            assert_eq!(
                reaches_test(&rt, &conf, event, priority),
                want,
                "driver `{driver}`, event `{event}` at {priority}: Python accepts {accepted:?}"
            );
            checked += usize::from(want);
        }
    }
    assert!(checked >= 10, "the cases route somewhere: {checked}");
}
