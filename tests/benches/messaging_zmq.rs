//! The brokerless `zmq://` transport against `rabbit://` and `memory://`, in one run: sequential call
//! round trips (mean latency) and cast throughput (casts sent one after another, counted when the server
//! has handled them all), each transport calling its own server in this process; plus a raw `zeromq`
//! REQ/REP round trip over loopback TCP with a message of the same size, the floor for a zmq call.
//!
//! `cargo bench -p oslo-tests --no-default-features --features messaging --bench messaging_zmq`
//! (`rabbit://` needs the servers: `eval "$(scripts/servers.sh env)"`; it is left out without them).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oslo_messaging::blocking::Runtime;
use oslo_messaging::transport::{CallOptions, Outgoing, SendOptions};
use oslo_messaging::wire::ReplyBody;
use oslo_messaging::zeromq::prelude::*;
use oslo_messaging::zeromq::{RepSocket, ReqSocket, ZmqMessage};
use oslo_messaging::{Context, Endpoint, RpcClient, RpcServer, Target, Transport};
use serde_json::{Value, json};

const CALLS: usize = 1000;
const CASTS: usize = 2000;
const WARMUP: usize = 100;
const ROUNDS: usize = 7;

struct Figures {
    call_us: f64,
    casts_per_s: f64,
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

fn run_transport(rt: &Runtime, url: &str) -> Figures {
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
    let figures = rt.block_on(async {
        server.start().await.expect("start");
        for i in 0..WARMUP {
            let _: Value = client
                .call(&c, "echo", json!({"x": i}))
                .await
                .expect("call");
        }
        let start = Instant::now();
        for i in 0..CALLS {
            let v: Value = client
                .call(&c, "echo", json!({"x": i}))
                .await
                .expect("call");
            assert_eq!(v, json!(i));
        }
        let call_us = start.elapsed().as_secs_f64() * 1e6 / CALLS as f64;
        let start = Instant::now();
        for i in 0..CASTS {
            client
                .cast(&c, "count", json!({"i": i}))
                .await
                .expect("cast");
        }
        while count.load(Ordering::Relaxed) < CASTS {
            std::thread::sleep(Duration::from_micros(200));
        }
        let casts_per_s = CASTS as f64 / start.elapsed().as_secs_f64();
        server.stop().await;
        server.wait().await;
        t.cleanup().await;
        (call_us, casts_per_s)
    });
    Figures {
        call_us: figures.0,
        casts_per_s: figures.1,
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
        for _ in 0..CALLS {
            d.call(&target, msg.clone(), call, SendOptions::default())
                .await
                .expect("call");
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / CALLS as f64;
        server.abort();
        t.cleanup().await;
        us
    })
}

/// A raw REQ/REP round trip with a body as large as an oslo call's.
fn raw_zeromq(rt: &Runtime) -> f64 {
    let payload = serde_json::to_vec(&json!({
        "exchange": "openstack", "topic": topic("raw"), "ctxt": ctxt(),
        "message": {"method": "echo", "args": {"x": 12345}, "version": "1.0"},
    }))
    .unwrap();
    rt.block_on(async {
        let mut rep = RepSocket::new();
        let endpoint = rep.bind("tcp://127.0.0.1:0").await.expect("bind");
        let server = rt.handle().spawn(async move {
            while let Ok(m) = rep.recv().await {
                if rep.send(m).await.is_err() {
                    break;
                }
            }
        });
        let mut req = ReqSocket::new();
        req.connect(&endpoint.to_string()).await.expect("connect");
        async fn round(req: &mut ReqSocket, payload: &[u8]) {
            req.send(ZmqMessage::from(payload.to_vec()))
                .await
                .expect("send");
            req.recv().await.expect("recv");
        }
        for _ in 0..WARMUP {
            round(&mut req, &payload).await;
        }
        let start = Instant::now();
        for _ in 0..CALLS {
            round(&mut req, &payload).await;
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / CALLS as f64;
        server.abort();
        us
    })
}

/// The median and the best of a set of figures.
fn stats(mut v: Vec<f64>, lower_is_better: bool) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let median = v.get(v.len() / 2).copied().unwrap_or(f64::NAN);
    let best = if lower_is_better { v.first() } else { v.last() };
    (median, best.copied().unwrap_or(f64::NAN))
}

fn main() {
    let rt = Runtime::new(2).expect("runtime");
    let mut transports = vec![("zmq://", "zmq://?bind_address=127.0.0.1".to_owned())];
    match std::env::var("OSLO_TEST_RABBIT_URL") {
        Ok(url) if !url.is_empty() => transports.push(("rabbit://", url)),
        _ => eprintln!("rabbit:// left out: OSLO_TEST_RABBIT_URL is not set"),
    }
    transports.push(("memory://", "memory://".to_owned()));
    // Rounds interleave the transports, so a busy moment of the machine hits them alike.
    let mut calls: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    let mut casts: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    let mut driver: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    let mut raw = Vec::new();
    for _ in 0..ROUNDS {
        raw.push(raw_zeromq(&rt));
        for (i, (_, url)) in transports.iter().enumerate() {
            let f = run_transport(&rt, url);
            calls[i].push(f.call_us);
            casts[i].push(f.casts_per_s);
            driver[i].push(run_driver(&rt, url));
        }
    }
    println!(
        "{ROUNDS} rounds of {CALLS} sequential calls and {CASTS} sequential casts per transport, \
         2 tokio worker threads; median (best)"
    );
    println!(
        "{:<12} {:>20} {:>22} {:>22}",
        "transport", "call (us)", "driver call (us)", "casts/s"
    );
    let mut medians = Vec::new();
    for (i, (name, _)) in transports.iter().enumerate() {
        let (cm, cb) = stats(calls[i].clone(), true);
        let (dm, db) = stats(driver[i].clone(), true);
        let (sm, sb) = stats(casts[i].clone(), false);
        println!(
            "{name:<12} {:>20} {:>22} {:>22}",
            format!("{cm:.1} ({cb:.1})"),
            format!("{dm:.1} ({db:.1})"),
            format!("{sm:.0} ({sb:.0})")
        );
        medians.push((*name, cm, dm));
    }
    let (rm, rb) = stats(raw, true);
    println!("{:<12} {:>20}", "raw REQ/REP", format!("{rm:.1} ({rb:.1})"));
    let zmq = medians[0];
    println!(
        "zmq:// driver call / raw zeromq round trip: {:.2}x; zmq:// RPC call / raw: {:.2}x",
        zmq.2 / rm,
        zmq.1 / rm
    );
    if let Some(rabbit) = medians.iter().find(|m| m.0 == "rabbit://") {
        println!("rabbit:// call / zmq:// call: {:.2}x", rabbit.1 / zmq.1);
    }
    if let Some(memory) = medians.iter().find(|m| m.0 == "memory://") {
        println!(
            "zmq:// call / memory:// call: {:.2}x (memory:// is the RPC layer with no transport)",
            zmq.1 / memory.1
        );
    }
}
