//! The `[database]` options through oslo-config, against Python oslo.db: the same config file, argv and
//! environment give the same option values and the same settings; a facade built from them works; the
//! connection URLs stay secret; and the generator lists the `oslo.db` namespace as Python's does.
#![cfg(feature = "db")]

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;
use oslo_config::{ConfigOpts, EnvSource, ParseArgs};
use oslo_db::{DatabaseOptions, Facade, RequestContext, config};
use serde_json::{Value, json};

const PYTHON: &str = r#"
import json, os, sys
from oslo_config import cfg
from oslo_db import options
inp = json.load(sys.stdin)
os.environ.update(inp["env"])
conf = cfg.ConfigOpts()
options.set_defaults(conf, **inp["defaults"])
conf(inp["argv"], project="cfgtest", default_config_files=[], default_config_dirs=[])
print(json.dumps({o.dest: getattr(conf.database, o.dest) for o in options.database_opts}))
"#;

fn python(argv: &[String], env: &HashMap<String, String>, defaults: Value) -> Value {
    oslo_tests::run_python_json(
        PYTHON,
        &json!({"argv": argv, "env": env, "defaults": defaults}).to_string(),
    )
}

fn parse(
    argv: &[String],
    env: &HashMap<String, String>,
    defaults: &config::Defaults,
) -> ConfigOpts {
    let mut conf = ConfigOpts::new();
    config::set_defaults(&mut conf, defaults).unwrap();
    conf.set_env(EnvSource::Map(env.clone()));
    conf.parse(
        ParseArgs::new(argv.to_vec())
            .project("cfgtest")
            .default_config_files(Vec::<String>::new())
            .default_config_dirs(Vec::<String>::new()),
    )
    .unwrap();
    conf
}

/// Every option's value as Python's `json.dumps` shows it.
fn values(conf: &ConfigOpts) -> Value {
    let g = Some(config::GROUP);
    let mut out = serde_json::Map::new();
    for opt in config::opts() {
        let name = opt.dest_name();
        let v = match opt.type_name().as_str() {
            "boolean value" => json!(conf.get_bool(name, g).unwrap()),
            "integer value" => json!(conf.get_int(name, g).unwrap()),
            _ => json!(conf.get_str(name, g).unwrap()),
        };
        out.insert(name.to_owned(), v);
    }
    Value::Object(out)
}

/// The settings as oslo.db takes them from the Python values.
fn expected_settings(py: &Value) -> DatabaseOptions {
    let secs = |k: &str| Duration::from_secs(py[k].as_u64().unwrap());
    let int = |k: &str| py[k].as_i64().unwrap();
    let mut o = DatabaseOptions::default();
    o.connection = py["connection"].as_str().map(String::from);
    o.slave_connection = py["slave_connection"].as_str().map(String::from);
    o.synchronous_reader = py["synchronous_reader"].as_bool().unwrap();
    o.sqlite_synchronous = py["sqlite_synchronous"].as_bool().unwrap();
    o.mysql_sql_mode = py["mysql_sql_mode"].as_str().unwrap().to_owned();
    o.mysql_wsrep_sync_wait = py["mysql_wsrep_sync_wait"].as_i64();
    o.connection_recycle_time = secs("connection_recycle_time");
    o.max_pool_size = u32::try_from(int("max_pool_size")).unwrap();
    o.max_overflow = u32::try_from(int("max_overflow")).unwrap();
    if let Some(t) = py["pool_timeout"].as_u64() {
        o.pool_timeout = Duration::from_secs(t);
    }
    o.max_retries = i32::try_from(int("max_retries")).unwrap();
    o.retry_interval = secs("retry_interval");
    o.connection_debug = u8::try_from(int("connection_debug")).unwrap();
    o.use_db_reconnect = py["use_db_reconnect"].as_bool().unwrap();
    o.db_retry_interval = secs("db_retry_interval");
    o.db_inc_retry_interval = py["db_inc_retry_interval"].as_bool().unwrap();
    o.db_max_retry_interval = secs("db_max_retry_interval");
    o.db_max_retries = i32::try_from(int("db_max_retries")).unwrap();
    o.connection_parameters = py["connection_parameters"].as_str().unwrap().to_owned();
    o
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn file_argv_and_environment_match_python() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.sqlite");
    let first = dir.path().join("api.conf");
    write(
        &first,
        &format!(
            "[DEFAULT]\nstate = {}\n\n[database]\nconnection = sqlite:///$state\n\
             slave_connection = mysql+pymysql://nova:s3cret@db/nova\nmax_pool_size = 7\n\
             sqlite_synchronous = false\nmysql_sql_mode =\nconnection_debug = 50\n\
             db_inc_retry_interval = off\nmysql_wsrep_sync_wait = 1\nbackend = sqlalchemy\n",
            db.display()
        ),
    );
    let second = dir.path().join("override.conf");
    write(
        &second,
        "[database]\nmax_pool_size = 9\nretry_interval = 3\n",
    );
    // `state` is ours: Python needs it registered too for the interpolation.
    let argv: Vec<String> = [
        "--config-file",
        first.to_str().unwrap(),
        "--config-file",
        second.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let env: HashMap<String, String> = [
        ("OS_DATABASE__DB_MAX_RETRIES".to_owned(), "4".to_owned()),
        (
            "OS_DATABASE__USE_DB_RECONNECT".to_owned(),
            "true".to_owned(),
        ),
    ]
    .into();
    let script = PYTHON.replace(
        "options.set_defaults(conf, **inp[\"defaults\"])",
        "options.set_defaults(conf, **inp[\"defaults\"])\nconf.register_opt(cfg.StrOpt(\"state\"))",
    );
    let py = oslo_tests::run_python_json(
        &script,
        &json!({"argv": argv, "env": env, "defaults": {"max_overflow": 3}}).to_string(),
    );
    let mut conf = ConfigOpts::new();
    conf.register_opt(oslo_config::Opt::string("state"), None)
        .unwrap();
    config::set_defaults(&mut conf, &config::Defaults::new().max_overflow(3)).unwrap();
    conf.set_env(EnvSource::Map(env.clone()));
    conf.parse(
        ParseArgs::new(argv.clone())
            .project("cfgtest")
            .default_config_files(Vec::<String>::new())
            .default_config_dirs(Vec::<String>::new()),
    )
    .unwrap();
    assert_eq!(values(&conf), py);
    let settings = DatabaseOptions::from_config(&conf).unwrap();
    assert_eq!(settings, expected_settings(&py));
    assert_eq!(settings.max_pool_size, 9);
    assert_eq!(settings.db_max_retries, 4);
    assert!(settings.mysql_sql_mode.is_empty());

    // The facade from that configuration works on the SQLite file the config names.
    let facade = Facade::<SqliteConnection>::new(
        settings.slave_connection(format!("sqlite:///{}", db.display())),
    )
    .unwrap();
    let mut ctx = RequestContext::new();
    facade
        .writer()
        .using(&mut ctx, |ctx| {
            ctx.connection()?
                .batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)")?;
            Ok::<_, oslo_db::Error>(())
        })
        .unwrap();
    assert!(db.exists());
}

#[test]
fn defaults_and_set_defaults_match_python() {
    let none = HashMap::new();
    let py = python(&[], &none, json!({}));
    let conf = parse(&[], &none, &config::Defaults::new());
    assert_eq!(values(&conf), py);
    let settings = DatabaseOptions::from_config(&conf).unwrap();
    assert_eq!(settings, expected_settings(&py));
    assert_eq!(settings, DatabaseOptions::default());

    let py = python(
        &[],
        &none,
        json!({"connection": "sqlite://", "max_pool_size": 2, "max_overflow": 0, "pool_timeout": 7}),
    );
    let defaults = config::Defaults::new()
        .connection("sqlite://")
        .max_pool_size(2)
        .max_overflow(0)
        .pool_timeout(7);
    let conf = parse(&[], &none, &defaults);
    assert_eq!(values(&conf), py);
    let settings = DatabaseOptions::from_config(&conf).unwrap();
    assert_eq!(settings, expected_settings(&py));
    // An in-memory SQLite database from the defaults alone.
    let facade = Facade::<SqliteConnection>::new(settings).unwrap();
    let mut ctx = RequestContext::new();
    let n: i64 = facade
        .reader()
        .using(&mut ctx, |ctx| {
            use diesel::prelude::*;
            Ok::<_, oslo_db::Error>(
                diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("6 * 7"))
                    .get_result(ctx.connection()?)?,
            )
        })
        .unwrap();
    assert_eq!(n, 42);
}

#[test]
fn connection_urls_are_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("db.conf");
    write(
        &file,
        "[database]\nconnection = mysql://nova:hunter2@db/nova\nslave_connection = mysql://r:hunter3@db/nova\n",
    );
    let conf = parse(
        &["--config-file".to_owned(), file.display().to_string()],
        &HashMap::new(),
        &config::Defaults::new(),
    );
    let lines = conf.opt_value_lines().join("\n");
    assert!(lines.contains("database.connection"), "{lines}");
    assert!(!lines.contains("hunter"), "{lines}");
    let settings = DatabaseOptions::from_config(&conf).unwrap();
    assert!(!format!("{settings:?}").contains("hunter"));
    let defaults = config::Defaults::new().connection("mysql://a:hunter4@h/d");
    assert!(!format!("{defaults:?}").contains("hunter"));
}

#[test]
fn bad_values_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("db.conf");
    write(&file, "[database]\nmax_pool_size = -1\n");
    let argv = ["--config-file".to_owned(), file.display().to_string()];
    let conf = parse(&argv, &HashMap::new(), &config::Defaults::new());
    let err = DatabaseOptions::from_config(&conf).unwrap_err().to_string();
    assert!(err.contains("max_pool_size"), "{err}");

    write(&file, "[database]\nconnection_debug = 101\n");
    let conf = parse(&argv, &HashMap::new(), &config::Defaults::new());
    let err = DatabaseOptions::from_config(&conf).unwrap_err().to_string();
    assert!(err.contains("connection_debug"), "{err}");

    // SQLAlchemy's "no limit" and "never recycle".
    write(
        &file,
        "[database]\nmax_overflow = -1\nconnection_recycle_time = -1\n",
    );
    let conf = parse(&argv, &HashMap::new(), &config::Defaults::new());
    let settings = DatabaseOptions::from_config(&conf).unwrap();
    assert_eq!(settings.max_overflow, u32::MAX);
    assert_eq!(settings.connection_recycle_time, Duration::ZERO);
}

#[test]
fn generator_lists_the_namespace_as_python_does() {
    let found = oslo_config::generator::list_opts(&[config::NAMESPACE.to_owned()]).unwrap();
    let ours = oslo_config::generator::sample_ini(&found, &Default::default());
    let theirs = oslo_tests::run_python(
        "import subprocess, sys, os\n\
         exe = os.path.join(os.path.dirname(sys.executable), 'oslo-config-generator')\n\
         sys.stdout.write(subprocess.run([exe, '--namespace', 'oslo.db'], check=True, \
         capture_output=True, text=True).stdout)\n",
        "",
    );
    assert_eq!(ours, theirs);
}

#[test]
fn logged_values_match_python_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("db.conf");
    write(
        &file,
        "[database]\nconnection = mysql://nova:hunter2@db/nova\nslave_connection = mysql://r:hunter3@db/nova\n\
         max_pool_size = 3\nconnection_parameters = charset=utf8\n",
    );
    let argv = vec!["--config-file".to_owned(), file.display().to_string()];
    let script = r#"
import json, logging, sys
from oslo_config import cfg
from oslo_db import options
inp = json.load(sys.stdin)
conf = cfg.ConfigOpts()
options.set_defaults(conf)
conf(inp["argv"], project="cfgtest", default_config_files=[], default_config_dirs=[])
class Log:
    lines = []
    def log(self, level, msg, *args):
        self.lines.append(msg % args if args else msg)
conf.log_opt_values(Log(), logging.INFO)
print(json.dumps([l for l in Log.lines if l.startswith("database.")]))
"#;
    let py = oslo_tests::run_python_json(script, &json!({"argv": argv}).to_string());
    let conf = parse(&argv, &HashMap::new(), &config::Defaults::new());
    let ours: Vec<String> = conf
        .opt_value_lines()
        .into_iter()
        .filter(|l| l.starts_with("database."))
        .collect();
    assert_eq!(json!(ours), py);
    assert!(
        ours.iter()
            .any(|l| l.starts_with("database.connection ") && l.ends_with(" = ****")),
        "{ours:?}"
    );
}

#[test]
fn the_pool_follows_the_configured_size_and_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pool.sqlite");
    let file = dir.path().join("db.conf");
    write(
        &file,
        &format!(
            "[database]\nconnection = sqlite:///{}\nmax_pool_size = 1\nmax_overflow = 0\npool_timeout = 1\nmax_retries = 0\n",
            db.display()
        ),
    );
    let argv = vec!["--config-file".to_owned(), file.display().to_string()];
    let conf = parse(&argv, &HashMap::new(), &config::Defaults::new());
    let facade =
        Facade::<SqliteConnection>::new(DatabaseOptions::from_config(&conf).unwrap()).unwrap();
    // Another thread holds the only connection; a checkout here waits `pool_timeout` for it.
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let waited = std::thread::scope(|s| {
        let holder = facade.clone();
        s.spawn(move || {
            let mut ctx = RequestContext::new();
            holder
                .writer()
                .using(&mut ctx, |_| {
                    held_tx.send(()).unwrap();
                    done_rx.recv().unwrap();
                    Ok::<_, oslo_db::Error>(())
                })
                .unwrap();
        });
        held_rx.recv().unwrap();
        let started = std::time::Instant::now();
        let mut ctx = RequestContext::new();
        let result = facade
            .writer()
            .using(&mut ctx, |_| Ok::<_, oslo_db::Error>(()));
        let elapsed = started.elapsed();
        done_tx.send(()).unwrap();
        (result, elapsed)
    });
    assert!(
        matches!(waited.0, Err(oslo_db::Error::PoolTimeout { .. })),
        "{:?}",
        waited.0
    );
    assert!(waited.1 >= Duration::from_secs(1), "{:?}", waited.1);

    // With one overflow connection, an independent scope inside a writer gets a second connection.
    write(
        &file,
        &format!(
            "[database]\nconnection = sqlite:///{}\nmax_pool_size = 1\nmax_overflow = 1\n",
            db.display()
        ),
    );
    let conf = parse(&argv, &HashMap::new(), &config::Defaults::new());
    let facade =
        Facade::<SqliteConnection>::new(DatabaseOptions::from_config(&conf).unwrap()).unwrap();
    let mut ctx = RequestContext::new();
    let inner = facade
        .writer()
        .using(&mut ctx, |ctx| {
            Ok::<_, oslo_db::Error>(
                facade
                    .reader()
                    .independent()
                    .using(ctx, |_| Ok::<_, oslo_db::Error>(())),
            )
        })
        .unwrap();
    assert!(inner.is_ok(), "{inner:?}");
}

#[test]
fn option_data_matches_python() {
    // The machine-readable data (`--format json`) names every attribute of every option: type,
    // default, bounds, choices, secret, deprecated names.
    let found = oslo_config::generator::list_opts(&[config::NAMESPACE.to_owned()]).unwrap();
    let ours = oslo_config::generator::machine_readable(&found, Value::Null);
    let theirs = oslo_tests::run_python_json(
        "import subprocess, sys, os\n\
         exe = os.path.join(os.path.dirname(sys.executable), 'oslo-config-generator')\n\
         sys.stdout.write(subprocess.run([exe, '--namespace', 'oslo.db', '--format', 'json'], \
         check=True, capture_output=True, text=True).stdout)\n",
        "",
    );
    // Only our group: the empty `DEFAULT` entry is the generator's own (and its keys differ there).
    let g = config::GROUP;
    assert_eq!(ours["options"][g], theirs["options"][g]);
    assert_eq!(ours["deprecated_options"], theirs["deprecated_options"]);
}
