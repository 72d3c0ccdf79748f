//! Differential tests on the real policy files of OpenStack services (nova, keystone, neutron, cinder,
//! glance, from the sample files horizon ships; see `scripts/setup-policy.sh`): every rule of each file,
//! for a set of typical callers and targets, must get the same decision from us and from Python.
#![cfg(feature = "policy")]

use std::path::PathBuf;

use oslo_policy::Enforcer;
use oslo_tests::{run_python_json, workspace_root};
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
conf.set_override('policy_dirs', [], group='oslo_policy')
enf.load_rules()
names = sorted(enf.rules.keys())
out = {}
for name in names:
    row = []
    for c in req['callers']:
        for t in req['targets']:
            try:
                row.append('allow' if enf.enforce(name, dict(t), dict(c)) else 'deny')
            except Exception:
                row.append('error')
    out[name] = row
print(json.dumps(out))
"#;

/// The fixture directory `scripts/setup-policy.sh` fills.
pub fn fixtures() -> PathBuf {
    let dir = workspace_root().join("target/fixtures/policy");
    assert!(
        dir.join("nova.yaml").exists(),
        "the policy fixtures are missing: run `scripts/setup-policy.sh` (scripts/test.sh --setup does)"
    );
    dir
}

fn callers() -> Vec<Value> {
    vec![
        json!({"roles": ["admin"], "project_id": "p1", "user_id": "u1", "is_admin": true}),
        json!({"roles": ["member", "reader"], "project_id": "p1", "user_id": "u1"}),
        json!({"roles": ["reader"], "project_id": "p1", "user_id": "u2"}),
        json!({"roles": ["member"], "project_id": "p2", "user_id": "u2"}),
        json!({"roles": ["manager", "member", "reader"], "project_id": "p1", "user_id": "u3"}),
        json!({"roles": ["admin", "reader"], "system_scope": "all", "user_id": "u9"}),
        json!({"roles": ["reader"], "system_scope": "all", "user_id": "u8"}),
        json!({"roles": ["admin"], "domain_id": "d1", "user_id": "u7"}),
        json!({"roles": ["service"], "project_id": "svc", "user_id": "nova", "service_roles": ["service"]}),
        json!({"roles": [], "user_id": "u0"}),
        json!({}),
    ]
}

fn targets() -> Vec<Value> {
    vec![
        json!({"project_id": "p1", "user_id": "u1", "tenant_id": "p1", "domain_id": "d1",
               "target.user.domain_id": "d1", "target.project.domain_id": "d1", "owner": "p1",
               "network:tenant_id": "p1", "network:project_id": "p1", "ext_parent_owner": "p1"}),
        json!({"project_id": "p2", "user_id": "u2", "tenant_id": "p2", "owner": "p2"}),
        json!({}),
    ]
}

fn check_file(name: &str) -> usize {
    let path = fixtures().join(name);
    let callers = callers();
    let targets = targets();
    let request = json!({"policy_file": path, "callers": callers, "targets": targets});
    let theirs = run_python_json(ORACLE, &request.to_string());
    let theirs = theirs.as_object().expect("a mapping of rule to results");
    let enforcer = Enforcer::builder()
        .policy_file(&path)
        .policy_dirs(Vec::<String>::new())
        .build();
    enforcer.load_rules(false).unwrap();
    let mut ours_names: Vec<String> = enforcer.rules().keys().cloned().collect();
    ours_names.sort();
    let their_names: Vec<&String> = theirs.keys().collect();
    assert_eq!(
        ours_names.iter().collect::<Vec<_>>(),
        their_names,
        "{name}: the same rules"
    );
    let mut bad = Vec::new();
    let mut decisions = 0;
    let mut allowed = 0;
    for (rule, row) in theirs {
        let row = row.as_array().unwrap();
        let mut i = 0;
        for c in &callers {
            for t in &targets {
                let got = match enforcer.enforce(rule, t, c) {
                    Ok(true) => "allow",
                    Ok(false) => "deny",
                    Err(_) => "error",
                };
                allowed += usize::from(got == "allow");
                if row[i].as_str() != Some(got) {
                    bad.push(format!(
                        "{name} {rule}: python {}, ours {got}, creds {c}, target {t}",
                        row[i]
                    ));
                }
                i += 1;
                decisions += 1;
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad[..bad.len().min(20)].join("\n")
    );
    assert!(allowed > 0 || theirs.is_empty(), "{name}: nothing allowed");
    decisions
}

#[test]
fn nova_agrees() {
    assert!(check_file("nova.yaml") > 1000);
}

#[test]
fn keystone_agrees() {
    assert!(check_file("keystone.yaml") > 1000);
}

#[test]
fn neutron_agrees() {
    assert!(check_file("neutron.yaml") > 1000);
}

#[test]
fn cinder_agrees() {
    assert!(check_file("cinder.yaml") > 1000);
}

#[test]
fn glance_agrees() {
    assert!(check_file("glance.yaml") > 500);
}

#[test]
fn json_policy_files_agree() {
    for f in [
        "auth-keystone_policy.json",
        "auth-nova_policy.json",
        "auth-policy.v3cloudsample.json",
        "auth-with_default_policy.json",
        "auth-no_default_policy.json",
    ] {
        check_file(f);
    }
}

#[test]
fn sample_files_hold_no_rules() {
    // Every rule of a sample file is commented out: both sides load nothing.
    assert_eq!(check_file("nova-sample.yaml"), 0);
}
