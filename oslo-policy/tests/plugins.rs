//! Check kinds of another crate (this test crate), registered through stevedore under
//! `oslo.policy.rule_checks` and used by the rules that name them; `http` and `https` registered there.
#![cfg(feature = "stevedore")]

use std::sync::{Mutex, PoisonError};

use oslo_policy::plugins::{RULE_CHECKS, RuleCheck};
use oslo_policy::{CheckRequest, CustomCheck, Enforcer, parse_rule};
use serde_json::json;
use stevedore::{InvokeArgs, PluginError, Registry};

/// The rules `mycheck` was evaluated for.
static SEEN_RULES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// `mycheck:VALUE` allows when the caller's project is VALUE, and remembers the rule it ran for.
struct ProjectIs;

impl CustomCheck for ProjectIs {
    fn check(&self, r: &CheckRequest<'_>) -> Result<bool, String> {
        if let Some(rule) = r.current_rule {
            SEEN_RULES
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(rule.to_owned());
        }
        assert_eq!(r.kind, "mycheck");
        Ok(r.creds.get("project_id").and_then(|v| v.as_str()) == Some(r.matcher))
    }
}

fn mycheck(_: &InvokeArgs) -> Result<RuleCheck, PluginError> {
    Ok(RuleCheck::new(ProjectIs))
}

fn broken(_: &InvokeArgs) -> Result<RuleCheck, PluginError> {
    Err(PluginError::new("this check cannot be built"))
}

stevedore::register! { namespace: RULE_CHECKS, name: "mycheck", factory: mycheck }
stevedore::register! { namespace: RULE_CHECKS, name: "brokencheck", factory: broken }

#[test]
fn the_python_kinds_are_registered() {
    assert_eq!(
        Registry::global().names(RULE_CHECKS),
        ["brokencheck", "http", "https", "mycheck"]
    );
}

#[test]
fn a_rule_naming_a_registered_kind_is_decided_by_it() {
    let enforcer = Enforcer::builder()
        .rules([
            ("compute:start", "mycheck:p1 or role:admin"),
            ("compute:stop", "not mycheck:p1"),
        ])
        .build();
    let target = json!({});
    let p1 = json!({"project_id": "p1", "roles": []});
    let p2 = json!({"project_id": "p2", "roles": []});
    let admin = json!({"project_id": "p2", "roles": ["admin"]});
    assert!(enforcer.enforce("compute:start", &target, &p1).unwrap());
    assert!(!enforcer.enforce("compute:start", &target, &p2).unwrap());
    assert!(enforcer.enforce("compute:start", &target, &admin).unwrap());
    assert!(!enforcer.enforce("compute:stop", &target, &p1).unwrap());
    assert!(enforcer.enforce("compute:stop", &target, &p2).unwrap());
    let seen = SEEN_RULES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert!(seen.iter().any(|r| r == "compute:start"), "{seen:?}");
    assert!(seen.iter().any(|r| r == "compute:stop"), "{seen:?}");

    // Parsed without an enforcer too (the process-wide plugins, as Python's module-level parser).
    let check = parse_rule("mycheck:p1").check;
    assert!(check.evaluate(&target, &p1).unwrap());
    assert!(!check.evaluate(&target, &p2).unwrap());
}

#[test]
fn a_registered_kind_wins_over_a_check_registered_on_the_enforcer() {
    // oslo.policy looks extensions up before `register()`ed checks.
    let enforcer = Enforcer::builder()
        .register_check("mycheck", |_: &CheckRequest<'_>| Ok::<_, String>(true))
        .rules([("r", "mycheck:p1")])
        .build();
    assert!(
        !enforcer
            .enforce("r", &json!({}), &json!({"project_id": "p2"}))
            .unwrap()
    );
}

#[test]
fn a_kind_whose_plugin_fails_to_load_is_a_generic_check() {
    // The failing plugin is logged and left out; `brokencheck:x` compares the credential, as any
    // unregistered kind does.
    let check = parse_rule("brokencheck:x").check;
    assert!(
        check
            .evaluate(&json!({}), &json!({"brokencheck": "x"}))
            .unwrap()
    );
    assert!(
        !check
            .evaluate(&json!({}), &json!({"brokencheck": "y"}))
            .unwrap()
    );
}

#[test]
fn http_kinds_stay_the_remote_checks() {
    let check = parse_rule("http://127.0.0.1:9/%(name)s").check;
    assert!(format!("{check:?}").starts_with("Http("), "{check:?}");
    let check = parse_rule("https://example.invalid/x").check;
    assert!(format!("{check:?}").starts_with("Http("), "{check:?}");
}
