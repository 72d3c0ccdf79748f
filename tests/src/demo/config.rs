//! oslo-config at work: options registered in code, a sample INI file, command-line flags and an
//! environment variable resolved together, each value printed with where it came from.

use std::collections::HashMap;

use oslo_config::{ConfigOpts, EnvSource, Location, Opt, OptGroup, ParseArgs};

const SAMPLE: &str = "\
[DEFAULT]
# Comments start a line; there are no inline comments.
workers = 8
state_path = /var/lib/demo
enabled_apis = compute, metadata
log_dir = $state_path/log

[database]
connection = mysql+pymysql://nova:secret@db.example.org/nova
max_pool_size = 5

[api]
listen_port = 8774
";

fn show(location: Option<&Location>) -> String {
    match location {
        None => "no value".to_owned(),
        Some(Location::File { path, line }) => {
            format!(
                "file {}:{line}",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            )
        }
        Some(other) => other.to_string(),
    }
}

/// Runs the part.
pub fn run() -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("oslo-rs-demo-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let file = dir.join("demo.conf");
    std::fs::write(&file, SAMPLE).map_err(|e| format!("write {}: {e}", file.display()))?;
    let result = resolve(&file);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn resolve(file: &std::path::Path) -> Result<(), String> {
    let mut conf = ConfigOpts::new();
    let e = |e: oslo_config::Error| e.to_string();
    conf.register_opts(
        [
            Opt::integer("workers")
                .min(1)
                .default(1)
                .help("Number of API workers"),
            Opt::string("state_path")
                .default("/var/lib/nova")
                .help("Top-level state directory"),
            Opt::list("enabled_apis")
                .default(vec!["compute"])
                .help("APIs to enable"),
            Opt::string("log_dir").help("Where logs go"),
            Opt::string("host")
                .default("localhost")
                .help("Name of this node"),
        ],
        None,
    )
    .map_err(e)?;
    conf.register_cli_opt(
        Opt::boolean("debug").short('d').help("Log at debug level"),
        None,
    )
    .map_err(e)?;
    conf.register_group(OptGroup::new("database").help("Database access"))
        .map_err(e)?;
    conf.register_opts(
        [
            Opt::string("connection")
                .secret()
                .help("SQLAlchemy-style database URL"),
            Opt::integer("max_pool_size").default(5).help("Pool size"),
        ],
        Some("database"),
    )
    .map_err(e)?;
    conf.register_group(OptGroup::new("api")).map_err(e)?;
    conf.register_cli_opt(
        Opt::port("listen_port").default(8774u16).help("API port"),
        Some("api"),
    )
    .map_err(e)?;

    // The process environment, plus one variable the demo sets for itself.
    let mut env: HashMap<String, String> = std::env::vars().collect();
    env.entry("OS_DATABASE__MAX_POOL_SIZE".to_owned())
        .or_insert_with(|| "20".to_owned());
    conf.set_env(EnvSource::Map(env));

    let file_arg = file.to_string_lossy().into_owned();
    let argv = [
        "--config-file",
        file_arg.as_str(),
        "--debug",
        "--api-listen_port",
        "9000",
    ];
    println!("argv: {}", argv.join(" "));
    println!("environment: OS_DATABASE__MAX_POOL_SIZE=20");
    conf.parse(ParseArgs::new(argv).prog("demo").project("oslo-rs-demo"))
        .map_err(e)?;

    for (group, opt) in conf
        .all_opts()
        .map(|(g, o)| (g.map(str::to_owned), o.clone()))
        .collect::<Vec<_>>()
    {
        let r = conf.resolve(opt.dest_name(), group.as_deref()).map_err(e)?;
        let shown = if opt.is_secret() {
            "****".to_owned()
        } else {
            r.value
                .as_ref()
                .map(|v| v.python_repr())
                .unwrap_or_else(|| "None".to_owned())
        };
        println!(
            "  {:<28} = {:<34} ({})",
            format!(
                "{}.{}",
                group.as_deref().unwrap_or("DEFAULT"),
                opt.dest_name()
            ),
            shown,
            show(r.location.as_ref())
        );
    }
    Ok(())
}
