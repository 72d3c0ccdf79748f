//! The brokerless `zmq://` transport against `rabbit://` and `memory://`, in one run: sequential call
//! round trips (mean latency) and cast throughput (casts sent one after another, counted when the server
//! has handled them all), each transport calling its own server in this process; plus a raw `zeromq`
//! REQ/REP round trip over loopback TCP with a message of the same size, the floor for a zmq call (and,
//! for reference, the same echo over the DEALER/ROUTER pair the transport is built on).
//!
//! Every round trip is timed twice: from this thread through the blocking client
//! (`oslo_messaging::blocking::RpcClient`, one `block_on` per call, as a synchronous program calls), and
//! from a task spawned on the runtime (as an async service calls). The raw floor is timed the same two
//! ways (one `block_on` per round trip from this thread, or in a task).
//!
//! `cargo bench -p oslo-tests --no-default-features --features messaging --bench messaging_zmq`
//! (`rabbit://` needs the servers: `eval "$(scripts/servers.sh env)"`; it is left out without them).
//!
//! For instruction counts (`valgrind --tool=callgrind`), `OSLO_BENCH_ONLY=<loop>` runs one loop once
//! over `zmq://` (or the raw sockets) and nothing else: `call`, `task-call`, `driver`, `raw`, `raw-task`,
//! `dealer-router`, `dealer-router-task`; `OSLO_BENCH_CALLS=<n>` sets its number of timed calls (default
//! 1,000, after 100 untimed). Two runs with different counts give the cost of one call, without the
//! process's setup.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oslo_messaging::blocking::Runtime;
use oslo_messaging::transport::{CallOptions, Outgoing, SendOptions};
use oslo_messaging::wire::ReplyBody;
use oslo_messaging::{Context, Endpoint, RpcClient, RpcServer, Target, Transport};
use serde_json::{Value, json};
use zeromq::prelude::*;
use zeromq::{DealerSocket, RepSocket, ReqSocket, RouterSocket, ZmqMessage};

/// How many calls each loop times (`OSLO_BENCH_CALLS`, default 1,000).
fn call_count() -> usize {
    static CALLS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CALLS.get_or_init(|| {
        std::env::var("OSLO_BENCH_CALLS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000)
    })
}
const CASTS: usize = 2000;
const WARMUP: usize = 100;
const ROUNDS: usize = 7;

struct Figures {
    call_us: f64,
    task_call_us: f64,
    casts_per_s: f64,
}

/// Runs `f` to completion from the thread that blocks on the runtime, or (`in_task`) in a task spawned
/// on it.
fn run<T: Send + 'static>(
    rt: &Runtime,
    in_task: bool,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    if in_task {
        rt.block_on(rt.handle().spawn(f)).expect("task")
    } else {
        rt.block_on(f)
    }
}

/// Times `call_count()` sequential calls of `echo` after `WARMUP` untimed ones; microseconds per call.
async fn time_calls(client: RpcClient, c: Context) -> f64 {
    for i in 0..WARMUP {
        let _: Value = client
            .call(&c, "echo", json!({"x": i}))
            .await
            .expect("call");
    }
    let start = Instant::now();
    for i in 0..call_count() {
        let v: Value = client
            .call(&c, "echo", json!({"x": i}))
            .await
            .expect("call");
        assert_eq!(v, json!(i));
    }
    start.elapsed().as_secs_f64() * 1e6 / call_count() as f64
}

/// The same calls through the blocking client, one `block_on` per call, from this thread: as a
/// synchronous program calls.
fn time_blocking_calls(rt: &Runtime, client: RpcClient, c: &Context) -> f64 {
    let client = oslo_messaging::blocking::RpcClient::new(rt.clone(), client);
    for i in 0..WARMUP {
        let _: Value = client.call(c, "echo", json!({"x": i})).expect("call");
    }
    let start = Instant::now();
    for i in 0..call_count() {
        let v: Value = client.call(c, "echo", json!({"x": i})).expect("call");
        assert_eq!(v, json!(i));
    }
    start.elapsed().as_secs_f64() * 1e6 / call_count() as f64
}

/// Times `call_count()` raw round trips after `WARMUP` untimed ones: in a task, or (`in_task` false)
/// from this thread with one `block_on` per round trip, as [`time_blocking_calls`] does.
fn time_rounds<S: Send + 'static>(
    rt: &Runtime,
    in_task: bool,
    mut socket: S,
    round: for<'a> fn(&'a mut S) -> oslo_messaging::transport::BoxFuture<'a, ()>,
) -> f64 {
    if in_task {
        return run(rt, true, async move {
            for _ in 0..WARMUP {
                round(&mut socket).await;
            }
            let start = Instant::now();
            for _ in 0..call_count() {
                round(&mut socket).await;
            }
            start.elapsed().as_secs_f64() * 1e6 / call_count() as f64
        });
    }
    for _ in 0..WARMUP {
        rt.block_on(round(&mut socket));
    }
    let start = Instant::now();
    for _ in 0..call_count() {
        rt.block_on(round(&mut socket));
    }
    start.elapsed().as_secs_f64() * 1e6 / call_count() as f64
}

fn topic(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}_{}_{nanos}", std::process::id())
}

fn ctxt() -> Context {
    let mut c = Context::new();
    c.insert("user".into(), json!("bench"));
    c.insert("project_id".into(), json!("p-1"));
    c
}

/// Which of the call loops [`run_transport`] runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Loops {
    All,
    Call,
    TaskCall,
}

fn run_transport(rt: &Runtime, url: &str, loops: Loops) -> Figures {
    let t = Transport::new(url).expect("transport");
    let topic = topic("bench_zmq");
    let count = Arc::new(AtomicUsize::new(0));
    let ep = {
        let count = count.clone();
        Endpoint::new()
            .json_method("echo", |_c, a| async move {
                Ok(a.get("x").cloned().unwrap_or(Value::Null))
            })
            .json_method("count", move |_c, _a| {
                let count = count.clone();
                async move {
                    count.fetch_add(1, Ordering::Relaxed);
                    Ok(Value::Null)
                }
            })
    };
    let server = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s1"))
        .endpoint(ep)
        .build()
        .expect("server");
    let client = RpcClient::builder(t.clone(), Target::topic(&topic))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let c = ctxt();
    rt.block_on(server.start()).expect("start");
    let mut call_us = f64::NAN;
    if loops != Loops::TaskCall {
        call_us = time_blocking_calls(rt, client.clone(), &c);
    }
    let mut task_call_us = f64::NAN;
    if loops != Loops::Call {
        task_call_us = run(rt, true, time_calls(client.clone(), c.clone()));
    }
    let casts = if loops == Loops::All { CASTS } else { 0 };
    let figures = rt.block_on(async {
        let start = Instant::now();
        for i in 0..casts {
            client
                .cast(&c, "count", json!({"i": i}))
                .await
                .expect("cast");
        }
        while count.load(Ordering::Relaxed) < casts {
            std::thread::sleep(Duration::from_micros(200));
        }
        let casts_per_s = casts as f64 / start.elapsed().as_secs_f64();
        server.stop().await;
        server.wait().await;
        t.cleanup().await;
        casts_per_s
    });
    Figures {
        call_us,
        task_call_us,
        casts_per_s: figures,
    }
}

/// Sequential calls through the driver alone (no RPC client, server or dispatcher): what the transport
/// itself costs per round trip.
fn run_driver(rt: &Runtime, url: &str) -> f64 {
    let t = Transport::new(url).expect("transport");
    let d = t.driver().clone();
    let topic = topic("bench_zmq_driver");
    let msg = Outgoing {
        ctxt: ctxt(),
        message: json!({"method": "echo", "args": {"x": 12345}, "version": "1.0"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    let call = CallOptions {
        timeout: Duration::from_secs(30),
        call_monitor_timeout: None,
    };
    rt.block_on(async {
        let mut sub = d
            .listen(&Target::topic(&topic).with_server("s1"))
            .await
            .expect("listen");
        let server = rt.handle().spawn(async move {
            while let Some(req) = sub.incoming.recv().await {
                if let Some(r) = req.replier {
                    let v = req.message.get("args").cloned().unwrap_or(Value::Null);
                    let _ = r.send(ReplyBody::Final(Ok(v))).await;
                }
            }
        });
        let target = Target::topic(&topic);
        for _ in 0..WARMUP {
            d.call(&target, msg.clone(), call, SendOptions::default())
                .await
                .expect("call");
        }
        let start = Instant::now();
        for _ in 0..call_count() {
            d.call(&target, msg.clone(), call, SendOptions::default())
                .await
                .expect("call");
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / call_count() as f64;
        server.abort();
        t.cleanup().await;
        us
    })
}

/// The body of the raw round trips: as large as an oslo call's envelope.
fn raw_payload() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "exchange": "openstack", "topic": topic("raw"), "ctxt": ctxt(),
        "message": {"method": "echo", "args": {"x": 12345}, "version": "1.0"},
    }))
    .expect("json")
}

/// A raw REQ/REP round trip (the REP task echoes the request), timed from the blocking thread or from
/// a task.
fn raw_zeromq(rt: &Runtime, in_task: bool) -> f64 {
    let payload = raw_payload();
    let (endpoint, server) = rt.block_on(async {
        let mut rep = RepSocket::new();
        let endpoint = rep.bind("tcp://127.0.0.1:0").await.expect("bind");
        let server = rt.handle().spawn(async move {
            while let Ok(m) = rep.recv().await {
                if rep.send(m).await.is_err() {
                    break;
                }
            }
        });
        (endpoint.to_string(), server)
    });
    let req = rt.block_on(async {
        let mut req = ReqSocket::new();
        req.connect(&endpoint).await.expect("connect");
        req
    });
    let us = time_rounds(rt, in_task, (req, payload), |(req, payload)| {
        Box::pin(async move {
            req.send(ZmqMessage::from(payload.clone()))
                .await
                .expect("send");
            req.recv().await.expect("recv");
        })
    });
    server.abort();
    us
}

/// The same echo over a DEALER and a ROUTER, the pair `zmq://` uses: zeromq gives each of their peers a
/// writer task, so a message takes one task hop more on each side than with REQ/REP.
fn raw_dealer_router(rt: &Runtime, in_task: bool) -> f64 {
    let payload = raw_payload();
    let (endpoint, server) = rt.block_on(async {
        let mut router = RouterSocket::new();
        let endpoint = router.bind("tcp://127.0.0.1:0").await.expect("bind");
        let server = rt.handle().spawn(async move {
            while let Ok(m) = router.recv().await {
                if router.send(m).await.is_err() {
                    break;
                }
            }
        });
        (endpoint.to_string(), server)
    });
    let dealer = rt.block_on(async {
        let mut dealer = DealerSocket::new();
        dealer.connect(&endpoint).await.expect("connect");
        dealer
    });
    let us = time_rounds(rt, in_task, (dealer, payload), |(dealer, payload)| {
        Box::pin(async move {
            dealer
                .send(ZmqMessage::from(payload.clone()))
                .await
                .expect("send");
            dealer.recv().await.expect("recv");
        })
    });
    server.abort();
    us
}

/// The median and the best of a set of figures.
fn stats(mut v: Vec<f64>, lower_is_better: bool) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let median = v.get(v.len() / 2).copied().unwrap_or(f64::NAN);
    let best = if lower_is_better { v.first() } else { v.last() };
    (median, best.copied().unwrap_or(f64::NAN))
}

/// Runs one loop once (`OSLO_BENCH_ONLY`), for instruction counts; false for an unknown name.
fn run_only(rt: &Runtime, only: &str) -> bool {
    let zmq = "zmq://?bind_address=127.0.0.1";
    let us = match only {
        "call" => run_transport(rt, zmq, Loops::Call).call_us,
        "task-call" => run_transport(rt, zmq, Loops::TaskCall).task_call_us,
        "driver" => run_driver(rt, zmq),
        "raw" => raw_zeromq(rt, false),
        "raw-task" => raw_zeromq(rt, true),
        "dealer-router" => raw_dealer_router(rt, false),
        "dealer-router-task" => raw_dealer_router(rt, true),
        _ => return false,
    };
    println!("{only}: {} calls, {us:.1} us per call", call_count());
    true
}

fn main() {
    let rt = Runtime::new(2).expect("runtime");
    if let Ok(only) = std::env::var("OSLO_BENCH_ONLY") {
        if !run_only(&rt, &only) {
            eprintln!("unknown OSLO_BENCH_ONLY `{only}`");
            std::process::exit(2);
        }
        return;
    }
    let mut transports = vec![("zmq://", "zmq://?bind_address=127.0.0.1".to_owned())];
    match std::env::var("OSLO_TEST_RABBIT_URL") {
        Ok(url) if !url.is_empty() => transports.push(("rabbit://", url)),
        _ => eprintln!("rabbit:// left out: OSLO_TEST_RABBIT_URL is not set"),
    }
    transports.push(("memory://", "memory://".to_owned()));
    // Rounds interleave the transports, so a busy moment of the machine hits them alike.
    let mut calls: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    let mut task_calls: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    let mut casts: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    let mut driver: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    let (mut raw, mut raw_task, mut dr, mut dr_task) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        raw.push(raw_zeromq(&rt, false));
        raw_task.push(raw_zeromq(&rt, true));
        dr.push(raw_dealer_router(&rt, false));
        dr_task.push(raw_dealer_router(&rt, true));
        for (i, (_, url)) in transports.iter().enumerate() {
            let f = run_transport(&rt, url, Loops::All);
            calls[i].push(f.call_us);
            task_calls[i].push(f.task_call_us);
            casts[i].push(f.casts_per_s);
            driver[i].push(run_driver(&rt, url));
        }
    }
    println!(
        "{ROUNDS} rounds of {} sequential calls and {CASTS} sequential casts per transport, \
         2 tokio worker threads; median (best)",
        call_count()
    );
    println!(
        "{:<18} {:>16} {:>18} {:>18} {:>18}",
        "transport", "call (us)", "call in task (us)", "driver call (us)", "casts/s"
    );
    let mut medians = Vec::new();
    for (i, (name, _)) in transports.iter().enumerate() {
        let (cm, cb) = stats(calls[i].clone(), true);
        let (tm, tb) = stats(task_calls[i].clone(), true);
        let (dm, db) = stats(driver[i].clone(), true);
        let (sm, sb) = stats(casts[i].clone(), false);
        println!(
            "{name:<18} {:>16} {:>18} {:>18} {:>18}",
            format!("{cm:.1} ({cb:.1})"),
            format!("{tm:.1} ({tb:.1})"),
            format!("{dm:.1} ({db:.1})"),
            format!("{sm:.0} ({sb:.0})")
        );
        medians.push((*name, (cm, cb), (tm, tb), dm));
    }
    let (rm, rb) = stats(raw, true);
    let (rtm, rtb) = stats(raw_task, true);
    let (drm, drb) = stats(dr, true);
    let (drtm, drtb) = stats(dr_task, true);
    println!(
        "{:<18} {:>16} {:>18}",
        "raw REQ/REP",
        format!("{rm:.1} ({rb:.1})"),
        format!("{rtm:.1} ({rtb:.1})")
    );
    println!(
        "{:<18} {:>16} {:>18}",
        "raw DEALER/ROUTER",
        format!("{drm:.1} ({drb:.1})"),
        format!("{drtm:.1} ({drtb:.1})")
    );
    let zmq = medians[0];
    println!(
        "zmq:// RPC call / raw REQ/REP: {:.2}x median ({:.2}x best to best); in a task {:.2}x ({:.2}x); \
         driver call / raw {:.2}x",
        zmq.1.0 / rm,
        zmq.1.1 / rb,
        zmq.2.0 / rtm,
        zmq.2.1 / rtb,
        zmq.3 / rm
    );
    if let Some(rabbit) = medians.iter().find(|m| m.0 == "rabbit://") {
        println!("rabbit:// call / zmq:// call: {:.2}x", rabbit.1.0 / zmq.1.0);
    }
    if let Some(memory) = medians.iter().find(|m| m.0 == "memory://") {
        println!(
            "zmq:// call / memory:// call: {:.2}x (memory:// is the RPC layer with no transport)",
            zmq.1.0 / memory.1.0
        );
    }
}
