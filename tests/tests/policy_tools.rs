//! The `oslopolicy-*` tools against Python's, on the same registered rules and files: the output text
//! and exit code must be the same. The Python side gets the rules by replacing its entry-point lookups.
#![cfg(feature = "policy")]

use std::collections::BTreeMap;
use std::path::Path;

use oslo_policy::tools;
use oslo_policy::{DeprecatedRule, Enforcer, RuleDefault};
use oslo_tests::{run_python_json, workspace_root};
use serde_json::{Value, json};

/// The rules of two namespaces, as data both sides build their rules from.
fn spec() -> Value {
    json!({
        "zeta": [
            {"name": "zeta:get", "check_str": "role:reader", "description": "Get a zeta."},
            {"name": "zeta:bare", "check_str": ""}
        ],
        "demo": [
            {"name": "admin_required", "check_str": "role:admin or is_admin:True",
             "description": "Decides what is required for the 'is_admin:True' check to succeed."},
            {"name": "demo:get", "check_str": "role:reader or rule:admin_required",
             "description": "Get a thing. This description is long enough that the generator has to wrap it over more than one line of the comment, and it mentions a scope_type-based well-known hyphenated-word.",
             "operations": [{"method": "GET", "path": "/v1/things/{id}"}, {"method": "HEAD", "path": "/v1/things/{id}"}],
             "scope_types": ["project"],
             "deprecated_rule": {"name": "demo:old_get", "check_str": "role:member",
                                 "reason": "Nova API policies are introducing new default roles with scope_type capabilities. Old policies are deprecated and silently going to be ignored in nova 23.0.0 release.",
                                 "since": "2025.1"}},
            {"name": "demo:update", "check_str": "role:member and project_id:%(project_id)s",
             "description": "Update a thing.\n\nA second paragraph.\n\n    a literal block\n    kept as it is",
             "operations": [{"method": "PUT", "path": "/v1/things/{id}"}],
             "scope_types": ["project", "system"],
             "deprecated_rule": {"name": "demo:update", "check_str": "rule:admin_required",
                                 "reason": "Changed.", "since": "W"}},
            {"name": "demo:remove", "check_str": "rule:admin_required",
             "description": "Going away.",
             "deprecated_for_removal": true, "deprecated_reason": "Nobody uses it any more, and the API that needed it is gone.",
             "deprecated_since": "2024.2"}
        ]
    })
}

fn rust_rules(spec: &Value) -> BTreeMap<String, Vec<RuleDefault>> {
    let mut out = BTreeMap::new();
    for (ns, rules) in spec.as_object().unwrap() {
        let list = rules
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let s = |k: &str| r.get(k).and_then(Value::as_str);
                let mut d = RuleDefault::new(s("name").unwrap(), s("check_str").unwrap());
                if let Some(desc) = s("description") {
                    d = d.description(desc);
                }
                for op in r
                    .get("operations")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    d = d.operation(op["method"].as_str().unwrap(), op["path"].as_str().unwrap());
                }
                if let Some(scopes) = r.get("scope_types").and_then(Value::as_array) {
                    d = d.scope_types(scopes.iter().filter_map(Value::as_str));
                }
                if let Some(dep) = r.get("deprecated_rule") {
                    d = d.deprecated_rule(DeprecatedRule::new(
                        dep["name"].as_str().unwrap(),
                        dep["check_str"].as_str().unwrap(),
                        dep["reason"].as_str().unwrap(),
                        dep["since"].as_str().unwrap(),
                    ));
                }
                if r.get("deprecated_for_removal").is_some() {
                    d = d.deprecated_for_removal(
                        s("deprecated_reason").unwrap(),
                        s("deprecated_since").unwrap(),
                    );
                }
                d
            })
            .collect();
        out.insert(ns.clone(), list);
    }
    out
}

const PYTHON: &str = r#"
import contextlib, io, json, logging, sys, warnings
warnings.simplefilter('ignore')
from oslo_config import cfg
from oslo_policy import generator, policy
req = json.load(sys.stdin)

def build(r):
    dep = r.get('deprecated_rule')
    if dep:
        dep = policy.DeprecatedRule(dep['name'], dep['check_str'], deprecated_reason=dep['reason'],
                                    deprecated_since=dep['since'])
    kw = dict(deprecated_rule=dep, deprecated_for_removal=r.get('deprecated_for_removal', False),
              deprecated_reason=r.get('deprecated_reason'), deprecated_since=r.get('deprecated_since'),
              scope_types=r.get('scope_types'))
    if r.get('operations'):
        return policy.DocumentedRuleDefault(r['name'], r['check_str'], r['description'], r['operations'], **kw)
    return policy.RuleDefault(r['name'], r['check_str'], description=r.get('description'), **kw)

spec = req['spec']
generator.get_policies_dict = lambda names: {n: [build(r) for r in spec[n]] for n in names if n in spec}

def get_enforcer(ns):
    enf = policy.Enforcer(cfg.CONF, policy_file=req['policy_file'])
    cfg.CONF.set_override('policy_dirs', [], group='oslo_policy')
    cfg.CONF.set_override('policy_file', req['policy_file'], group='oslo_policy')
    for rules in spec.values():
        enf.register_defaults([build(r) for r in rules])
    return enf
generator._get_enforcer = get_enforcer

tool = getattr(generator, req['tool'])
out = io.StringIO()
code = 0
logging.disable(logging.CRITICAL)
with contextlib.redirect_stdout(out):
    try:
        tool(req['args'])
    except SystemExit as e:
        code = e.code or 0
print(json.dumps({'out': out.getvalue(), 'code': code}))
"#;

fn python(tool: &str, args: &[&str], policy_file: &Path) -> (String, i32) {
    let r = run_python_json(
        PYTHON,
        &json!({"tool": tool, "args": args, "spec": spec(), "policy_file": policy_file})
            .to_string(),
    );
    (
        r["out"].as_str().unwrap().to_string(),
        r["code"].as_i64().unwrap() as i32,
    )
}

fn enforcer(policy_file: &Path) -> Enforcer {
    let e = Enforcer::builder()
        .policy_file(policy_file)
        .policy_dirs(Vec::<String>::new())
        .build();
    for rules in rust_rules(&spec()).into_values() {
        e.register_defaults(rules).unwrap();
    }
    e
}

const POLICY: &str = r#"
"demo:get": "role:reader or rule:admin_required"
"admin_required": "role:admin"
"demo:old_get": "role:custom"
"unknown:rule": "@"
"broken": "role:a or"
"legacy": [["role:a", "role:b"]]
"#;

fn policy_file(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("policy.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn sample_generator_matches() {
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(dir.path(), POLICY);
    for exclude in [false, true] {
        let mut args = vec![
            "--namespace",
            "demo",
            "--namespace",
            "zeta",
            "--namespace",
            "missing",
        ];
        if exclude {
            args.push("--exclude-deprecated");
        }
        let (theirs, code) = python("generate_sample", &args, &file);
        assert_eq!(code, 0);
        let ours = tools::format_sample(&rust_rules(&spec()), exclude);
        assert_eq!(ours, theirs);
    }
}

#[test]
fn policy_generator_list_redundant_and_validator_match() {
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(dir.path(), POLICY);
    let e = enforcer(&file);
    let (theirs, _) = python("generate_policy", &["--namespace", "x"], &file);
    assert_eq!(tools::format_policy(&e).unwrap(), theirs);
    let (theirs, _) = python("list_redundant", &["--namespace", "x"], &file);
    assert_eq!(tools::redundant_rules(&e).unwrap(), theirs);
    assert!(theirs.contains("demo:get"), "{theirs}");
    let (theirs, code) = python("validate_policy", &["--namespace", "x"], &file);
    let (ours, our_code) = tools::validate(&e, &file).unwrap();
    assert_eq!((ours, our_code), (theirs, code));
    assert_eq!(code, 1);
    // A clean file validates.
    let clean = policy_file(dir.path(), "\"demo:get\": \"role:reader\"\n");
    let (theirs, code) = python("validate_policy", &["--namespace", "x"], &clean);
    assert_eq!(
        tools::validate(&enforcer(&clean), &clean).unwrap(),
        (theirs, code)
    );
    assert_eq!(code, 0);
    // A missing file.
    let missing = dir.path().join("absent.yaml");
    let (theirs, code) = python("validate_policy", &["--namespace", "x"], &missing);
    assert_eq!(
        tools::validate(&enforcer(&missing), &missing).unwrap(),
        (theirs, code)
    );
}

#[test]
fn policy_upgrade_matches() {
    let dir = tempfile::tempdir().unwrap();
    let text = "\"demo:old_get\": \"role:custom and project_id:%(project_id)s or (role:admin and user_id:%(user_id)s) or role:reader\"\n\
                \"a\": \"\"\n\"b\": \"@\"\n\"c\": \"!\"\n\"d\": \"yes\"\n\"e\": \"x: y\"\n\"f\": [\"role:a\"]\n\"g\": \"it's\"\n";
    let file = policy_file(dir.path(), text);
    let (theirs, code) = python(
        "upgrade_policy",
        &["--namespace", "demo", "--policy", file.to_str().unwrap()],
        &file,
    );
    assert_eq!(code, 0);
    let mut rules = oslo_policy::parse_file_contents(text).unwrap();
    tools::upgrade_rules(&mut rules, &rust_rules(&spec()));
    let mut out = Vec::new();
    let code = tools::policy_upgrade(
        [
            "oslopolicy-policy-upgrade",
            "--namespace",
            "demo",
            "--policy",
            file.to_str().unwrap(),
        ]
        .map(Into::into),
        &mut out,
        &mut std::io::sink(),
    );
    // The binary sees no namespace `demo` (it is not registered in this test), so nothing is renamed.
    assert_eq!(code, 0);
    assert!(String::from_utf8(out).unwrap().contains("demo:old_get"));
    let ours = {
        let mut o = Vec::new();
        let p = dir.path().join("renamed.yaml");
        let map: serde_json::Map<String, Value> = rules.clone().into_iter().collect();
        std::fs::write(&p, Value::Object(map).to_string()).unwrap();
        tools::policy_upgrade(
            ["x", "--namespace", "none", "--policy", p.to_str().unwrap()].map(Into::into),
            &mut o,
            &mut std::io::sink(),
        );
        String::from_utf8(o).unwrap()
    };
    assert_eq!(ours, theirs);
}

#[test]
fn convert_json_to_yaml_matches() {
    let dir = tempfile::tempdir().unwrap();
    let json_file = dir.path().join("policy.json");
    let text = r#"{"demo:get": "role:reader or rule:admin_required", "demo:update": "role:admin", "extra": "role:x", "demo:old_get": "role:member"}"#;
    std::fs::write(&json_file, text).unwrap();
    let (theirs, code) = python(
        "convert_policy_json_to_yaml",
        &[
            "--namespace",
            "demo",
            "--policy-file",
            json_file.to_str().unwrap(),
        ],
        &json_file,
    );
    assert_eq!(code, 0);
    let rules = oslo_policy::parse_file_contents(text).unwrap();
    let demo: BTreeMap<_, _> = rust_rules(&spec())
        .into_iter()
        .filter(|(k, _)| k == "demo")
        .collect();
    assert_eq!(tools::convert_json_to_yaml(&rules, &demo), theirs);
}

#[test]
fn checker_matches_on_real_files() {
    let fixtures = workspace_root().join("target/fixtures/policy");
    assert!(
        fixtures.join("nova.yaml").exists(),
        "run scripts/setup-policy.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access.json");
    std::fs::write(
        &access,
        r#"{"token": {"roles": [{"name": "admin"}, {"name": "member"}, {"name": "reader"}], "user": {"id": "u1"},
            "project": {"id": "p1", "domain": {"id": "default"}}}}"#,
    )
    .unwrap();
    let target = dir.path().join("target.json");
    std::fs::write(
        &target,
        r#"{"project_id": "p2", "target": {"user": {"id": "u2", "domain_id": "default"}}}"#,
    )
    .unwrap();
    let python_checker = workspace_root().join("target/venv/bin/oslopolicy-checker");
    for file in [
        "nova.yaml",
        "keystone.yaml",
        "neutron.yaml",
        "auth-policy.v3cloudsample.json",
    ] {
        for extra in [
            vec![],
            vec!["--is_admin"],
            vec!["--target", target.to_str().unwrap()],
            vec!["--rule", "default"],
        ] {
            let policy = fixtures.join(file);
            let mut args = vec![
                "oslopolicy-checker",
                "--policy",
                policy.to_str().unwrap(),
                "--access",
                access.to_str().unwrap(),
            ];
            args.extend(&extra);
            let theirs = std::process::Command::new(&python_checker)
                .args(&args[1..])
                .output()
                .unwrap();
            let mut ours = Vec::new();
            let code = tools::checker(args.iter().map(Into::into), &mut ours, &mut std::io::sink());
            assert_eq!(code, theirs.status.code().unwrap(), "{file} {extra:?}");
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs.stdout).unwrap(),
                "{file} {extra:?}"
            );
        }
    }
}

#[test]
fn missing_namespace_is_an_error() {
    let mut err = Vec::new();
    let code = tools::sample_generator(
        ["oslopolicy-sample-generator"].map(Into::into),
        &mut std::io::sink(),
        &mut err,
    );
    assert_eq!(code, 1);
    assert!(
        String::from_utf8(err)
            .unwrap()
            .contains("value required for option namespace")
    );
    let code = tools::validator(
        ["oslopolicy-validator", "--namespace", "nope"].map(Into::into),
        &mut std::io::sink(),
        &mut std::io::sink(),
    );
    assert_eq!(code, 1);
    let code = tools::checker(
        ["oslopolicy-checker", "--bogus"].map(Into::into),
        &mut std::io::sink(),
        &mut std::io::sink(),
    );
    assert_eq!(code, 2);
}

fn registered_rules() -> Vec<RuleDefault> {
    rust_rules(&spec()).remove("demo").unwrap()
}

oslo_policy::register_policies!("oslo-rs-test", registered_rules);

fn registered_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("oslo-rs-policy-tools-{}", std::process::id()))
}

fn registered_enforcer() -> Enforcer {
    let dir = registered_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let file = policy_file(&dir, POLICY);
    enforcer(&file)
}

oslo_policy::register_enforcer!("oslo-rs-test", registered_enforcer);

/// The command-line functions find the namespaces registered in the binary, as Python's tools find
/// entry points.
#[test]
fn tools_find_registered_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("sample.yaml");
    let code = tools::sample_generator(
        [
            "g",
            "--namespace",
            "oslo-rs-test",
            "--output-file",
            out_file.to_str().unwrap(),
        ]
        .map(Into::into),
        &mut std::io::sink(),
        &mut std::io::sink(),
    );
    assert_eq!(code, 0);
    let mut policies = BTreeMap::new();
    policies.insert("oslo-rs-test".to_string(), registered_rules());
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        tools::format_sample(&policies, false)
    );

    let mut out = Vec::new();
    assert_eq!(
        tools::policy_generator(
            ["g", "--namespace", "oslo-rs-test"].map(Into::into),
            &mut out,
            &mut std::io::sink()
        ),
        0
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        tools::format_policy(&registered_enforcer()).unwrap()
    );

    let mut out = Vec::new();
    assert_eq!(
        tools::list_redundant(
            ["r", "--namespace", "oslo-rs-test"].map(Into::into),
            &mut out,
            &mut std::io::sink()
        ),
        0
    );
    assert!(String::from_utf8(out).unwrap().contains("\"demo:get\""));

    let mut out = Vec::new();
    assert_eq!(
        tools::validator(
            ["v", "--namespace", "oslo-rs-test"].map(Into::into),
            &mut out,
            &mut std::io::sink()
        ),
        1
    );
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("Unknown rule found in policy file: unknown:rule")
    );

    let old = dir.path().join("old.yaml");
    std::fs::write(&old, "\"demo:old_get\": \"role:custom\"\n").unwrap();
    let mut out = Vec::new();
    let code = tools::policy_upgrade(
        [
            "u",
            "--namespace",
            "oslo-rs-test",
            "--policy",
            old.to_str().unwrap(),
        ]
        .map(Into::into),
        &mut out,
        &mut std::io::sink(),
    );
    assert_eq!(
        (code, String::from_utf8(out).unwrap()),
        (0, "demo:get: role:custom\n".to_string())
    );
    let _ = std::fs::remove_dir_all(registered_dir());
}
