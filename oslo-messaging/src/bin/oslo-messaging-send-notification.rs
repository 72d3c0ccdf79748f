//! `oslo-messaging-send-notification`: send one notification from the shell, with the original's flags.
//!
//! ```text
//! oslo-messaging-send-notification [--config-file FILE] [--transport-url URL] [--publisher-id ID]
//!     [--event-type T] [--topic T...] [--priority info|audit|warn|error|critical|sample] [--driver D]
//!     PAYLOAD
//! ```
//!
//! As in the original, the options come from oslo.config: `--config-file` names the file (else the
//! default files of the program, `oslo-messaging-send-notification.conf` in `~` or `/etc`), whose
//! `[DEFAULT] transport_url`, `[oslo_messaging_notifications]` (`transport_url`, `topics`, `retry`,
//! `routing_config`) and `[oslo_messaging_rabbit]` options apply; `--transport-url` and `--topic` win over
//! the file, and `--driver` (default `messagingv2`) replaces its drivers. The payload is sent as the string
//! given.

use std::process::ExitCode;

use clap::Parser;
use oslo_config::{ConfigOpts, ParseArgs};
use oslo_messaging::{Context, Notifier, Priority, config};

const PROG: &str = "oslo-messaging-send-notification";

#[derive(Parser)]
#[command(
    name = "oslo-messaging-send-notification",
    about = "Oslo.messaging notification sending"
)]
struct Cli {
    /// Path to configuration file.
    #[arg(long)]
    config_file: Option<String>,
    /// Transport URL.
    #[arg(long)]
    transport_url: Option<String>,
    /// Publisher ID.
    #[arg(long)]
    publisher_id: Option<String>,
    /// Event type.
    #[arg(long, default_value = "test")]
    event_type: String,
    /// Topic to send to.
    #[arg(long, num_args = 0..)]
    topic: Option<Vec<String>>,
    /// Priority.
    #[arg(long, default_value = "info", value_parser = ["info", "audit", "warn", "error", "critical", "sample"])]
    priority: String,
    /// Notification driver.
    #[arg(long, default_value = "messagingv2", value_parser = ["messagingv2", "messaging", "log", "routing", "noop", "test"])]
    driver: String,
    /// The notification payload.
    payload: String,
}

/// The options, as the original's `conf([], default_config_files=[file] if file else None)`.
fn configuration(file: Option<&str>) -> Result<ConfigOpts, String> {
    let mut conf = ConfigOpts::new();
    config::register_opts(&mut conf).map_err(|e| e.to_string())?;
    let mut args = ParseArgs::new(Vec::<String>::new()).prog(PROG);
    if let Some(f) = file {
        args = args.default_config_files([f]);
    }
    conf.parse(args).map_err(|e| e.to_string())?;
    Ok(conf)
}

async fn run(cli: Cli) -> Result<(), String> {
    let conf = configuration(cli.config_file.as_deref())?;
    let transport = config::notification_transport(&conf, cli.transport_url.as_deref())
        .map_err(|e| e.to_string())?;
    let mut b = Notifier::builder_from_config(transport.clone(), &conf)
        .map_err(|e| e.to_string())?
        .drivers([cli.driver]);
    if let Some(p) = cli.publisher_id {
        b = b.publisher_id(p);
    }
    if let Some(t) = cli.topic {
        b = b.topics(t);
    }
    let notifier = b.build().map_err(|e| e.to_string())?;
    let priority: Priority = cli
        .priority
        .parse()
        .map_err(|e: oslo_messaging::Error| e.to_string())?;
    let r = notifier
        .notify(&Context::new(), priority, &cli.event_type, cli.payload)
        .await;
    transport.cleanup().await;
    r.map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("OSLO_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{PROG}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{PROG}: {e}");
            ExitCode::FAILURE
        }
    }
}
