//! A persisted flow that survives being killed: run it, kill it mid-task, run it again.
//!
//! ```sh
//! cargo run -p taskflow --example resumable -- /tmp/flowdir 5 300
//! ```
//! Arguments: the directory of the [`DirBackend`], the number of steps, and how long each step sleeps
//! (milliseconds). Each step appends `started <name>` and `finished <name>` to `<dir>/journal`. The first
//! run creates the flow detail and writes its uuid to `<dir>/flow_uuid`; a later run loads that detail and
//! resumes: steps that finished are not run again, a step that was running when the process died is.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use taskflow::persistence::{Backend, DirBackend};
use taskflow::{Engine, Flow, fn_task, json};

fn journal(dir: &Path, line: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("journal"))?;
    writeln!(f, "{line}")?;
    f.sync_data()
}

fn build(dir: &Path, steps: usize, sleep_ms: u64) -> Result<Flow, taskflow::Error> {
    let mut flow = Flow::linear("resumable");
    for i in 1..=steps {
        let name = format!("step{i}");
        let dir: PathBuf = dir.to_owned();
        let n = name.clone();
        let mut t = fn_task(name.clone(), move |ctx| {
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        args.get(1)
            .ok_or("usage: resumable DIR [STEPS] [SLEEP_MS]")?,
    );
    let steps: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let sleep_ms: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(300);
    std::fs::create_dir_all(&dir)?;
    let backend: Arc<dyn Backend> = Arc::new(DirBackend::new(dir.join("backend"))?);
    let uuid_file = dir.join("flow_uuid");
    let builder = Engine::builder(build(&dir, steps, sleep_ms)?).backend(backend.clone());
    let mut engine = if uuid_file.exists() {
        let uuid = std::fs::read_to_string(&uuid_file)?;
        let fd = backend.get_flow_details(uuid.trim())?;
        println!("resuming flow {} from state {:?}", fd.uuid, fd.state);
        builder.flow_detail(fd).build()?
    } else {
        let engine = builder.build()?;
        std::fs::write(&uuid_file, &engine.flow_detail().uuid)?;
        println!("new flow {}", engine.flow_detail().uuid);
        engine
    };
    engine.run()?;
    // `fetch("acc")` would give the first provider's value (as TaskFlow's); the last step holds the total.
    let last = engine
        .result(&format!("step{steps}"))
        .and_then(|o| o.value().cloned());
    println!(
        "flow {} ended {}: acc = {}",
        engine.flow_detail().uuid,
        engine.flow_state(),
        last.unwrap_or_default()
    );
    Ok(())
}
