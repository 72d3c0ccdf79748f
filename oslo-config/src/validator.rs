//! What `oslo-config-validator` checks: every option of a config file must be part of the option data
//! (from registered namespaces, or the YAML that Python's `oslo-config-generator --format yaml` writes);
//! deprecated names are warnings; `--check-defaults` compares values with the sample defaults.
//!
//! ```
//! use oslo_config::validator::{ValidatorOptions, validate};
//!
//! let data: serde_json::Value = serde_json::json!({
//!     "options": {"DEFAULT": {"opts": [{"name": "debug", "dest": "debug", "default": false}]}},
//!     "deprecated_options": {"DEFAULT": [{"name": "verbose", "replacement_name": "debug",
//!                                         "replacement_group": "DEFAULT"}]},
//! });
//! let ini = oslo_config::IniDocument::parse("[DEFAULT]\ndebug = true\nverbose = 1\ntypo = 2\n").unwrap();
//! let report = validate(&data, &ini, &ValidatorOptions::default()).unwrap();
//! assert_eq!(report.exit_code(false), 1);
//! assert!(report.messages.iter().any(|m| m.text == "DEFAULT/typo is not part of the sample config"));
//! ```

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::error::Error;
use crate::ini::IniDocument;

/// oslo's default `--exclude-options`: options whose values are site-specific.
pub const DEFAULT_EXCLUDE_OPTIONS: &[&str] = &[
    ".*_ur(i|l)",
    ".*connection",
    "password",
    "username",
    "my_ip",
    "host(name)?",
    "glance_api_servers",
    "osapi_volume_listen",
    "osapi_compute_listen",
];

/// Groups whose sample data is known to be incomplete: unknown options there are only reported as info.
const KNOWN_BAD_GROUPS: &[&str] = &["keystone_authtoken"];

/// The validator's switches.
#[derive(Debug, Clone)]
pub struct ValidatorOptions {
    /// Compare values with the sample defaults (`--check-defaults`).
    pub check_defaults: bool,
    /// Option-name patterns left out of that comparison (`--exclude-options`, matched in full).
    pub exclude_options: Vec<String>,
    /// Groups not validated (`--exclude-group`).
    pub exclude_groups: Vec<String>,
}

impl Default for ValidatorOptions {
    fn default() -> Self {
        ValidatorOptions {
            check_defaults: false,
            exclude_options: DEFAULT_EXCLUDE_OPTIONS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            exclude_groups: Vec::new(),
        }
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Informational.
    Info,
    /// A warning (fatal with `--fatal-warnings`).
    Warning,
    /// An error.
    Error,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// How serious.
    pub severity: Severity,
    /// oslo's text.
    pub text: String,
}

/// What the validator found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every finding, in order.
    pub messages: Vec<Message>,
}

impl Report {
    fn push(&mut self, severity: Severity, text: String) {
        match severity {
            Severity::Info => tracing::info!(target: "oslo_config::validator", "{text}"),
            Severity::Warning => tracing::warn!(target: "oslo_config::validator", "{text}"),
            Severity::Error => tracing::error!(target: "oslo_config::validator", "{text}"),
        }
        self.messages.push(Message { severity, text });
    }

    /// oslo's exit code: 1 with any error, or any warning when warnings are fatal; else 0.
    pub fn exit_code(&self, fatal_warnings: bool) -> i32 {
        let errors = self.messages.iter().any(|m| m.severity == Severity::Error);
        let warnings = self
            .messages
            .iter()
            .any(|m| m.severity == Severity::Warning);
        i32::from(errors || (warnings && fatal_warnings))
    }
}

fn names_in(list: Option<&Json>) -> Vec<&str> {
    list.and_then(Json::as_array)
        .into_iter()
        .flatten()
        .flat_map(|o| [o.get("name"), o.get("dest")])
        .flatten()
        .filter_map(Json::as_str)
        .collect()
}

fn py_str(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Bool(true) => "True".to_owned(),
        Json::Bool(false) => "False".to_owned(),
        Json::Null => "None".to_owned(),
        Json::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => crate::resolve::py_float(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn py_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| crate::ini::py_repr(s)).collect();
    format!("[{}]", inner.join(", "))
}

fn truthy(v: &Json) -> bool {
    match v {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

/// Checks a parsed config file against option data (the generator's machine-readable form).
pub fn validate(
    opt_data: &Json,
    input: &IniDocument,
    o: &ValidatorOptions,
) -> Result<Report, Error> {
    let mut report = Report::default();
    // Raw section names, repeated sections merged, as oslo's parser without normalisation sees them.
    let mut sections: IndexMap<&str, IndexMap<&str, Vec<&str>>> = IndexMap::new();
    for s in input.sections() {
        let sec = sections.entry(s.name.as_str()).or_default();
        for e in &s.entries {
            sec.entry(e.key.as_str())
                .or_default()
                .push(e.value.as_str());
        }
    }
    let options = opt_data.get("options").and_then(Json::as_object);
    let deprecated = opt_data.get("deprecated_options").and_then(Json::as_object);

    if o.check_defaults {
        let mut patterns = Vec::new();
        for p in &o.exclude_options {
            let re = regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| Error::InvalidOpt {
                name: "exclude-options".to_owned(),
                reason: format!("`{p}`: {e}"),
            })?;
            patterns.push(re);
        }
        for (group, data) in options.into_iter().flatten() {
            if o.exclude_groups.iter().any(|g| g == group) {
                continue;
            }
            let Some(section) = sections.get(group.as_str()) else {
                report.push(
                    Severity::Warning,
                    format!("Group {group} from the sample config is not defined in input-file"),
                );
                continue;
            };
            for opt in data
                .get("opts")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let default = opt.get("default").unwrap_or(&Json::Null);
                let defaults: Vec<String> = match default {
                    Json::Array(a) => a.iter().map(py_str).collect(),
                    other => vec![py_str(other)],
                };
                let name = opt.get("name").and_then(Json::as_str);
                let dest = opt.get("dest").and_then(Json::as_str);
                let (key, values) = match (
                    name.and_then(|n| section.get_key_value(n)),
                    dest.and_then(|d| section.get_key_value(d)),
                ) {
                    (Some((k, v)), _) | (None, Some((k, v))) => (*k, v),
                    (None, None) => continue,
                };
                if patterns.iter().any(|re| re.is_match(key)) {
                    report.push(
                        Severity::Info,
                        format!(
                            "{group}/{key} Ignoring option because it is part of the excluded patterns. This can be changed with the --exclude-options argument"
                        ),
                    );
                    continue;
                }
                if values.len() > 1 {
                    report.push(
                        Severity::Info,
                        format!("{group}/{key} defined {} times", values.len()),
                    );
                }
                let values: Vec<String> = values.iter().map(|s| (*s).to_owned()).collect();
                if !truthy(default) {
                    report.push(
                        Severity::Warning,
                        format!(
                            "{group}/{key} sample value is empty but input-file has {}",
                            values.join(", ")
                        ),
                    );
                } else if !defaults.iter().any(|d| values.contains(d)) {
                    report.push(
                        Severity::Warning,
                        format!(
                            "{group}/{key} sample value {} is not in {}",
                            py_list(&defaults),
                            py_list(&values)
                        ),
                    );
                }
            }
        }
    }

    for (section, keys) in &sections {
        if o.exclude_groups.iter().any(|g| g == section) {
            continue;
        }
        for key in keys.keys() {
            let is_deprecated = deprecated
                .and_then(|d| d.get(*section))
                .is_some_and(|list| names_in(Some(list)).contains(key));
            if is_deprecated {
                report.push(
                    Severity::Warning,
                    format!("Deprecated opt {section}/{key} found"),
                );
                continue;
            }
            let known = options
                .and_then(|m| m.get(*section))
                .is_some_and(|g| names_in(g.get("opts")).contains(key));
            if !known {
                if KNOWN_BAD_GROUPS.contains(section) {
                    report.push(
                        Severity::Info,
                        format!(
                            "Ignoring missing option \"{key}\" from group \"{section}\" because the group is known to have incomplete sample config data and thus cannot be validated properly."
                        ),
                    );
                    continue;
                }
                report.push(
                    Severity::Error,
                    format!("{section}/{key} is not part of the sample config"),
                );
            }
        }
    }
    Ok(report)
}

/// Reads option data from a YAML (or JSON) file written by `oslo-config-generator --format yaml|json`.
pub fn load_opt_data(path: &std::path::Path) -> Result<Json, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::ConfigFileRead {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    serde_norway::from_str::<Json>(&text).map_err(|e| Error::ConfigFileRead {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Runs `oslo-config-validator` with these arguments (without the program name). Returns the exit code.
pub fn main_with_args(args: Vec<String>) -> i32 {
    use crate::Opt;
    let opts = [
        Opt::string("namespace")
            .multi()
            .help("Option namespace under \"oslo.config.opts\" in which to query for options."),
        Opt::string("input-file").required(true).help("Config file to validate."),
        Opt::string("opt-data")
            .help("Path to a YAML file containing definitions of options, as output by the config generator."),
        Opt::boolean("check-defaults")
            .default(false)
            .help("Report differences between the sample values and current values."),
        Opt::list("exclude-options")
            .default(DEFAULT_EXCLUDE_OPTIONS.to_vec())
            .help("Exclude options matching these patterns when comparing the current and sample configurations."),
        Opt::boolean("fatal-warnings")
            .default(false)
            .help("Report failure if any warnings are found."),
        Opt::string("exclude-group").multi().help(
            "Groups that should not be validated if they are present in the specified input-file. This may be \
             necessary for dynamically named groups which do not appear in the sample config data.",
        ),
    ];
    let conf = match crate::cli::tool_conf("oslo-config-validator", opts, args) {
        Ok(conf) => conf,
        Err(code) => return code,
    };
    let run = || -> Result<i32, Error> {
        let namespaces = conf.get_str_list("namespace", None)?.unwrap_or_default();
        let data = if !namespaces.is_empty() {
            let found = crate::generator::list_opts(&namespaces)?;
            crate::generator::machine_readable(&found, Json::Object(serde_json::Map::new()))
        } else if let Some(path) = conf.get_str("opt_data", None)? {
            load_opt_data(std::path::Path::new(&path))?
        } else {
            return Err(Error::InvalidOpt {
                name: "namespace".to_owned(),
                reason: "Neither namespace nor opt-data provided.".to_owned(),
            });
        };
        let input = conf.get_str("input_file", None)?.unwrap_or_default();
        let text = std::fs::read_to_string(&input).map_err(|e| Error::ConfigFileRead {
            path: input.clone().into(),
            reason: e.to_string(),
        })?;
        let doc = IniDocument::parse_owned(text).map_err(|e| Error::ConfigFileParse {
            path: input.clone().into(),
            line: e.line,
            message: e.message.to_owned(),
            text: crate::ini::py_repr(&e.text),
        })?;
        let o = ValidatorOptions {
            check_defaults: conf.get_bool("check_defaults", None)?.unwrap_or(false),
            exclude_options: conf
                .get_str_list("exclude_options", None)?
                .unwrap_or_default(),
            exclude_groups: conf
                .get_str_list("exclude_group", None)?
                .unwrap_or_default(),
        };
        let report = validate(&data, &doc, &o)?;
        for m in &report.messages {
            let level = match m.severity {
                Severity::Info => "INFO",
                Severity::Warning => "WARNING",
                Severity::Error => "ERROR",
            };
            eprintln!("{level}:oslo_config.validator:{}", m.text);
        }
        Ok(report.exit_code(conf.get_bool("fatal_warnings", None)?.unwrap_or(false)))
    };
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("oslo-config-validator: {e}");
            1
        }
    }
}
