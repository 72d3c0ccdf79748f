//! taskflow: provisioning a server is three steps; the third fails, and the first two are undone in reverse
//! order. Then the same steps run under a retry controller that tries again, and the second attempt
//! succeeds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use taskflow::{Engine, Event, Failure, Flow, FnTask, State, Times, json, retry, task};

fn step(
    name: &'static str,
    what: &'static str,
    boot_failures: Arc<AtomicUsize>,
) -> taskflow::TaskNode {
    task(
        name,
        FnTask::new(move |ctx| {
            if name == "boot_server" && boot_failures.load(Ordering::SeqCst) > 0 {
                boot_failures.fetch_sub(1, Ordering::SeqCst);
                println!("    {name}: no valid host was found");
                return Err(Failure::new("NoValidHost", "no valid host was found"));
            }
            let attempt = ctx
                .args()
                .get("attempt")
                .map(|a| format!(" (attempt {a})"))
                .unwrap_or_default();
            println!("    {name}: {what}{attempt}");
            Ok(json!(format!("{name}-ok")))
        })
        .with_revert(move |ctx| {
            let why = ctx
                .flow_failures()
                .values()
                .next()
                .map(ToString::to_string)
                .unwrap_or_default();
            match ctx.result().failure() {
                Some(_) => println!("    {name}: nothing to undo (it failed) [{why}]"),
                None => println!("    {name}: undone [{why}]"),
            }
            Ok(())
        }),
    )
    .optional(["attempt"])
}

fn provision(boot_failures: usize, with_retry: bool) -> Result<State, String> {
    let fails = Arc::new(AtomicUsize::new(boot_failures));
    let mut flow = Flow::linear("provision");
    if with_retry {
        flow = flow.with_retry(retry("try_again", Times::new(3)).provides("attempt"));
    }
    for (name, what) in [
        ("allocate_ip", "allocated 10.0.0.7"),
        ("create_volume", "created a 20 GiB volume"),
        ("boot_server", "booted the server"),
    ] {
        flow.add(step(name, what, fails.clone()))
            .map_err(|e| e.to_string())?;
    }
    let mut engine = Engine::load(flow).map_err(|e| e.to_string())?;
    engine.notifier().register(|e| {
        if let Event::Flow {
            old_state, state, ..
        } = e
        {
            println!("  flow {old_state} -> {state}");
        }
    });
    match engine.run() {
        Ok(()) => {}
        Err(e) => println!("  run() gave back the failure: {e}"),
    }
    Ok(engine.flow_state())
}

/// Runs the part.
pub fn run() -> Result<(), String> {
    println!("A flow whose third step fails is reverted, last step first:");
    let state = provision(1, false)?;
    if state != State::Reverted {
        return Err(format!("expected REVERTED, got {state}"));
    }
    println!(
        "\nThe same flow under a `Times(3)` retry: the first attempt fails and is reverted, the second succeeds:"
    );
    let state = provision(1, true)?;
    if state != State::Success {
        return Err(format!("expected SUCCESS, got {state}"));
    }
    Ok(())
}
