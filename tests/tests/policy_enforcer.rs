//! Differential tests of the enforcer's features against Python oslo.policy: registered defaults and
//! file overrides, scope types, deprecated rules (renamed, changed, with `enforce_new_defaults` off),
//! `policy.d` directories, the default rule, and `authorize` of unregistered rules.
#![cfg(feature = "policy")]

use std::path::Path;

use oslo_policy::{DeprecatedRule, Enforcer, RuleDefault};
use oslo_tests::run_python_json;
use serde_json::{Value, json};

const ORACLE: &str = r#"
import json, logging, sys, warnings
warnings.simplefilter('ignore')
logging.disable(logging.CRITICAL)
from oslo_config import cfg
from oslo_policy import policy
req = json.load(sys.stdin)
conf = cfg.ConfigOpts()
conf([], project='oslo-rs-difftest')
enf = policy.Enforcer(conf, policy_file=req['policy_file'])
conf.set_override('policy_dirs', req.get('policy_dirs', []), group='oslo_policy')
conf.set_override('enforce_new_defaults', req.get('enforce_new_defaults', True), group='oslo_policy')
for d in req.get('defaults', []):
    dep = d.get('deprecated')
    if dep:
        dep = policy.DeprecatedRule(dep['name'], dep['check_str'], deprecated_reason='r', deprecated_since='s')
    enf.register_default(policy.RuleDefault(d['name'], d['check_str'], scope_types=d.get('scope_types'),
                                            deprecated_rule=dep))
out = []
for c in req['cases']:
    try:
        fn = enf.authorize if c.get('authorize') else enf.enforce
        out.append('allow' if fn(c['rule'], c['target'], c['creds']) else 'deny')
    except Exception as e:
        out.append('error')
print(json.dumps(out))
"#;

fn ours(request: &Value) -> Vec<&'static str> {
    let dirs: Vec<String> = request
        .get("policy_dirs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let enforcer = Enforcer::builder()
        .policy_file(request["policy_file"].as_str().unwrap())
        .policy_dirs(dirs)
        .enforce_new_defaults(
            request
                .get("enforce_new_defaults")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        )
        .build();
    for d in request
        .get("defaults")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut rule = RuleDefault::new(
            d["name"].as_str().unwrap(),
            d["check_str"].as_str().unwrap(),
        );
        if let Some(scopes) = d.get("scope_types").and_then(Value::as_array) {
            rule = rule.scope_types(scopes.iter().filter_map(Value::as_str));
        }
        if let Some(dep) = d.get("deprecated") {
            rule = rule.deprecated_rule(DeprecatedRule::new(
                dep["name"].as_str().unwrap(),
                dep["check_str"].as_str().unwrap(),
                "r",
                "s",
            ));
        }
        enforcer.register_default(rule).unwrap();
    }
    request["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let rule = c["rule"].as_str().unwrap();
            let r = if c.get("authorize").is_some() {
                enforcer.authorize(rule, &c["target"], &c["creds"])
            } else {
                enforcer.enforce(rule, &c["target"], &c["creds"])
            };
            match r {
                Ok(true) => "allow",
                Ok(false) => "deny",
                Err(_) => "error",
            }
        })
        .collect()
}

fn personas() -> Vec<Value> {
    vec![
        json!({"roles": ["admin"], "system_scope": "all"}),
        json!({"roles": ["admin"], "system": "all"}),
        json!({"roles": ["admin", "member"], "domain_id": "d1"}),
        json!({"roles": ["member", "reader"], "project_id": "p1"}),
        json!({"roles": ["reader"], "project_id": "p1"}),
        json!({"roles": ["custom"], "project_id": "p1"}),
        json!({"roles": ["Member"], "project_id": "p2"}),
        json!({"roles": []}),
    ]
}

/// Cases: every rule in `rules` for every persona, against a project `p1` target.
fn cases(rules: &[&str], authorize: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for r in rules {
        for p in personas() {
            let mut c = json!({"rule": r, "target": {"project_id": "p1"}, "creds": p});
            if authorize {
                c["authorize"] = json!(true);
            }
            out.push(c);
        }
    }
    out
}

fn agree(request: Value) {
    let theirs = run_python_json(ORACLE, &request.to_string());
    let theirs: Vec<&str> = theirs
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let ours = ours(&request);
    let cases = request["cases"].as_array().unwrap();
    let bad: Vec<String> = cases
        .iter()
        .zip(theirs.iter().zip(&ours))
        .filter(|(_, (t, o))| t != o)
        .map(|(c, (t, o))| format!("python {t}, ours {o}: {c}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(
        ours.contains(&"allow") && ours.contains(&"deny"),
        "{ours:?}"
    );
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn defaults() -> Value {
    json!([
        {"name": "admin_required", "check_str": "role:admin"},
        {"name": "sys:get", "check_str": "rule:admin_required", "scope_types": ["system"]},
        {"name": "proj:get", "check_str": "role:reader and project_id:%(project_id)s",
         "scope_types": ["project", "domain"]},
        {"name": "any:get", "check_str": "role:reader or role:admin"},
        {"name": "new:renamed", "check_str": "role:reader",
         "deprecated": {"name": "old:renamed", "check_str": "role:member"}},
        {"name": "new:overridden", "check_str": "role:reader",
         "deprecated": {"name": "old:overridden", "check_str": "role:member"}},
        {"name": "new:aliased", "check_str": "role:admin",
         "deprecated": {"name": "old:aliased", "check_str": "role:member"}},
        {"name": "same:changed", "check_str": "role:admin",
         "deprecated": {"name": "same:changed", "check_str": "role:member"}},
        {"name": "both:in_file", "check_str": "role:admin",
         "deprecated": {"name": "both:old", "check_str": "role:member"}}
    ])
}

const RULES: &[&str] = &[
    "admin_required",
    "sys:get",
    "proj:get",
    "any:get",
    "new:renamed",
    "new:overridden",
    "old:overridden",
    "new:aliased",
    "same:changed",
    "both:in_file",
    "file:only",
    "unregistered",
];

const FILE: &str = r#"
"proj:get": "role:reader or role:custom"
"old:overridden": "role:custom"
"old:aliased": "rule:new:aliased"
"both:in_file": "role:reader"
"both:old": "role:custom"
"file:only": "rule:any:get and not role:admin"
"default": "role:member"
"#;

#[test]
fn defaults_scopes_and_deprecations_agree() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "policy.yaml", FILE);
    for new_defaults in [true, false] {
        agree(json!({
            "policy_file": file,
            "defaults": defaults(),
            "enforce_new_defaults": new_defaults,
            "cases": cases(RULES, false),
        }));
    }
}

#[test]
fn authorize_needs_registration() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "policy.yaml", FILE);
    agree(json!({"policy_file": file, "defaults": defaults(), "cases": cases(RULES, true)}));
}

#[test]
fn missing_file_uses_defaults_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir
        .path()
        .join("absent.yaml")
        .to_string_lossy()
        .into_owned();
    agree(json!({"policy_file": file, "defaults": defaults(), "cases": cases(RULES, false)}));
}

#[test]
fn policy_dirs_override_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "policy.yaml", FILE);
    let d1 = dir.path().join("policy.d");
    let d2 = dir.path().join("more.d");
    std::fs::create_dir_all(&d1).unwrap();
    std::fs::create_dir_all(&d2).unwrap();
    write(
        &d1,
        "10-b.yaml",
        "\"any:get\": \"role:member\"\n\"file:only\": \"@\"\n",
    );
    write(
        &d1,
        "00-a.yaml",
        "\"any:get\": \"!\"\n\"proj:get\": \"role:member\"\n",
    );
    write(&d1, ".hidden.yaml", "\"admin_required\": \"@\"\n");
    write(&d2, "x.json", "{\"file:only\": \"role:custom\"}");
    agree(json!({
        "policy_file": file,
        "policy_dirs": [d1, d2],
        "defaults": defaults(),
        "cases": cases(RULES, false),
    }));
}

#[test]
fn policy_dirs_apply_without_main_file() {
    let dir = tempfile::tempdir().unwrap();
    let d1 = dir.path().join("policy.d");
    std::fs::create_dir_all(&d1).unwrap();
    write(&d1, "a.yaml", "\"any:get\": \"role:member\"\n");
    agree(json!({
        "policy_file": dir.path().join("absent.yaml"),
        "policy_dirs": [d1],
        "defaults": defaults(),
        "cases": cases(RULES, false),
    }));
}
