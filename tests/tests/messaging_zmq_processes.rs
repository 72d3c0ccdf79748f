//! `zmq://` across processes on 127.0.0.1: RPC servers run in child processes (this test binary started
//! again on its ignored `child_process` entry), the clients here. They find each other through the Redis
//! matchmaker (`OSLO_TEST_REDIS_URL`) or a static matchmaker file. Covered: calls and casts to servers in
//! other processes, a fanout to three server processes, a server killed in the middle of a call (the
//! caller gets an error at once, no hang), and dead servers dropping out of Redis when their entries
//! expire while live ones keep theirs refreshed.
#![cfg(feature = "messaging")]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use oslo_messaging::blocking::Runtime;
use oslo_messaging::{
    Context, Endpoint, Error, NotificationEndpoint, NotificationListener, NotificationResult,
    Notifier, Priority, RpcClient, RpcServer, Target, Transport,
};
use oslo_tests::{Server, server_url};
use serde_json::{Value, json};

const CHILD_ENV: &str = "OSLO_ZMQ_CHILD";
const PREFIX: &str = "ZMQ-CHILD ";

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// The zmq URL with the Redis matchmaker of the test servers, and extra options.
fn redis_zmq_url(options: &str) -> Option<String> {
    let url = server_url(Server::Redis)?;
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    Some(format!(
        "zmq+redis://{rest}?bind_address=127.0.0.1{options}"
    ))
}

/// The body of a child process until its stdin closes: an RPC server on `url`, `topic`, `server`, or with
/// `pool` set, a notification listener of that pool on `topic` (info).
#[test]
#[ignore = "the entry point of the server processes the other tests start; it does nothing alone"]
fn child_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).expect("child spec");
    let (url, topic, name) = (
        spec["url"].as_str().unwrap().to_owned(),
        spec["topic"].as_str().unwrap().to_owned(),
        spec["server"].as_str().unwrap().to_owned(),
    );
    let rt = Runtime::new(4).unwrap();
    if let Some(pool) = spec["pool"].as_str() {
        let who = name.clone();
        let ep = NotificationEndpoint::new().on(Priority::Info, move |n| {
            println!("{PREFIX}note {who} {}", n.payload);
            async { NotificationResult::Handled }
        });
        let listener = rt.block_on(async {
            let t = Transport::new(&url).expect("child transport");
            let l = NotificationListener::builder(t, vec![Target::topic(&topic)])
                .endpoint(ep)
                .pool(pool)
                .build()
                .expect("child listener");
            l.start().await.expect("child start");
            l
        });
        ready_until_stdin_closes();
        rt.block_on(async {
            listener.stop().await;
            listener.wait().await;
        });
        return;
    }
    let me = name.clone();
    let who = name.clone();
    let ep = Endpoint::new()
        .json_method("whoami", move |_c, _a| {
            let me = me.clone();
            async move { Ok(Value::String(me)) }
        })
        .json_method("record", move |_c, a| {
            let who = who.clone();
            async move {
                println!("{PREFIX}got {who} {}", Value::Object(a));
                Ok(Value::Null)
            }
        })
        .json_method("slow", |_c, a| async move {
            println!("{PREFIX}handling slow");
            // A blocking sleep is fine in this child: it only has this call to serve.
            std::thread::sleep(Duration::from_millis(a["ms"].as_u64().unwrap_or(0)));
            Ok(json!("slept"))
        });
    let server = rt.block_on(async {
        let t = Transport::new(&url).expect("child transport");
        let s = RpcServer::builder(t, Target::topic(&topic).with_server(&name))
            .endpoint(ep)
            .build()
            .expect("child server");
        s.start().await.expect("child start");
        s
    });
    ready_until_stdin_closes();
    rt.block_on(async {
        server.stop().await;
        server.wait().await;
    });
}

/// A server process; killed when dropped.
struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Node {
    fn start(url: &str, topic: &str, server: &str) -> Node {
        Node::spawn(json!({"url": url, "topic": topic, "server": server}))
    }

    fn listener(url: &str, topic: &str, name: &str, pool: &str) -> Node {
        Node::spawn(json!({"url": url, "topic": topic, "server": name, "pool": pool}))
    }

    fn spawn(spec: Value) -> Node {
        let spec = spec.to_string();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_process",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a server process");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                // libtest may have written `test child_process ... ` in front on the same line.
                if let Some((_, l)) = l.split_once(PREFIX) {
                    let _ = tx.send(l.to_owned());
                }
            }
        });
        let mut n = Node { child, lines };
        n.expect("ready");
        n
    }

    fn expect(&mut self, want: &str) -> String {
        let l = self
            .lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("no `{want}` from the server process: {e}"));
        assert!(l.starts_with(want), "expected `{want}`, got `{l}`");
        l
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn client(t: &Transport, topic: &str, timeout: Duration) -> RpcClient {
    RpcClient::builder(t.clone(), Target::topic(topic))
        .timeout(timeout)
        .build()
        .unwrap()
}

#[test]
fn calls_and_casts_reach_server_processes() {
    let Some(url) = redis_zmq_url("") else { return };
    let topic = unique("zp_call");
    let mut a = Node::start(&url, &topic, "a");
    let _b = Node::start(&url, &topic, "b");
    let rt = Runtime::new(2).unwrap();
    let t = Transport::new(&url).unwrap();
    let c = client(&t, &topic, Duration::from_secs(10));
    rt.block_on(async {
        for name in ["a", "b"] {
            let to = c.prepare().server(name).build().unwrap();
            let got: String = to.call(&Context::new(), "whoami", json!({})).await.unwrap();
            assert_eq!(got, name);
        }
        let mut seen = HashSet::new();
        for _ in 0..20 {
            seen.insert(
                c.call::<String>(&Context::new(), "whoami", json!({}))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(seen.len(), 2, "both processes take calls: {seen:?}");
        let to_a = c.prepare().server("a").build().unwrap();
        to_a.cast(&Context::new(), "record", json!({"n": 7}))
            .await
            .unwrap();
    });
    assert_eq!(a.expect("got a"), r#"got a {"n":7}"#);
    rt.block_on(t.cleanup());
}

#[test]
fn fanout_reaches_three_server_processes() {
    let Some(url) = redis_zmq_url("") else { return };
    let topic = unique("zp_fan");
    let mut nodes: Vec<Node> = ["x", "y", "z"]
        .iter()
        .map(|n| Node::start(&url, &topic, n))
        .collect();
    let rt = Runtime::new(2).unwrap();
    let t = Transport::new(&url).unwrap();
    let fan = RpcClient::new(t.clone(), Target::topic(&topic).with_fanout(true)).unwrap();
    rt.block_on(fan.cast(&Context::new(), "record", json!({"all": true})))
        .unwrap();
    for (node, name) in nodes.iter_mut().zip(["x", "y", "z"]) {
        assert_eq!(node.expect("got"), format!(r#"got {name} {{"all":true}}"#));
    }
    // Exactly one copy each.
    std::thread::sleep(Duration::from_millis(300));
    for node in &nodes {
        assert!(node.lines.try_recv().is_err());
    }
    rt.block_on(t.cleanup());
}

#[test]
fn a_server_killed_mid_call_fails_the_call_at_once() {
    let Some(url) = redis_zmq_url("") else { return };
    let topic = unique("zp_kill");
    let mut node = Node::start(&url, &topic, "k");
    let rt = Runtime::new(2).unwrap();
    let t = Transport::new(&url).unwrap();
    let c = client(&t, &topic, Duration::from_secs(60));
    let call = rt.handle().spawn(async move {
        let start = Instant::now();
        let r = c
            .call::<Value>(&Context::new(), "slow", json!({"ms": 30_000}))
            .await;
        (r, start.elapsed())
    });
    node.expect("handling slow");
    std::thread::sleep(Duration::from_millis(300));
    node.kill();
    let (r, took) = rt.block_on(call).unwrap();
    assert!(matches!(r, Err(Error::Connection { .. })), "{r:?}");
    assert!(r.unwrap_err().is_retryable());
    assert!(took < Duration::from_secs(5), "the caller waited {took:?}");
    rt.block_on(t.cleanup());
}

#[test]
fn dead_servers_drop_out_of_redis_when_their_entries_expire() {
    // Entries live 2 s and are refreshed every 0.5 s.
    let Some(url) = redis_zmq_url("&target_expire=2&target_update=0.5") else {
        return;
    };
    let topic = unique("zp_ttl");
    let mut node = Node::start(&url, &topic, "d");
    let rt = Runtime::new(2).unwrap();
    let t = Transport::new(&url).unwrap();
    let strict = RpcClient::builder(t.clone(), Target::topic(&topic))
        .timeout(Duration::from_secs(5))
        .at_least_once(true)
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(
            strict
                .call::<String>(&Context::new(), "whoami", json!({}))
                .await
                .unwrap(),
            "d"
        );
    });
    // Well past the expiry: the live server refreshed its entries.
    std::thread::sleep(Duration::from_secs(4));
    rt.block_on(async {
        assert_eq!(
            strict
                .call::<String>(&Context::new(), "whoami", json!({}))
                .await
                .unwrap(),
            "d"
        );
    });
    node.kill();
    // Killed without a goodbye: its entry is still there for up to 2 s, and sending there fails.
    let e = rt
        .block_on(strict.call::<String>(&Context::new(), "whoami", json!({})))
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    std::thread::sleep(Duration::from_millis(2500));
    // Expired: the topic has no server any more, which an at-least-once call learns at once.
    let start = Instant::now();
    let e = rt
        .block_on(strict.call::<String>(&Context::new(), "whoami", json!({})))
        .unwrap_err();
    assert!(matches!(e, Error::Undeliverable { .. }), "{e}");
    assert!(start.elapsed() < Duration::from_secs(1));
    rt.block_on(t.cleanup());
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn static_file_matchmaker_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.json");
    let topic = unique("zp_file");
    let (p1, p2, dead) = (free_port(), free_port(), free_port());
    std::fs::write(
        &file,
        json!({
            topic.clone(): [format!("127.0.0.1:{p1}"), format!("127.0.0.1:{p2}")],
            format!("{topic}.one"): [format!("127.0.0.1:{p1}")],
            format!("{topic}.two"): [format!("127.0.0.1:{p2}")],
            format!("{topic}.gone"): [format!("127.0.0.1:{dead}")],
        })
        .to_string(),
    )
    .unwrap();
    let base = format!("zmq://?matchmaker_file={}", file.display());
    let _one = Node::start(&format!("{base}&bind_port={p1}"), &topic, "one");
    let _two = Node::start(&format!("{base}&bind_port={p2}"), &topic, "two");
    let rt = Runtime::new(2).unwrap();
    // The client only connects: it binds nothing.
    let t = Transport::new(&base).unwrap();
    let c = client(&t, &topic, Duration::from_secs(10));
    rt.block_on(async {
        for name in ["one", "two"] {
            let to = c.prepare().server(name).build().unwrap();
            assert_eq!(
                to.call::<String>(&Context::new(), "whoami", json!({}))
                    .await
                    .unwrap(),
                name
            );
        }
        let mut seen = HashSet::new();
        for _ in 0..20 {
            seen.insert(
                c.call::<String>(&Context::new(), "whoami", json!({}))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
        // A listed server that is not running: an error, within the retries, not a hang.
        let gone = c.prepare().server("gone").retry(Some(1)).build().unwrap();
        let start = Instant::now();
        let e = gone
            .call::<Value>(&Context::new(), "whoami", json!({}))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Connection { .. }), "{e}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    });
    rt.block_on(t.cleanup());
}

#[test]
fn notification_pools_across_processes() {
    let Some(url) = redis_zmq_url("") else { return };
    let topic = unique("zp_notes");
    let mut shared = [
        Node::listener(&url, &topic, "a", "workers"),
        Node::listener(&url, &topic, "b", "workers"),
    ];
    let mut audit = Node::listener(&url, &topic, "c", "audit");
    let rt = Runtime::new(2).unwrap();
    let t = Transport::new(&url).unwrap();
    let n = Notifier::builder(t.clone())
        .publisher_id("compute.host1")
        .driver("messagingv2")
        .topics([topic.as_str()])
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 0..6 {
            n.info(&Context::new(), "e.note", json!(i)).await.unwrap();
        }
    });
    // The audit pool gets every notification, the workers pool each one once between its two listeners.
    let mut got: Vec<String> = (0..6).map(|_| audit.expect("note c")).collect();
    got.sort();
    assert_eq!(
        got,
        (0..6).map(|i| format!("note c {i}")).collect::<Vec<_>>()
    );
    let mut workers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while workers.len() < 6 && Instant::now() < deadline {
        for node in &mut shared {
            while let Ok(l) = node.lines.try_recv() {
                workers.push(l);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut payloads: Vec<&str> = workers
        .iter()
        .filter_map(|l| l.rsplit(' ').next())
        .collect();
    payloads.sort_unstable();
    assert_eq!(payloads, ["0", "1", "2", "3", "4", "5"], "{workers:?}");
    assert!(
        workers.iter().any(|l| l.starts_with("note a"))
            && workers.iter().any(|l| l.starts_with("note b")),
        "both listeners of the pool take notifications: {workers:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(audit.lines.try_recv().is_err());
    rt.block_on(t.cleanup());
}

/// Tells the parent this child serves, then serves until the parent closes its stdin.
fn ready_until_stdin_closes() {
    println!("{PREFIX}ready");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
        line.clear();
    }
}
