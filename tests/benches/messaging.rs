//! oslo-messaging against Python oslo.messaging on the same RabbitMQ, in one run: sequential calls per
//! second, calls per second with 4 concurrent callers, casts per second, notifications per second; plus our
//! `memory://` calls per second and a raw lapin request/reply round trip (the floor for a brokered call).
//! Each side calls its own server in another process (ours: this binary started again as a server). Python is
//! timed inside its client process (start-up excluded). Each figure is the best of several runs (three for
//! ours and the floor, interleaved; two for Python), to damp the noise of a shared machine.
//!
//! `cargo bench -p oslo-tests --no-default-features --features messaging --bench messaging`
//! (needs the servers: `eval "$(scripts/servers.sh env)"`).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use oslo_messaging::blocking::Runtime;
use oslo_messaging::lapin::message::DeliveryResult;
use oslo_messaging::lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use oslo_messaging::lapin::types::FieldTable;
use oslo_messaging::lapin::{BasicProperties, Connection, ConnectionProperties};
use oslo_messaging::{
    Context, Endpoint, Notifier, RemoteError, RpcClient, RpcServer, Target, Transport,
};
use oslo_tests::{Server, python, run_python_json, server_url};
use serde_json::{Value, json};

const SEQ_CALLS: usize = 2000;
const PAR_CALLS: usize = 1000; // per caller
const CASTS: usize = 5000;
const NOTIFICATIONS: usize = 5000;
const MEMORY_CALLS: usize = 50_000;
const PY_SEQ_CALLS: usize = 500;
const PY_PAR_CALLS: usize = 250;
const PY_CASTS: usize = 2000;
const PY_NOTIFICATIONS: usize = 2000;

const PY_SERVER: &str = r#"
import json, sys, logging, warnings
warnings.simplefilter('ignore')
logging.basicConfig(level=logging.ERROR)
import oslo_messaging as om
from oslo_config import cfg
cfg.CONF([], project='bench')
url, topic = sys.argv[1:3]
t = om.get_rpc_transport(cfg.CONF, url=url)
class Ep:
    def echo(self, ctxt, x): return x
    def noop(self, ctxt, x): pass
s = om.get_rpc_server(t, om.Target(topic=topic, server='bench'), [Ep()])
s.start()
print('ready', flush=True)
sys.stdin.read()
s.stop(); s.wait()
"#;

const PY_CLIENT: &str = r#"
import json, sys, time, threading, logging, warnings
warnings.simplefilter('ignore')
logging.basicConfig(level=logging.ERROR)
import oslo_messaging as om
from oslo_config import cfg
cfg.CONF([], project='bench')
spec = json.load(sys.stdin)
t = om.get_rpc_transport(cfg.CONF, url=spec['url'])
c = om.get_rpc_client(t, om.Target(topic=spec['topic']), timeout=30)
ctxt = {'user': 'bench'}
for _ in range(20): c.call(ctxt, 'echo', x=1)
t0 = time.perf_counter()
for i in range(spec['seq']): c.call(ctxt, 'echo', x=i)
seq = spec['seq'] / (time.perf_counter() - t0)
def caller():
    for i in range(spec['par']): c.call(ctxt, 'echo', x=i)
threads = [threading.Thread(target=caller) for _ in range(4)]
t0 = time.perf_counter()
for th in threads: th.start()
for th in threads: th.join()
par = 4 * spec['par'] / (time.perf_counter() - t0)
t0 = time.perf_counter()
for i in range(spec['casts']): c.cast(ctxt, 'noop', x=i)
casts = spec['casts'] / (time.perf_counter() - t0)
nt = om.get_notification_transport(cfg.CONF, url=spec['url'])
n = om.Notifier(nt, publisher_id='bench', driver='messagingv2', topics=[spec['topic'] + '_notif'])
n.info(ctxt, 'bench.warm', {'i': 0})
t0 = time.perf_counter()
for i in range(spec['notes']): n.info(ctxt, 'bench.event', {'i': i})
notes = spec['notes'] / (time.perf_counter() - t0)
print(json.dumps({'seq': seq, 'par': par, 'casts': casts, 'notes': notes}))
"#;

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}_{}_{nanos}", std::process::id())
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn echo_endpoint() -> Endpoint {
    Endpoint::new()
        .json_method("echo", |_c, a| async move {
            Ok::<_, RemoteError>(a.get("x").cloned().unwrap_or(Value::Null))
        })
        .json_method("noop", |_c, _a| async { Ok(Value::Null) })
}

fn ctxt() -> Context {
    let mut c = Context::new();
    c.insert("user".into(), json!("bench"));
    c
}

/// Our rates on `url`: sequential calls, 4 concurrent callers, casts, notifications.
fn ours(rt: &Runtime, url: &str) -> [f64; 4] {
    rt.block_on(async {
        let t = Transport::new(url).unwrap();
        let topic = unique("bench_rs");
        // Our server runs in its own process, as Python's does.
        let server = spawn_rust_server(url, &topic);
        let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
        for i in 0..20 {
            let _: i64 = c.call(&ctxt(), "echo", json!({"x": i})).await.unwrap();
        }
        let t0 = Instant::now();
        for i in 0..SEQ_CALLS {
            let _: i64 = c.call(&ctxt(), "echo", json!({"x": i})).await.unwrap();
        }
        let seq = rate(SEQ_CALLS, t0.elapsed());
        let t0 = Instant::now();
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                rt.handle().spawn(async move {
                    for i in 0..PAR_CALLS {
                        let _: i64 = c.call(&ctxt(), "echo", json!({"x": i})).await.unwrap();
                    }
                })
            })
            .collect();
        for h in callers {
            h.await.unwrap();
        }
        let par = rate(4 * PAR_CALLS, t0.elapsed());
        let t0 = Instant::now();
        for i in 0..CASTS {
            c.cast(&ctxt(), "noop", json!({"x": i})).await.unwrap();
        }
        let casts = rate(CASTS, t0.elapsed());
        let n = Notifier::builder(t.clone())
            .publisher_id("bench")
            .driver("messagingv2")
            .topics([format!("{topic}_notif")])
            .build()
            .unwrap();
        n.info(&ctxt(), "bench.warm", json!({"i": 0}))
            .await
            .unwrap();
        let t0 = Instant::now();
        for i in 0..NOTIFICATIONS {
            n.info(&ctxt(), "bench.event", json!({"i": i}))
                .await
                .unwrap();
        }
        let notes = rate(NOTIFICATIONS, t0.elapsed());
        stop_server(server);
        [seq, par, casts, notes]
    })
}

/// Starts this benchmark binary again as our RPC server on `topic` (see [`serve_if_asked`]).
fn spawn_rust_server(url: &str, topic: &str) -> Child {
    let mut child = Command::new(std::env::current_exe().expect("the benchmark binary"))
        .env(SERVER_ROLE, topic)
        .env("OSLO_TEST_RABBIT_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start our server process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line.trim(), "ready");
    child
}

fn stop_server(mut child: Child) {
    drop(child.stdin.take());
    let _ = child.wait();
}

/// The environment variable that makes this binary our RPC server for the topic it names.
const SERVER_ROLE: &str = "OSLO_BENCH_SERVE_TOPIC";

/// When started as the server process: serve `echo` and `noop` until standard input closes.
fn serve_if_asked() -> bool {
    let Ok(topic) = std::env::var(SERVER_ROLE) else {
        return false;
    };
    let url = std::env::var("OSLO_TEST_RABBIT_URL").expect("the broker URL");
    let rt = Runtime::new(2).unwrap();
    // Kept alive until standard input closes (a dropped server stops).
    let _server = rt.block_on(async {
        let t = Transport::new(&url).unwrap();
        let server = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("bench"))
            .endpoint(echo_endpoint())
            .build()
            .unwrap();
        server.start().await.unwrap();
        println!("ready");
        server
    });
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
    true
}

/// Python's rates, with a Python server process.
fn python_rates(url: &str) -> [f64; 4] {
    let topic = unique("bench_py");
    let mut server = Command::new(python())
        .arg("-c")
        .arg(PY_SERVER)
        .args([url, &topic])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the Python server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line.trim(), "ready");
    let spec = json!({"url": url, "topic": topic, "seq": PY_SEQ_CALLS, "par": PY_PAR_CALLS,
                      "casts": PY_CASTS, "notes": PY_NOTIFICATIONS});
    let r = run_python_json(PY_CLIENT, &spec.to_string());
    drop(server.stdin.take());
    let _ = server.wait();
    ["seq", "par", "casts", "notes"].map(|k| r[k].as_f64().expect("a rate"))
}

/// The floor: one AMQP request/reply round trip with lapin alone (publish with confirm, consume, publish
/// the reply with confirm, consume it), sequentially.
fn raw_lapin(rt: &Runtime, url: &str) -> f64 {
    let amqp = url.replacen("rabbit://", "amqp://", 1);
    let amqp = if amqp.ends_with('/') {
        format!("{amqp}%2f")
    } else {
        amqp
    };
    rt.block_on(async {
        let conn = Connection::connect(&amqp, ConnectionProperties::default()).await.unwrap();
        let server_conn = Connection::connect(&amqp, ConnectionProperties::default()).await.unwrap();
        let (req_q, rep_q) = (unique("raw_req"), unique("raw_rep"));
        let ch = conn.create_channel().await.unwrap();
        let sch = server_conn.create_channel().await.unwrap();
        for c in [&ch, &sch] {
            c.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
        }
        let opts = QueueDeclareOptions { auto_delete: true, ..QueueDeclareOptions::default() };
        for q in [&req_q, &rep_q] {
            ch.queue_declare(q.as_str().into(), opts, FieldTable::default()).await.unwrap();
        }
        let requests = sch
            .basic_consume(req_q.as_str().into(), "srv".into(), BasicConsumeOptions::default(), FieldTable::default())
            .await
            .unwrap();
        let rep = rep_q.clone();
        requests.set_delegate(move |d: DeliveryResult| {
            let (sch, rep) = (sch.clone(), rep.clone());
            async move {
                let Ok(Some(d)) = d else { return };
                d.ack(BasicAckOptions::default()).await.unwrap();
                sch.basic_publish("".into(), rep.as_str().into(), BasicPublishOptions::default(), &d.data, props())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            }
        });
        let slot = Arc::new(Slot::default());
        let replies = ch
            .basic_consume(rep_q.as_str().into(), "cli".into(), BasicConsumeOptions::default(), FieldTable::default())
            .await
            .unwrap();
        let s2 = slot.clone();
        replies.set_delegate(move |d: DeliveryResult| {
            let slot = s2.clone();
            async move {
                let Ok(Some(d)) = d else { return };
                d.ack(BasicAckOptions::default()).await.unwrap();
                slot.push(d.data);
            }
        });
        let body = br#"{"oslo.version": "2.0", "oslo.message": "{\"method\": \"echo\", \"args\": {\"x\": 1}}"}"#;
        let round = async || {
            ch.basic_publish("".into(), req_q.as_str().into(), BasicPublishOptions::default(), body, props())
                .await
                .unwrap()
                .await
                .unwrap();
            slot.pop().await;
        };
        for _ in 0..20 {
            round().await;
        }
        let t0 = Instant::now();
        for _ in 0..SEQ_CALLS {
            round().await;
        }
        rate(SEQ_CALLS, t0.elapsed())
    })
}

fn props() -> BasicProperties {
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
}

/// A queue of reply bodies a task can await (this crate has no async channel of its own).
#[derive(Default)]
struct Slot {
    inner: Mutex<(VecDeque<Vec<u8>>, Option<Waker>)>,
}

impl Slot {
    fn push(&self, v: Vec<u8>) {
        let mut g = self.inner.lock().unwrap();
        g.0.push_back(v);
        if let Some(w) = g.1.take() {
            w.wake();
        }
    }

    async fn pop(&self) -> Vec<u8> {
        std::future::poll_fn(|cx| {
            let mut g = self.inner.lock().unwrap();
            match g.0.pop_front() {
                Some(v) => Poll::Ready(v),
                None => {
                    g.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

fn main() {
    if serve_if_asked() {
        return;
    }
    let Some(url) = server_url(Server::Rabbit) else {
        eprintln!("the messaging benchmark needs RabbitMQ: eval \"$(scripts/servers.sh env)\"");
        return;
    };
    let rt = Runtime::new(2).unwrap();
    let mem = rt.block_on(async {
        let t = Transport::new("memory:///bench").unwrap();
        let server = RpcServer::builder(t.clone(), Target::topic("bench_mem").with_server("m"))
            .endpoint(echo_endpoint())
            .build()
            .unwrap();
        server.start().await.unwrap();
        let c = RpcClient::new(t, Target::topic("bench_mem")).unwrap();
        let t0 = Instant::now();
        for i in 0..MEMORY_CALLS {
            let _: i64 = c.call(&ctxt(), "echo", json!({"x": i})).await.unwrap();
        }
        let r = rate(MEMORY_CALLS, t0.elapsed());
        server.stop().await;
        server.wait().await;
        r
    });
    // The machine may be busy: run ours and the raw floor three times, interleaved, and keep each one's
    // best; Python twice.
    let mut raw = 0.0f64;
    let mut rs = [0.0f64; 4];
    for _ in 0..3 {
        raw = raw.max(raw_lapin(&rt, &url));
        for (best, new) in rs.iter_mut().zip(ours(&rt, &url)) {
            *best = best.max(new);
        }
    }
    let mut py = [0.0f64; 4];
    for _ in 0..2 {
        for (best, new) in py.iter_mut().zip(python_rates(&url)) {
            *best = best.max(new);
        }
    }
    println!(
        "oslo-messaging vs Python oslo.messaging 18.3.1, RabbitMQ on 127.0.0.1 (per second, higher is better)"
    );
    println!("{:<34} {:>10} {:>10} {:>8}", "", "ours", "python", "ratio");
    for (i, name) in [
        "calls, sequential",
        "calls, 4 concurrent callers",
        "casts",
        "notifications",
    ]
    .iter()
    .enumerate()
    {
        println!(
            "{name:<34} {:>10.0} {:>10.0} {:>7.1}x",
            rs[i],
            py[i],
            rs[i] / py[i]
        );
    }
    println!("{:<34} {:>10.0}", "memory:// calls, sequential", mem);
    println!(
        "{:<34} {:>10.0}   (ours takes {:.2}x its time per call)",
        "raw lapin request/reply",
        raw,
        raw / rs[0]
    );
}
