//! `oslopolicy-checker`: runs the rules of a policy file against the credentials of a Keystone token.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use serde_json::{Map, Value};

use super::{fail, parse_args};
use crate::check::Check;
use crate::custom::CheckRegistry;
use crate::file::parse_file_contents;
use crate::parser::parse_value;

#[derive(Debug, Parser)]
#[command(name = "oslopolicy-checker", about = None)]
struct Args {
    /// path to a file containing OpenStack Identity API access info in JSON format.
    #[arg(long, value_name = "ACCESS")]
    access: Option<PathBuf>,
    /// Path to a config directory to pull `*.conf` files from.
    #[arg(long = "config-dir", value_name = "DIR")]
    config_dir: Vec<PathBuf>,
    /// Path to a config file to use.
    #[arg(long = "config-file", value_name = "PATH")]
    config_file: Vec<PathBuf>,
    /// configuration file for the oslopolicy-checker enforcer
    #[arg(long = "enforcer_config", value_name = "ENFORCER_CONFIG")]
    enforcer_config: Option<PathBuf>,
    /// set is_admin=True on the credentials used for the evaluation.
    #[arg(long = "is_admin", overrides_with = "nois_admin")]
    is_admin: bool,
    /// The inverse of --is_admin
    #[arg(long = "nois_admin")]
    nois_admin: bool,
    /// path to a policy file.
    #[arg(long, value_name = "POLICY")]
    policy: Option<PathBuf>,
    /// rule to test.
    #[arg(long, value_name = "RULE")]
    rule: Option<String>,
    /// path to a file containing custom target info in JSON format. This will be used to evaluate the
    /// policy with.
    #[arg(long, value_name = "TARGET")]
    target: Option<PathBuf>,
}

/// `oslopolicy-checker`: without `--rule`, every rule whose name has a `:`, sorted, one line each
/// (`passed: NAME`, `failed: NAME`, or the error and `exception: RULE`); with `--rule`, that rule. As
/// Python's, the rules are the file's alone (no registered defaults, no scope types).
pub fn checker(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let args: Args = match parse_args(args, out, err) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match run(&args, out) {
        Ok(()) => 0,
        Err(e) => fail(err, &e),
    }
}

fn read(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}

/// Flattens nested mappings into dotted keys, as the Python tool does with the target.
fn flatten(map: &Map<String, Value>, prefix: &str, out: &mut Map<String, Value>) {
    for (k, v) in map {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(inner) => flatten(inner, &key, out),
            other => {
                out.insert(key, other.clone());
            }
        }
    }
}

fn run(args: &Args, out: &mut dyn Write) -> Result<(), String> {
    let policy = args
        .policy
        .as_ref()
        .ok_or("value required for option policy in group [DEFAULT]")?;
    let access = args
        .access
        .as_ref()
        .ok_or("value required for option access in group [DEFAULT]")?;
    let access: Value = serde_json::from_str(&read(access)?).map_err(|e| e.to_string())?;
    let mut creds = access
        .get("token")
        .and_then(Value::as_object)
        .cloned()
        .ok_or("the access file has no `token` object")?;
    let roles = creds
        .get("roles")
        .and_then(Value::as_array)
        .ok_or("the token has no `roles` list")?
        .iter()
        .map(|r| {
            r.get("name")
                .cloned()
                .ok_or("a role of the token has no `name`")
        })
        .collect::<Result<Vec<Value>, _>>()?;
    creds.insert("roles".into(), Value::Array(roles));
    let user_id = creds
        .get("user")
        .and_then(|u| u.get("id"))
        .cloned()
        .ok_or("the token has no `user.id`")?;
    creds.insert("user_id".into(), user_id.clone());
    if let Some(project) = creds.get("project").filter(|p| crate::python::truthy(p)) {
        let id = project
            .get("id")
            .cloned()
            .ok_or("the token's project has no `id`")?;
        creds.insert("project_id".into(), id);
    }
    if creds.get("system").is_some_and(crate::python::truthy) {
        creds.insert("system_scope".into(), Value::String("all".into()));
    }
    creds.insert(
        "is_admin".into(),
        Value::Bool(args.is_admin && !args.nois_admin),
    );

    let raw = parse_file_contents(&read(policy)?)?;
    let registry = CheckRegistry::new();
    let mut rules: HashMap<String, Check> = HashMap::new();
    for (name, value) in &raw {
        rules.insert(name.clone(), parse_value(value, &registry)?.check);
    }

    let target = match &args.target {
        Some(t) => {
            let v: Value = serde_json::from_str(&read(t)?).map_err(|e| e.to_string())?;
            let mut flat = Map::new();
            flatten(
                v.as_object()
                    .ok_or("the target file is not a JSON object")?,
                "",
                &mut flat,
            );
            flat
        }
        None => {
            let mut t = Map::new();
            t.insert("user_id".into(), user_id);
            if let Some(p) = creds.get("project_id").filter(|p| crate::python::truthy(p)) {
                t.insert("project_id".into(), p.clone());
            }
            t
        }
    };
    let creds = Value::Object(creds);
    let target = Value::Object(target);
    let no_config = args.enforcer_config.is_none();
    let mut try_rule = |name: &str, check: &Check| -> Result<(), String> {
        let line = match check.evaluate_with(&target, &creds, &rules, Some("default"), Some(name)) {
            Ok(true) => format!("passed: {name}\n"),
            Ok(false) => format!("failed: {name}\n"),
            Err(e) => format!("{}\nexception: {check}\n", python_message(&e, no_config)),
        };
        out.write_all(line.as_bytes()).map_err(|e| e.to_string())
    };
    match args.rule.as_deref().filter(|r| !r.is_empty()) {
        Some(name) => {
            let check = rules
                .get(name)
                .or_else(|| rules.get("default"))
                .ok_or_else(|| format!("KeyError: '{name}'"))?;
            try_rule(name, check)?;
        }
        None => {
            let mut names: Vec<&String> = rules.keys().filter(|k| k.contains(':')).collect();
            names.sort();
            for name in names {
                if let Some(check) = rules.get(name) {
                    try_rule(name, check)?;
                }
            }
        }
    }
    Ok(())
}

/// The line Python's checker prints for an error out of a check.
fn python_message(e: &crate::Error, no_config: bool) -> String {
    match e {
        crate::Error::Check { message, .. } => {
            if message.contains("refers to itself") || message.contains("nest deeper") {
                // Python overflows its recursion limit inside `inspect` and prints this.
                "unsupported callable".into()
            } else if message.contains("remote `http:`") && no_config {
                "'NoneType' object has no attribute 'oslo_policy'".into()
            } else {
                message.clone()
            }
        }
        other => other.to_string(),
    }
}
