//! What `oslo-config-generator` writes: the sample INI file in oslo's layout, and the machine-readable
//! option data (JSON/YAML) that `oslo-config-validator` reads.
//!
//! Crates register their options under a namespace name with [`inventory`]:
//!
//! ```
//! use oslo_config::generator::{OptList, list_opts};
//! use oslo_config::{Opt, OptGroup};
//!
//! fn my_opts() -> Vec<(Option<OptGroup>, Vec<Opt>)> {
//!     vec![(None, vec![Opt::integer("workers").default(4).help("Worker processes")])]
//! }
//! inventory::submit! { OptList { namespace: "doc.example", list: my_opts } }
//!
//! let found = list_opts(&["doc.example".to_owned()]).unwrap();
//! let text = oslo_config::generator::sample_ini(&found, &Default::default());
//! assert!(text.contains("# Worker processes (integer value)\n#workers = 4\n"));
//! ```

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde_json::{Value as Json, json};

use crate::error::Error;
use crate::opt::{Opt, OptGroup};
use crate::types::{OptType, Value};

/// Options by group (`None` for `DEFAULT`), as a namespace lists them.
pub type GroupedOpts = Vec<(Option<OptGroup>, Vec<Opt>)>;

/// The options a crate offers under a namespace name (oslo's `oslo.config.opts` entry point).
#[derive(Debug)]
pub struct OptList {
    /// The namespace name, e.g. `"nova.conf"`.
    pub namespace: &'static str,
    /// Lists the options, by group (`None` for `DEFAULT`).
    pub list: fn() -> GroupedOpts,
}

inventory::collect!(OptList);

/// The options of one namespace.
#[derive(Debug, Clone)]
pub struct NamespaceOpts {
    /// The namespace name.
    pub namespace: String,
    /// The options by group (`None` for `DEFAULT`).
    pub groups: GroupedOpts,
}

/// Every namespace registered, sorted: through [`inventory`], and with the `stevedore` feature the
/// names of stevedore's `oslo.config.opts` namespace too.
pub fn registered_namespaces() -> Vec<&'static str> {
    #[cfg(feature = "stevedore")]
    {
        crate::plugins::namespaces()
    }
    #[cfg(not(feature = "stevedore"))]
    {
        inventory_namespaces()
    }
}

/// Every namespace registered through [`inventory`], sorted.
pub(crate) fn inventory_namespaces() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = inventory::iter::<OptList>
        .into_iter()
        .map(|o| o.namespace)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The options of the named namespaces, in the order given; an unknown name is an error. With the
/// `stevedore` feature they are found through stevedore (see [`plugins`](crate::plugins)).
pub fn list_opts(namespaces: &[String]) -> Result<Vec<NamespaceOpts>, Error> {
    #[cfg(feature = "stevedore")]
    {
        crate::plugins::list_opts(namespaces)
    }
    #[cfg(not(feature = "stevedore"))]
    {
        inventory_opts(namespaces)
    }
}

/// The options of the named namespaces registered through [`inventory`].
pub(crate) fn inventory_opts(namespaces: &[String]) -> Result<Vec<NamespaceOpts>, Error> {
    namespaces
        .iter()
        .map(|ns| {
            let lists: Vec<&OptList> = inventory::iter::<OptList>
                .into_iter()
                .filter(|o| o.namespace == ns)
                .collect();
            if lists.is_empty() {
                return Err(Error::NoSuchNamespace { name: ns.clone() });
            }
            Ok(NamespaceOpts {
                namespace: ns.clone(),
                groups: lists.iter().flat_map(|l| (l.list)()).collect(),
            })
        })
        .collect()
}

/// How the sample is written (the generator's `--wrap-width`, `--minimal`, `--summarize`).
#[derive(Debug, Clone)]
pub struct GeneratorOptions {
    /// Wrap help text at this width; 0 means oslo's "no wrapping" (998 columns).
    pub wrap_width: usize,
    /// Only required options, uncommented.
    pub minimal: bool,
    /// Only the first paragraph of each help text.
    pub summarize: bool,
}

impl Default for GeneratorOptions {
    fn default() -> Self {
        GeneratorOptions {
            wrap_width: 70,
            minimal: false,
            summarize: false,
        }
    }
}

struct GroupInfo<'a> {
    object: Option<&'a OptGroup>,
    namespaces: Vec<(&'a str, Vec<&'a Opt>)>,
}

fn normalize_group(name: &str) -> String {
    if name.eq_ignore_ascii_case("DEFAULT") {
        "DEFAULT".to_owned()
    } else {
        name.to_lowercase()
    }
}

/// oslo's `_cleanup_opts` + `_get_groups`: group names lower-cased, one option per dest within a
/// namespace and group, then inverted into groups (DEFAULT first).
fn groups_of(namespaces: &[NamespaceOpts]) -> IndexMap<String, GroupInfo<'_>> {
    let mut groups: IndexMap<String, GroupInfo<'_>> = IndexMap::new();
    groups.insert(
        "DEFAULT".to_owned(),
        GroupInfo {
            object: None,
            namespaces: Vec::new(),
        },
    );
    for ns in namespaces {
        let mut clean: IndexMap<String, (Option<&OptGroup>, IndexMap<&str, &Opt>)> =
            IndexMap::new();
        for (group, opts) in &ns.groups {
            let name = group
                .as_ref()
                .map(|g| normalize_group(&g.name))
                .unwrap_or_else(|| "DEFAULT".to_owned());
            let entry = clean.entry(name).or_insert((None, IndexMap::new()));
            if group.is_some() {
                entry.0 = group.as_ref();
            }
            for o in opts {
                entry.1.insert(o.dest_name(), o);
            }
        }
        for (name, (object, opts)) in clean {
            if opts.is_empty() {
                continue;
            }
            let info = groups.entry(name).or_insert(GroupInfo {
                object: None,
                namespaces: Vec::new(),
            });
            if object.is_some() {
                info.object = object;
            }
            info.namespaces
                .push((ns.namespace.as_str(), opts.into_values().collect()));
        }
    }
    groups
}

/// Python's `str.splitlines`.
fn split_lines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        match rest.find(|c: char| {
            matches!(
                c,
                '\n' | '\r'
                    | '\u{b}'
                    | '\u{c}'
                    | '\u{1c}'
                    | '\u{1d}'
                    | '\u{1e}'
                    | '\u{85}'
                    | '\u{2028}'
                    | '\u{2029}'
            )
        }) {
            Some(i) => {
                out.push(&rest[..i]);
                let skip = if rest[i..].starts_with("\r\n") {
                    2
                } else {
                    rest[i..].chars().next().map(char::len_utf8).unwrap_or(1)
                };
                rest = &rest[i + skip..];
            }
            None => {
                out.push(rest);
                rest = "";
            }
        }
    }
    out
}

fn format_help(text: &str, o: &GeneratorOptions) -> String {
    let width = if o.wrap_width == 0 { 998 } else { o.wrap_width };
    let mut out = String::new();
    for line in split_lines(text) {
        let wrapped = crate::textwrap::wrap(line, width, "# ").join("\n");
        if wrapped.is_empty() {
            out.push('#');
        } else {
            out.push_str(&wrapped);
        }
        out.push('\n');
    }
    out
}

fn choice_text(c: &str) -> String {
    if c.is_empty() {
        "''".to_owned()
    } else {
        c.to_owned()
    }
}

fn bounds(ty: &OptType) -> (Option<String>, Option<String>) {
    match ty {
        OptType::Integer(t) => (t.min.map(|v| v.to_string()), t.max.map(|v| v.to_string())),
        OptType::Port(t) => (
            Some(t.min.unwrap_or(0).to_string()),
            Some(t.max.unwrap_or(65535).to_string()),
        ),
        OptType::Float(t) => (
            t.min.map(crate::resolve::py_float),
            t.max.map(crate::resolve::py_float),
        ),
        _ => (None, None),
    }
}

fn bounds_json(ty: &OptType) -> (Json, Json) {
    match ty {
        OptType::Integer(t) => (json!(t.min), json!(t.max)),
        OptType::Port(t) => (json!(t.min.unwrap_or(0)), json!(t.max.unwrap_or(65535))),
        OptType::Float(t) => (json!(t.min), json!(t.max)),
        _ => (Json::Null, Json::Null),
    }
}

fn choices(ty: &OptType) -> Vec<(String, Option<String>)> {
    match ty {
        OptType::String(t) => t.choices.clone(),
        OptType::Integer(t) | OptType::Port(t) => t
            .choices
            .iter()
            .map(|(v, d)| (v.to_string(), d.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

fn quote_spaces(s: &str) -> String {
    if s.trim() != s {
        format!("\"{s}\"")
    } else {
        s.to_owned()
    }
}

fn format_defaults(opt: &Opt) -> Vec<String> {
    if opt.multi {
        if let Some(s) = &opt.rare().sample_default {
            return vec![s.clone()];
        }
        return match &opt.core.default {
            Some(Value::List(items)) if !items.is_empty() => {
                items.iter().map(|v| quote_spaces(&v.to_string())).collect()
            }
            Some(Value::List(_)) | None => vec![String::new()],
            Some(v) => vec![quote_spaces(&v.to_string())],
        };
    }
    if let Some(s) = &opt.rare().sample_default {
        return vec![s.clone()];
    }
    match &opt.core.default {
        None => vec!["<None>".to_owned()],
        Some(v) => vec![opt.core.ty.format_sample(v)],
    }
}

fn format_opt(opt: &Opt, group: &str, o: &GeneratorOptions) -> String {
    if opt.help.is_empty() {
        tracing::warn!(target: "oslo_config", "\"{}\" is missing a help string", opt.dest_name());
    }
    let prefix = if opt.deprecated_for_removal && !opt.help.starts_with("DEPRECATED") {
        "DEPRECATED: "
    } else {
        ""
    };
    let help_text = if opt.help.is_empty() {
        format!("({})", opt.type_name())
    } else {
        let help = if o.summarize {
            let parts: Vec<&str> = opt.help.split("\n\n").collect();
            let mut h = parts
                .first()
                .copied()
                .unwrap_or("")
                .trim_end_matches(':')
                .trim_end_matches('.')
                .to_owned();
            if parts.len() > 1 {
                h.push_str(". For more information, refer to the documentation.");
            }
            h
        } else {
            opt.help.to_string()
        };
        format!("{prefix}{help} ({})", opt.type_name())
    };
    let mut out = format_help(&help_text, o);
    let (min, max) = bounds(&opt.core.ty);
    if let Some(m) = min {
        out.push_str(&format!("# Minimum value: {m}\n"));
    }
    if let Some(m) = max {
        out.push_str(&format!("# Maximum value: {m}\n"));
    }
    let ch = choices(&opt.core.ty);
    if !ch.is_empty() {
        out.push_str("# Possible values:\n");
        for (c, d) in ch {
            let d = d
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "<No description provided>".to_owned());
            out.push_str(&format_help(&format!("{} - {d}", choice_text(&c)), o));
        }
    }
    if opt.mutable {
        out.push_str("# Note: This option can be changed without restarting.\n");
    }
    for d in opt.all_deprecated() {
        if let Some(n) = &d.name
            && !n.contains('-')
        {
            out.push_str(&format!(
                "# Deprecated group/name - [{}]/{n}\n",
                d.group.as_deref().unwrap_or(group)
            ));
        }
    }
    if opt.deprecated_for_removal {
        match &opt.rare().deprecated_since {
            Some(s) => out.push_str(&format!(
                "# This option is deprecated for removal since {s}.\n"
            )),
            None => out.push_str("# This option is deprecated for removal.\n"),
        }
        out.push_str("# Its value may be silently ignored in the future.\n");
        if let Some(r) = &opt.rare().deprecated_reason {
            out.push_str(&format_help(&format!("Reason: {r}"), o));
        }
    }
    if opt.advanced {
        out.push_str(
            "# Advanced Option: intended for advanced users and not used\n\
             # by the majority of users, and might have a significant\n\
             # effect on stability and/or performance.\n",
        );
    }
    if opt
        .rare()
        .sample_default
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        out.push_str(
            "#\n\
             # This option has a sample default set, which means that\n\
             # its actual default value may vary from the one documented\n\
             # below.\n",
        );
    }
    for d in format_defaults(opt) {
        let d = if d.is_empty() {
            d
        } else {
            format!(" {}", d.replace('\n', "\n#    "))
        };
        if o.minimal {
            out.push_str(&format!("{} ={d}\n", opt.dest_name()));
        } else {
            out.push_str(&format!("#{} ={d}\n", opt.dest_name()));
        }
    }
    out
}

fn output_group(out: &mut String, name: &str, info: &GroupInfo<'_>, o: &GeneratorOptions) {
    out.push_str(&format!("[{name}]\n"));
    if let Some(h) = info
        .object
        .and_then(|g| g.help.as_deref())
        .filter(|h| !h.is_empty())
    {
        out.push_str(&format_help(h, o));
    }
    let mut nss: Vec<&(&str, Vec<&Opt>)> = info.namespaces.iter().collect();
    nss.sort_by(|a, b| a.0.cmp(b.0));
    for (ns, opts) in nss {
        out.push_str(&format!("\n#\n# From {ns}\n#\n"));
        let mut opts = opts.clone();
        opts.sort_by_key(|o| o.advanced);
        for opt in opts {
            if o.minimal && !opt.is_required() {
                continue;
            }
            out.push('\n');
            out.push_str(&format_opt(opt, name, o));
        }
    }
}

/// The sample config file, in oslo-config-generator's INI layout.
pub fn sample_ini(namespaces: &[NamespaceOpts], o: &GeneratorOptions) -> String {
    let mut groups = groups_of(namespaces);
    let mut out = String::new();
    if let Some(default) = groups.shift_remove("DEFAULT") {
        output_group(&mut out, "DEFAULT", &default, o);
    }
    let sorted: BTreeMap<&String, &GroupInfo<'_>> = groups.iter().collect();
    for (name, info) in sorted {
        out.push_str("\n\n");
        output_group(&mut out, name, info, o);
    }
    out
}

fn value_json(v: &Option<Value>) -> Json {
    v.as_ref().map(Value::to_json).unwrap_or(Json::Null)
}

fn entry(opt: &Opt, group: &str, namespace: &str) -> Json {
    let deprecated: Vec<Json> = opt
        .all_deprecated()
        .into_iter()
        .filter(|d| d.name.as_deref().is_none_or(|n| !n.contains('-')))
        .map(|d| {
            json!({
                "group": d.group.unwrap_or_else(|| group.to_owned()),
                "name": d.name.unwrap_or_else(|| opt.name.to_string()),
            })
        })
        .collect();
    let (min, max) = bounds_json(&opt.core.ty);
    let choices: Vec<Json> = choices(&opt.core.ty)
        .into_iter()
        .map(|(c, d)| json!([c, d]))
        .collect();
    json!({
        "name": opt.name,
        "type": opt.type_name(),
        "dest": opt.dest_name(),
        "short": opt.short.map(|c| c.to_string()),
        "default": value_json(&opt.core.default),
        "sample_default": opt.rare().sample_default,
        "positional": opt.positional,
        "metavar": opt.rare().metavar,
        "help": if opt.help.is_empty() { Json::Null } else { json!(opt.help) },
        "secret": opt.secret,
        "required": opt.is_required(),
        "deprecated_for_removal": opt.deprecated_for_removal,
        "deprecated_reason": opt.rare().deprecated_reason,
        "deprecated_since": opt.rare().deprecated_since,
        "deprecated_opts": deprecated,
        "mutable": opt.mutable,
        "advanced": opt.advanced,
        "namespace": namespace,
        "choices": choices,
        "min": min,
        "max": max,
    })
}

/// The machine-readable option data (`--format json|yaml`): `options`, `deprecated_options` and
/// `generator_options`, as oslo writes them.
pub fn machine_readable(namespaces: &[NamespaceOpts], generator_options: Json) -> Json {
    let groups = groups_of(namespaces);
    let mut options = serde_json::Map::new();
    let mut deprecated: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for (name, info) in &groups {
        let mut opts = Vec::new();
        for (ns, list) in &info.namespaces {
            for opt in list {
                let e = entry(opt, name, ns);
                for d in e["deprecated_opts"].as_array().into_iter().flatten() {
                    let g = d["group"].as_str().unwrap_or("DEFAULT").to_owned();
                    deprecated.entry(g).or_default().push(json!({
                        "name": d["name"],
                        "replacement_name": opt.name,
                        "replacement_group": name,
                    }));
                }
                opts.push(e);
            }
        }
        let standard: Vec<Json> = opts.iter().map(|o| o["name"].clone()).collect();
        options.insert(
            name.clone(),
            json!({
                "help": info.object.and_then(|g| g.help.clone()).unwrap_or_default(),
                "opts": opts,
                "standard_opts": standard,
                "dynamic_group_owner": "",
                "driver_option": "",
                "driver_opts": {},
            }),
        );
    }
    json!({
        "options": options,
        "deprecated_options": deprecated,
        "generator_options": generator_options,
    })
}

/// Runs `oslo-config-generator` with these arguments (without the program name): writes the sample or
/// the data to `--output-file` or standard output. Returns the exit code.
pub fn main_with_args(args: Vec<String>) -> i32 {
    let opts = [
        Opt::string("namespace")
            .multi()
            .help("Option namespace under \"oslo.config.opts\" in which to query for options."),
        Opt::string("output-file").help("Path of the file to write to. Defaults to stdout."),
        Opt::integer("wrap-width")
            .default(70)
            .min(0)
            .help("The maximum length of help lines."),
        Opt::boolean("minimal")
            .default(false)
            .help("Generate a minimal required configuration."),
        Opt::boolean("summarize")
            .default(false)
            .help("Only output summaries of help text to config files. Retain longer help text for Sphinx documents."),
        Opt::string("format")
            .dest("format_")
            .default("ini")
            .choices(["ini", "json", "yaml"])
            .help("Desired format for the output."),
    ];
    let conf = match crate::cli::tool_conf("oslo-config-generator", opts, args) {
        Ok(conf) => conf,
        Err(code) => return code,
    };
    let run = || -> Result<(), Error> {
        let namespaces = conf.get_str_list("namespace", None)?.unwrap_or_default();
        if namespaces.is_empty() {
            return Err(Error::RequiredOpt {
                name: "namespace".to_owned(),
                group: "DEFAULT".to_owned(),
            });
        }
        let found = list_opts(&namespaces)?;
        let go = GeneratorOptions {
            wrap_width: usize::try_from(conf.get_int("wrap_width", None)?.unwrap_or(70))
                .unwrap_or(70),
            minimal: conf.get_bool("minimal", None)?.unwrap_or(false),
            summarize: conf.get_bool("summarize", None)?.unwrap_or(false),
        };
        let format = conf
            .get_str("format_", None)?
            .unwrap_or_else(|| "ini".to_owned());
        let text = match format.as_str() {
            "ini" => sample_ini(&found, &go),
            other => {
                let gen_opts = json!({
                    "namespace": namespaces,
                    "output_file": conf.get_str("output_file", None)?,
                    "wrap_width": go.wrap_width,
                    "minimal": go.minimal,
                    "summarize": go.summarize,
                    "format_": other,
                    "config_file": conf.config_files().iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                    "config_dir": conf.config_dirs().iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                    "config_source": [],
                    "shell_completion": null,
                });
                let data = machine_readable(&found, gen_opts);
                if other == "yaml" {
                    serde_norway::to_string(&data).map_err(|e| Error::Output {
                        reason: e.to_string(),
                    })?
                } else {
                    let mut s =
                        serde_json::to_string(&sorted(&data)).map_err(|e| Error::Output {
                            reason: e.to_string(),
                        })?;
                    s.push('\n');
                    s
                }
            }
        };
        match conf.get_str("output_file", None)? {
            Some(path) => std::fs::write(&path, text).map_err(|e| Error::Output {
                reason: format!("{path}: {e}"),
            })?,
            None => print!("{text}"),
        }
        Ok(())
    };
    match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("oslo-config-generator: {e}");
            1
        }
    }
}

/// The JSON with every object's keys sorted (Python's `sort_keys=True`).
fn sorted(v: &Json) -> Json {
    match v {
        Json::Object(m) => {
            let b: BTreeMap<&String, Json> = m.iter().map(|(k, v)| (k, sorted(v))).collect();
            Json::Object(b.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Json::Array(a) => Json::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}
