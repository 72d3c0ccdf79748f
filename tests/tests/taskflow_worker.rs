//! The worker-based engine across processes on RabbitMQ: workers are separate OS processes (the
//! `task_worker` example of the taskflow crate). A flow runs to SUCCESS through two of them, and a worker
//! killed mid-task makes the task fail with a timeout instead of hanging the engine.
#![cfg(feature = "taskflow-worker")]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oslo_tests::{Server, server_url};
use taskflow::worker::WorkerOptions;
use taskflow::{Engine, Failure, Flow, FnTask, Rebind, State, json, task};

static N: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn worker_binary() -> PathBuf {
    oslo_tests::build_example("taskflow", &["worker-rabbit"], "task_worker")
}

/// A worker process, killed when dropped.
struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_worker(
    bin: &PathBuf,
    url: &str,
    exchange: &str,
    topic: &str,
    server: &str,
) -> WorkerProcess {
    let mut child = Command::new(bin)
        .args([url, exchange, topic, server])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the worker");
    let stdout = child.stdout.take().expect("worker stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the worker's ready line");
    assert_eq!(line.trim(), "ready", "the worker did not start");
    WorkerProcess(child)
}

/// Engine-side stand-in for a remote task: running it locally fails the test's expectations.
fn remote_only(name: &str) -> FnTask {
    let n = name.to_owned();
    FnTask::new(move |_| Err(Failure::new("LocalRun", format!("{n} ran in the engine"))))
}

#[test]
fn flow_runs_to_success_through_worker_processes() {
    let Some(url) = server_url(Server::Rabbit) else {
        return;
    };
    let lock = oslo_tests::rabbit_lock_file();
    lock.lock_shared().expect("take the broker lock");
    let bin = worker_binary();
    let exchange = unique("tf-worker-ex");
    let (t1, t2) = (unique("tf-worker-a"), unique("tf-worker-b"));
    let _w1 = spawn_worker(&bin, &url, &exchange, &t1, "w1");
    let _w2 = spawn_worker(&bin, &url, &exchange, &t2, "w2");

    let mut f = Flow::linear("sum-then-double");
    f.add(
        task("add", remote_only("add"))
            .requires(["x", "y"])
            .provides("sum"),
    )
    .unwrap();
    f.add(
        task("double", remote_only("double"))
            .requires(["sum"])
            .provides("doubled"),
    )
    .unwrap();
    let options = WorkerOptions::new(url.as_str(), exchange, [t1, t2])
        .transition_timeout(Duration::from_secs(20));
    let mut e = Engine::builder(f)
        .store([("x", json!(20)), ("y", json!(1))])
        .workers(options)
        .build()
        .unwrap();
    e.run().unwrap();
    assert_eq!(e.flow_state(), State::Success);
    assert_eq!(e.fetch("sum").unwrap(), json!(21));
    assert_eq!(e.fetch("doubled").unwrap(), json!(42));
}

#[test]
fn remote_failure_is_reverted_like_a_local_one() {
    let Some(url) = server_url(Server::Rabbit) else {
        return;
    };
    let lock = oslo_tests::rabbit_lock_file();
    lock.lock_shared().expect("take the broker lock");
    let bin = worker_binary();
    let exchange = unique("tf-worker-ex");
    let topic = unique("tf-worker-f");
    let _w = spawn_worker(&bin, &url, &exchange, &topic, "w1");
    let mut f = Flow::linear("fails");
    f.add(
        task("add", remote_only("add"))
            .requires(["x", "y"])
            .provides("sum"),
    )
    .unwrap();
    f.add(task("fail", remote_only("fail")).rebind(Rebind::map([("s", "sum")])))
        .unwrap();
    let options = WorkerOptions::new(url.as_str(), exchange, [topic])
        .transition_timeout(Duration::from_secs(20));
    let mut e = Engine::builder(f)
        .store([("x", json!(1)), ("y", json!(2))])
        .workers(options)
        .build()
        .unwrap();
    let err = e.run().unwrap_err();
    assert_eq!(err.to_string(), "RuntimeError: fail always fails");
    assert_eq!(e.flow_state(), State::Reverted);
    assert_eq!(e.atom_state("add"), Some(State::Reverted));
}

#[test]
fn killed_worker_fails_the_task_with_a_timeout() {
    let Some(url) = server_url(Server::Rabbit) else {
        return;
    };
    let lock = oslo_tests::rabbit_lock_file();
    lock.lock_shared().expect("take the broker lock");
    let bin = worker_binary();
    let exchange = unique("tf-worker-ex");
    let topic = unique("tf-worker-k");
    let mut w = spawn_worker(&bin, &url, &exchange, &topic, "w1");
    let pid = w.0.id();

    let mut f = Flow::linear("killed");
    f.add(task("sleepy", remote_only("sleepy")).requires(["secs"]))
        .unwrap();
    let options = WorkerOptions::new(url.as_str(), exchange, [topic])
        .transition_timeout(Duration::from_secs(3));
    let mut e = Engine::builder(f)
        .store([("secs", json!(30))])
        .workers(options)
        .build()
        .unwrap();
    // Kill the worker while it runs the 30-second task.
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1000));
        let _ = w.0.kill();
        let _ = w.0.wait();
        pid
    });
    let started = Instant::now();
    let err = e.run().unwrap_err();
    let elapsed = started.elapsed();
    killer.join().unwrap();
    assert!(
        elapsed < Duration::from_secs(20),
        "the engine waited {elapsed:?}"
    );
    assert!(
        err.failures().iter().all(|f| f.kind == "RequestTimeout"),
        "unexpected failures: {:?}",
        err.failures()
    );
    assert_eq!(e.atom_state("sleepy"), Some(State::RevertFailure));
    assert_eq!(e.flow_state(), State::Failure);
}
