//! Sub-commands (oslo's `SubCommandOpt`) against Python oslo.config: the same sub-commands, global
//! options and command lines on both sides, and the same choice, arguments and values, or the same exit
//! status for a command line that argparse (and clap) refuse.
#![cfg(feature = "config")]

use oslo_config::{ConfigOpts, EnvSource, Opt, ParseArgs, SubCommand};
use oslo_tests::run_python_json;
use serde_json::{Value as Json, json};

/// The Python side: `db_sync [version] [--tag T]`, `show [names...]` and `purge age`, under the dest
/// `action`, with a global `--debug` flag and an integer `--workers`.
const PYTHON: &str = r#"
import json, sys
from oslo_config import cfg

def add_parsers(subparsers):
    p = subparsers.add_parser("db_sync")
    p.add_argument("version", nargs="?")
    p.add_argument("--tag")
    p = subparsers.add_parser("show")
    p.add_argument("names", nargs="*")
    p = subparsers.add_parser("purge")
    p.add_argument("age")

conf = cfg.ConfigOpts()
conf.register_cli_opt(cfg.SubCommandOpt("action", handler=add_parsers))
conf.register_cli_opt(cfg.BoolOpt("debug", default=False))
conf.register_cli_opt(cfg.IntOpt("workers", default=1))
out = []
for args in json.load(sys.stdin):
    try:
        conf(args, project="subtest", default_config_files=[], default_config_dirs=[])
        action = conf.action
        got = {"name": action.name}
        for dest in ("version", "tag", "names", "age"):
            if hasattr(action, dest):
                got[dest] = getattr(action, dest)
        out.append({"ok": got, "debug": conf.debug, "workers": conf.workers})
    except SystemExit as e:
        out.append({"exit": e.code})
    conf.reset()
print(json.dumps(out))
"#;

/// The sub-commands' arguments that take a list (`nargs="*"`).
const LISTS: &[&str] = &["names"];

fn ours(args: &[String]) -> Json {
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_sub_commands(
        "action",
        vec![
            SubCommand::new("db_sync")
                .arg(Opt::string("version").positional().required(false))
                .arg(Opt::string("tag")),
            SubCommand::new("show").arg(Opt::multi_string("names").positional().required(false)),
            SubCommand::new("purge").arg(Opt::string("age").positional().required(true)),
        ],
    )
    .unwrap();
    conf.register_cli_opt(Opt::boolean("debug").default(false), None)
        .unwrap();
    conf.register_cli_opt(Opt::integer("workers").default(1), None)
        .unwrap();
    let parsed = conf.parse(
        ParseArgs::new(args.iter().cloned())
            .project("subtest")
            .default_config_files(Vec::<String>::new())
            .default_config_dirs(Vec::<String>::new()),
    );
    // Python reports these command lines by `SystemExit` (2 from argparse, 1 for a value oslo refuses).
    if let Err(e) = parsed {
        return json!({ "exit": e.exit_code() });
    }
    let chosen = conf
        .sub_command()
        .cloned()
        .expect("a sub-command after a successful parse");
    let mut got = serde_json::Map::new();
    got.insert("name".into(), json!(chosen.name));
    // Every argument of the chosen sub-command is there, as in Python's namespace: unset ones are
    // None (an empty list for `nargs="*"`).
    let declared: &[&str] = match chosen.name.as_str() {
        "db_sync" => &["version", "tag"],
        "show" => &["names"],
        _ => &["age"],
    };
    for dest in declared {
        let values = chosen
            .args
            .iter()
            .find(|(d, _)| d == dest)
            .map(|(_, v)| v.clone());
        let value = match (LISTS.contains(dest), values) {
            (true, v) => json!(v.unwrap_or_default()),
            (false, Some(v)) => json!(v.last()),
            (false, None) => Json::Null,
        };
        got.insert((*dest).into(), value);
    }
    let value = |name: &str| conf.get(name, None).unwrap().expect("a default");
    let int = |name: &str| value(name).as_i64();
    let boolean = |name: &str| value(name).as_bool();
    json!({ "ok": got, "debug": boolean("debug"), "workers": int("workers") })
}

#[test]
fn sub_commands_as_oslo() {
    let cases: Vec<Vec<&str>> = vec![
        vec!["db_sync"],
        vec!["db_sync", "42"],
        vec!["db_sync", "--tag", "t1", "42"],
        vec!["db_sync", "42", "--tag=t2"],
        vec!["--debug", "db_sync"],
        vec!["--workers", "4", "show", "a", "b", "c"],
        vec!["show"],
        vec!["purge", "30"],
        vec!["--nodebug", "purge", "7"],
        // Refused (exit 2, and 1 for the bad value): no sub-command, an unknown one, a missing or an
        // extra argument, a global option after the sub-command, a bad global value.
        vec![],
        vec!["bogus"],
        vec!["purge"],
        vec!["db_sync", "1", "2"],
        vec!["purge", "7", "--debug"],
        vec!["--workers", "many", "show"],
    ];
    let cases: Vec<Vec<String>> = cases
        .into_iter()
        .map(|c| c.into_iter().map(str::to_string).collect())
        .collect();
    let theirs = run_python_json(PYTHON, &serde_json::to_string(&cases).unwrap());
    let theirs = theirs.as_array().expect("a list of answers");
    assert_eq!(theirs.len(), cases.len());
    let mut refused = 0;
    for (args, theirs) in cases.iter().zip(theirs) {
        let mine = ours(args);
        assert_eq!(&mine, theirs, "for {args:?}");
        if theirs.get("exit").is_some() {
            refused += 1;
        }
    }
    assert_eq!(refused, 6, "argparse refused {refused} command lines");
}
