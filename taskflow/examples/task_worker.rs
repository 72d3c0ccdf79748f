//! A worker process for the worker-based engine: serves a few demo tasks on an exchange and topic until
//! killed or until its standard input closes.
//!
//! `task_worker URL EXCHANGE TOPIC SERVER`
//!
//! Tasks: `add` (`x` + `y`), `double` (`sum` * 2), `sleepy` (sleeps `secs` seconds, then returns them),
//! `fail` (always fails with `RuntimeError`). It prints `ready` on standard output once it serves.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use taskflow::worker::{TaskFactory, Worker};
use taskflow::{Failure, FnTask, Task, json};

fn factory(t: impl Fn() -> FnTask + Send + Sync + 'static) -> TaskFactory {
    Arc::new(move || Arc::new(t()) as Arc<dyn Task>)
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, exchange, topic, server] = args.as_slice() else {
        eprintln!("usage: task_worker URL EXCHANGE TOPIC SERVER");
        return std::process::ExitCode::from(2);
    };
    let tasks: Vec<(&str, TaskFactory)> = vec![
        (
            "add",
            factory(|| {
                FnTask::new(|ctx| {
                    let (x, y): (i64, i64) = (ctx.arg("x")?, ctx.arg("y")?);
                    Ok(json!(x + y))
                })
            }),
        ),
        (
            "double",
            factory(|| {
                FnTask::new(|ctx| {
                    let s: i64 = ctx.arg("sum")?;
                    Ok(json!(s * 2))
                })
            }),
        ),
        (
            "sleepy",
            factory(|| {
                FnTask::new(|ctx| {
                    let secs: u64 = ctx.arg("secs")?;
                    std::thread::sleep(Duration::from_secs(secs));
                    Ok(json!(secs))
                })
            }),
        ),
        (
            "fail",
            factory(|| FnTask::new(|_| Err(Failure::new("RuntimeError", "fail always fails")))),
        ),
    ];
    let worker = match Worker::new(url, exchange, topic, server, tasks) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("task_worker: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("ready");
    let _ = std::io::stdout().flush();
    // Serve until standard input closes (the parent went away) or the process is killed.
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    worker.stop();
    std::process::ExitCode::SUCCESS
}
