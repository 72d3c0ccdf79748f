//! `oslo-messaging-send-notification`: send one notification from the shell, with the original's flags.
//!
//! ```text
//! oslo-messaging-send-notification --transport-url URL [--publisher-id ID] [--event-type T]
//!     [--topic T...] [--priority info|audit|warn|error|critical|sample] [--driver D] PAYLOAD
//! ```
//!
//! As in the original, the payload is sent as the string given.

use std::process::ExitCode;

use clap::Parser;
use oslo_messaging::{Context, Notifier, Priority, Transport};

#[derive(Parser)]
#[command(
    name = "oslo-messaging-send-notification",
    about = "Oslo.messaging notification sending"
)]
struct Cli {
    /// Path to a configuration file (not supported by this build: needs the oslo-config integration).
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
    /// Topics to send to (default `notifications`).
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

async fn run(cli: Cli) -> Result<(), String> {
    if cli.config_file.is_some() {
        return Err("--config-file is not supported yet (it needs the oslo-config integration); pass --transport-url".into());
    }
    let url = cli.transport_url.unwrap_or_else(|| "rabbit://".to_owned());
    let transport = Transport::new(&url).map_err(|e| e.to_string())?;
    let mut b = Notifier::builder(transport.clone()).driver(cli.driver);
    if let Some(p) = cli.publisher_id {
        b = b.publisher_id(p);
    }
    if let Some(t) = cli.topic.filter(|t| !t.is_empty()) {
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
            eprintln!("oslo-messaging-send-notification: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oslo-messaging-send-notification: {e}");
            ExitCode::FAILURE
        }
    }
}
