//! oslo-messaging against Python oslo.messaging on the same RabbitMQ, in one run: sequential calls, calls
//! with 4 concurrent callers, sequential casts, casts from 4 concurrent casters and notifications, per
//! second; plus our `memory://` calls per second and the floor: the same AMQP work done by lapin alone
//! against a raw lapin peer process (request/reply round trips, and confirmed casts the peer acks).
//! Each side talks to its own server in another process (ours and the raw peer: this binary started again
//! in another role). Python is timed inside its client process (start-up excluded). For every phase the
//! CPU time (user and system, from `/proc/<pid>/stat`) of the client process, the server process and the
//! broker (`beam.smp`) is measured too, taken after the server has drained what was sent, and shown per
//! operation. Each figure is the best of several runs (three for ours and the floor, interleaved; two for
//! Python), to damp the noise of a shared machine.
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
use oslo_messaging::lapin::message::{Delivery, DeliveryResult};
use oslo_messaging::lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
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
import json, os, sys, time, threading, logging, warnings
warnings.simplefilter('ignore')
logging.basicConfig(level=logging.ERROR)
import oslo_messaging as om
from oslo_config import cfg
cfg.CONF([], project='bench')
spec = json.load(sys.stdin)
TCK = os.sysconf('SC_CLK_TCK')
def cpu(pid):
    if not pid: return 0.0
    try:
        with open('/proc/%d/stat' % pid) as f: s = f.read()
    except OSError: return 0.0
    x = s[s.rindex(')') + 2:].split()
    return (int(x[11]) + int(x[12])) / TCK
pids = [os.getpid(), spec['server_pid'], spec['broker_pid']]
out = {}
def phase(name, n, run):
    c0 = [cpu(p) for p in pids]
    t0 = time.perf_counter()
    run()
    dt = time.perf_counter() - t0
    if name.endswith('casts'): c.call(ctxt, 'echo', x=0)  # the server has taken every cast
    c1 = [cpu(p) for p in pids]
    out[name] = {'rate': n / dt, 'cpu': [(b - a) / n * 1e6 for a, b in zip(c0, c1)]}
def threads(f):
    def run():
        ts = [threading.Thread(target=f) for _ in range(4)]
        for th in ts: th.start()
        for th in ts: th.join()
    return run
t = om.get_rpc_transport(cfg.CONF, url=spec['url'])
c = om.get_rpc_client(t, om.Target(topic=spec['topic']), timeout=30)
ctxt = {'user': 'bench'}
for _ in range(20): c.call(ctxt, 'echo', x=1)
def seq():
    for i in range(spec['seq']): c.call(ctxt, 'echo', x=i)
phase('seq', spec['seq'], seq)
def par():
    for i in range(spec['par']): c.call(ctxt, 'echo', x=i)
phase('par', 4 * spec['par'], threads(par))
def casts():
    for i in range(spec['casts']): c.cast(ctxt, 'noop', x=i)
phase('casts', spec['casts'], casts)
def par_casts():
    for i in range(spec['casts'] // 4): c.cast(ctxt, 'noop', x=i)
phase('par_casts', spec['casts'] // 4 * 4, threads(par_casts))
nt = om.get_notification_transport(cfg.CONF, url=spec['url'])
n = om.Notifier(nt, publisher_id='bench', driver='messagingv2', topics=[spec['topic'] + '_notif'])
n.info(ctxt, 'bench.warm', {'i': 0})
def notes():
    for i in range(spec['notes']): n.info(ctxt, 'bench.event', {'i': i})
phase('notes', spec['notes'], notes)
print(json.dumps(out))
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

/// CPU time per operation, in microseconds, of the client process, the server process and the broker.
#[derive(Debug, Clone, Copy)]
struct Cpu {
    client: f64,
    server: f64,
    broker: f64,
}

impl Cpu {
    const NONE: Cpu = Cpu {
        client: f64::INFINITY,
        server: f64::INFINITY,
        broker: f64::INFINITY,
    };

    fn min(self, o: Cpu) -> Cpu {
        Cpu {
            client: self.client.min(o.client),
            server: self.server.min(o.server),
            broker: self.broker.min(o.broker),
        }
    }

    fn total(&self) -> f64 {
        self.client + self.server + self.broker
    }

    fn show(&self) -> String {
        format!("{:.0}/{:.0}/{:.0}", self.client, self.server, self.broker)
    }
}

/// One measured phase: operations per second and the CPU each operation cost.
#[derive(Debug, Clone, Copy)]
struct Phase {
    rate: f64,
    cpu: Cpu,
}

impl Phase {
    const NONE: Phase = Phase {
        rate: 0.0,
        cpu: Cpu::NONE,
    };

    /// The best of two runs: the higher rate, and each process's lower CPU per operation.
    fn best(self, o: Phase) -> Phase {
        Phase {
            rate: self.rate.max(o.rate),
            cpu: self.cpu.min(o.cpu),
        }
    }

    fn from_json(v: &Value) -> Phase {
        let cpu = |i: usize| v["cpu"][i].as_f64().expect("a CPU figure");
        Phase {
            rate: v["rate"].as_f64().expect("a rate"),
            cpu: Cpu {
                client: cpu(0),
                server: cpu(1),
                broker: cpu(2),
            },
        }
    }
}

fn best_of<const N: usize>(acc: &mut [Phase; N], new: [Phase; N]) {
    for (a, n) in acc.iter_mut().zip(new) {
        *a = a.best(n);
    }
}

/// Clock ticks per second, the unit of `/proc/<pid>/stat`'s CPU times.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU seconds (user and system, all threads) a process has used so far, from `/proc/<pid>/stat`; 0 for
/// a process that is gone (or pid 0: none).
fn cpu_secs(pid: u32) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some(rest) = s.rfind(')').and_then(|i| s.get(i + 2..)) else {
        return 0.0;
    };
    // The fields after the command name start at the third (state): utime and stime are the 14th and 15th.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// The broker: the Erlang VM (`beam.smp`) running RabbitMQ (0 if none is found). Of several (a
/// `rabbitmqctl` also runs one for a moment), the one that has used the most CPU.
fn broker_pid() -> u32 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            (comm.trim() == "beam.smp").then_some(pid)
        })
        .map(|pid| (cpu_secs(pid), pid))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(0, |(_, pid)| pid)
}

/// Times a phase and measures the CPU this process (the client), a server process and the broker spend
/// in it.
struct Meter {
    pids: [u32; 3],
    start: [f64; 3],
    t0: Instant,
}

impl Meter {
    fn start(server: u32) -> Meter {
        let pids = [std::process::id(), server, broker_pid()];
        Meter {
            pids,
            start: pids.map(cpu_secs),
            t0: Instant::now(),
        }
    }

    /// The rate of `n` operations since the start.
    fn rate(&self, n: usize) -> f64 {
        rate(n, self.t0.elapsed())
    }

    /// The CPU per operation since the start, for `n` operations.
    fn cpu(&self, n: usize) -> Cpu {
        let per_op = |i: usize| (cpu_secs(self.pids[i]) - self.start[i]) / n as f64 * 1e6;
        Cpu {
            client: per_op(0),
            server: per_op(1),
            broker: per_op(2),
        }
    }

    /// The phase: the rate of `n` operations timed up to now, the CPU measured after `settle` (which waits
    /// until the server has taken everything sent).
    async fn finish(&self, n: usize, settle: impl std::future::Future<Output = ()>) -> Phase {
        let rate = self.rate(n);
        settle.await;
        Phase {
            rate,
            cpu: self.cpu(n),
        }
    }
}

/// Our phases on `url`: sequential calls, 4 concurrent callers, casts, 4 concurrent casters,
/// notifications.
fn ours(rt: &Runtime, url: &str) -> [Phase; 5] {
    rt.block_on(async {
        let t = Transport::new(url).unwrap();
        let topic = unique("bench_rs");
        // Our server runs in its own process, as Python's does.
        let mut server = Peer::spawn(SERVER_ROLE, &topic, url);
        let spid = server.id();
        let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
        // Waits until the server has taken every cast sent before (it serves its queue in order).
        let settle = || async {
            let _: i64 = c.call(&ctxt(), "echo", json!({"x": 0})).await.unwrap();
        };
        for i in 0..20 {
            let _: i64 = c.call(&ctxt(), "echo", json!({"x": i})).await.unwrap();
        }
        let m = Meter::start(spid);
        for i in 0..SEQ_CALLS {
            let _: i64 = c.call(&ctxt(), "echo", json!({"x": i})).await.unwrap();
        }
        let seq = m.finish(SEQ_CALLS, async {}).await;
        let m = Meter::start(spid);
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
        let par = m.finish(4 * PAR_CALLS, async {}).await;
        let m = Meter::start(spid);
        for i in 0..CASTS {
            c.cast(&ctxt(), "noop", json!({"x": i})).await.unwrap();
        }
        let casts = m.finish(CASTS, settle()).await;
        let m = Meter::start(spid);
        let casters: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                rt.handle().spawn(async move {
                    for i in 0..CASTS / 4 {
                        c.cast(&ctxt(), "noop", json!({"x": i})).await.unwrap();
                    }
                })
            })
            .collect();
        for h in casters {
            h.await.unwrap();
        }
        let par_casts = m.finish(CASTS / 4 * 4, settle()).await;
        let n = Notifier::builder(t.clone())
            .publisher_id("bench")
            .driver("messagingv2")
            .topics([format!("{topic}_notif")])
            .build()
            .unwrap();
        n.info(&ctxt(), "bench.warm", json!({"i": 0}))
            .await
            .unwrap();
        let m = Meter::start(spid);
        for i in 0..NOTIFICATIONS {
            n.info(&ctxt(), "bench.event", json!({"i": i}))
                .await
                .unwrap();
        }
        let notes = m.finish(NOTIFICATIONS, async {}).await;
        server.stop();
        delete_queues(url, &[format!("{topic}_notif.info")]).await;
        [seq, par, casts, par_casts, notes]
    })
}

/// A copy of this benchmark binary running in another role (our RPC server, or the raw lapin peer), which
/// prints `ready` once it consumes, and stops when its standard input closes.
struct Peer {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Peer {
    fn spawn(role: &str, value: &str, url: &str) -> Peer {
        let mut child = Command::new(std::env::current_exe().expect("the benchmark binary"))
            .env(role, value)
            .env("OSLO_TEST_RABBIT_URL", url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a peer process");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut peer = Peer { child, out };
        peer.expect("ready");
        peer
    }

    fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the peer to print `line`.
    fn expect(&mut self, line: &str) {
        let mut got = String::new();
        self.out
            .read_line(&mut got)
            .expect("read the peer's output");
        assert_eq!(got.trim(), line);
    }

    fn stop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The environment variable that makes this binary our RPC server for the topic it names.
const SERVER_ROLE: &str = "OSLO_BENCH_SERVE_TOPIC";

/// The environment variable that makes this binary the raw lapin peer consuming the queue it names.
const RAW_ROLE: &str = "OSLO_BENCH_RAW_QUEUE";

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

/// When started as the raw peer: consume the queue with lapin alone, ack each delivery on receipt, send
/// back (a confirmed publish) each one that names a `reply_to` queue, and print `drained` on a `drain`.
fn raw_peer_if_asked() -> bool {
    let Ok(queue) = std::env::var(RAW_ROLE) else {
        return false;
    };
    let url = amqp_url(&std::env::var("OSLO_TEST_RABBIT_URL").expect("the broker URL"));
    let rt = Runtime::new(2).unwrap();
    let _conn = rt.block_on(async {
        let conn = Connection::connect(&url, ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let consumer = ch
            .basic_consume(
                queue.as_str().into(),
                "peer".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let pch = ch.clone();
        consumer.set_delegate(move |d: DeliveryResult| {
            let ch = pch.clone();
            async move {
                let Ok(Some(d)) = d else { return };
                raw_ack(&ch, &d).await;
                if d.data == b"drain" {
                    println!("drained");
                } else if let Some(q) = d.properties.reply_to() {
                    ch.basic_publish(
                        "".into(),
                        q.clone(),
                        BasicPublishOptions::default(),
                        &d.data,
                        props(),
                    )
                    .await
                    .unwrap()
                    .await
                    .unwrap();
                }
            }
        });
        println!("ready");
        (conn, ch)
    });
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
    true
}

/// The environment variable that makes this binary cast alone, for profiling under `strace -f -c` or
/// `valgrind --tool=callgrind`, then exit: `ours` or `raw` (lapin alone) casts `OSLO_BENCH_CASTS`
/// (5000 by default) sequential confirmed casts to the control exchange with a routing key nothing is
/// bound to (the broker confirms and drops each); `ours-served` and `raw-served` cast to a server in this
/// process (ours: an `RpcServer`; raw: a lapin consumer on its own connection that acks each cast) and
/// wait until it has taken them all; `ours-calls` and `ours-calls4` make as many calls to an `RpcServer`
/// in this process, from one caller or from 4 concurrent ones.
const PROFILE_ROLE: &str = "OSLO_BENCH_PROFILE_CASTS";

fn profile_if_asked() -> bool {
    let Ok(which) = std::env::var(PROFILE_ROLE) else {
        return false;
    };
    let url = std::env::var("OSLO_TEST_RABBIT_URL").expect("the broker URL");
    let n: usize = std::env::var("OSLO_BENCH_CASTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASTS);
    let rt = Runtime::new(2).unwrap();
    let r = rt.block_on(async {
        match which.as_str() {
            "raw" | "raw-served" => profile_raw(&url, n, which == "raw-served").await,
            "ours" | "ours-served" => profile_ours(&url, n, which == "ours-served").await,
            "ours-calls" => profile_calls(&rt, &url, n, 1).await,
            "ours-calls4" => profile_calls(&rt, &url, n, 4).await,
            other => panic!(
                "{PROFILE_ROLE}: `ours`, `raw`, `ours-served`, `raw-served`, `ours-calls` or \
                 `ours-calls4`, not `{other}`"
            ),
        }
    });
    println!("{which}: {n} messages, {r:.0}/s");
    true
}

async fn profile_ours(url: &str, n: usize, served: bool) -> f64 {
    let t = Transport::new(url).unwrap();
    let topic = unique("bench_profile");
    let server = if served {
        let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("p"))
            .endpoint(echo_endpoint())
            .build()
            .unwrap();
        s.start().await.unwrap();
        Some(s)
    } else {
        None
    };
    let c = RpcClient::new(t, Target::topic(&topic)).unwrap();
    for i in 0..20 {
        c.cast(&ctxt(), "noop", json!({"x": i})).await.unwrap();
    }
    let t0 = Instant::now();
    for i in 0..n {
        c.cast(&ctxt(), "noop", json!({"x": i})).await.unwrap();
    }
    let r = rate(n, t0.elapsed());
    if let Some(s) = server {
        let _: i64 = c.call(&ctxt(), "echo", json!({"x": 0})).await.unwrap();
        s.stop().await;
        s.wait().await;
    }
    r
}

async fn profile_calls(rt: &Runtime, url: &str, n: usize, callers: usize) -> f64 {
    let t = Transport::new(url).unwrap();
    let topic = unique("bench_profile");
    let server = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("p"))
        .endpoint(echo_endpoint())
        .build()
        .unwrap();
    server.start().await.unwrap();
    let c = RpcClient::new(t, Target::topic(&topic)).unwrap();
    for i in 0..20 {
        let _: i64 = c.call(&ctxt(), "echo", json!({"x": i})).await.unwrap();
    }
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let c = c.clone();
            rt.handle().spawn(async move {
                for i in 0..n / callers {
                    let _: i64 = c.call(&ctxt(), "echo", json!({"x": i})).await.unwrap();
                }
            })
        })
        .collect();
    for h in tasks {
        h.await.unwrap();
    }
    let r = rate(n / callers * callers, t0.elapsed());
    server.stop().await;
    server.wait().await;
    r
}

async fn profile_raw(url: &str, n: usize, served: bool) -> f64 {
    let conn = Connection::connect(&amqp_url(url), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let drained = Arc::new(Slot::default());
    let mut consumer_conn = None;
    let (exchange, key) = if served {
        let q = unique("bench_profile_raw");
        let opts = QueueDeclareOptions {
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        ch.queue_declare(q.as_str().into(), opts, FieldTable::default())
            .await
            .unwrap();
        let sconn = Connection::connect(&amqp_url(url), ConnectionProperties::default())
            .await
            .unwrap();
        let sch = sconn.create_channel().await.unwrap();
        let consumer = sch
            .basic_consume(
                q.as_str().into(),
                "profile".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let slot = drained.clone();
        consumer.set_delegate(move |d: DeliveryResult| {
            let (sch, slot) = (sch.clone(), slot.clone());
            async move {
                let Ok(Some(d)) = d else { return };
                raw_ack(&sch, &d).await;
                if d.data == b"drain" {
                    slot.push(d.data);
                }
            }
        });
        consumer_conn = Some(sconn);
        ("", q)
    } else {
        ("openstack", unique("bench_unbound"))
    };
    let publish = async |body: &[u8]| {
        ch.basic_publish(
            exchange.into(),
            key.as_str().into(),
            BasicPublishOptions::default(),
            body,
            props(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    };
    for _ in 0..20 {
        publish(RAW_BODY).await;
    }
    let t0 = Instant::now();
    for _ in 0..n {
        publish(RAW_BODY).await;
    }
    let r = rate(n, t0.elapsed());
    if consumer_conn.is_some() {
        publish(b"drain").await;
        drained.pop().await;
    }
    r
}

/// Acks a delivery the cheapest way lapin offers: on its channel, which hands the frame straight to the
/// connection's I/O thread (the delivery's own `Acker` goes through lapin's internal RPC task and a task
/// it spawns first). With `OSLO_BENCH_RAW_ACKER` set, through the `Acker` instead.
async fn raw_ack(ch: &oslo_messaging::lapin::Channel, d: &Delivery) {
    static ACKER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ACKER.get_or_init(|| std::env::var_os("OSLO_BENCH_RAW_ACKER").is_some()) {
        d.ack(BasicAckOptions::default()).await.unwrap();
    } else {
        ch.basic_ack(d.delivery_tag, BasicAckOptions::default())
            .await
            .unwrap();
    }
}

/// Python's phases, with a Python server process.
fn python_rates(rt: &Runtime, url: &str) -> [Phase; 5] {
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
                      "casts": PY_CASTS, "notes": PY_NOTIFICATIONS,
                      "server_pid": server.id(), "broker_pid": broker_pid()});
    let r = run_python_json(PY_CLIENT, &spec.to_string());
    drop(server.stdin.take());
    let _ = server.wait();
    rt.block_on(delete_queues(url, &[format!("{topic}_notif.info")]));
    ["seq", "par", "casts", "par_casts", "notes"].map(|k| Phase::from_json(&r[k]))
}

/// lapin's URL for an oslo `rabbit://` URL.
fn amqp_url(url: &str) -> String {
    let amqp = url.replacen("rabbit://", "amqp://", 1);
    if amqp.ends_with('/') {
        format!("{amqp}%2f")
    } else {
        amqp
    }
}

/// Deletes the benchmark's notification queues (nobody consumes them).
async fn delete_queues(url: &str, queues: &[String]) {
    let Ok(conn) = Connection::connect(&amqp_url(url), ConnectionProperties::default()).await
    else {
        return;
    };
    if let Ok(ch) = conn.create_channel().await {
        for q in queues {
            let _ = ch
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
    let _ = conn.close(200, "done".into()).await;
}

/// A body of the size of one of our casts (the envelope, the message as a JSON string, a context).
const RAW_BODY: &[u8] = br#"{"oslo.version": "2.0", "oslo.message": "{\"method\": \"noop\", \"args\": {\"x\": 1234}, \"_unique_id\": \"0f7a6c3e9b2d4e1f8a5b6c7d8e9f0a1b\", \"_context_user\": \"bench\"}"}"#;

/// The floor, lapin alone against a raw peer process (the same AMQP work as ours, nothing else): sequential
/// request/reply round trips (two confirmed publishes, two deliveries, two acks), the same with 4
/// concurrent callers (each with its own reply queue), confirmed casts the peer acks, and the same with 4
/// concurrent publishers on the one channel.
fn raw_lapin(rt: &Runtime, url: &str) -> [Phase; 4] {
    rt.block_on(async {
        let conn = Connection::connect(&amqp_url(url), ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let opts = QueueDeclareOptions {
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        let req_q = unique("raw_req");
        ch.queue_declare(req_q.as_str().into(), opts, FieldTable::default())
            .await
            .unwrap();
        let mut peer = Peer::spawn(RAW_ROLE, &req_q, url);
        let spid = peer.id();
        let mut callers = Vec::new();
        for i in 0..4 {
            let rep_q = unique(&format!("raw_rep{i}"));
            ch.queue_declare(rep_q.as_str().into(), opts, FieldTable::default())
                .await
                .unwrap();
            let slot = Arc::new(Slot::default());
            let replies = ch
                .basic_consume(
                    rep_q.as_str().into(),
                    format!("cli{i}").as_str().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
            let (s2, rch) = (slot.clone(), ch.clone());
            replies.set_delegate(move |d: DeliveryResult| {
                let (slot, ch) = (s2.clone(), rch.clone());
                async move {
                    let Ok(Some(d)) = d else { return };
                    raw_ack(&ch, &d).await;
                    slot.push(d.data);
                }
            });
            callers.push(RawCaller {
                ch: ch.clone(),
                req_q: req_q.clone(),
                rep_q,
                slot,
            });
        }
        for _ in 0..20 {
            callers[0].call().await;
        }
        let m = Meter::start(spid);
        for _ in 0..SEQ_CALLS {
            callers[0].call().await;
        }
        let seq = m.finish(SEQ_CALLS, async {}).await;
        let m = Meter::start(spid);
        let tasks: Vec<_> = callers
            .iter()
            .cloned()
            .map(|c| {
                rt.handle().spawn(async move {
                    for _ in 0..PAR_CALLS {
                        c.call().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let par = m.finish(4 * PAR_CALLS, async {}).await;
        let m = Meter::start(spid);
        for _ in 0..CASTS {
            callers[0].cast(RAW_BODY).await;
        }
        let casts = m.finish(CASTS, callers[0].drain(&mut peer)).await;
        let m = Meter::start(spid);
        let tasks: Vec<_> = callers
            .iter()
            .cloned()
            .map(|c| {
                rt.handle().spawn(async move {
                    for _ in 0..CASTS / 4 {
                        c.cast(RAW_BODY).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let par_casts = m.finish(CASTS / 4 * 4, callers[0].drain(&mut peer)).await;
        peer.stop();
        let _ = conn.close(200, "done".into()).await;
        [seq, par, casts, par_casts]
    })
}

/// One raw caller: its reply queue and the replies that arrived on it.
#[derive(Clone)]
struct RawCaller {
    ch: oslo_messaging::lapin::Channel,
    req_q: String,
    rep_q: String,
    slot: Arc<Slot>,
}

impl RawCaller {
    async fn publish(&self, body: &[u8], props: BasicProperties) {
        self.ch
            .basic_publish(
                "".into(),
                self.req_q.as_str().into(),
                BasicPublishOptions::default(),
                body,
                props,
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    async fn call(&self) {
        self.publish(RAW_BODY, props().with_reply_to(self.rep_q.as_str().into()))
            .await;
        self.slot.pop().await;
    }

    async fn cast(&self, body: &[u8]) {
        self.publish(body, props()).await;
    }

    /// Waits until the peer has taken every message sent before.
    async fn drain(&self, peer: &mut Peer) {
        self.cast(b"drain").await;
        peer.expect("drained");
    }
}

/// The properties our publishes carry.
fn props() -> BasicProperties {
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_delivery_mode(2)
        .with_priority(0)
        .with_headers(FieldTable::default())
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

const ROWS: [&str; 5] = [
    "calls, sequential",
    "calls, 4 concurrent callers",
    "casts, sequential",
    "casts, 4 concurrent casters",
    "notifications",
];

fn main() {
    if serve_if_asked() || raw_peer_if_asked() || profile_if_asked() {
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
    let mut raw = [Phase::NONE; 4];
    let mut rs = [Phase::NONE; 5];
    for _ in 0..3 {
        best_of(&mut raw, raw_lapin(&rt, &url));
        best_of(&mut rs, ours(&rt, &url));
    }
    // `OSLO_BENCH_NO_PYTHON` set: ours and the floor only (to compare two builds of ours quickly).
    let py_runs = if std::env::var_os("OSLO_BENCH_NO_PYTHON").is_some() {
        0
    } else {
        2
    };
    let mut py = [Phase::NONE; 5];
    for _ in 0..py_runs {
        best_of(&mut py, python_rates(&rt, &url));
    }
    println!(
        "oslo-messaging vs Python oslo.messaging 18.3.1, RabbitMQ on 127.0.0.1 (per second, higher is better;"
    );
    println!(
        "CPU: microseconds of CPU per operation, client/server/broker, each the lowest of the runs)"
    );
    println!(
        "{:<30} {:>8} {:>8} {:>6}  {:>14} {:>14}",
        "", "ours", "python", "ratio", "ours CPU", "python CPU"
    );
    for (i, name) in ROWS.iter().enumerate() {
        println!(
            "{name:<30} {:>8.0} {:>8.0} {:>5.1}x  {:>14} {:>14}",
            rs[i].rate,
            py[i].rate,
            rs[i].rate / py[i].rate,
            rs[i].cpu.show(),
            py[i].cpu.show(),
        );
    }
    println!("{:<30} {:>8.0}", "memory:// calls, sequential", mem);
    println!("raw lapin against a raw lapin peer process (the floor):");
    println!(
        "{:<30} {:>8} {:>14} {:>10} {:>10} {:>10}",
        "", "raw", "raw CPU", "ours/raw", "raw/py", "2 cores/py"
    );
    for (i, name) in ROWS[..4].iter().enumerate() {
        // What two cores could do at most if the raw work were all: 2 s of CPU per second over the CPU
        // each operation takes in the three processes, against Python's rate.
        let bound = 2e6 / raw[i].cpu.total();
        println!(
            "{name:<30} {:>8.0} {:>14} {:>9.2}x {:>9.1}x {:>9.1}x",
            raw[i].rate,
            raw[i].cpu.show(),
            raw[i].rate / rs[i].rate,
            raw[i].rate / py[i].rate,
            bound / py[i].rate,
        );
    }
}
