//! TOML layers: typed values, interpolation, precedence under INI files, provenance.

use std::collections::HashMap;
use std::path::PathBuf;

use oslo_config::{ConfigOpts, EnvSource, ErrorKind, Location, Opt, ParseArgs, Value};

#[test]
fn toml_layers_rank_below_ini_and_keep_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.toml");
    std::fs::write(
        &base,
        "workers = 4\nname = \"svc-$workers\"\ntags = [\"a\", \"b\"]\ndebug = true\n\n[Database]\nurl = \"sqlite://\"\npool = 3\n",
    )
    .unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, "[database]\npool = 9\n").unwrap();
    let ini = dir.path().join("app.conf");
    std::fs::write(&ini, "[database]\nurl = mysql://ini\n").unwrap();

    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Map(HashMap::from([(
        "OS_DEFAULT__DEBUG".to_owned(),
        "false".to_owned(),
    )])));
    conf.register_opt(Opt::integer("workers").default(1), None)
        .unwrap();
    conf.register_opt(Opt::string("name"), None).unwrap();
    conf.register_opt(Opt::list("tags"), None).unwrap();
    conf.register_opt(Opt::boolean("debug"), None).unwrap();
    conf.register_opt(Opt::string("url"), Some("database"))
        .unwrap();
    conf.register_opt(Opt::integer("pool").default(1), Some("database"))
        .unwrap();
    conf.parse(
        ParseArgs::new(["--config-file", ini.to_str().unwrap()])
            .prog("t")
            .default_config_files(Vec::<PathBuf>::new())
            .default_config_dirs(Vec::<PathBuf>::new())
            .toml_file(&base)
            .toml_file(&site),
    )
    .unwrap();

    assert_eq!(conf.get_int("workers", None).unwrap(), Some(4));
    assert_eq!(
        conf.location("workers", None).unwrap(),
        Some(Location::Toml { path: base.clone() })
    );
    // Strings are interpolated and converted like INI values.
    assert_eq!(
        conf.get_str("name", None).unwrap().as_deref(),
        Some("svc-4")
    );
    assert_eq!(
        conf.get("tags", None).unwrap(),
        Some(Value::List(vec!["a".into(), "b".into()]))
    );
    // The environment beats TOML; INI files beat TOML; a later TOML file beats an earlier one.
    assert_eq!(conf.get_bool("debug", None).unwrap(), Some(false));
    assert_eq!(
        conf.get_str("url", Some("database")).unwrap().as_deref(),
        Some("mysql://ini")
    );
    assert_eq!(conf.get_int("pool", Some("database")).unwrap(), Some(9));
    assert_eq!(
        conf.location("pool", Some("database")).unwrap(),
        Some(Location::Toml { path: site })
    );
}

#[test]
fn bad_toml_values_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "workers = \"many\"\n").unwrap();
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    conf.register_opt(Opt::integer("workers"), None).unwrap();
    conf.parse(
        ParseArgs::new(Vec::<String>::new())
            .prog("t")
            .default_config_files(Vec::<PathBuf>::new())
            .toml_file(&bad),
    )
    .unwrap();
    let e = conf.get("workers", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigSourceValue);
    assert_eq!(e.location(), Some(&Location::Toml { path: bad.clone() }));

    std::fs::write(&bad, "workers = [\n").unwrap();
    let e = conf
        .parse(
            ParseArgs::new(Vec::<String>::new())
                .prog("t")
                .default_config_files(Vec::<PathBuf>::new())
                .toml_file(&bad),
        )
        .unwrap_err();
    assert!(e.to_string().contains("bad.toml"), "{e}");
    let missing = dir.path().join("missing.toml");
    let e = conf
        .parse(
            ParseArgs::new(Vec::<String>::new())
                .prog("t")
                .default_config_files(Vec::<PathBuf>::new())
                .toml_file(&missing),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigFilesNotFound);
}
