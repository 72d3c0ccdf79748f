//! Interop with Python oslo.messaging on the real RabbitMQ: Python servers with our client, our server with
//! Python's client, notifications both ways, and the bytes on the wire. Each scenario is differential: the
//! same operations through Python and through us must give the same results and errors.
#![cfg(feature = "messaging")]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use oslo_messaging::blocking::Runtime;
use oslo_messaging::{
    Context, Endpoint, Error, NotificationEndpoint, NotificationListener, NotificationResult,
    Notifier, Priority, RemoteError, RpcClient, RpcServer, Target, Transport,
};
use oslo_tests::{PythonProcess as Py, Server, python, server_url};
use serde_json::{Map, Value, json};

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

const PY_PRELUDE: &str = r#"
import json, sys, time, logging, warnings
warnings.simplefilter('ignore')
logging.basicConfig(level=logging.ERROR)
import oslo_messaging as om
from oslo_config import cfg
cfg.CONF([], project='interop')
def out(*a):
    print(json.dumps(a), flush=True)
"#;

const PY_SERVER: &str = r#"
url, topic, name = sys.argv[1:4]
t = om.get_rpc_transport(cfg.CONF, url=url)
class Main:
    target = om.Target(version='1.3')
    def add(self, ctxt, a, b): return a + b
    def echo(self, ctxt, x): return x
    def fail(self, ctxt): raise ValueError('boom from fail')
    def keyerr(self, ctxt): raise KeyError('missing')
    def ctx(self, ctxt): return ctxt
    def whoami(self, ctxt): return name
    def sleep(self, ctxt, s):
        time.sleep(s)
        return s
    def record(self, ctxt, **kw): out('record', name, kw)
    def _private(self, ctxt): return 'secret'
class Ns:
    target = om.Target(namespace='ns1', version='2.1')
    def which(self, ctxt): return 'ns1-2.1'
s = om.get_rpc_server(t, om.Target(topic=topic, server=name), [Main(), Ns()])
s.start()
out('ready')
sys.stdin.read()
s.stop(); s.wait(); t.cleanup()
"#;

const PY_CLIENT: &str = r#"
url, topic = sys.argv[1:3]
ops = json.load(sys.stdin)
t = om.get_rpc_transport(cfg.CONF, url=url)
client = om.get_rpc_client(t, om.Target(topic=topic), timeout=10)
res = []
for op in ops:
    c = client.prepare(**op.get('prepare', {}))
    try:
        if op['kind'] == 'call':
            r = {'ok': c.call(op.get('ctxt', {}), op['method'], **op.get('args', {}))}
        else:
            c.cast(op.get('ctxt', {}), op['method'], **op.get('args', {}))
            r = {'ok': None}
    except om.MessagingTimeout:
        r = {'timeout': True}
    except om.RemoteError as e:
        r = {'remote': e.exc_type, 'value': e.value}
    except Exception as e:
        r = {'exc': type(e).__name__, 'module': type(e).__module__, 'first_line': str(e.args[0]).split('\n')[0] if e.args else None}
    res.append(r)
t.cleanup()
print(json.dumps(res))
"#;

const PY_LISTENER: &str = r#"
url, topic = sys.argv[1:3]
pool = sys.argv[3] if len(sys.argv) > 3 else None
t = om.get_notification_transport(cfg.CONF, url=url)
class Ep:
    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        out('info', ctxt, publisher_id, event_type, payload, sorted(metadata))
    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        out('error', ctxt, publisher_id, event_type, payload, sorted(metadata))
l = om.get_notification_listener(t, [om.Target(topic=topic)], [Ep()], pool=pool)
l.start()
out('ready')
sys.stdin.read()
l.stop(); l.wait(); t.cleanup()
"#;

const PY_NOTIFIER: &str = r#"
url, topic, driver = sys.argv[1:4]
from oslo_context import context
t = om.get_notification_transport(cfg.CONF, url=url)
n = om.Notifier(t, publisher_id='py.host', driver=driver, topics=[topic])
ctxt = context.RequestContext(user_id='bob', project_id='p-7', auth_token='SECRET')
n.info(ctxt, 'py.event.start', {'k': 'v', 'n': 1})
n.warn(ctxt, 'py.event.warned', {'k': 'w'})
n.error(ctxt, 'py.event.failed', {'k': 'e'})
t.cleanup()
out('sent')
"#;

/// A Python helper running `body` with `args`.
fn spawn_py(body: &str, args: &[&str]) -> Py {
    let mut cmd = Command::new(python());
    cmd.arg("-c").arg(format!("{PY_PRELUDE}{body}")).args(args);
    Py::spawn(cmd)
}

/// Waits for a helper's `["ready"]` line.
fn expect_ready(py: &Py) {
    assert_eq!(py.next(60), json!(["ready"]));
}

/// Runs the Python RPC client on `ops` against `topic`.
fn python_client(url: &str, topic: &str, ops: &Value) -> Value {
    let mut child = Command::new(python())
        .arg("-c")
        .arg(format!("{PY_PRELUDE}{PY_CLIENT}"))
        .args([url, topic])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the reference Python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(ops.to_string().as_bytes())
        .expect("write ops");
    let out = child
        .wait_with_output()
        .expect("wait for the Python client");
    assert!(out.status.success(), "the Python client failed");
    serde_json::from_slice(&out.stdout).expect("the Python client printed JSON")
}

/// The operations every client runs: results, remote errors, namespaces and versions, server-directed
/// calls, call-monitor heartbeats, a timeout, casts and a fanout cast.
fn operations(server: &str) -> Value {
    json!([
        {"kind": "call", "method": "add", "args": {"a": 2, "b": 3}},
        {"kind": "call", "method": "echo", "args": {"x": {"s": "h\u{e9}llo \u{1f600}", "l": [1, 2.5, null, true], "n": null}}},
        {"kind": "call", "method": "fail"},
        {"kind": "call", "method": "keyerr"},
        {"kind": "call", "method": "nosuch"},
        {"kind": "call", "method": "_private"},
        {"kind": "call", "method": "ctx", "ctxt": {"user": "alice", "project_id": "p-42"}},
        {"kind": "call", "method": "which", "prepare": {"namespace": "ns1", "version": "2.0"}},
        {"kind": "call", "method": "which", "prepare": {"namespace": "ns1", "version": "2.2"}},
        {"kind": "call", "method": "which", "prepare": {"namespace": "nsX", "version": "1.0"}},
        {"kind": "call", "method": "add", "args": {"a": 1, "b": 1}, "prepare": {"version": "1.2"}},
        {"kind": "call", "method": "add", "args": {"a": 1, "b": 1}, "prepare": {"version": "1.4"}},
        {"kind": "call", "method": "whoami", "prepare": {"server": server}},
        {"kind": "call", "method": "sleep", "args": {"s": 3}, "prepare": {"timeout": 20, "call_monitor_timeout": 2}},
        {"kind": "call", "method": "sleep", "args": {"s": 2}, "prepare": {"timeout": 0.5}},
        {"kind": "cast", "method": "record", "args": {"i": 1}},
        {"kind": "cast", "method": "record", "args": {"i": 2}, "prepare": {"fanout": true}},
    ])
}

/// What Python's client shows for a result or an error, computed from ours.
fn as_python_sees(r: Result<Value, Error>) -> Value {
    match r {
        Ok(v) => json!({"ok": v}),
        Err(Error::Timeout { .. }) => json!({"timeout": true}),
        Err(Error::Remote(e)) if matches!(e.module(), "builtins" | "exceptions") => {
            json!({"exc": e.class(), "module": e.module(), "first_line": e.message().split('\n').next()})
        }
        Err(Error::Remote(e)) => json!({"remote": e.class(), "value": e.message()}),
        Err(e) => json!({"rust_error": e.to_string()}),
    }
}

/// Runs the operations with our client.
async fn rust_client(t: &Transport, topic: &str, ops: &Value) -> Value {
    let base = RpcClient::builder(t.clone(), Target::topic(topic))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut res = Vec::new();
    for op in ops.as_array().unwrap() {
        let mut p = base.prepare();
        let prep = op.get("prepare").cloned().unwrap_or(json!({}));
        if let Some(v) = prep["namespace"].as_str() {
            p = p.namespace(v);
        }
        if let Some(v) = prep["version"].as_str() {
            p = p.version(v);
        }
        if let Some(v) = prep["server"].as_str() {
            p = p.server(v);
        }
        if prep["fanout"].as_bool() == Some(true) {
            p = p.fanout(true);
        }
        if let Some(v) = prep["timeout"].as_f64() {
            p = p.timeout(Duration::from_secs_f64(v));
        }
        if let Some(v) = prep["call_monitor_timeout"].as_f64() {
            p = p.call_monitor_timeout(Duration::from_secs_f64(v));
        }
        let c = p.build().unwrap();
        let ctxt: Context = op
            .get("ctxt")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let method = op["method"].as_str().unwrap();
        let args = op.get("args").cloned().unwrap_or(json!({}));
        let r = if op["kind"] == "call" {
            c.call_json(&ctxt, method, args).await
        } else {
            c.cast(&ctxt, method, args).await.map(|()| Value::Null)
        };
        res.push(as_python_sees(r));
    }
    Value::Array(res)
}

/// Our server, with the same endpoints as the Python one; casts to `record` are reported on `casts`.
fn rust_server_endpoints(name: &str, casts: std_mpsc::Sender<Value>) -> Vec<Endpoint> {
    let me = name.to_owned();
    let main = Endpoint::with_target(Target::new().with_version("1.3"))
        .method("add", |_c, a: Map<String, Value>| async move {
            let n = |k: &str| {
                a.get(k)
                    .and_then(Value::as_i64)
                    .ok_or_else(|| RemoteError::new("TypeError", format!("missing `{k}`")))
            };
            Ok::<_, RemoteError>(n("a")? + n("b")?)
        })
        .json_method("echo", |_c, a| async move {
            Ok(a.get("x").cloned().unwrap_or(Value::Null))
        })
        .json_method("fail", |_c, _a| async {
            Err(RemoteError::new("ValueError", "boom from fail"))
        })
        .json_method("keyerr", |_c, _a| async {
            Err(RemoteError::new("KeyError", "'missing'").with_args(vec![json!("missing")]))
        })
        .json_method("ctx", |c, _a| async move { Ok(Value::Object(c)) })
        .json_method("whoami", move |_c, _a| {
            let me = me.clone();
            async move { Ok(Value::String(me)) }
        })
        .json_method("sleep", |_c, a| async move {
            let s = a.get("s").cloned().unwrap_or(json!(0));
            tokio_sleep(s.as_f64().unwrap_or(0.0)).await;
            Ok(s)
        })
        .json_method("record", move |_c, a| {
            let casts = casts.clone();
            async move {
                let _ = casts.send(Value::Object(a));
                Ok(Value::Null)
            }
        })
        .json_method("_private", |_c, _a| async { Ok(json!("secret")) });
    let ns = Endpoint::with_target(Target::new().with_namespace("ns1").with_version("2.1"))
        .json_method("which", |_c, _a| async { Ok(json!("ns1-2.1")) });
    vec![main, ns]
}

/// Sleeps without blocking the runtime (this crate has no tokio of its own): a timer thread wakes the task.
fn tokio_sleep(secs: f64) -> impl std::future::Future<Output = ()> {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut started = false;
    std::future::poll_fn(move |cx| {
        if done.load(Ordering::SeqCst) {
            return std::task::Poll::Ready(());
        }
        if !started {
            started = true;
            let (done, waker) = (done.clone(), cx.waker().clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs_f64(secs));
                done.store(true, Ordering::SeqCst);
                waker.wake();
            });
        }
        std::task::Poll::Pending
    })
}

/// The broker's URL and a shared lock that the broker-restarting fault tests take exclusively.
fn rabbit() -> Option<(String, std::fs::File)> {
    let url = server_url(Server::Rabbit)?;
    let lock = oslo_tests::rabbit_lock_file();
    lock.lock_shared().expect("take the broker lock");
    Some((url, lock))
}

#[test]
fn rust_and_python_clients_get_the_same_from_a_python_server() {
    let Some((url, _lock)) = rabbit() else {
        return;
    };
    let topic = unique("interop_pysrv");
    let py = spawn_py(PY_SERVER, &[&url, &topic, "py1"]);
    expect_ready(&py);
    let ops = operations("py1");
    let reference = python_client(&url, &topic, &ops);
    let rt = Runtime::new(2).unwrap();
    let ours = rt.block_on(async {
        let t = Transport::new(&url).unwrap();
        rust_client(&t, &topic, &ops).await
    });
    assert_eq!(ours, reference);
    // Spot checks of the reference itself, so a common mistake cannot pass.
    assert_eq!(reference[0], json!({"ok": 5}));
    assert_eq!(
        reference[2],
        json!({"exc": "ValueError", "module": "builtins", "first_line": "boom from fail"})
    );
    assert_eq!(
        reference[3],
        json!({"exc": "KeyError", "module": "builtins", "first_line": "'missing'"})
    );
    assert_eq!(
        reference[4],
        json!({"remote": "NoSuchMethod", "value": "Endpoint does not support RPC method nosuch"})
    );
    assert_eq!(reference[6]["ok"]["user"], "alice");
    assert_eq!(reference[13], json!({"ok": 3}));
    assert_eq!(reference[14], json!({"timeout": true}));
    // Each client cast twice (once to the topic, once fanned out).
    let mut recorded: Vec<i64> = (0..4)
        .map(|_| py.next(20)[2]["i"].as_i64().unwrap())
        .collect();
    recorded.sort();
    assert_eq!(recorded, [1, 1, 2, 2]);
    py.quiet();
    py.finish();
}

#[test]
fn a_python_client_gets_the_same_from_rust_and_python_servers() {
    let Some((url, _lock)) = rabbit() else {
        return;
    };
    let py_topic = unique("interop_ref");
    let rs_topic = unique("interop_rssrv");
    let py = spawn_py(PY_SERVER, &[&url, &py_topic, "srv"]);
    expect_ready(&py);
    let rt = Runtime::new(2).unwrap();
    let (casts_tx, casts) = std_mpsc::channel();
    let t = rt.block_on(async { Transport::new(&url) }).unwrap();
    let mut builder = RpcServer::builder(t.clone(), Target::topic(&rs_topic).with_server("srv"));
    for e in rust_server_endpoints("srv", casts_tx) {
        builder = builder.endpoint(e);
    }
    let server = builder.build().unwrap();
    rt.block_on(server.start()).unwrap();
    let ops = operations("srv");
    let reference = python_client(&url, &py_topic, &ops);
    let ours = python_client(&url, &rs_topic, &ops);
    assert_eq!(ours, reference);
    let mut got: Vec<i64> = (0..2)
        .map(|_| {
            casts.recv_timeout(Duration::from_secs(20)).unwrap()["i"]
                .as_i64()
                .unwrap()
        })
        .collect();
    got.sort();
    assert_eq!(got, [1, 2]);
    rt.block_on(async {
        server.stop().await;
        server.wait().await;
    });
    py.finish();
}

fn rust_notification_listener(
    rt: &Runtime,
    t: &Transport,
    topic: &str,
) -> (
    NotificationListener,
    std_mpsc::Receiver<oslo_messaging::notify::Notification>,
) {
    let (tx, rx) = std_mpsc::channel();
    let mut ep = NotificationEndpoint::new();
    for p in [Priority::Info, Priority::Error] {
        let tx = tx.clone();
        ep = ep.on(p, move |n| {
            let _ = tx.send(n);
            async { NotificationResult::Handled }
        });
    }
    let l = NotificationListener::builder(t.clone(), vec![Target::topic(topic)])
        .endpoint(ep)
        .pool_size(1)
        .build()
        .unwrap();
    rt.block_on(l.start()).unwrap();
    (l, rx)
}

#[test]
fn notifications_from_python_reach_our_listener() {
    let Some((url, _lock)) = rabbit() else {
        return;
    };
    for driver in ["messagingv2", "messaging"] {
        let topic = unique("interop_py_notif");
        let rt = Runtime::new(2).unwrap();
        let t = rt.block_on(async { Transport::new(&url) }).unwrap();
        let (l, rx) = rust_notification_listener(&rt, &t, &topic);
        let py = spawn_py(PY_NOTIFIER, &[&url, &topic, driver]);
        assert_eq!(py.next(60), json!(["sent"]));
        let mut got: Vec<_> = (0..2)
            .map(|_| rx.recv_timeout(Duration::from_secs(20)).unwrap())
            .collect();
        got.sort_by_key(|n| n.priority);
        assert_eq!(got[0].priority, Priority::Info);
        assert_eq!(got[0].publisher_id, "py.host");
        assert_eq!(got[0].event_type, "py.event.start");
        assert_eq!(got[0].payload, json!({"k": "v", "n": 1}));
        assert_eq!(got[0].ctxt["user"], "bob");
        assert_eq!(got[0].ctxt["project_id"], "p-7");
        assert_eq!(
            got[0].ctxt["auth_token"],
            Value::Null,
            "Python redacts the token"
        );
        assert_eq!(
            got[0].metadata["message_id"].as_str().map(str::len),
            Some(36)
        );
        assert_eq!(got[1].priority, Priority::Error);
        assert_eq!(got[1].event_type, "py.event.failed");
        assert!(
            rx.recv_timeout(Duration::from_millis(500)).is_err(),
            "the warn notification is not subscribed"
        );
        rt.block_on(async {
            l.stop().await;
            l.wait().await;
        });
        py.finish();
    }
}

#[test]
fn notifications_from_us_reach_a_python_listener() {
    let Some((url, _lock)) = rabbit() else {
        return;
    };
    for driver in ["messagingv2", "messaging"] {
        let topic = unique("interop_rs_notif");
        let pool = unique("pool");
        let plain = spawn_py(PY_LISTENER, &[&url, &topic]);
        let pooled = spawn_py(PY_LISTENER, &[&url, &topic, &pool]);
        expect_ready(&plain);
        expect_ready(&pooled);
        let rt = Runtime::new(2).unwrap();
        rt.block_on(async {
            let t = Transport::new(&url).unwrap();
            let n = Notifier::builder(t)
                .publisher_id("rust.host")
                .driver(driver)
                .topics([topic.as_str()])
                .build()
                .unwrap();
            let mut ctxt = Context::new();
            ctxt.insert("user_id".into(), json!("carol"));
            ctxt.insert("auth_token".into(), json!("SECRET"));
            n.info(
                &ctxt,
                "rust.event.start",
                json!({"id": 1, "name": "caf\u{e9}"}),
            )
            .await
            .unwrap();
            n.warn(&ctxt, "rust.event.warned", json!({})).await.unwrap();
            n.error(&ctxt, "rust.event.failed", json!({"id": 2}))
                .await
                .unwrap();
        });
        for py in [&plain, &pooled] {
            let info = py.next(20);
            assert_eq!(info[0], "info");
            assert_eq!(
                info[1],
                json!({"user_id": "carol", "auth_token": null, "client_timeout": null})
            );
            assert_eq!(info[2], "rust.host");
            assert_eq!(info[3], "rust.event.start");
            assert_eq!(info[4], json!({"id": 1, "name": "caf\u{e9}"}));
            assert_eq!(info[5], json!(["message_id", "timestamp"]));
            let error = py.next(20);
            assert_eq!(
                (error[0].as_str(), error[3].as_str()),
                (Some("error"), Some("rust.event.failed"))
            );
            py.quiet();
        }
        plain.finish();
        pooled.finish();
    }
}

const PY_CAPTURE: &str = r#"
import amqp
url, topic, mode = sys.argv[1:4]
t = om.get_rpc_transport(cfg.CONF, url=url)
conn = amqp.Connection(host='127.0.0.1:5682', userid='oslo', password='oslo-secret')
conn.connect()
ch = conn.channel()
ch.exchange_declare('openstack', 'topic', durable=False, auto_delete=False)
ch.queue_declare(topic, durable=False, auto_delete=False)
ch.queue_bind(topic, 'openstack', topic)
out('ready')
sys.stdin.readline()
if mode == 'python':
    client = om.get_rpc_client(t, om.Target(topic=topic, namespace='ns1', version='2.1'))
    client.cast({'user': 'alice', 'n': 1}, 'echo', x={'s': 'h\u00e9', 'l': [1, None]})
for _ in range(100):
    m = ch.basic_get(topic, no_ack=True)
    if m is not None:
        break
    time.sleep(0.05)
p = m.properties
out(dict(p), m.body.decode() if isinstance(m.body, bytes) else m.body)
conn.close(); t.cleanup()
"#;

/// Replaces every 32-hex-digit id (uuid4 hex) of a captured body with `<id>`, so two captures compare.
fn normalise(body: &str) -> String {
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..]
            .iter()
            .take_while(|c| matches!(c, '0'..='9' | 'a'..='f'))
            .count();
        if run == 32 {
            out.push_str("<id>");
            i += 32;
        } else {
            let n = run.max(1);
            out.extend(&chars[i..i + n]);
            i += n;
        }
    }
    out
}

#[test]
fn our_requests_are_laid_out_as_pythons() {
    let Some((url, _lock)) = rabbit() else {
        return;
    };
    let mut captured = Vec::new();
    for mode in ["python", "rust"] {
        let topic = unique("interop_wire");
        let py = spawn_py(PY_CAPTURE, &[&url, &topic, mode]);
        expect_ready(&py);
        if mode == "rust" {
            let rt = Runtime::new(1).unwrap();
            rt.block_on(async {
                let t = Transport::new(&url).unwrap();
                let c = RpcClient::new(
                    t,
                    Target::topic(&topic)
                        .with_namespace("ns1")
                        .with_version("2.1"),
                )
                .unwrap();
                let mut ctxt = Context::new();
                ctxt.insert("user".into(), json!("alice"));
                ctxt.insert("n".into(), json!(1));
                c.cast(
                    &ctxt,
                    "echo",
                    json!({"x": {"s": "h\u{e9}", "l": [1, null]}}),
                )
                .await
                .unwrap();
            });
        }
        py.send_line("go");
        let got = py.next(30);
        captured.push((got[0].clone(), normalise(got[1].as_str().unwrap())));
        py.finish();
    }
    let (py_props, py_body) = &captured[0];
    let (rs_props, rs_body) = &captured[1];
    assert_eq!(rs_props, py_props);
    assert_eq!(
        py_props,
        &json!({"application_headers": {}, "content_type": "application/json", "content_encoding": "utf-8",
                "delivery_mode": 2, "priority": 0})
    );
    // The envelope and the request's own keys are laid out as Python lays them out; nested objects
    // (arguments, context) hold the same data, with their keys in sorted order.
    let (py_inner, rs_inner) = (inner_message(py_body), inner_message(rs_body));
    let (py_keys, rs_keys) = (top_level_keys(&py_inner), top_level_keys(&rs_inner));
    assert_eq!(
        py_keys[..5],
        ["method", "args", "namespace", "version", "_unique_id"]
    );
    assert_eq!(rs_keys[..5], py_keys[..5]);
    let (mut py_ctx, mut rs_ctx) = (py_keys[5..].to_vec(), rs_keys[5..].to_vec());
    py_ctx.sort();
    rs_ctx.sort();
    assert_eq!(rs_ctx, py_ctx);
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap();
    assert_eq!(parse(&rs_inner), parse(&py_inner));
    assert!(
        py_body.starts_with(r#"{"oslo.version": "2.0", "oslo.message": "{\"method\": \"echo\""#),
        "{py_body}"
    );
    assert!(
        rs_body.starts_with(
            r#"{"oslo.version": "2.0", "oslo.message": "{\"method\": \"echo\", \"args\": {\"x\": {"#
        ),
        "{rs_body}"
    );
    assert!(
        rs_inner.contains(r#""s": "h\u00e9""#),
        "non-ASCII is escaped as Python does: {rs_inner}"
    );
}

/// The inner message (the `oslo.message` string) of an envelope body.
fn inner_message(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap();
    v["oslo.message"].as_str().unwrap().to_owned()
}

/// The keys of a JSON object's top level, in the order written.
fn top_level_keys(json_text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut depth = 0usize;
    let mut chars = json_text.chars().peekable();
    let mut expecting_key = false;
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' => {
                depth += 1;
                expecting_key = c == '{' && depth == 1;
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expecting_key = true,
            '"' => {
                let mut s = String::new();
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            s.push(d);
                            if let Some(e) = chars.next() {
                                s.push(e);
                            }
                        }
                        '"' => break,
                        _ => s.push(d),
                    }
                }
                if expecting_key && depth == 1 {
                    keys.push(s);
                    expecting_key = false;
                }
            }
            _ => {}
        }
    }
    keys
}

/// Python and Rust servers on the same topic, with the default options and with quorum queues: each side
/// declares the same queues and exchanges (a difference would fail the declaration), calls reach either,
/// server-directed calls reach the one named, and a fanout reaches both.
#[test]
fn python_and_rust_servers_share_a_topic() {
    let Some((url, _lock)) = rabbit() else {
        return;
    };
    let quorum = format!("{url}?rabbit_quorum_queue=true&rabbit_transient_quorum_queue=true");
    for (i, url) in [url.clone(), quorum].iter().enumerate() {
        let topic = unique("interop_shared");
        // Quorum queues make the control exchange durable: give that run its own exchange.
        let exchange = if i == 0 {
            "openstack".to_owned()
        } else {
            unique("interop_quorum")
        };
        let py = spawn_py_with_exchange(url, &topic, "py1", &exchange);
        expect_ready(&py);
        let rt = Runtime::new(2).unwrap();
        let (casts_tx, casts) = std_mpsc::channel();
        let t = rt
            .block_on(async { Transport::builder(url).control_exchange(&exchange).build() })
            .unwrap();
        let mut builder = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("rs1"));
        for e in rust_server_endpoints("rs1", casts_tx) {
            builder = builder.endpoint(e);
        }
        let server = builder.build().unwrap();
        rt.block_on(server.start())
            .expect("our server declares what the Python server declared");
        rt.block_on(async {
            let c = RpcClient::builder(t.clone(), Target::topic(&topic))
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            for name in ["py1", "rs1"] {
                let who: String = c
                    .prepare()
                    .server(name)
                    .build()
                    .unwrap()
                    .call(&Context::new(), "whoami", json!({}))
                    .await
                    .unwrap();
                assert_eq!(who, name);
            }
            let mut seen = std::collections::HashSet::new();
            for _ in 0..20 {
                seen.insert(
                    c.call::<String>(&Context::new(), "whoami", json!({}))
                        .await
                        .unwrap(),
                );
            }
            assert_eq!(
                seen.len(),
                2,
                "calls to the topic reach both servers: {seen:?}"
            );
            c.prepare()
                .fanout(true)
                .build()
                .unwrap()
                .cast(&Context::new(), "record", json!({"i": 7}))
                .await
                .unwrap();
        });
        assert_eq!(casts.recv_timeout(Duration::from_secs(20)).unwrap()["i"], 7);
        assert_eq!(py.next(20)[2]["i"], 7);
        rt.block_on(async {
            server.stop().await;
            server.wait().await;
        });
        py.finish();
    }
}

/// The Python RPC server of [`PY_SERVER`], with `control_exchange` set.
fn spawn_py_with_exchange(url: &str, topic: &str, name: &str, exchange: &str) -> Py {
    let body = PY_SERVER.replacen(
        "t = om.get_rpc_transport(cfg.CONF, url=url)",
        &format!(
            "om.set_transport_defaults('{exchange}')\nt = om.get_rpc_transport(cfg.CONF, url=url)"
        ),
        1,
    );
    spawn_py(&body, &[url, topic, name])
}
