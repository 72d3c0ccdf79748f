//! A service's configuration: options in code, `--config-file`, `OS_*` variables and flags.
//!
//! ```sh
//! printf '[DEFAULT]\nworkers = 8\n[database]\nconnection = sqlite:///$state_path/app.db\n' > /tmp/app.conf
//! OS_DATABASE__POOL_SIZE=20 cargo run -p oslo-config --example service -- --config-file /tmp/app.conf --debug
//! ```

use std::process::ExitCode;

use oslo_config::{ConfigOpts, Opt, OptGroup, ParseArgs};

fn main() -> ExitCode {
    let mut conf = ConfigOpts::new();
    let setup = (|| -> Result<(), oslo_config::Error> {
        conf.register_opts(
            [
                Opt::integer("workers")
                    .min(1)
                    .default(1)
                    .help("Worker processes"),
                Opt::string("state_path")
                    .default("/var/lib/app")
                    .help("Where state lives"),
            ],
            None,
        )?;
        conf.register_cli_opt(
            Opt::boolean("debug").short('d').help("Log at debug level"),
            None,
        )?;
        conf.register_group(OptGroup::new("database").help("Database access"))?;
        conf.register_opts(
            [
                Opt::string("connection").secret().help("Database URL"),
                Opt::integer("pool_size")
                    .default(5)
                    .help("Connections in the pool"),
            ],
            Some("database"),
        )?;
        conf.parse(
            ParseArgs::new(std::env::args().skip(1))
                .project("app")
                .version("1.0"),
        )
    })();
    if let Err(e) = setup {
        let code = e.exit_code();
        if code == 0 {
            print!("{e}");
        } else {
            eprintln!("{e}");
        }
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    for (group, opt) in conf.all_opts() {
        match conf.resolve(opt.dest_name(), group) {
            Ok(r) => {
                let value = if opt.is_secret() {
                    "****".to_owned()
                } else {
                    r.value
                        .map(|v| v.python_repr())
                        .unwrap_or_else(|| "None".to_owned())
                };
                let from = r
                    .location
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "unset".to_owned());
                println!(
                    "{}.{} = {value}  ({from})",
                    group.unwrap_or("DEFAULT"),
                    opt.dest_name()
                );
            }
            Err(e) => println!("{}.{}: {e}", group.unwrap_or("DEFAULT"), opt.dest_name()),
        }
    }
    ExitCode::SUCCESS
}
