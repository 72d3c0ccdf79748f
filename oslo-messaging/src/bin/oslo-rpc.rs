//! `oslo-rpc`: call or cast a method on a target from the shell, or serve a small endpoint, on any
//! transport.
//!
//! ```text
//! oslo-rpc call --url URL --topic T [--server S] [--namespace N] [--version V] [--timeout SECS] METHOD ['{"arg": 1}']
//! oslo-rpc cast --url URL --topic T [--server S] [--fanout] METHOD ['{"arg": 1}']
//! oslo-rpc serve --url URL --topic T --server S
//! ```
//!
//! `call` prints the JSON result; a remote error prints its class and message on standard error and exits
//! with 1; a timeout or any other failure exits with 2. `serve` answers `echo(**kw)` (the arguments back),
//! `add(a, b)`, `sleep(seconds)` and `fail(message)` (raises `ValueError`) until interrupted.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use oslo_messaging::{
    Context, Endpoint, Error, RemoteError, RpcClient, RpcServer, Target, Transport,
};
use serde_json::{Map, Value, json};

#[derive(Parser)]
#[command(
    name = "oslo-rpc",
    about = "Call, cast or serve oslo.messaging RPC methods"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Call METHOD and print its JSON result.
    Call(Send),
    /// Cast METHOD (no reply).
    Cast(Send),
    /// Serve echo/add/sleep/fail on TOPIC as SERVER until interrupted.
    Serve(Serve),
}

#[derive(Args)]
struct Common {
    /// The transport URL (e.g. `rabbit://user:pass@host:5672/` or `memory://`).
    #[arg(long)]
    url: String,
    /// The topic.
    #[arg(long)]
    topic: String,
    /// The exchange (default: the control exchange).
    #[arg(long)]
    exchange: Option<String>,
    /// The control exchange.
    #[arg(long, default_value = "openstack")]
    control_exchange: String,
}

#[derive(Args)]
struct Send {
    #[command(flatten)]
    common: Common,
    /// One server of the topic.
    #[arg(long)]
    server: Option<String>,
    /// The API namespace.
    #[arg(long)]
    namespace: Option<String>,
    /// The API version.
    #[arg(long)]
    version: Option<String>,
    /// Every server of the topic (casts only).
    #[arg(long)]
    fanout: bool,
    /// The call timeout, in seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// The request context, a JSON object.
    #[arg(long, default_value = "{}")]
    context: String,
    /// The method.
    method: String,
    /// The keyword arguments, a JSON object.
    #[arg(default_value = "{}")]
    args: String,
}

#[derive(Args)]
struct Serve {
    #[command(flatten)]
    common: Common,
    /// This server's name.
    #[arg(long)]
    server: String,
}

fn transport(c: &Common) -> anyhow::Result<Transport> {
    Ok(Transport::builder(&c.url)
        .control_exchange(&c.control_exchange)
        .build()?)
}

fn target(c: &Common) -> Target {
    let mut t = Target::topic(&c.topic);
    t.exchange = c.exchange.clone();
    t
}

fn object(what: &str, text: &str) -> anyhow::Result<Map<String, Value>> {
    match serde_json::from_str(text).with_context(|| format!("the {what} is not JSON"))? {
        Value::Object(m) => Ok(m),
        _ => bail!("the {what} must be a JSON object"),
    }
}

async fn send(s: Send, call: bool) -> anyhow::Result<ExitCode> {
    let t = transport(&s.common)?;
    let mut tgt = target(&s.common);
    tgt.server = s.server;
    tgt.namespace = s.namespace;
    tgt.version = s.version;
    tgt.fanout = s.fanout;
    let ctxt: Context = object("context", &s.context)?;
    let args = Value::Object(object("arguments", &s.args)?);
    if !s.timeout.is_finite() || s.timeout <= 0.0 {
        bail!("--timeout must be a positive number of seconds");
    }
    let client = RpcClient::builder(t.clone(), tgt)
        .timeout(Duration::from_secs_f64(s.timeout))
        .build()?;
    let result = if call {
        client.call_json(&ctxt, &s.method, args).await.map(Some)
    } else {
        client.cast(&ctxt, &s.method, args).await.map(|()| None)
    };
    t.cleanup().await;
    match result {
        Ok(Some(v)) => {
            println!("{v}");
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => Ok(ExitCode::SUCCESS),
        Err(Error::Remote(r)) => {
            eprintln!("{}: {}", r.class(), r.message());
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("oslo-rpc: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

fn demo_endpoint() -> Endpoint {
    Endpoint::new()
        .json_method("echo", |_c, a| async move { Ok(Value::Object(a)) })
        .json_method("add", |_c, a| async move {
            let n = |k: &str| {
                a.get(k)
                    .and_then(Value::as_f64)
                    .ok_or_else(|| RemoteError::new("TypeError", format!("`{k}` must be a number")))
            };
            let (x, y) = (n("a")?, n("b")?);
            let both_ints =
                a.get("a").is_some_and(Value::is_i64) && a.get("b").is_some_and(Value::is_i64);
            Ok(if both_ints {
                json!(
                    a["a"]
                        .as_i64()
                        .unwrap_or_default()
                        .saturating_add(a["b"].as_i64().unwrap_or_default())
                )
            } else {
                json!(x + y)
            })
        })
        .json_method("sleep", |_c, a| async move {
            let s = a.get("seconds").and_then(Value::as_f64).unwrap_or(0.0);
            if !s.is_finite() || s < 0.0 {
                return Err(RemoteError::new(
                    "ValueError",
                    "`seconds` must be a non-negative number",
                ));
            }
            tokio::time::sleep(Duration::from_secs_f64(s)).await;
            Ok(json!(s))
        })
        .json_method("fail", |_c, a| async move {
            let m = a
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("failure requested")
                .to_owned();
            Err(RemoteError::new("ValueError", m))
        })
}

async fn serve(s: Serve) -> anyhow::Result<ExitCode> {
    let t = transport(&s.common)?;
    let tgt = target(&s.common).with_server(&s.server);
    let server = RpcServer::builder(t.clone(), tgt.clone())
        .endpoint(demo_endpoint())
        .build()?;
    server.start().await?;
    println!("serving {tgt} on {}", t.url());
    wait_for_signal().await?;
    server.stop().await;
    server.wait().await;
    t.cleanup().await;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("OSLO_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("oslo-rpc: cannot start a runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let r = rt.block_on(async {
        match cli.command {
            Cmd::Call(s) => send(s, true).await,
            Cmd::Cast(s) => send(s, false).await,
            Cmd::Serve(s) => serve(s).await,
        }
    });
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("oslo-rpc: {e:#}");
            ExitCode::from(2)
        }
    }
}
