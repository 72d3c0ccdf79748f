//! The generators: sample and effective policy files, redundant rules, validation, upgrade of renamed
//! rules and the JSON to YAML conversion, from rules registered in code.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use serde_json::Value;

use super::textwrap::wrap;
use super::{emit, fail, namespace_enforcer, parse_args};
use crate::defaults::{RuleDefault, namespace_rules};
use crate::enforcer::Enforcer;
use crate::file::{RawRules, parse_file_contents};
use crate::python;

/// A description as the sample generator writes it: paragraphs wrapped at 70 columns as `# ` comments,
/// indented lines kept as they are, `#` for none.
fn help_text(description: Option<&str>) -> String {
    let Some(d) = description.filter(|d| !d.is_empty()) else {
        return "#".into();
    };
    let mut lines: Vec<String> = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, lines: &mut Vec<String>| {
        lines.extend(wrap(&paragraph.join(" "), 70, "# "));
        paragraph.clear();
    };
    for line in d.trim().lines() {
        if line.trim().is_empty() {
            flush(&mut paragraph, &mut lines);
            lines.push("#".into());
        } else if line.len() == line.trim_start().len() {
            paragraph.push(line.trim_end());
        } else {
            if !paragraph.is_empty() {
                flush(&mut paragraph, &mut lines);
                lines.push("#".into());
            }
            lines.push(format!("# {}", line.trim_end()));
        }
    }
    if !paragraph.is_empty() {
        flush(&mut paragraph, &mut lines);
    }
    lines.join("\n")
}

/// One rule as the sample generator writes it (oslo's `_format_rule_default_yaml`).
fn format_rule(
    default: &RuleDefault,
    include_help: bool,
    comment_rule: bool,
    add_deprecated: bool,
) -> String {
    let mut text = format!("\"{}\": \"{}\"\n", default.name(), default.check_str());
    if include_help {
        let mut op = String::new();
        for o in default.operations() {
            if !o.method.is_empty() && !o.path.is_empty() {
                op.push_str(&format!("# {}  {}\n", o.method, o.path));
            }
        }
        let scope = if default.get_scope_types().is_empty() {
            String::new()
        } else {
            format!(
                "# Intended scope(s): {}\n",
                default.get_scope_types().join(", ")
            )
        };
        let comment = if comment_rule { "#" } else { "" };
        text = format!("{op}{scope}{comment}{text}\n");
        if default.get_description().is_some_and(|d| !d.is_empty()) {
            text = format!("{}\n{text}", help_text(default.get_description()));
        }
    }
    if add_deprecated && default.is_deprecated_for_removal() {
        text = format!(
            "# DEPRECATED\n# \"{}\" has been deprecated since {}.\n{}\n{text}",
            default.name(),
            default.deprecated_since().unwrap_or("None"),
            help_text(default.deprecated_reason())
        );
    } else if add_deprecated && let Some(old) = default.get_deprecated_rule() {
        let reason = old.reason().or(default.deprecated_reason());
        let since = old.since().or(default.deprecated_since()).unwrap_or("None");
        let deprecated = format!(
            "\"{}\":\"{}\" has been deprecated since {since} in favor of \"{}\":\"{}\".",
            old.name(),
            old.check_str(),
            default.name(),
            default.check_str()
        );
        text = format!(
            "{text}# DEPRECATED\n{}\n{}\n",
            help_text(Some(&deprecated)),
            help_text(reason)
        );
        if default.name() != old.name() {
            text.push_str(
                "# WARNING: A rule name change has been identified.\n\
                 #          This may be an artifact of new rules being\n\
                 #          included which require legacy fallback\n\
                 #          rules to ensure proper policy behavior.\n\
                 #          Alternatively, this may just be an alias.\n\
                 #          Please evaluate on a case by case basis\n\
                 #          keeping in mind the format for aliased\n\
                 #          rules is:\n\
                 #          \"old_rule_name\": \"new_rule_name\".\n",
            );
            text.push_str(&format!(
                "# \"{}\": \"rule:{}\"\n",
                old.name(),
                default.name()
            ));
        }
        text.push('\n');
    }
    text
}

/// A sample policy file: every rule of every namespace (sorted by namespace), commented out, with its
/// description, operations, scopes and deprecations (oslo's `_generate_sample`).
pub fn format_sample(
    policies: &BTreeMap<String, Vec<RuleDefault>>,
    exclude_deprecated: bool,
) -> String {
    let mut out = String::new();
    for rules in policies.values() {
        for r in rules {
            out.push_str(&format_rule(r, true, true, !exclude_deprecated));
        }
    }
    out
}

/// A file rule's text as Python's `RuleDefault(name, check_str)` prints it.
fn raw_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => python::repr_of(other),
    }
}

/// The effective policy of an enforcer: the file's rules (as written) then the registered rules the file
/// does not override, one `"name": "check"` line each (oslo's `_generate_policy`).
pub fn format_policy(enforcer: &Enforcer) -> Result<String, crate::Error> {
    enforcer.load_rules(false)?;
    let file_rules = enforcer.file_rules();
    let mut out = String::new();
    for (name, rule) in &file_rules {
        out.push_str(&format!("\"{name}\": \"{}\"\n", raw_text(&rule.raw)));
    }
    for r in enforcer.registered_rules() {
        if !file_rules.contains_key(r.name()) {
            out.push_str(&format!("\"{}\": \"{}\"\n", r.name(), r.check_str()));
        }
    }
    Ok(out)
}

/// The file rules that equal their registered default (same printed check), as `"name": "check"` lines
/// of the default (oslo's `_list_redundant`).
pub fn redundant_rules(enforcer: &Enforcer) -> Result<String, crate::Error> {
    enforcer.load_rules(false)?;
    let registered = enforcer.registered_rules();
    let mut out = String::new();
    for (name, rule) in enforcer.file_rules() {
        if let Some(reg) = registered.iter().find(|r| r.name() == name)
            && reg.check().to_string() == rule.check.to_string()
        {
            out.push_str(&format!("{reg}\n"));
        }
    }
    Ok(out)
}

/// Validates an enforcer's policy file (oslo's `_validate_policy`): returns what to print and the exit
/// code (0 valid, 1 problems).
pub fn validate(
    enforcer: &Enforcer,
    policy_file: &std::path::Path,
) -> Result<(String, i32), crate::Error> {
    enforcer.load_rules(false)?;
    if enforcer.policy_path().is_none() {
        return Ok((
            format!(
                "Configured policy file \"{}\" not found\n",
                policy_file.display()
            ),
            1,
        ));
    }
    let mut out = String::new();
    let mut code = 0;
    if !enforcer.check_rules(false)? {
        out.push_str("Invalid rules found\n");
        code = 1;
    }
    let registered = enforcer.registered_rules();
    let rules = enforcer.rules();
    for (name, rule) in enforcer.file_rules() {
        if !registered.iter().any(|r| r.name() == name) {
            out.push_str(&format!("Unknown rule found in policy file: {name}\n"));
            code = 1;
        }
        let effective = rules.get(&name).map(ToString::to_string);
        if effective.as_deref() == Some("!") && rule.raw != Value::String("!".into()) {
            out.push_str(&format!(
                "Failed to parse rule: {}\n",
                python::str_of(&rule.raw)
            ));
            code = 1;
        }
    }
    Ok((out, code))
}

/// Renames the rules of `rules` that a registered rule deprecated to the new name (oslo's
/// `_upgrade_policies`).
pub fn upgrade_rules(rules: &mut RawRules, policies: &BTreeMap<String, Vec<RuleDefault>>) {
    let old_names: Vec<String> = rules.keys().cloned().collect();
    for defaults in policies.values() {
        for d in defaults {
            if let Some(old) = d.get_deprecated_rule()
                && old_names.iter().any(|n| n == old.name())
                && let Some(v) = rules.shift_remove(old.name())
            {
                rules.insert(d.name().into(), v);
            }
        }
    }
}

/// Converts a JSON policy file to the YAML sample form (oslo's `_convert_policy_json_to_yaml`): rules
/// equal to their default are commented out, overridden ones kept, unknown ones appended after a warning.
pub fn convert_json_to_yaml(
    file: &RawRules,
    policies: &BTreeMap<String, Vec<RuleDefault>>,
) -> String {
    let mut file = file.clone();
    let mut out = String::new();
    for defaults in policies.values() {
        for d in defaults {
            let Some(check) = file.shift_remove(d.name()) else {
                continue;
            };
            let check_str = raw_text(&check);
            let mut rule = RuleDefault::new(d.name(), check_str.clone())
                .description(
                    d.get_description()
                        .filter(|s| !s.is_empty())
                        .unwrap_or(d.name()),
                )
                .scope_types(d.get_scope_types().iter().cloned());
            for o in d.operations() {
                rule = rule.operation(o.method.clone(), o.path.clone());
            }
            let same = rule.check().to_string() == d.check().to_string();
            out.push_str(&format_rule(&rule, true, same, false));
        }
    }
    if !file.is_empty() {
        out.push_str(
            "# WARNING: Below rules are either deprecated rules\n\
             # or extra rules in policy file, it is strongly\n\
             # recommended to switch to new rules.\n",
        );
    }
    for (name, check) in &file {
        out.push_str(&format!("\"{name}\": \"{}\"\n", raw_text(check)));
    }
    out
}

fn policies_of(namespaces: &[String]) -> BTreeMap<String, Vec<RuleDefault>> {
    namespaces
        .iter()
        .filter_map(|n| namespace_rules(n).map(|r| (n.clone(), r)))
        .collect()
}

const NO_NAMESPACE: &str = "value required for option namespace in group [DEFAULT]";

#[derive(Debug, Parser)]
#[command(name = "oslopolicy-sample-generator")]
struct SampleArgs {
    /// Path to a config directory to pull `*.conf` files from.
    #[arg(long = "config-dir", value_name = "DIR")]
    config_dir: Vec<PathBuf>,
    /// Path to a config file to use.
    #[arg(long = "config-file", value_name = "PATH")]
    config_file: Vec<PathBuf>,
    /// If True, exclude deprecated entries from the generated output.
    #[arg(long = "exclude-deprecated", overrides_with = "noexclude_deprecated")]
    exclude_deprecated: bool,
    /// The inverse of --exclude-deprecated
    #[arg(long = "noexclude-deprecated")]
    noexclude_deprecated: bool,
    /// Option namespace(s) under "oslo.policy.policies" in which to query for options.
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Vec<String>,
    /// Path of the file to write to. Defaults to stdout.
    #[arg(long = "output-file", value_name = "OUTPUT_FILE")]
    output_file: Option<PathBuf>,
}

/// `oslopolicy-sample-generator`.
pub fn sample_generator(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let a: SampleArgs = match parse_args(args, out, err) {
        Ok(a) => a,
        Err(c) => return c,
    };
    if a.namespace.is_empty() {
        return fail(err, NO_NAMESPACE);
    }
    let text = format_sample(
        &policies_of(&a.namespace),
        a.exclude_deprecated && !a.noexclude_deprecated,
    );
    emit(&text, a.output_file.as_deref(), out, err)
}

#[derive(Debug, Parser)]
#[command(name = "oslopolicy-policy-generator")]
struct EnforcerArgs {
    /// Path to a config directory to pull `*.conf` files from.
    #[arg(long = "config-dir", value_name = "DIR")]
    config_dir: Vec<PathBuf>,
    /// Path to a config file to use.
    #[arg(long = "config-file", value_name = "PATH")]
    config_file: Vec<PathBuf>,
    /// If True, exclude deprecated entries from the generated output.
    #[arg(long = "exclude-deprecated")]
    exclude_deprecated: bool,
    /// Option namespace under "oslo.policy.enforcer" in which to look for a policy.Enforcer.
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// Path of the file to write to. Defaults to stdout.
    #[arg(long = "output-file", value_name = "OUTPUT_FILE")]
    output_file: Option<PathBuf>,
}

fn enforcer_of(a: &EnforcerArgs, err: &mut dyn Write) -> Result<Enforcer, i32> {
    let Some(ns) = &a.namespace else {
        return Err(fail(err, NO_NAMESPACE));
    };
    namespace_enforcer(ns)
        .ok_or_else(|| fail(err, &format!("KeyError: 'Namespace \"{ns}\" not found.'")))
}

/// `oslopolicy-policy-generator`.
pub fn policy_generator(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let a: EnforcerArgs = match parse_args(args, out, err) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let e = match enforcer_of(&a, err) {
        Ok(e) => e,
        Err(c) => return c,
    };
    match format_policy(&e) {
        Ok(text) => emit(&text, a.output_file.as_deref(), out, err),
        Err(e) => fail(err, &e.to_string()),
    }
}

/// `oslopolicy-list-redundant`.
pub fn list_redundant(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let a: EnforcerArgs = match parse_args(
        std::iter::once(OsString::from("oslopolicy-list-redundant"))
            .chain(args.into_iter().skip(1)),
        out,
        err,
    ) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let e = match enforcer_of(&a, err) {
        Ok(e) => e,
        Err(c) => return c,
    };
    match redundant_rules(&e) {
        Ok(text) => emit(&text, None, out, err),
        Err(e) => fail(err, &e.to_string()),
    }
}

/// `oslopolicy-validator`: the enforcer's policy file is named by `policy_file` (Python reopens
/// `[oslo_policy] policy_file`).
pub fn validator(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let a: EnforcerArgs = match parse_args(args, out, err) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let e = match enforcer_of(&a, err) {
        Ok(e) => e,
        Err(c) => return c,
    };
    let file = e.policy_file();
    match validate(&e, &file) {
        Ok((text, code)) => {
            let _ = out.write_all(text.as_bytes());
            code
        }
        Err(e) => fail(err, &e.to_string()),
    }
}

#[derive(Debug, Parser)]
#[command(name = "oslopolicy-policy-upgrade")]
struct UpgradeArgs {
    /// Path to a config directory to pull `*.conf` files from.
    #[arg(long = "config-dir", value_name = "DIR")]
    config_dir: Vec<PathBuf>,
    /// Path to a config file to use.
    #[arg(long = "config-file", value_name = "PATH")]
    config_file: Vec<PathBuf>,
    /// If True, exclude deprecated entries from the generated output.
    #[arg(long = "exclude-deprecated")]
    exclude_deprecated: bool,
    /// Option namespace(s) under "oslo.policy.policies" in which to query for options.
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Vec<String>,
    /// Path of the file to write to. Defaults to stdout.
    #[arg(long = "output-file", value_name = "OUTPUT_FILE")]
    output_file: Option<PathBuf>,
    /// Path to the policy file which need to be updated.
    #[arg(long, value_name = "POLICY")]
    policy: Option<PathBuf>,
}

/// `oslopolicy-policy-upgrade`.
pub fn policy_upgrade(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let a: UpgradeArgs = match parse_args(args, out, err) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let Some(policy) = &a.policy else {
        return fail(err, "value required for option policy in group [DEFAULT]");
    };
    if a.namespace.is_empty() {
        return fail(err, NO_NAMESPACE);
    }
    let text = match std::fs::read_to_string(policy) {
        Ok(t) => t,
        Err(e) => return fail(err, &format!("cannot read `{}`: {e}", policy.display())),
    };
    let mut rules = match parse_file_contents(&text) {
        Ok(r) => r,
        Err(e) => return fail(err, &e),
    };
    upgrade_rules(&mut rules, &policies_of(&a.namespace));
    emit(
        &super::yaml::dump(&rules),
        a.output_file.as_deref(),
        out,
        err,
    )
}

#[derive(Debug, Parser)]
#[command(name = "oslopolicy-convert-json-to-yaml")]
struct ConvertArgs {
    /// Path to a config directory to pull `*.conf` files from.
    #[arg(long = "config-dir", value_name = "DIR")]
    config_dir: Vec<PathBuf>,
    /// Path to a config file to use.
    #[arg(long = "config-file", value_name = "PATH")]
    config_file: Vec<PathBuf>,
    /// If True, exclude deprecated entries from the generated output.
    #[arg(long = "exclude-deprecated")]
    exclude_deprecated: bool,
    /// Option namespace(s) under "oslo.policy.policies" in which to query for options.
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Vec<String>,
    /// Path of the file to write to. Defaults to stdout.
    #[arg(long = "output-file", value_name = "OUTPUT_FILE")]
    output_file: Option<PathBuf>,
    /// Path to the policy file which need to be converted to yaml format.
    #[arg(long = "policy-file", value_name = "POLICY_FILE")]
    policy_file: Option<PathBuf>,
}

/// `oslopolicy-convert-json-to-yaml` (deprecated in Python too).
pub fn convert(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let _ = writeln!(
        err,
        "WARNING:oslo_policy.generator:The oslopolicy-convert-json-to-yaml tool is deprecated"
    );
    let a: ConvertArgs = match parse_args(args, out, err) {
        Ok(a) => a,
        Err(c) => return c,
    };
    if a.namespace.is_empty() {
        return fail(err, NO_NAMESPACE);
    }
    let Some(file) = &a.policy_file else {
        return fail(
            err,
            "value required for option policy-file in group [DEFAULT]",
        );
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return fail(err, &format!("cannot read `{}`: {e}", file.display())),
    };
    // Python reads it as strict JSON; the YAML reader keeps the file's order.
    if let Err(e) = serde_json::from_str::<Value>(&text) {
        return fail(err, &e.to_string());
    }
    let rules = match parse_file_contents(&text) {
        Ok(r) => r,
        Err(e) => return fail(err, &e),
    };
    emit(
        &convert_json_to_yaml(&rules, &policies_of(&a.namespace)),
        a.output_file.as_deref(),
        out,
        err,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_text_paragraphs_and_literal_blocks() {
        assert_eq!(help_text(None), "#");
        assert_eq!(
            help_text(Some("One.\n\nTwo\n  literal")),
            "# One.\n#\n# Two\n#\n#   literal"
        );
    }
}
