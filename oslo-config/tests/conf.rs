//! `ConfigOpts`: registration rules, provenance, the runtime API (overrides, defaults, reload, mutation,
//! hooks), logging with secrets masked, and the command line.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use oslo_config::{
    ConfigOpts, EnvSource, Error, ErrorKind, Location, Opt, OptGroup, ParseArgs, SubCommand, Value,
};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn env(pairs: &[(&str, &str)]) -> EnvSource {
    EnvSource::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<_, _>>(),
    )
}

fn args(list: &[&str]) -> ParseArgs {
    ParseArgs::new(list.iter().copied())
        .prog("test")
        .default_config_files(Vec::<PathBuf>::new())
        .default_config_dirs(Vec::<PathBuf>::new())
}

/// Captures what the crate logs through `tracing` while `f` runs.
fn logs(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let out = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_writer(move || out.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    tracing::subscriber::with_default(sub, f);
    let bytes = buf.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn registering_the_same_option_twice_is_fine_a_different_one_is_not() {
    let mut conf = ConfigOpts::new();
    assert!(
        conf.register_opt(Opt::string("a").default("x"), None)
            .unwrap()
    );
    assert!(
        !conf
            .register_opt(Opt::string("a").default("x"), None)
            .unwrap()
    );
    let e = conf
        .register_opt(Opt::string("a").default("y"), None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DuplicateOpt);
    assert_eq!(e.to_string(), "duplicate option: a");
    // The same name in another group is another option.
    assert!(conf.register_opt(Opt::string("a"), Some("g")).unwrap());
}

#[test]
fn registering_again_keeps_the_option_its_place_and_its_override() {
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_opts(
        [Opt::string("a").default("x"), Opt::string("b").default("y")],
        Some("g"),
    )
    .unwrap();
    conf.set_override("a", "over", Some("g")).unwrap();
    assert!(
        !conf
            .register_opt(Opt::string("a").default("x"), Some("g"))
            .unwrap()
    );
    let e = conf
        .register_opt(Opt::string("a").default("z"), Some("g"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DuplicateOpt);
    let names: Vec<&str> = conf.all_opts().map(|(_, o)| o.name()).collect();
    assert_eq!(names, ["a", "b"]);
    let a = conf.all_opts().find(|(_, o)| o.name() == "a").unwrap().1;
    assert_eq!(a.default_value(), Some(&Value::from("x")));
    assert_eq!(
        conf.get_str("a", Some("g")).unwrap().as_deref(),
        Some("over")
    );
}

#[test]
fn reserved_and_illegal_names_are_refused() {
    let mut conf = ConfigOpts::new();
    let e = conf.register_opt(Opt::string("project"), None).unwrap_err();
    assert!(
        e.to_string()
            .contains("Name project was reserved for oslo.config."),
        "{e}"
    );
    assert!(conf.register_opt(Opt::string("project"), Some("g")).is_ok());
    let e = conf.register_opt(Opt::string("_x"), None).unwrap_err();
    assert!(
        e.to_string().contains("illegal name _x with prefix _"),
        "{e}"
    );
    let e = conf
        .register_opt(Opt::integer("n").default("abc"), None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DefaultValue);
    // A default with a reference is only checked when read.
    assert!(
        conf.register_opt(Opt::integer("m").default("$n"), None)
            .is_ok()
    );
}

#[test]
fn cli_options_must_come_before_parsing() {
    let mut conf = ConfigOpts::new();
    conf.parse(args(&[])).unwrap();
    let e = conf
        .register_cli_opt(Opt::boolean("late"), None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ArgsAlreadyParsed);
    // Plain options may still be registered after parsing, as in oslo.
    conf.register_opt(Opt::string("later").default("v"), None)
        .unwrap();
    assert_eq!(conf.get_str("later", None).unwrap().as_deref(), Some("v"));
}

#[test]
fn every_value_says_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "a.conf",
        "[DEFAULT]\n\nfile_opt = 1\nfile_opt = 2\n[db]\nurl = x\n",
    );
    let mut conf = ConfigOpts::new();
    conf.set_env(env(&[("OS_DB__URL", "postgres://env")]));
    conf.register_opt(Opt::integer("file_opt"), None).unwrap();
    conf.register_cli_opt(Opt::boolean("verbose").short('v'), None)
        .unwrap();
    conf.register_cli_opt(Opt::string("name"), None).unwrap();
    conf.register_opt(Opt::string("url"), Some("db")).unwrap();
    conf.register_opt(Opt::string("dflt").default("d"), None)
        .unwrap();
    conf.register_opt(Opt::string("none"), None).unwrap();
    conf.parse(args(&[
        "-v",
        "--name=n",
        "--config-file",
        f.to_str().unwrap(),
    ]))
    .unwrap();

    assert_eq!(
        conf.location("file_opt", None).unwrap(),
        Some(Location::File {
            path: f.clone(),
            line: 4
        })
    );
    assert_eq!(conf.get_int("file_opt", None).unwrap(), Some(2));
    assert_eq!(
        conf.location("verbose", None).unwrap(),
        Some(Location::CommandLine { flag: "-v".into() })
    );
    assert_eq!(
        conf.location("name", None).unwrap(),
        Some(Location::CommandLine {
            flag: "--name".into()
        })
    );
    assert_eq!(
        conf.location("url", Some("db")).unwrap(),
        Some(Location::Environment {
            var: "OS_DB__URL".into()
        })
    );
    assert_eq!(
        conf.location("dflt", None).unwrap(),
        Some(Location::OptDefault)
    );
    assert_eq!(conf.resolve("none", None).unwrap().location, None);
    assert_eq!(conf.parsed_files(), vec![f]);
}

#[test]
fn a_bad_value_names_option_group_source_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "a.conf", "[pool]\nsize = lots\n");
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_opt(Opt::integer("size"), Some("pool"))
        .unwrap();
    conf.parse(args(&["--config-file", f.to_str().unwrap()]))
        .unwrap();
    let e = conf.get("size", Some("pool")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigFileValue);
    assert_eq!(e.option(), Some(("pool", "size")));
    assert_eq!(
        e.location(),
        Some(&Location::File {
            path: f.clone(),
            line: 2
        })
    );
    let msg = e.to_string();
    assert!(
        msg.contains("size") && msg.contains("[pool]") && msg.contains(":2"),
        "{msg}"
    );
}

/// oslo quirk (decided): when a CLI option is also set in a file, oslo reports the file as the location,
/// so an environment variable then beats the command-line value. We keep command line > environment
/// always; the argv order between a flag and a `--config-file` still decides between the two.
#[test]
fn command_line_beats_environment_even_when_a_file_sets_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "a.conf", "[DEFAULT]\nname = file\n");
    let f = f.to_str().unwrap();
    let mut conf = ConfigOpts::new();
    conf.set_env(env(&[("OS_DEFAULT__NAME", "env")]));
    conf.register_cli_opt(Opt::string("name"), None).unwrap();

    conf.parse(args(&["--config-file", f, "--name", "cli"]))
        .unwrap();
    assert_eq!(conf.get_str("name", None).unwrap().as_deref(), Some("cli"));

    // The file named after the flag wins over the flag; the environment beats a file value.
    conf.parse(args(&["--name", "cli", "--config-file", f]))
        .unwrap();
    assert_eq!(conf.get_str("name", None).unwrap().as_deref(), Some("env"));
}

#[test]
fn overrides_and_defaults_at_runtime() {
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_opt(Opt::integer("n").default(1), None)
        .unwrap();
    conf.register_opt(Opt::string("s").default("base"), Some("g"))
        .unwrap();
    conf.register_opt(Opt::string("t").default("${g.s}-t"), None)
        .unwrap();
    conf.parse(args(&[])).unwrap();

    conf.set_default("n", 5, None).unwrap();
    assert_eq!(
        conf.resolve("n", None).unwrap().location,
        Some(Location::SetDefault)
    );
    assert_eq!(conf.get_int("n", None).unwrap(), Some(5));
    conf.set_override("n", "7", None).unwrap();
    assert_eq!(conf.get_int("n", None).unwrap(), Some(7));
    assert_eq!(
        conf.location("n", None).unwrap(),
        Some(Location::SetOverride)
    );
    // The value is checked when the override is set.
    let e = conf.set_override("n", "x", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Value);
    conf.clear_override("n", None).unwrap();
    assert_eq!(conf.get_int("n", None).unwrap(), Some(5));
    conf.clear_default("n", None).unwrap();
    assert_eq!(conf.get_int("n", None).unwrap(), Some(1));

    // Overrides are interpolated when read.
    conf.set_override("s", "over", Some("g")).unwrap();
    assert_eq!(conf.get_str("t", None).unwrap().as_deref(), Some("over-t"));
    conf.reset();
    assert_eq!(conf.get_str("t", None).unwrap().as_deref(), Some("base-t"));
}

#[test]
fn typed_getters_refuse_other_types() {
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_opt(Opt::string("s").default("x"), None)
        .unwrap();
    conf.register_opt(Opt::list("l").default(vec!["a", "b"]), None)
        .unwrap();
    conf.register_opt(Opt::dict("d"), None).unwrap();
    conf.register_opt(Opt::float("f").default(1.5), None)
        .unwrap();
    conf.parse(args(&[])).unwrap();
    assert!(conf.get_int("s", None).is_err());
    assert_eq!(conf.get_str_list("l", None).unwrap().unwrap(), ["a", "b"]);
    assert_eq!(conf.get_dict("d", None).unwrap(), None);
    assert_eq!(conf.get_float("f", None).unwrap(), Some(1.5));
    assert_eq!(
        conf.get("missing", None).unwrap_err().kind(),
        ErrorKind::NoSuchOpt
    );
    assert_eq!(
        conf.get("s", Some("nogroup")).unwrap_err().kind(),
        ErrorKind::NoSuchGroup
    );
}

#[test]
fn required_options_are_checked_at_parse_time() {
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_opt(Opt::string("must").required(true), Some("g"))
        .unwrap();
    let e = conf.parse(args(&[])).unwrap_err();
    assert_eq!(e.to_string(), "value required for option must in group [g]");
    conf.set_env(env(&[("OS_G__MUST", "x")]));
    conf.parse(args(&[])).unwrap();
    assert_eq!(
        conf.get_str("must", Some("g")).unwrap().as_deref(),
        Some("x")
    );
}

#[test]
fn reload_rereads_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "a.conf", "[DEFAULT]\nn = 1\n");
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_opt(Opt::integer("n"), None).unwrap();
    conf.parse(args(&["--config-file", f.to_str().unwrap()]))
        .unwrap();
    assert_eq!(conf.get_int("n", None).unwrap(), Some(1));
    write(dir.path(), "a.conf", "[DEFAULT]\nn = 2\n");
    conf.reload_config_files().unwrap();
    assert_eq!(conf.get_int("n", None).unwrap(), Some(2));
    // A broken file keeps the previous values.
    write(dir.path(), "a.conf", "[DEFAULT\n");
    let e = conf.reload_config_files().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigFileParse);
    assert_eq!(conf.get_int("n", None).unwrap(), Some(2));
}

#[test]
fn mutate_changes_only_mutable_options_and_calls_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "a.conf", "[DEFAULT]\nlevel = info\nport = 1\n");
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_opt(Opt::string("level").mutable(), None)
        .unwrap();
    conf.register_opt(Opt::integer("port"), None).unwrap();
    conf.parse(args(&["--config-file", f.to_str().unwrap()]))
        .unwrap();

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s2 = seen.clone();
    conf.register_mutate_hook(move |conf, changes| {
        for c in changes {
            s2.lock().unwrap().push(format!(
                "{}={:?}",
                c.name,
                conf.get_str(&c.name, None).unwrap()
            ));
        }
    });
    write(dir.path(), "a.conf", "[DEFAULT]\nlevel = debug\nport = 2\n");
    let mut changes = Vec::new();
    let out = logs(|| changes = conf.mutate_config_files().unwrap());
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].name, "level");
    assert_eq!(changes[0].old, Some(Value::String("info".into())));
    assert_eq!(changes[0].new, Some(Value::String("debug".into())));
    assert!(
        out.contains("Ignoring change to immutable option DEFAULT.port"),
        "{out}"
    );
    assert_eq!(
        conf.get_str("level", None).unwrap().as_deref(),
        Some("debug")
    );
    assert_eq!(conf.get_int("port", None).unwrap(), Some(1));
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["level=Some(\"debug\")".to_owned()]
    );
}

#[test]
fn log_opt_values_masks_secrets() {
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_opt(
        Opt::string("password").secret().default("hunter2"),
        Some("db"),
    )
    .unwrap();
    conf.register_opt(Opt::integer("workers").default(3), None)
        .unwrap();
    conf.register_opt(Opt::boolean("debug").default(false), None)
        .unwrap();
    conf.parse(args(&["--config-file=/dev/null"])).unwrap();
    let lines = conf.opt_value_lines();
    assert_eq!(lines[0], "*".repeat(80));
    assert_eq!(lines[1], "Configuration options gathered from:");
    assert_eq!(lines[2], "command line args: ['--config-file=/dev/null']");
    assert_eq!(lines[3], "config files: ['/dev/null']");
    assert!(lines.contains(&format!("{:<30} = 3", "workers")));
    assert!(lines.contains(&format!("{:<30} = False", "debug")));
    assert!(lines.contains(&format!("{:<30} = ****", "db.password")));
    let out = logs(|| conf.log_opt_values(tracing::Level::INFO));
    assert!(!out.contains("hunter2"));
    assert!(out.contains("db.password"));
}

#[test]
fn deprecation_warnings_are_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "a.conf", "[DEFAULT]\nold = 1\ngone = x\n");
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_opt(Opt::string("new").deprecated_name("old"), None)
        .unwrap();
    conf.register_opt(
        Opt::string("gone").deprecated_for_removal(Some("no longer used")),
        None,
    )
    .unwrap();
    conf.parse(args(&["--config-file", f.to_str().unwrap()]))
        .unwrap();
    let out = logs(|| {
        conf.get("new", None).unwrap();
        conf.get("new", None).unwrap();
        conf.get("gone", None).unwrap();
    });
    assert_eq!(
        out.matches("Option \"old\" from group \"DEFAULT\" is deprecated. Use option \"new\"")
            .count(),
        1,
        "{out}"
    );
    assert!(
        out.contains("is deprecated for removal (no longer used)"),
        "{out}"
    );
}

#[test]
fn help_version_and_usage_errors() {
    let mut conf = ConfigOpts::new();
    conf.register_cli_opt(Opt::string("name").help("The name to use"), None)
        .unwrap();
    conf.register_cli_opt(Opt::boolean("flag"), Some("grp"))
        .unwrap();
    let e = conf.parse(args(&["--help"]).version("1.2.3")).unwrap_err();
    assert_eq!(e.exit_code(), 0);
    let help = e.to_string();
    assert!(
        help.contains("--name") && help.contains("The name to use"),
        "{help}"
    );
    assert!(
        help.contains("--grp-flag") && help.contains("--grp-noflag"),
        "{help}"
    );
    assert!(
        help.contains("--config-file") && help.contains("--config-dir"),
        "{help}"
    );
    let e = conf
        .parse(args(&["--version"]).version("1.2.3"))
        .unwrap_err();
    assert_eq!(
        (e.exit_code(), e.to_string().trim().ends_with("1.2.3")),
        (0, true)
    );
    let e = conf.parse(args(&["--nope"])).unwrap_err();
    assert_eq!((e.kind(), e.exit_code()), (ErrorKind::CommandLine, 2));
}

#[test]
fn sub_commands() {
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_sub_commands(
        "action",
        vec![
            SubCommand::new("sync").arg(Opt::string("version").positional().required(false)),
            SubCommand::new("show").arg(Opt::boolean("verbose")),
        ],
    )
    .unwrap();
    conf.parse(args(&["sync", "42"])).unwrap();
    let sub = conf.sub_command().unwrap();
    assert_eq!((sub.dest.as_str(), sub.name.as_str()), ("action", "sync"));
    assert_eq!(
        sub.args,
        vec![("version".to_owned(), vec!["42".to_owned()])]
    );
    conf.parse(args(&["show", "--verbose"])).unwrap();
    assert_eq!(conf.sub_command().unwrap().name, "show");
}

#[test]
fn default_config_files_are_discovered_like_oslo() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".proj")).unwrap();
    write(&home.path().join(".proj"), "proj.conf", "");
    write(home.path(), "proj.conf", "");
    write(home.path(), "prog.conf", "");
    std::fs::create_dir_all(home.path().join("prog.conf.d")).unwrap();
    let files = oslo_config::find_config_files_in(Some(home.path()), Some("proj"), Some("prog"));
    assert_eq!(
        files,
        vec![
            home.path().join(".proj/proj.conf"),
            home.path().join("prog.conf")
        ]
    );
    let dirs = oslo_config::find_config_dirs_in(Some(home.path()), Some("proj"), Some("prog"));
    assert_eq!(dirs, vec![home.path().join("prog.conf.d")]);
}

#[test]
fn missing_and_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut conf = ConfigOpts::new();
    let a = dir.path().join("a.conf");
    let b = dir.path().join("b.conf");
    let e = conf
        .parse(args(&[
            "--config-file",
            a.to_str().unwrap(),
            "--config-file",
            b.to_str().unwrap(),
        ]))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Failed to find some config files: {},{}",
            a.display(),
            b.display()
        )
    );
    let e = conf
        .parse(args(&["--config-dir", a.to_str().unwrap()]))
        .unwrap_err();
    assert!(matches!(e, Error::ConfigDirNotFound { .. }));
    let bad = write(dir.path(), "bad.conf", "[DEFAULT]\nx\n");
    let e = conf
        .parse(args(&["--config-file", bad.to_str().unwrap()]))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Failed to parse {p}: at {p}:2, No ':' or '=' found in assignment: 'x'",
            p = bad.display()
        )
    );
}

#[test]
fn groups_keep_their_help() {
    let mut conf = ConfigOpts::new();
    conf.register_group(OptGroup::new("db").help("Database"))
        .unwrap();
    conf.register_group(OptGroup::new("db").help("ignored"))
        .unwrap();
    assert_eq!(conf.groups().next().unwrap().help_text(), Some("Database"));
    assert!(conf.require_group("db").is_ok());
    assert_eq!(
        conf.require_group("nope").unwrap_err().kind(),
        ErrorKind::NoSuchGroup
    );
}

#[test]
fn find_file_looks_next_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(etc.join("conf.d")).unwrap();
    let f = write(&etc, "app.conf", "[DEFAULT]\n");
    write(&etc, "policy.yaml", "{}\n");
    write(&etc.join("conf.d"), "other.yaml", "{}\n");
    let mut conf = ConfigOpts::new();
    assert_eq!(
        conf.find_file("policy.yaml").unwrap_err().kind(),
        ErrorKind::NotInitialized
    );
    conf.parse(args(&[
        "--config-file",
        f.to_str().unwrap(),
        "--config-dir",
        etc.join("conf.d").to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(
        conf.find_file("policy.yaml").unwrap(),
        Some(etc.join("policy.yaml"))
    );
    assert_eq!(
        conf.find_file("other.yaml").unwrap(),
        Some(etc.join("conf.d/other.yaml"))
    );
    assert_eq!(conf.find_file("nothing-like-this.yaml").unwrap(), None);
}

#[test]
fn reload_after_mutate_refreshes_mutable_options() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "a.conf", "[DEFAULT]\nlevel = a\n");
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_opt(Opt::string("level").mutable(), None)
        .unwrap();
    conf.parse(args(&["--config-file", f.to_str().unwrap()]))
        .unwrap();
    write(dir.path(), "a.conf", "[DEFAULT]\nlevel = b\n");
    conf.mutate_config_files().unwrap();
    assert_eq!(conf.get_str("level", None).unwrap().as_deref(), Some("b"));
    write(dir.path(), "a.conf", "[DEFAULT]\nlevel = c\n");
    conf.reload_config_files().unwrap();
    assert_eq!(conf.get_str("level", None).unwrap().as_deref(), Some("c"));
}

/// A size with a unit suffix, as a service might define its own type.
#[derive(Debug)]
struct Size;

impl oslo_config::types::CustomType for Size {
    fn type_name(&self) -> String {
        "size value".to_owned()
    }
    fn parse(&self, raw: &str) -> Result<Value, oslo_config::types::InvalidValue> {
        let raw = raw.trim();
        let (num, mult) = match raw.strip_suffix('K') {
            Some(n) => (n, 1024),
            None => (raw, 1),
        };
        num.parse::<i64>()
            .map(|n| Value::Integer(n * mult))
            .map_err(|_| oslo_config::types::InvalidValue::new(format!("not a size: {raw:?}")))
    }
    fn format(&self, value: &Value) -> String {
        value.to_string()
    }
}

#[test]
fn custom_types_resolve_like_builtin_ones() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "a.conf", "[DEFAULT]\nbuf = 4K\nbad = lots\n");
    let ty = || oslo_config::OptType::Custom(Arc::new(Size));
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_opt(Opt::new("buf", ty()).default("1K"), None)
        .unwrap();
    conf.register_opt(Opt::new("bad", ty()), None).unwrap();
    conf.register_opt(Opt::new("dflt", ty()).default("2K"), None)
        .unwrap();
    conf.parse(args(&["--config-file", f.to_str().unwrap()]))
        .unwrap();
    assert_eq!(conf.get_int("buf", None).unwrap(), Some(4096));
    assert_eq!(conf.get_int("dflt", None).unwrap(), Some(2048));
    let e = conf.get("bad", None).unwrap_err();
    assert!(e.to_string().contains("not a size"), "{e}");
    assert_eq!(Opt::new("x", ty()).type_name(), "size value");
    assert!(
        ConfigOpts::new()
            .register_opt(Opt::new("y", ty()).default("zz"), None)
            .is_err()
    );
}
