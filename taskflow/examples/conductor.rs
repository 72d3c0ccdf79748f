//! A conductor on a SQL job board: post a job, then run conductors; kill one mid-flow and another takes
//! over once the dead one's claim lapses.
//!
//! ```sh
//! cargo run -p taskflow --features sql --example conductor -- sqlite:////tmp/jobs.db /tmp/journal post 5 300
//! cargo run -p taskflow --features sql --example conductor -- sqlite:////tmp/jobs.db /tmp/journal work alice 2000
//! ```
//! `post STEPS SLEEP_MS` posts a job running a linear flow of STEPS steps that each sleep SLEEP_MS and
//! append `started <step>` / `finished <step>` to `<journal dir>/journal`. `work NAME TTL_MS` runs a
//! conductor named NAME with claims lasting TTL_MS, until no job has been claimable for twice the TTL.
//! PostgreSQL and MySQL URLs need the features `sql-postgres` / `sql-mysql`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oslo_db::{BackendKind, DatabaseOptions, DbUrl, Facade};
use taskflow::persistence::{SqlBackend, SqlConnection};
use taskflow::{Conductor, Dispatched, Flow, FlowFactories, JobBoard, fn_task, json};

type BoxError = Box<dyn std::error::Error>;

fn journal(dir: &Path, line: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("journal"))?;
    writeln!(f, "{line}")?;
    f.sync_data()
}

fn steps_flow(args: &serde_json::Value) -> Result<Flow, taskflow::Error> {
    let bad = |what: &str| taskflow::Error::NotFound(format!("job argument `{what}` is missing"));
    let steps = args["steps"].as_u64().ok_or_else(|| bad("steps"))?;
    let sleep_ms = args["sleep_ms"].as_u64().ok_or_else(|| bad("sleep_ms"))?;
    let dir = PathBuf::from(args["dir"].as_str().ok_or_else(|| bad("dir"))?);
    let mut flow = Flow::linear("steps");
    for i in 1..=steps {
        let name = format!("step{i}");
        let (dir, n) = (dir.clone(), name.clone());
        let mut t = fn_task(name, move |ctx| {
            let io = |e: std::io::Error| taskflow::Failure::new("IOError", e.to_string());
            journal(&dir, &format!("started {n}")).map_err(io)?;
            std::thread::sleep(Duration::from_millis(sleep_ms));
            journal(&dir, &format!("finished {n}")).map_err(io)?;
            let before = ctx.args().get("acc").and_then(|v| v.as_u64()).unwrap_or(0);
            Ok(json!(before + 1))
        })
        .provides("acc");
        if i > 1 {
            t = t.requires(["acc"]);
        }
        flow.add(t)?;
    }
    Ok(flow)
}

fn main_on<C: SqlConnection>(url: &str, dir: &Path, args: &[String]) -> Result<(), BoxError> {
    let facade = Facade::<C>::new(DatabaseOptions::new(url))?;
    let backend = Arc::new(SqlBackend::new(facade)?);
    let board = JobBoard::new("example", backend);
    let arg = |i: usize| args.get(i).map(String::as_str).ok_or("missing argument");
    match arg(0)? {
        "post" => {
            let steps: u64 = arg(1)?.parse()?;
            let sleep_ms: u64 = arg(2)?.parse()?;
            let job = board.post_flow(
                "steps",
                "steps",
                json!({"steps": steps, "sleep_ms": sleep_ms, "dir": dir}),
                json!({}),
            )?;
            println!("{}", job.uuid);
        }
        "work" => {
            let name = arg(1)?;
            let ttl = Duration::from_millis(arg(2)?.parse()?);
            let mut factories = FlowFactories::new();
            factories.register("steps", steps_flow);
            let conductor = Conductor::new(name, board, factories)
                .claim_ttl(ttl)
                .poll_interval(ttl / 4);
            for d in conductor.run(Some(ttl * 2))? {
                match d {
                    Dispatched::Consumed { job, state, .. } => {
                        println!("{name}: job {} ended {state}", job.uuid);
                    }
                    Dispatched::Abandoned { job, error, .. } => {
                        println!("{name}: job {} abandoned: {error:?}", job.uuid);
                    }
                    other => println!("{name}: {other:?}"),
                }
            }
        }
        other => return Err(format!("unknown mode `{other}`").into()),
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: conductor URL DIR (post STEPS SLEEP_MS | work NAME TTL_MS)";
    let (url, dir) = match args.as_slice() {
        [url, dir, ..] => (url.clone(), PathBuf::from(dir)),
        _ => return Err(usage.into()),
    };
    std::fs::create_dir_all(&dir)?;
    let rest = &args[2..];
    match DbUrl::parse(&url, "")?.backend() {
        BackendKind::Sqlite => main_on::<diesel::SqliteConnection>(&url, &dir, rest),
        #[cfg(feature = "sql-postgres")]
        BackendKind::Postgres => main_on::<diesel::PgConnection>(&url, &dir, rest),
        #[cfg(feature = "sql-mysql")]
        BackendKind::Mysql => main_on::<diesel::MysqlConnection>(&url, &dir, rest),
        #[allow(unreachable_patterns)]
        other => Err(format!("this build has no support for {other:?} databases").into()),
    }
}
