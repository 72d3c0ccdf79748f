//! Differential tests of oslo-config against Python oslo.config.
//!
//! Each case is one JSON description: option definitions, config files (written to a temporary directory,
//! `{dir}` in arguments and values stands for it), argv, environment, overrides and the options to read.
//! The same description drives a small Python program around oslo.config and our crate; the resolved
//! values (or the error class), and where each value came from, must be the same.
#![cfg(feature = "config")]

use std::collections::HashMap;
use std::path::Path;

use oslo_config::types::{IntegerType, OptType, StringType};
use oslo_config::{ConfigOpts, EnvSource, ErrorKind, Opt, ParseArgs};
use oslo_tests::run_python_json;
use serde_json::{Value as Json, json};

/// Python: builds oslo.config options from our JSON descriptions.
const PY_MAKE: &str = r#"
import io, json, os, sys
from oslo_config import cfg, types

def item_type(name):
    return {"int": types.Integer(), "str": types.String(), "bool": types.Boolean(),
            "float": types.Float(), "quoted": types.String(quotes=True)}[name]

def make(o):
    kw = {}
    for k in ("default", "help", "dest", "short", "positional", "required", "deprecated_name",
              "deprecated_group", "mutable", "secret", "metavar", "deprecated_for_removal",
              "deprecated_reason", "deprecated_since", "sample_default", "advanced"):
        if k in o:
            kw[k] = o[k]
    if "deprecated_opts" in o:
        kw["deprecated_opts"] = [cfg.DeprecatedOpt(n, group=g) for n, g in o["deprecated_opts"]]
    t = o["type"]
    name = o["name"]
    if t == "str":
        for k in ("choices", "regex", "ignore_case", "max_length", "quotes"):
            if k in o:
                kw[k] = o[k]
        if "choices_described" in o:
            kw["choices"] = [tuple(c) for c in o["choices_described"]]
        return cfg.StrOpt(name, **kw)
    if t in ("int", "port"):
        for k in ("min", "max", "choices"):
            if k in o:
                kw[k] = o[k]
        return (cfg.IntOpt if t == "int" else cfg.PortOpt)(name, **kw)
    if t == "float":
        for k in ("min", "max"):
            if k in o:
                kw[k] = o[k]
        return cfg.FloatOpt(name, **kw)
    if t == "bool":
        return cfg.BoolOpt(name, **kw)
    if t == "list":
        if "item" in o:
            kw["item_type"] = item_type(o["item"])
        if "bounds" in o:
            kw["bounds"] = o["bounds"]
        return cfg.ListOpt(name, **kw)
    if t == "dict":
        return cfg.DictOpt(name, **kw)
    if t == "multistr":
        return cfg.MultiStrOpt(name, **kw)
    if t == "multiint":
        return cfg.MultiOpt(name, item_type=types.Integer(), **kw)
    raise RuntimeError("unknown type " + t)
"#;

/// Python: runs one resolution case and reports values, error classes and locations.
const PY_RUN: &str = r#"
def run(case):
    for k in list(os.environ):
        if k.startswith("OS_"):
            del os.environ[k]
    os.environ.update(case.get("env", {}))
    conf = cfg.ConfigOpts()
    err = sys.stderr
    sys.stderr = io.StringIO()
    try:
        for o in case["opts"]:
            reg = conf.register_cli_opt if o.get("cli") else conf.register_opt
            reg(make(o), group=o.get("group"))
        conf(args=case["args"], project=None, prog="prog",
             default_config_files=case.get("default_files", []),
             default_config_dirs=case.get("default_dirs", []))
        for g, n, v in case.get("overrides", []):
            conf.set_override(n, v, group=g)
        for g, n, v in case.get("defaults", []):
            conf.set_default(n, v, group=g)
    except SystemExit as e:
        return {"error": "SystemExit:%s" % e.code}
    except Exception as e:
        return {"error": type(e).__name__}
    finally:
        sys.stderr = err
    out = {}
    for g, n in case["get"]:
        key = "%s.%s" % (g or "DEFAULT", n)
        try:
            v = conf._get(n, group=g)
            loc = conf.get_location(n, group=g)
            out[key] = {"value": v, "location": loc.location.value[0] if loc else None}
        except Exception as e:
            out[key] = {"error": type(e).__name__}
    result = {"values": out}
    if "late_cli" in case:
        try:
            conf.register_cli_opt(make(case["late_cli"]))
            result["late_cli"] = "ok"
        except Exception as e:
            result["late_cli"] = type(e).__name__
    if "files_after" in case:
        for path, text in case["files_after"].items():
            with open(path, "w") as f:
                f.write(text)
        fresh = conf.mutate_config_files()
        result["mutate"] = sorted([[g or "DEFAULT", n, old, new] for (g, n), (old, new) in fresh.items()])
        after = {}
        for g, n in case["get"]:
            after["%s.%s" % (g or "DEFAULT", n)] = conf._get(n, group=g)
        result["after"] = after
    return result

cases = json.load(sys.stdin)
print(json.dumps([run(c) for c in cases]))
"#;

/// Python: the generator's output for the same options (its namespace lookup replaced by the case's).
const PY_GEN: &str = r#"
from oslo_config import generator

def gen(case):
    listing = []
    for g in case["groups"]:
        opts = [make(o) for o in g["opts"]]
        group = cfg.OptGroup(g["name"], help=g.get("help")) if g.get("name") else None
        listing.append((group, opts))
    generator._list_opts = lambda namespaces: generator._cleanup_opts([(case["namespace"], listing)])
    conf = cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(["--namespace", case["namespace"]] + case.get("args", []))
    out = io.StringIO()
    generator.generate(conf, out)
    text = out.getvalue()
    return json.loads(text) if case.get("json") else text

cases = json.load(sys.stdin)
print(json.dumps([gen(c) for c in cases]))
"#;

fn opt_type(spec: &Json) -> OptType {
    let t = spec["type"].as_str().unwrap_or("str");
    let item = |name: &str| match name {
        "int" => OptType::integer(),
        "bool" => OptType::boolean(),
        "float" => OptType::float(),
        "quoted" => OptType::String(StringType::new().quotes(true)),
        _ => OptType::string(),
    };
    match t {
        "str" => {
            let mut st = StringType::new();
            if let Some(c) = spec["choices"].as_array() {
                st = st.choices(c.iter().filter_map(|x| x.as_str()).map(str::to_owned));
            }
            if let Some(c) = spec["choices_described"].as_array() {
                st = st.choices_with_descriptions(c.iter().map(|x| {
                    (
                        x[0].as_str().unwrap_or("").to_owned(),
                        x[1].as_str().map(str::to_owned),
                    )
                }));
            }
            if let Some(b) = spec["ignore_case"].as_bool() {
                st = st.ignore_case(b);
            }
            if let Some(b) = spec["quotes"].as_bool() {
                st = st.quotes(b);
            }
            if let Some(m) = spec["max_length"].as_u64() {
                st = st.max_length(m as usize);
            }
            OptType::String(st)
        }
        "int" | "port" | "multiint" => {
            let mut it = IntegerType::new();
            if let Some(m) = spec["min"].as_i64() {
                it = it.min(m);
            }
            if let Some(m) = spec["max"].as_i64() {
                it = it.max(m);
            }
            if let Some(c) = spec["choices"].as_array() {
                it = it.choices(c.iter().filter_map(Json::as_i64));
            }
            if t == "port" {
                OptType::Port(it)
            } else {
                OptType::Integer(it)
            }
        }
        "float" => OptType::float(),
        "bool" => OptType::boolean(),
        "list" => {
            let mut lt =
                oslo_config::types::ListType::new(item(spec["item"].as_str().unwrap_or("str")));
            if let Some(b) = spec["bounds"].as_bool() {
                lt = lt.bounds(b);
            }
            OptType::List(lt)
        }
        "dict" => OptType::dict(OptType::string()),
        "multistr" => OptType::string(),
        other => panic!("unknown type {other}"),
    }
}

fn json_to_default(v: &Json) -> oslo_config::Value {
    use oslo_config::Value;
    match v {
        Json::String(s) => Value::String(s.clone()),
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64().unwrap_or_default()),
        },
        Json::Array(a) => Value::List(a.iter().map(json_to_default).collect()),
        Json::Object(m) => Value::Dict(
            m.iter()
                .map(|(k, v)| (k.clone(), json_to_default(v)))
                .collect(),
        ),
        Json::Null => Value::String(String::new()),
    }
}

fn make_opt(spec: &Json) -> Opt {
    let mut o = Opt::new(spec["name"].as_str().unwrap().to_owned(), opt_type(spec));
    if matches!(spec["type"].as_str(), Some("multistr" | "multiint")) {
        o = o.multi();
    }
    if !spec["default"].is_null() {
        o = o.default(json_to_default(&spec["default"]));
    }
    if let Some(d) = spec["dest"].as_str() {
        o = o.dest(d);
    }
    if let Some(s) = spec["short"].as_str() {
        o = o.short(s.chars().next().unwrap());
    }
    if spec["positional"].as_bool() == Some(true) {
        o = o.positional();
    }
    if let Some(r) = spec["required"].as_bool() {
        o = o.required(r);
    }
    if let Some(n) = spec["deprecated_name"].as_str() {
        o = o.deprecated_name(n);
    }
    if let Some(g) = spec["deprecated_group"].as_str() {
        o = o.deprecated_group(g);
    }
    if let Some(list) = spec["deprecated_opts"].as_array() {
        for d in list {
            o = o.deprecated_opt(d[0].as_str(), d[1].as_str());
        }
    }
    if spec["mutable"].as_bool() == Some(true) {
        o = o.mutable();
    }
    if spec["secret"].as_bool() == Some(true) {
        o = o.secret();
    }
    if spec["deprecated_for_removal"].as_bool() == Some(true) {
        o = o.deprecated_for_removal(spec["deprecated_reason"].as_str());
    }
    if let Some(s) = spec["deprecated_since"].as_str() {
        o = o.deprecated_since(s);
    }
    if let Some(s) = spec["sample_default"].as_str() {
        o = o.sample_default(s);
    }
    if let Some(h) = spec["help"].as_str() {
        o = o.help(h.to_owned());
    }
    if spec["advanced"].as_bool() == Some(true) {
        o = o.advanced();
    }
    o
}

fn kind_name(e: &oslo_config::Error) -> String {
    match e.kind() {
        ErrorKind::NoSuchOpt => "NoSuchOptError".into(),
        ErrorKind::NoSuchGroup => "NoSuchGroupError".into(),
        ErrorKind::DuplicateOpt => "DuplicateOptError".into(),
        ErrorKind::RequiredOpt => "RequiredOptError".into(),
        ErrorKind::TemplateSubstitution => "TemplateSubstitutionError".into(),
        ErrorKind::ConfigFilesNotFound => "ConfigFilesNotFoundError".into(),
        ErrorKind::ConfigFilesPermissionDenied => "ConfigFilesPermissionDeniedError".into(),
        ErrorKind::ConfigDirNotFound => "ConfigDirNotFoundError".into(),
        ErrorKind::ConfigFileParse => "ConfigFileParseError".into(),
        ErrorKind::ConfigFileValue => "ConfigFileValueError".into(),
        ErrorKind::ConfigSourceValue => "ConfigSourceValueError".into(),
        ErrorKind::CommandLineValue => "SystemExit:1".into(),
        ErrorKind::CommandLine => format!("SystemExit:{}", e.exit_code()),
        ErrorKind::Value => "ValueError".into(),
        ErrorKind::DefaultValue => "DefaultValueError".into(),
        ErrorKind::ArgsAlreadyParsed => "ArgsAlreadyParsedError".into(),
        other => format!("{other:?}"),
    }
}

/// Our side of one case.
fn run_ours(case: &Json) -> Json {
    let mut conf = ConfigOpts::new();
    let env: HashMap<String, String> = case["env"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    conf.set_env(EnvSource::Map(env));
    let strs = |v: &Json| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let setup = (|| -> Result<(), oslo_config::Error> {
        for o in case["opts"].as_array().unwrap() {
            let group = o["group"].as_str();
            let opt = make_opt(o);
            if o["cli"].as_bool() == Some(true) {
                conf.register_cli_opt(opt, group)?;
            } else {
                conf.register_opt(opt, group)?;
            }
        }
        conf.parse(
            ParseArgs::new(strs(&case["args"]))
                .prog("prog")
                .default_config_files(strs(&case["default_files"]))
                .default_config_dirs(strs(&case["default_dirs"])),
        )?;
        for ov in case["overrides"].as_array().into_iter().flatten() {
            conf.set_override(
                ov[1].as_str().unwrap(),
                json_to_default(&ov[2]),
                ov[0].as_str(),
            )?;
        }
        for d in case["defaults"].as_array().into_iter().flatten() {
            conf.set_default(
                d[1].as_str().unwrap(),
                json_to_default(&d[2]),
                d[0].as_str(),
            )?;
        }
        Ok(())
    })();
    if let Err(e) = setup {
        return json!({ "error": kind_name(&e) });
    }
    let mut out = serde_json::Map::new();
    for g in case["get"].as_array().unwrap() {
        let group = g[0].as_str();
        let name = g[1].as_str().unwrap();
        let key = format!("{}.{name}", group.unwrap_or("DEFAULT"));
        let v = match conf.resolve(name, group) {
            Ok(r) => json!({
                "value": r.value.as_ref().map(oslo_config::Value::to_json).unwrap_or(Json::Null),
                "location": r.location.as_ref().map(|l| json!(l.oslo_code())).unwrap_or(Json::Null),
            }),
            Err(e) => json!({ "error": kind_name(&e) }),
        };
        out.insert(key, v);
    }
    let mut result = json!({ "values": out });
    if !case["late_cli"].is_null() {
        result["late_cli"] = match conf.register_cli_opt(make_opt(&case["late_cli"]), None) {
            Ok(_) => json!("ok"),
            Err(e) => json!(kind_name(&e)),
        };
    }
    if let Some(after) = case["files_after"].as_object() {
        for (path, text) in after {
            std::fs::write(path, text.as_str().unwrap()).unwrap();
        }
        let changes = conf.mutate_config_files().unwrap();
        let mut list: Vec<Json> = changes
            .iter()
            .map(|c| {
                json!([
                    c.group.as_deref().unwrap_or("DEFAULT"),
                    c.name,
                    c.old.as_ref().map(oslo_config::Value::to_json),
                    c.new.as_ref().map(oslo_config::Value::to_json)
                ])
            })
            .collect();
        list.sort_by_key(|v| v.to_string());
        result["mutate"] = Json::Array(list);
        let mut values = serde_json::Map::new();
        for g in case["get"].as_array().unwrap() {
            let (group, name) = (g[0].as_str(), g[1].as_str().unwrap());
            let v = conf.get(name, group).unwrap();
            values.insert(
                format!("{}.{name}", group.unwrap_or("DEFAULT")),
                v.as_ref()
                    .map(oslo_config::Value::to_json)
                    .unwrap_or(Json::Null),
            );
        }
        result["after"] = Json::Object(values);
    }
    result
}

/// Writes a case's files under `dir` and replaces `{dir}` everywhere in the case.
fn materialise(case: &Json, dir: &Path) -> Json {
    let text = serde_json::to_string(case).unwrap();
    let text = text.replace("{dir}", &dir.display().to_string());
    let case: Json = serde_json::from_str(&text).unwrap();
    for (rel, body) in case["files"].as_object().into_iter().flatten() {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body.as_str().unwrap()).unwrap();
    }
    case
}

/// Runs every case through both sides and compares; a case may say where the location differs on purpose.
fn check(cases: Vec<Json>) {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<Json> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let sub = dir.path().join(format!("case{i}"));
            std::fs::create_dir_all(&sub).unwrap();
            materialise(c, &sub)
        })
        .collect();
    let theirs = run_python_json(
        &format!("{PY_MAKE}{PY_RUN}"),
        &serde_json::to_string(&cases).unwrap(),
    );
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        // Python may have rewritten the files (mutation cases): start from the same files again.
        let sub = dir.path().join(format!("case{i}"));
        for (rel, body) in case["files"].as_object().into_iter().flatten() {
            std::fs::write(sub.join(rel), body.as_str().unwrap()).unwrap();
        }
        let mut ours = run_ours(case);
        let mut expected = theirs[i].clone();
        if case["location_differs"].is_string() {
            strip_locations(&mut ours);
            strip_locations(&mut expected);
        }
        if ours != expected {
            failures.push(format!(
                "case `{}`:\n  python: {expected}\n  ours:   {ours}",
                case["name"].as_str().unwrap_or("?")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn strip_locations(v: &mut Json) {
    if let Some(m) = v["values"].as_object_mut() {
        for (_, r) in m.iter_mut() {
            if let Some(o) = r.as_object_mut() {
                o.remove("location");
            }
        }
    }
}

fn s(name: &str) -> Json {
    json!({ "name": name, "type": "str" })
}

#[test]
fn precedence_of_sources() {
    let opts = json!([
        { "name": "a", "type": "str", "default": "dflt", "cli": true },
        { "name": "b", "type": "str", "default": "dflt" },
        { "name": "c", "type": "int", "default": 1 },
        { "name": "d", "type": "str", "group": "grp", "default": "dflt" },
    ]);
    let get = json!([[null, "a"], [null, "b"], [null, "c"], ["grp", "d"]]);
    check(vec![
        json!({ "name": "defaults only", "opts": opts, "args": [], "get": get }),
        json!({ "name": "file beats default", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\na = file\nb = file\nc = 5\n[grp]\nd = file\n" },
                "args": ["--config-file", "{dir}/a.conf"], "get": get }),
        json!({ "name": "env beats file", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\nb = file\nc = 5\n[grp]\nd = file\n" },
                "env": { "OS_DEFAULT__B": "env", "OS_DEFAULT__C": "7", "OS_GRP__D": "env" },
                "args": ["--config-file", "{dir}/a.conf"], "get": get }),
        json!({ "name": "cli beats env without a file value", "opts": opts,
                "env": { "OS_DEFAULT__A": "env" },
                "args": ["--a", "cli"], "get": get }),
        json!({ "name": "override beats everything", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\na = file\nb = file\n" },
                "env": { "OS_DEFAULT__B": "env" },
                "args": ["--a", "cli", "--config-file", "{dir}/a.conf"],
                "overrides": [[null, "a", "ovr"], [null, "b", "ovr"], [null, "c", 42]],
                "get": get }),
        json!({ "name": "set_default below files", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\nb = file\n" },
                "args": ["--config-file", "{dir}/a.conf"],
                "defaults": [[null, "b", "setdef"], [null, "c", 9], ["grp", "d", "setdef"]],
                "get": get }),
        json!({ "name": "later file wins", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\nb = one\nc = 1\n", "b.conf": "[DEFAULT]\nb = two\n" },
                "args": ["--config-file", "{dir}/a.conf", "--config-file", "{dir}/b.conf"], "get": get }),
        json!({ "name": "last duplicate key within a file wins", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\nb = one\nb = two\n[DEFAULT]\nb = three\n" },
                "args": ["--config-file", "{dir}/a.conf"], "get": get }),
        json!({ "name": "default files are read when no --config-file", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\nb = deffile\n", "b.conf": "[DEFAULT]\nb = other\n" },
                "default_files": ["{dir}/a.conf"], "args": [], "get": get }),
        json!({ "name": "default files are ignored with --config-file", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\nb = deffile\n", "b.conf": "[DEFAULT]\nb = other\n" },
                "default_files": ["{dir}/a.conf"], "args": ["--config-file={dir}/b.conf"], "get": get }),
    ]);
}

#[test]
fn argv_order_between_flags_and_files() {
    let opts = json!([{ "name": "a", "type": "str", "cli": true }, { "name": "m", "type": "multistr", "cli": true }]);
    let files = json!({ "f.conf": "[DEFAULT]\na = file\nm = f1\nm = f2\n" });
    let get = json!([[null, "a"], [null, "m"]]);
    check(vec![
        json!({ "name": "file after flag wins", "opts": opts, "files": files,
                "args": ["--a", "cli", "--config-file", "{dir}/f.conf"], "get": get }),
        json!({ "name": "flag after file wins", "opts": opts, "files": files,
                "location_differs": "oslo reports a file location for a CLI value when a file also sets it",
                "args": ["--config-file", "{dir}/f.conf", "--a", "cli"], "get": get }),
        json!({ "name": "multi values merge at the file's argv position", "opts": opts, "files": files,
                "location_differs": "oslo reports a file location when any file contributes",
                "args": ["--m", "c1", "--config-file", "{dir}/f.conf", "--m", "c2"], "get": get }),
        json!({ "name": "abbreviated flag", "opts": opts, "args": ["--config-f", "{dir}/f.conf"],
                "files": files, "get": get }),
    ]);
}

#[test]
fn multi_valued_options_across_files() {
    let opts = json!([
        { "name": "m", "type": "multistr", "deprecated_opts": [["old1", null], ["old2", null]] },
        { "name": "n", "type": "multiint", "group": "g" },
    ]);
    let get = json!([[null, "m"], ["g", "n"]]);
    check(vec![
        json!({ "name": "concatenated oldest first", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\nm = a1\nm = a2\n[g]\nn = 1\n", "b.conf": "[DEFAULT]\nm = b1\n[G]\nn = 2\nn = 3\n" },
                "args": ["--config-file", "{dir}/a.conf", "--config-file", "{dir}/b.conf"], "get": get }),
        json!({ "name": "deprecated names come first, reversed", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\nm = new1\nold1 = dep1\nold2 = dep2\n" },
                "args": ["--config-file", "{dir}/a.conf"], "get": get }),
        json!({ "name": "multi default", "opts": opts, "args": [], "get": get }),
    ]);
}

#[test]
fn deprecated_names_and_groups() {
    let opts = json!([
        { "name": "new", "type": "str", "deprecated_name": "old" },
        { "name": "x", "type": "str", "group": "newg", "deprecated_group": "oldg" },
        { "name": "y", "type": "str", "group": "newg", "deprecated_opts": [["yold", "legacy"]] },
        { "name": "dash-name", "type": "str", "deprecated_name": "old-dash" },
        { "name": "flag", "type": "bool", "cli": true, "deprecated_name": "oldflag" },
    ]);
    let get = json!([
        [null, "new"],
        ["newg", "x"],
        ["newg", "y"],
        [null, "dash_name"],
        [null, "flag"],
        [null, "old"]
    ]);
    check(vec![
        json!({ "name": "old names are read", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\nold = o\nold_dash = od\n[oldg]\nx = ox\n[legacy]\nyold = oy\n" },
                "args": ["--config-file", "{dir}/a.conf", "--nooldflag"], "get": get }),
        json!({ "name": "new name beats old in one file", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\nnew = n\nold = o\n[newg]\nx = nx\n[oldg]\nx = ox\n" },
                "args": ["--config-file", "{dir}/a.conf"], "get": get }),
        json!({ "name": "old name in a later file beats new name", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\nnew = n\n", "b.conf": "[DEFAULT]\nold = o\n" },
                "args": ["--config-file", "{dir}/a.conf", "--config-file", "{dir}/b.conf"], "get": get }),
        json!({ "name": "old cli flag", "opts": opts, "args": ["--oldflag"], "get": get }),
    ]);
}

#[test]
fn interpolation() {
    let opts = json!([
        { "name": "host", "type": "str", "default": "example.org" },
        { "name": "port", "type": "int", "default": 80 },
        { "name": "url", "type": "str", "default": "http://$host:${port}/" },
        { "name": "num", "type": "int" },
        { "name": "money", "type": "str" },
        { "name": "inner", "type": "str", "group": "g", "default": "g-inner" },
        { "name": "ref", "type": "str", "group": "g" },
        { "name": "cross", "type": "str" },
        { "name": "missing", "type": "str" },
        { "name": "bad", "type": "str" },
        { "name": "unset", "type": "str" },
        { "name": "usesunset", "type": "str" },
        { "name": "lst", "type": "list" },
        { "name": "grpref", "type": "str" },
        { "name": "defref", "type": "str" },
        { "name": "nogroup", "type": "str" },
    ]);
    let file = "[DEFAULT]\nhost = h.example\nnum = $port\nmoney = $$5 and \\$6 and ${incomplete\ncross = ${g.inner}!\n\
                missing = $nope\nbad = $9\nusesunset = [$unset]\nlst = $host,b\ngrpref = $g\ndefref = ${DEFAULT.host}\n\
                nogroup = ${zz.top}\n[g]\nref = $inner-$host\n";
    let get = json!([
        [null, "url"],
        [null, "num"],
        [null, "money"],
        ["g", "ref"],
        [null, "cross"],
        [null, "missing"],
        [null, "bad"],
        [null, "usesunset"],
        [null, "lst"],
        [null, "grpref"],
        [null, "defref"],
        [null, "nogroup"]
    ]);
    check(vec![
        json!({ "name": "templates", "opts": opts, "files": { "a.conf": file },
                       "args": ["--config-file", "{dir}/a.conf"], "env": { "OS_DEFAULT__PORT": "8080" },
                       "get": get }),
    ]);
}

#[test]
fn value_syntax_bools_lists_dicts() {
    let mut opts = vec![];
    let mut get = vec![];
    let mut file = String::from("[DEFAULT]\n");
    let bools = [
        "true", "TRUE", "1", "on", "Yes", "false", "0", "off", "NO", "y", "",
    ];
    for (i, b) in bools.iter().enumerate() {
        opts.push(json!({ "name": format!("b{i}"), "type": "bool" }));
        get.push(json!([null, format!("b{i}")]));
        file.push_str(&format!("b{i} = {b}\n"));
    }
    let lists = ["a,b,c", " a , b ,", "x,,y", "", "[1, 2]", "\"q, r\", s"];
    for (i, l) in lists.iter().enumerate() {
        opts.push(json!({ "name": format!("l{i}"), "type": "list" }));
        get.push(json!([null, format!("l{i}")]));
        file.push_str(&format!("l{i} = {l}\n"));
    }
    opts.push(json!({ "name": "li", "type": "list", "item": "int" }));
    get.push(json!([null, "li"]));
    file.push_str("li = 1, 2 ,3\n");
    opts.push(json!({ "name": "lq", "type": "list", "item": "quoted" }));
    get.push(json!([null, "lq"]));
    file.push_str("lq = \"a, b\", 'c'\n");
    let dicts = ["a:1,b:2", " k : v , x:y:z", "", "a:1,a:2", "novalue"];
    for (i, d) in dicts.iter().enumerate() {
        opts.push(json!({ "name": format!("d{i}"), "type": "dict" }));
        get.push(json!([null, format!("d{i}")]));
        file.push_str(&format!("d{i} = {d}\n"));
    }
    let ints = ["42", " -7 ", "", "0x10", "5.0", "99999"];
    for (i, v) in ints.iter().enumerate() {
        opts.push(json!({ "name": format!("i{i}"), "type": "int", "max": 1000 }));
        get.push(json!([null, format!("i{i}")]));
        file.push_str(&format!("i{i} = {v}\n"));
    }
    opts.push(json!({ "name": "p", "type": "port" }));
    get.push(json!([null, "p"]));
    file.push_str("p = 65536\n");
    opts.push(json!({ "name": "f", "type": "float" }));
    get.push(json!([null, "f"]));
    file.push_str("f = 1e3\n");
    opts.push(json!({ "name": "ch", "type": "str", "choices": ["a", "b"] }));
    get.push(json!([null, "ch"]));
    file.push_str("ch = c\n");
    check(vec![
        json!({ "name": "value syntax", "opts": opts, "files": { "a.conf": file },
                       "args": ["--config-file", "{dir}/a.conf"], "get": get }),
    ]);
}

#[test]
fn config_dir_ordering_and_sections() {
    let opts = json!([
        s("a"),
        { "name": "x", "type": "str", "group": "MyGroup" },
        { "name": "z", "type": "str", "group": "lower" },
        s("cont"),
        s("q"),
    ]);
    let get = json!([
        [null, "a"],
        ["MyGroup", "x"],
        ["lower", "z"],
        [null, "cont"],
        [null, "q"]
    ]);
    check(vec![
        json!({ "name": "dir sorted lexicographically", "opts": opts,
                "files": { "d/3-c.conf": "[DEFAULT]\na = three\n", "d/20-b.conf": "[DEFAULT]\na = twenty\n",
                           "d/100-a.conf": "[DEFAULT]\na = hundred\n", "d/zz.conf.bak": "[DEFAULT]\na = bak\n",
                           "d/zz.txt": "[DEFAULT]\na = txt\n" },
                "args": ["--config-dir", "{dir}/d"], "get": get }),
        json!({ "name": "dir then file in argv order", "opts": opts,
                "files": { "d/1.conf": "[DEFAULT]\na = dir\n", "f.conf": "[DEFAULT]\na = file\n" },
                "args": ["--config-file", "{dir}/f.conf", "--config-dir", "{dir}/d"], "get": get }),
        json!({ "name": "section case", "opts": opts,
                "files": { "a.conf": "[MYGROUP]\nx = upper\n[LOWER]\nz = lz\n[default]\na = lowdefault\n" },
                "args": ["--config-file", "{dir}/a.conf"], "get": get }),
        json!({ "name": "continuation and quotes", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\ncont = one\n   two\n\t# three\n\nq = \"  padded  \"\na: b = c # not a comment\n" },
                "args": ["--config-file", "{dir}/a.conf"], "get": get }),
    ]);
}

#[test]
fn error_kinds() {
    let opts = json!([
        { "name": "a", "type": "int" },
        { "name": "c", "type": "int", "cli": true },
        { "name": "r", "type": "str", "required": true },
    ]);
    let ok_r = json!({ "OS_DEFAULT__R": "x" });
    let get = json!([[null, "a"], [null, "nope"], ["nogroup", "a"], [null, "r"]]);
    check(vec![
        json!({ "name": "required missing", "opts": opts, "args": [], "get": get }),
        json!({ "name": "required from env; no such option/group", "opts": opts, "env": ok_r, "args": [], "get": get }),
        json!({ "name": "bad file value on access", "opts": opts, "env": ok_r,
                "files": { "a.conf": "[DEFAULT]\na = notint\n" },
                "args": ["--config-file", "{dir}/a.conf"], "get": get }),
        json!({ "name": "bad env value", "opts": opts, "env": { "OS_DEFAULT__R": "x", "OS_DEFAULT__A": "zz" },
                "args": [], "get": get }),
        json!({ "name": "bad cli value", "opts": opts, "env": ok_r, "args": ["--c", "abc"], "get": get }),
        json!({ "name": "unknown flag", "opts": opts, "env": ok_r, "args": ["--zzz"], "get": get }),
        json!({ "name": "missing file", "opts": opts, "env": ok_r,
                "args": ["--config-file", "{dir}/none.conf", "--config-file", "{dir}/none2.conf"], "get": get }),
        json!({ "name": "missing dir", "opts": opts, "env": ok_r, "args": ["--config-dir", "{dir}/nodir"], "get": get }),
        json!({ "name": "parse error", "opts": opts, "env": ok_r,
                "files": { "a.conf": "[DEFAULT]\nnovalue\n" }, "args": ["--config-file", "{dir}/a.conf"], "get": get }),
        json!({ "name": "assignment before section", "opts": opts, "env": ok_r,
                "files": { "a.conf": "a = 1\n" }, "args": ["--config-file", "{dir}/a.conf"], "get": get }),
        json!({ "name": "duplicate option", "opts": [{ "name": "a", "type": "int" }, { "name": "a", "type": "str" }],
                "args": [], "get": [] }),
        json!({ "name": "identical option twice is fine", "opts": [{ "name": "a", "type": "int" }, { "name": "a", "type": "int" }],
                "args": [], "get": [[null, "a"]] }),
        json!({ "name": "bad default", "opts": [{ "name": "a", "type": "int", "default": "x" }], "args": [], "get": [] }),
        json!({ "name": "bad override", "opts": opts, "env": ok_r, "args": [],
                "overrides": [[null, "a", "abc"]], "get": get }),
        json!({ "name": "template group", "opts": [s("a"), { "name": "b", "type": "str", "group": "g" }],
                "files": { "a.conf": "[DEFAULT]\na = $g\n" }, "args": ["--config-file", "{dir}/a.conf"],
                "get": [[null, "a"]] }),
    ]);
}

#[test]
fn command_line_shapes() {
    let opts = json!([
        { "name": "verbose", "type": "bool", "cli": true, "short": "v" },
        { "name": "debug", "type": "bool", "cli": true, "default": true },
        { "name": "gflag", "type": "bool", "cli": true, "group": "grp" },
        { "name": "gval", "type": "str", "cli": true, "group": "grp" },
        { "name": "name", "type": "str", "cli": true, "positional": true },
        { "name": "rest", "type": "multistr", "cli": true, "positional": true, "required": false },
        { "name": "num", "type": "int", "cli": true, "short": "n" },
    ]);
    let get = json!([
        [null, "verbose"],
        [null, "debug"],
        ["grp", "gflag"],
        ["grp", "gval"],
        [null, "name"],
        [null, "rest"],
        [null, "num"]
    ]);
    check(vec![
        json!({ "name": "flags", "opts": opts, "args": ["-v", "--nodebug", "--grp-gflag", "--grp-gval", "x", "first", "r1", "r2", "-n", "3"], "get": get }),
        json!({ "name": "last bool wins", "opts": opts, "args": ["--noverbose", "--verbose", "--debug", "--nodebug", "--grp-nogflag", "p"], "get": get }),
        json!({ "name": "missing positional", "opts": opts, "args": ["-v"], "get": get }),
        json!({ "name": "equals form", "opts": opts, "args": ["--num=-4", "--grp-gval=a=b", "p"], "get": get }),
    ]);
}

/// Our generator's output for a generator case.
fn gen_ours(case: &Json) -> Json {
    use oslo_config::generator::{GeneratorOptions, NamespaceOpts, machine_readable, sample_ini};
    let groups = case["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let group = g["name"].as_str().map(|n| {
                let mut og = oslo_config::OptGroup::new(n);
                if let Some(h) = g["help"].as_str() {
                    og = og.help(h);
                }
                og
            });
            (
                group,
                g["opts"].as_array().unwrap().iter().map(make_opt).collect(),
            )
        })
        .collect();
    let ns = vec![NamespaceOpts {
        namespace: case["namespace"].as_str().unwrap().to_owned(),
        groups,
    }];
    let args = strs_of(&case["args"]);
    let mut o = GeneratorOptions::default();
    for pair in args.chunks(2) {
        match pair[0].as_str() {
            "--wrap-width" => o.wrap_width = pair[1].parse().unwrap(),
            "--minimal" => o.minimal = true,
            "--summarize" => o.summarize = true,
            _ => {}
        }
    }
    if case["json"].as_bool() == Some(true) {
        let mut data = machine_readable(&ns, Json::Null);
        data["generator_options"] = Json::Null;
        data
    } else {
        Json::String(sample_ini(&ns, &o))
    }
}

fn strs_of(v: &Json) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn check_generator(cases: Vec<Json>) {
    let theirs = run_python_json(
        &format!("{PY_MAKE}{PY_GEN}"),
        &serde_json::to_string(&cases).unwrap(),
    );
    for (i, case) in cases.iter().enumerate() {
        let ours = gen_ours(case);
        let mut expected = theirs[i].clone();
        if case["json"].as_bool() == Some(true) {
            expected["generator_options"] = Json::Null;
        }
        match (&ours, &expected) {
            (Json::String(a), Json::String(b)) => {
                assert!(a.contains("# From demo.ns"), "{a}");
                assert_eq!(a, b, "case `{}`", case["name"]);
                if std::env::var_os("SHOW_SAMPLE").is_some() {
                    eprintln!("{a}");
                }
            }
            _ => assert_eq!(ours, expected, "case `{}`", case["name"]),
        }
    }
}

fn generator_groups() -> Json {
    json!([
        { "name": null, "opts": [
            { "name": "host", "type": "str", "default": "a", "help": "The host to bind to. This text is long enough that it has to be wrapped over several lines of the sample file, with non-breaking hyphen-joined words.",
              "choices_described": [["a", "The first"], ["b", null], ["", "Empty"]] },
            { "name": "workers", "type": "int", "min": 1, "max": 10, "default": 2, "help": "Workers",
              "deprecated_name": "num_workers", "mutable": true },
            { "name": "port", "type": "port", "default": 8080, "help": "Port" },
            { "name": "m", "type": "multistr", "default": ["x", " y"], "help": "Multi" },
            { "name": "empty_multi", "type": "multistr", "help": "Nothing yet" },
            { "name": "debug", "type": "bool", "default": false, "help": "Debug mode.\n\nSecond paragraph.",
              "deprecated_for_removal": true, "deprecated_reason": "Use logging config", "deprecated_since": "Zed", "advanced": true },
            { "name": "l", "type": "list", "default": ["a", "b"], "help": "A list" },
            { "name": "d", "type": "dict", "default": { "b": "2", "a": "1" }, "help": "A dict" },
            { "name": "pw", "type": "str", "secret": true, "sample_default": "<pw>", "help": "Password" },
            { "name": "padded", "type": "str", "default": " x ", "help": "Padded\n\n  * bullet one\n  * bullet two" },
            { "name": "f", "type": "float", "default": 1.5, "help": "A float" },
            { "name": "req", "type": "str", "required": true, "default": "r", "help": "Required one" },
        ]},
        { "name": "Database", "help": "Database options", "opts": [
            { "name": "connection", "type": "str", "help": "URL", "deprecated_opts": [["sql_connection", "DEFAULT"], ["old-dash", null]] },
        ]},
        { "name": "api", "opts": [{ "name": "listen", "type": "str", "default": "0.0.0.0", "help": "Listen" }] },
    ])
}

#[test]
fn generator_sample_matches_oslo() {
    let groups = generator_groups();
    check_generator(vec![
        json!({ "name": "default layout", "namespace": "demo.ns", "groups": groups }),
        json!({ "name": "narrow wrap", "namespace": "demo.ns", "groups": groups, "args": ["--wrap-width", "40"] }),
        json!({ "name": "no wrap", "namespace": "demo.ns", "groups": groups, "args": ["--wrap-width", "0"] }),
        json!({ "name": "minimal", "namespace": "demo.ns", "groups": groups, "args": ["--minimal"] }),
        json!({ "name": "summarize", "namespace": "demo.ns", "groups": groups, "args": ["--summarize"] }),
        json!({ "name": "json data", "namespace": "demo.ns", "groups": groups, "args": ["--format", "json"], "json": true }),
    ]);
}

/// Python: the YAML option data of `oslo-config-generator --format yaml`, then `oslo-config-validator`
/// on each input file with that data, with the log records it wrote.
const PY_VALIDATE: &str = r#"
import logging
from oslo_config import generator, validator

class Keep(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []
    def emit(self, record):
        self.records.append([record.levelname, record.getMessage()])

def validate(case, yaml_path):
    keep = Keep()
    log = logging.getLogger("oslo_config.validator")
    log.addHandler(keep)
    log.setLevel(logging.INFO)
    conf = cfg.ConfigOpts()
    validator._register_cli_opts(conf)
    conf(["--opt-data", yaml_path, "--input-file", case["input"]] + case.get("args", []))
    code = validator._validate(conf)
    log.removeHandler(keep)
    return {"code": code, "messages": keep.records}

spec = json.load(sys.stdin)
listing = []
for g in spec["groups"]:
    opts = [make(o) for o in g["opts"]]
    group = cfg.OptGroup(g["name"], help=g.get("help")) if g.get("name") else None
    listing.append((group, opts))
generator._list_opts = lambda namespaces: generator._cleanup_opts([("demo.ns", listing)])
conf = cfg.ConfigOpts()
generator.register_cli_opts(conf)
conf(["--namespace", "demo.ns", "--format", "yaml", "--output-file", spec["yaml"]])
generator.generate(conf)
print(json.dumps([validate(c, spec["yaml"]) for c in spec["cases"]]))
"#;

#[test]
fn validator_reads_oslo_yaml_and_agrees() {
    use oslo_config::validator::{Severity, ValidatorOptions, validate};
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("opts.yaml");
    let files = [
        (
            "clean",
            "[DEFAULT]\nhost = b\nworkers = 3\n[database]\nconnection = sqlite://\n",
            vec![],
        ),
        (
            "unknown",
            "[DEFAULT]\nhost = b\ntypo = 1\n[nosuch]\nx = 1\n[keystone_authtoken]\nauth_url = u\n",
            vec![],
        ),
        (
            "deprecated",
            "[DEFAULT]\nnum_workers = 3\nsql_connection = x\n",
            vec![],
        ),
        (
            "deprecated fatal",
            "[DEFAULT]\nnum_workers = 3\n",
            vec!["--fatal-warnings"],
        ),
        (
            "excluded group",
            "[DEFAULT]\nhost = a\n[nosuch]\nx = 1\n",
            vec!["--exclude-group", "nosuch"],
        ),
        (
            "check defaults",
            "[DEFAULT]\nhost = a\nworkers = 5\nworkers = 6\nl = a,b\nm = x\ndebug = false\n[api]\nlisten = 1.2.3.4\n",
            vec!["--check-defaults"],
        ),
    ];
    let cases: Vec<Json> = files
        .iter()
        .enumerate()
        .map(|(i, (_, text, args))| {
            let p = dir.path().join(format!("in{i}.conf"));
            std::fs::write(&p, text).unwrap();
            json!({ "input": p.display().to_string(), "args": args })
        })
        .collect();
    let spec =
        json!({ "groups": generator_groups(), "yaml": yaml.display().to_string(), "cases": cases });
    let theirs = run_python_json(&format!("{PY_MAKE}{PY_VALIDATE}"), &spec.to_string());

    // Our validator reads the YAML that Python wrote.
    let data = oslo_config::validator::load_opt_data(&yaml).unwrap();
    for (i, (name, text, args)) in files.iter().enumerate() {
        let doc = oslo_config::IniDocument::parse(text).unwrap();
        let mut o = ValidatorOptions::default();
        let mut fatal = false;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match *a {
                "--check-defaults" => o.check_defaults = true,
                "--fatal-warnings" => fatal = true,
                "--exclude-group" => o.exclude_groups.push((*it.next().unwrap()).to_owned()),
                _ => {}
            }
        }
        let report = validate(&data, &doc, &o).unwrap();
        let messages: Vec<Json> = report
            .messages
            .iter()
            .map(|m| {
                let level = match m.severity {
                    Severity::Info => "INFO",
                    Severity::Warning => "WARNING",
                    Severity::Error => "ERROR",
                };
                json!([level, m.text])
            })
            .collect();
        let ours = json!({ "code": report.exit_code(fatal), "messages": messages });
        assert_eq!(ours, theirs[i], "validator case `{name}`");
        if std::env::var_os("SHOW_SAMPLE").is_some() {
            eprintln!("{name}: {ours}");
        }
        // And the command-line tool gives the same exit code.
        let input = dir.path().join(format!("in{i}.conf"));
        let mut argv = vec![
            "--opt-data".to_owned(),
            yaml.display().to_string(),
            "--input-file".to_owned(),
            input.display().to_string(),
        ];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        assert_eq!(
            oslo_config::validator::main_with_args(argv),
            theirs[i]["code"].as_i64().unwrap() as i32,
            "{name}"
        );
    }
}

#[test]
fn runtime_mutation_and_late_registration() {
    let opts = json!([
        { "name": "level", "type": "str", "mutable": true, "default": "info" },
        { "name": "size", "type": "int", "mutable": true, "group": "pool" },
        { "name": "gone", "type": "str", "mutable": true },
        { "name": "port", "type": "int" },
        { "name": "hosts", "type": "multistr", "mutable": true },
    ]);
    let get = json!([
        [null, "level"],
        ["pool", "size"],
        [null, "gone"],
        [null, "port"],
        [null, "hosts"]
    ]);
    check(vec![
        json!({ "name": "mutate", "opts": opts,
                "files": { "a.conf": "[DEFAULT]\nlevel = info\nport = 1\ngone = x\nhosts = a\n[pool]\nsize = 1\n" },
                "files_after": { "{dir}/a.conf": "[DEFAULT]\nlevel = debug\nport = 2\nhosts = a\nhosts = b\n[pool]\nsize = 5\n" },
                "args": ["--config-file", "{dir}/a.conf"], "get": get }),
        json!({ "name": "cli option after parsing", "opts": opts, "args": [], "get": [],
                "late_cli": { "name": "late", "type": "str" } }),
    ]);
}

#[test]
fn more_sources_and_discovery() {
    let opts = json!([
        { "name": "a", "type": "str", "cli": true },
        s("b"),
        { "name": "dash-opt", "type": "str", "group": "grp" },
        { "name": "n", "type": "int", "default": 3 },
        { "name": "lst", "type": "list" },
        { "name": "m", "type": "multistr" },
    ]);
    let get = json!([
        [null, "a"],
        [null, "b"],
        ["grp", "dash_opt"],
        [null, "n"],
        [null, "lst"],
        [null, "m"]
    ]);
    let files = json!({
        "def.conf": "[DEFAULT]\nb = from-default-file\nm = d1\n",
        "d/2.conf": "[DEFAULT]\nb = from-dir-2\nm = dir2\n",
        "d/10.conf": "[DEFAULT]\nb = from-dir-10\nm = dir10\n",
        "e/1.conf": "[DEFAULT]\nm = e1\n",
        "x.conf": "[DEFAULT]\nb = x\nm = x1\n",
    });
    check(vec![
        json!({ "name": "cli value interpolated from a file value", "opts": opts, "files": files,
                "args": ["--a", "pre-$b-post", "--config-file", "{dir}/x.conf"], "get": get }),
        json!({ "name": "default files then default dirs", "opts": opts, "files": files,
                "default_files": ["{dir}/def.conf"], "default_dirs": ["{dir}/d", "{dir}/missing"], "args": [], "get": get }),
        json!({ "name": "--config-dir replaces default dirs only", "opts": opts, "files": files,
                "default_files": ["{dir}/def.conf"], "default_dirs": ["{dir}/d"],
                "args": ["--config-dir", "{dir}/e"], "get": get }),
        json!({ "name": "--config-file replaces default files only", "opts": opts, "files": files,
                "default_files": ["{dir}/def.conf"], "default_dirs": ["{dir}/d"],
                "args": ["--config-file", "{dir}/x.conf"], "get": get }),
        json!({ "name": "env for dashed group option, blank int, list", "opts": opts,
                "env": { "OS_GRP__DASH_OPT": "e", "OS_DEFAULT__N": "", "OS_DEFAULT__LST": "p, q" },
                "args": [], "get": get }),
        json!({ "name": "repeated config-file", "opts": opts, "files": files,
                "args": ["--config-file", "{dir}/x.conf", "--config-file", "{dir}/def.conf", "--config-file", "{dir}/x.conf"],
                "get": get }),
    ]);
}

/// Python: oslo's INI parser on each text, as raw sections (name → key → values) or the error.
const PY_INI: &str = r#"
import json, sys, tempfile, os
from oslo_config import cfg, iniparser

def parse(text):
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False, encoding="utf-8", newline="") as f:
        f.write(text)
        path = f.name
    sections = {}
    parser = cfg.ConfigParser(path, sections)
    try:
        parser.parse()
        return {"sections": sections}
    except iniparser.ParseError as e:
        return {"error": [e.msg, e.lineno]}
    finally:
        os.unlink(path)

print(json.dumps([parse(t) for t in json.load(sys.stdin)]))
"#;

/// Random INI-like texts from fragments that hit every rule of the dialect.
fn ini_texts(n: usize) -> Vec<String> {
    const PIECES: &[&str] = &[
        "[DEFAULT]",
        "[Group]",
        "[group]",
        "[ sp ]",
        "[]",
        "[unclosed",
        "key = value",
        "key=v2",
        "k: v",
        "k:v=w",
        "a = \"quoted\"",
        "b = 'x\"",
        "c = \"\"",
        "d =",
        " continuation",
        "\tcont tab",
        "# comment",
        "; semi",
        "   ",
        "",
        "= nokey",
        "novalue",
        "x = y # not comment",
        "[DEFAULT]x",
        "ü = ☃",
        "e = \" spaced \" ",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..n)
        .map(|_| {
            let lines = (next() % 8) as usize + 1;
            let mut t = String::new();
            for _ in 0..lines {
                t.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
                t.push_str(match next() % 6 {
                    0 => "\r\n",
                    1 => "\r",
                    _ => "\n",
                });
            }
            t
        })
        .collect()
}

#[test]
fn ini_parser_agrees_with_oslo_on_random_texts() {
    let texts = ini_texts(400);
    let theirs = run_python_json(PY_INI, &serde_json::to_string(&texts).unwrap());
    for (i, text) in texts.iter().enumerate() {
        let ours = match oslo_config::IniDocument::parse(text) {
            Ok(doc) => {
                let mut sections = serde_json::Map::new();
                for s in doc.sections() {
                    let sec = sections.entry(s.name.clone()).or_insert_with(|| json!({}));
                    for e in &s.entries {
                        let list = sec
                            .as_object_mut()
                            .unwrap()
                            .entry(e.key.clone())
                            .or_insert_with(|| json!([]));
                        list.as_array_mut().unwrap().push(json!(e.value));
                    }
                }
                json!({ "sections": sections })
            }
            Err(e) => json!({ "error": [e.message, e.line] }),
        };
        assert_eq!(ours, theirs[i], "text {text:?}");
    }
}

#[test]
fn interpolation_agrees_on_generated_templates() {
    const PIECES: &[&str] = &[
        "$a",
        "${a}",
        "$$",
        "\\$",
        "${g.b}",
        "$",
        "{",
        "}",
        "x",
        "${",
        "$ſ",
        "$a.",
        "${a",
        "$_",
        "$A",
        "$9",
        " ",
        "$g",
        "${DEFAULT.a}",
        "$nope",
        "${g.nope}",
        "$a$a",
        "\\\\$a",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut opts = vec![
        json!({ "name": "a", "type": "str", "default": "A" }),
        json!({ "name": "b", "type": "str", "group": "g", "default": "B" }),
    ];
    let mut get = vec![];
    let mut file = String::from("[DEFAULT]\n");
    for i in 0..150 {
        let n = (next() % 4) as usize + 1;
        let t: String = (0..n)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        opts.push(json!({ "name": format!("t{i}"), "type": "str" }));
        get.push(json!([null, format!("t{i}")]));
        file.push_str(&format!("t{i} = {t}\n"));
    }
    check(vec![
        json!({ "name": "generated templates", "opts": opts, "files": { "a.conf": file },
                       "args": ["--config-file", "{dir}/a.conf"], "get": get }),
    ]);
}
