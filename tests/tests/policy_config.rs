//! The `[oslo_policy]` options through oslo-config, against Python oslo.policy: the same config file,
//! argv and environment give the same option values, the same policy file and directories loaded and the
//! same decisions; and the generator lists the `oslo.policy` namespace as Python's does.
#![cfg(feature = "policy")]

use std::collections::HashMap;
use std::path::Path;

use oslo_config::{ConfigOpts, EnvSource, ParseArgs};
use oslo_policy::{DeprecatedRule, Enforcer, RuleDefault, config};
use serde_json::{Value, json};

/// Option values, the found policy file and the decisions, from Python oslo.policy.
const PYTHON: &str = r#"
import json, os, sys
from oslo_config import cfg
from oslo_policy import opts, policy
inp = json.load(sys.stdin)
os.environ.update(inp["env"])
conf = cfg.ConfigOpts()
opts.set_defaults(conf)
conf(inp["argv"], project="cfgtest", default_config_files=[], default_config_dirs=[])
values = {o.dest: getattr(conf.oslo_policy, o.dest) for o in opts._options}
enf = policy.Enforcer(conf)
enf.register_default(policy.RuleDefault("sys:get", "role:admin", scope_types=["system"]))
enf.register_default(policy.RuleDefault("new:get", "role:new",
    deprecated_rule=policy.DeprecatedRule("old:get", "role:old", deprecated_reason="r", deprecated_since="X")))
enf.load_rules()
decisions = {}
for rule, creds in inp["checks"]:
    decisions[rule + " " + json.dumps(creds, sort_keys=True)] = enf.enforce(rule, {}, creds)
print(json.dumps({"values": values, "policy_path": enf.policy_path,
                  "rules": sorted(enf.rules.keys()), "decisions": decisions}))
"#;

struct Case {
    dir: tempfile::TempDir,
    argv: Vec<String>,
    env: HashMap<String, String>,
}

fn checks() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for rule in [
        "from_file",
        "from_dir",
        "overridden",
        "sys:get",
        "new:get",
        "unknown",
    ] {
        for creds in [
            json!({"roles": ["member"], "project_id": "p"}),
            json!({"roles": ["admin"], "project_id": "p"}),
            json!({"roles": ["admin"], "system": "all"}),
            json!({"roles": ["old"], "project_id": "p"}),
            json!({"roles": ["dir"], "project_id": "p"}),
        ] {
            out.push((rule.to_owned(), creds));
        }
    }
    out
}

fn python(case: &Case) -> Value {
    let checks: Vec<Value> = checks().into_iter().map(|(r, c)| json!([r, c])).collect();
    oslo_tests::run_python_json(
        PYTHON,
        &json!({"argv": case.argv, "env": case.env, "checks": checks}).to_string(),
    )
}

fn ours(case: &Case) -> Value {
    let mut conf = ConfigOpts::new();
    config::set_defaults(&mut conf, None).unwrap();
    conf.set_env(EnvSource::Map(case.env.clone()));
    conf.parse(
        ParseArgs::new(case.argv.clone())
            .project("cfgtest")
            .default_config_files(Vec::<String>::new())
            .default_config_dirs(Vec::<String>::new()),
    )
    .unwrap();
    let g = Some(config::GROUP);
    let mut values = serde_json::Map::new();
    for opt in config::opts() {
        let name = opt.dest_name();
        let v = match name {
            "enforce_new_defaults" | "remote_ssl_verify_server_crt" => {
                json!(conf.get_bool(name, g).unwrap())
            }
            "remote_timeout" => json!(conf.get_float(name, g).unwrap()),
            "policy_dirs" => json!(conf.get_str_list(name, g).unwrap()),
            _ => json!(conf.get_str(name, g).unwrap()),
        };
        values.insert(name.to_owned(), v);
    }
    let enforcer = Enforcer::builder_from_config(&conf).unwrap().build();
    enforcer
        .register_default(RuleDefault::new("sys:get", "role:admin").scope_types(["system"]))
        .unwrap();
    enforcer
        .register_default(
            RuleDefault::new("new:get", "role:new")
                .deprecated_rule(DeprecatedRule::new("old:get", "role:old", "r", "X")),
        )
        .unwrap();
    enforcer.load_rules(false).unwrap();
    let mut rules: Vec<String> = enforcer.rules().into_keys().collect();
    rules.sort();
    let mut decisions = serde_json::Map::new();
    for (rule, creds) in checks() {
        let key = format!("{rule} {}", python_dumps(&creds));
        decisions.insert(
            key,
            json!(enforcer.enforce(&rule, &json!({}), &creds).unwrap()),
        );
    }
    let policy_path = enforcer.policy_path().map(|p| p.display().to_string());
    json!({"values": values, "policy_path": policy_path, "rules": rules, "decisions": decisions})
}

/// `json.dumps(v, sort_keys=True)` for the small values used here.
fn python_dumps(v: &Value) -> String {
    // serde_json's map is sorted (no `preserve_order`); Python puts a space after `:` and `,`.
    v.to_string().replace(':', ": ").replace(',', ", ")
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// A service directory: `etc/api.conf`, a policy file next to it under a non-default name, a
/// `policy.d` next to it and a second directory given by absolute path.
fn service_case() -> Case {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    write(
        &etc.join("api-policy.yaml"),
        "from_file: role:admin\noverridden: role:member\n\"new:get\": role:new\n",
    );
    write(&etc.join("policy.d/10-dir.yaml"), "from_dir: role:dir\n");
    let extra = dir.path().join("extra.d");
    write(
        &extra.join("20-override.json"),
        "{\"overridden\": \"role:dir\"}\n",
    );
    write(
        &etc.join("api.conf"),
        &format!(
            "[oslo_policy]\npolicy_file = api-policy.yaml\npolicy_dirs = policy.d\npolicy_dirs = {}\n\
             enforce_new_defaults = false\n# gone in oslo.policy 6.0: read without error, ignored\n\
             enforce_scope = false\nremote_timeout = 2.5\n",
            extra.display()
        ),
    );
    let argv = vec![
        "--config-file".to_owned(),
        etc.join("api.conf").display().to_string(),
    ];
    Case {
        dir,
        argv,
        env: HashMap::new(),
    }
}

#[test]
fn file_values_and_decisions_match_python() {
    let case = service_case();
    let (py, rs) = (python(&case), ours(&case));
    assert_eq!(rs["values"], py["values"]);
    assert_eq!(rs["policy_path"], py["policy_path"]);
    assert_eq!(rs["rules"], py["rules"]);
    assert_eq!(rs["decisions"], py["decisions"]);
    // The point of the case: the file and both directories were read, and enforce_new_defaults = false
    // OR-ed the deprecated default in.
    let d = &rs["decisions"];
    assert_eq!(
        d[r#"from_dir {"project_id": "p", "roles": ["dir"]}"#],
        json!(true)
    );
    assert_eq!(
        d[r#"overridden {"project_id": "p", "roles": ["dir"]}"#],
        json!(true)
    );
    assert_eq!(
        d[r#"overridden {"project_id": "p", "roles": ["member"]}"#],
        json!(false)
    );
    // Scope is always checked: an admin with a project token may not use a system rule.
    assert_eq!(
        d[r#"sys:get {"project_id": "p", "roles": ["admin"]}"#],
        json!(false)
    );
    assert_eq!(
        d[r#"sys:get {"roles": ["admin"], "system": "all"}"#],
        json!(true)
    );
    drop(case.dir);
}

#[test]
fn command_line_and_environment_match_python() {
    let mut case = service_case();
    let etc = case.dir.path().join("etc");
    write(&etc.join("other.yaml"), "from_file: role:member\n");
    // A second file, the environment and a `--config-dir` on top of the first file.
    let confd = case.dir.path().join("conf.d");
    write(
        &confd.join("50-policy.conf"),
        "[oslo_policy]\npolicy_default_rule = from_file\nremote_content_type = application/json\n",
    );
    case.argv
        .extend(["--config-dir".to_owned(), confd.display().to_string()]);
    case.env
        .insert("OS_OSLO_POLICY__POLICY_FILE".into(), "other.yaml".into());
    case.env
        .insert("OS_OSLO_POLICY__ENFORCE_NEW_DEFAULTS".into(), "true".into());
    let (py, rs) = (python(&case), ours(&case));
    assert_eq!(rs["values"], py["values"]);
    assert_eq!(rs["values"]["policy_file"], json!("other.yaml"));
    assert_eq!(
        rs["values"]["remote_content_type"],
        json!("application/json")
    );
    assert_eq!(rs["policy_path"], py["policy_path"]);
    assert_eq!(rs["rules"], py["rules"]);
    assert_eq!(rs["decisions"], py["decisions"]);
    // The default rule from the config dir applies to unknown names.
    let d = &rs["decisions"];
    assert_eq!(
        d[r#"unknown {"project_id": "p", "roles": ["member"]}"#],
        json!(true)
    );
    // enforce_new_defaults from the environment: the deprecated default no longer counts.
    assert_eq!(
        d[r#"new:get {"project_id": "p", "roles": ["old"]}"#],
        json!(false)
    );
}

#[test]
fn defaults_without_any_file_match_python() {
    let dir = tempfile::tempdir().unwrap();
    let case = Case {
        argv: Vec::new(),
        env: HashMap::new(),
        dir,
    };
    let (py, rs) = (python(&case), ours(&case));
    assert_eq!(rs["values"], py["values"]);
    assert_eq!(rs["decisions"], py["decisions"]);
}

#[test]
fn set_defaults_replaces_the_policy_file() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("svc.json"), "{\"a\": \"role:x\"}");
    let conf_file = dir.path().join("svc.conf");
    write(&conf_file, "[DEFAULT]\n");
    let mut conf = ConfigOpts::new();
    config::set_defaults(&mut conf, Some("svc.json")).unwrap();
    conf.parse(
        ParseArgs::new(["--config-file", conf_file.to_str().unwrap()])
            .use_env(false)
            .default_config_files(Vec::<String>::new()),
    )
    .unwrap();
    let enforcer = Enforcer::builder_from_config(&conf).unwrap().build();
    assert!(
        enforcer
            .enforce("a", &json!({}), &json!({"roles": ["x"]}))
            .unwrap()
    );
    assert_eq!(enforcer.policy_path(), Some(dir.path().join("svc.json")));
}

#[test]
fn bad_values_are_refused_with_the_option_named() {
    let dir = tempfile::tempdir().unwrap();
    let conf_file = dir.path().join("bad.conf");
    write(
        &conf_file,
        "[oslo_policy]\nremote_timeout = -1\nremote_content_type = text/plain\n",
    );
    let mut conf = ConfigOpts::new();
    config::register_opts(&mut conf).unwrap();
    conf.parse(
        ParseArgs::new(["--config-file", conf_file.to_str().unwrap()])
            .use_env(false)
            .default_config_files(Vec::<String>::new()),
    )
    .unwrap();
    let err = config::remote_config(&conf).unwrap_err().to_string();
    assert!(err.contains("remote_"), "{err}");
    assert!(Enforcer::builder_from_config(&conf).is_err());
}

#[test]
fn unregistered_options_are_an_error() {
    let mut conf = ConfigOpts::new();
    conf.parse(ParseArgs::new(Vec::<String>::new()).use_env(false))
        .unwrap();
    assert!(Enforcer::builder_from_config(&conf).is_err());
}

/// The samples of one namespace: ours (through `inventory`) and Python's `oslo-config-generator`.
fn samples(namespace: &str) -> (String, String) {
    let found = oslo_config::generator::list_opts(&[namespace.to_owned()]).unwrap();
    let ours = oslo_config::generator::sample_ini(&found, &Default::default());
    let theirs = oslo_tests::run_python(
        "import subprocess, sys, os\n\
         exe = os.path.join(os.path.dirname(sys.executable), 'oslo-config-generator')\n\
         sys.stdout.write(subprocess.run([exe, '--namespace', sys.stdin.read().strip()], check=True, \
         capture_output=True, text=True).stdout)\n",
        namespace,
    );
    (ours, theirs)
}

#[test]
fn generator_lists_the_namespace_as_python_does() {
    let (ours, theirs) = samples(config::NAMESPACE);
    assert!(
        config::opts()
            .iter()
            .all(|o| ours.contains(&format!("#{} = ", o.name())))
    );
    // oslo-config keeps float bounds as floats, where Python prints the integer literal the option was
    // declared with (`min=0` for remote_timeout; a Rust bound has no such literal): that one line is
    // rewritten, and must be there to be rewritten; every other line is the same.
    assert_eq!(ours.matches("# Minimum value: 0.0\n").count(), 1);
    let ours = ours.replace("# Minimum value: 0.0\n", "# Minimum value: 0\n");
    assert_eq!(ours, theirs);
}

#[test]
fn config_dir_is_searched_first_as_python_does() {
    let mut case = service_case();
    // A `policy.d` in the `--config-dir` shadows the one next to the config file, as `find_file` has it.
    let confd = case.dir.path().join("conf.d");
    write(
        &confd.join("policy.d/10-dir.yaml"),
        "from_dir: role:member\n",
    );
    write(&confd.join("00-empty.conf"), "[DEFAULT]\n");
    case.argv
        .extend(["--config-dir".to_owned(), confd.display().to_string()]);
    let (py, rs) = (python(&case), ours(&case));
    assert_eq!(rs["rules"], py["rules"]);
    assert_eq!(rs["decisions"], py["decisions"]);
    let d = &rs["decisions"];
    assert_eq!(
        d[r#"from_dir {"project_id": "p", "roles": ["member"]}"#],
        json!(true)
    );
    assert_eq!(
        d[r#"from_dir {"project_id": "p", "roles": ["dir"]}"#],
        json!(false)
    );
}

#[test]
fn a_policy_file_created_later_is_found_next_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let conf_file = dir.path().join("svc.conf");
    write(&conf_file, "[oslo_policy]\npolicy_file = late.yaml\n");
    let mut conf = ConfigOpts::new();
    config::register_opts(&mut conf).unwrap();
    conf.parse(
        ParseArgs::new(["--config-file", conf_file.to_str().unwrap()])
            .use_env(false)
            .default_config_files(Vec::<String>::new()),
    )
    .unwrap();
    let enforcer = Enforcer::builder_from_config(&conf).unwrap().build();
    let creds = json!({"roles": ["late"]});
    assert!(!enforcer.enforce("r", &json!({}), &creds).unwrap());
    write(&dir.path().join("late.yaml"), "r: role:late\n");
    assert!(enforcer.enforce("r", &json!({}), &creds).unwrap());
    assert_eq!(enforcer.policy_path(), Some(dir.path().join("late.yaml")));
}

#[test]
fn option_data_matches_python() {
    // The machine-readable data (`--format json`) names every attribute of every option: type,
    // default, bounds, choices, secret, deprecated names.
    let found = oslo_config::generator::list_opts(&[config::NAMESPACE.to_owned()]).unwrap();
    let mut ours = oslo_config::generator::machine_readable(&found, Value::Null);
    // The one known difference (as in the sample file above): the float bound of
    // remote_timeout is 0.0 here, the integer literal 0 in Python; the same number.
    for opt in ours["options"][config::GROUP]["opts"]
        .as_array_mut()
        .unwrap()
    {
        if opt["name"] == "remote_timeout" {
            assert_eq!(opt["min"].as_f64(), Some(0.0));
            opt["min"] = json!(0);
        }
    }
    let theirs = oslo_tests::run_python_json(
        "import subprocess, sys, os\n\
         exe = os.path.join(os.path.dirname(sys.executable), 'oslo-config-generator')\n\
         sys.stdout.write(subprocess.run([exe, '--namespace', 'oslo.policy', '--format', 'json'], \
         check=True, capture_output=True, text=True).stdout)\n",
        "",
    );
    // Only our group: the empty `DEFAULT` entry is the generator's own (and its keys differ there).
    let g = config::GROUP;
    assert_eq!(ours["options"][g], theirs["options"][g]);
    assert_eq!(ours["deprecated_options"], theirs["deprecated_options"]);
}
