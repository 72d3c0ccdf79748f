//! The shared transport test suite: behaviour written once, run on every transport URL.
//!
//! A test file calls `transport_suite!(url_expr)`; the expression gives the transport URL or `None` to
//! skip (a server-backed transport whose server is not there). Every test uses its own topics.

#![allow(dead_code, missing_docs, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oslo_messaging::notify::{BatchNotificationEndpoint, Notification};
use oslo_messaging::{
    AccessPolicy, BatchNotificationListener, Context, Endpoint, Error, NotificationEndpoint,
    NotificationFilter, NotificationListener, NotificationResult, Notifier, Priority, RemoteError,
    RpcClient, RpcServer, Serializer, Target, Transport,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

pub fn transport(url: &str) -> Transport {
    Transport::builder(url)
        .rpc_response_timeout(Duration::from_secs(10))
        .build()
        .expect("transport")
}

#[derive(Deserialize)]
struct AddArgs {
    a: i64,
    b: i64,
}

/// An endpoint with `add`, `echo`, `fail`, `whoami`, `ctx`, `sleep`, and `_private`.
pub fn basic_endpoint(name: &str) -> Endpoint {
    let me = name.to_owned();
    Endpoint::new()
        .method("add", |_c, a: AddArgs| async move {
            Ok::<_, RemoteError>(a.a + a.b)
        })
        .json_method("echo", |_c, args| async move {
            Ok(args.get("x").cloned().unwrap_or(Value::Null))
        })
        .json_method("fail", |_c, _a| async move {
            Err(RemoteError::new("ValueError", "boom from fail"))
        })
        .json_method("whoami", move |_c, _a| {
            let me = me.clone();
            async move { Ok(Value::String(me)) }
        })
        .json_method("ctx", |c, _a| async move { Ok(Value::Object(c)) })
        .json_method("sleep", |_c, a| async move {
            let ms = a.get("ms").and_then(Value::as_u64).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(json!(ms))
        })
        .json_method("_private", |_c, _a| async move { Ok(json!("secret")) })
}

pub async fn server(t: &Transport, topic: &str, name: &str, ep: Endpoint) -> RpcServer {
    let s = RpcServer::builder(t.clone(), Target::topic(topic).with_server(name))
        .endpoint(ep)
        .build()
        .expect("server");
    s.start().await.expect("start");
    s
}

pub async fn shutdown(s: &RpcServer) {
    s.stop().await;
    s.wait().await;
}

pub fn ctxt() -> Context {
    let mut c = Context::new();
    c.insert("user".into(), json!("alice"));
    c.insert("project_id".into(), json!("p-42"));
    c
}

pub async fn call_returns_result(url: &str) {
    let t = transport(url);
    let topic = unique("call");
    let s = server(&t, &topic, "s1", basic_endpoint("s1")).await;
    let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
    let sum: i64 = c
        .call(&ctxt(), "add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(sum, 5);
    let v: Value = c
        .call(
            &ctxt(),
            "echo",
            json!({"x": {"s": "héllo", "l": [1, 2.5, null, true]}}),
        )
        .await
        .unwrap();
    assert_eq!(v, json!({"s": "héllo", "l": [1, 2.5, null, true]}));
    shutdown(&s).await;
}

pub async fn context_reaches_endpoint(url: &str) {
    let t = transport(url);
    let topic = unique("ctx");
    let s = server(&t, &topic, "s1", basic_endpoint("s1")).await;
    let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
    let got: Value = c.call(&ctxt(), "ctx", json!({})).await.unwrap();
    assert_eq!(got["user"], "alice");
    assert_eq!(got["project_id"], "p-42");
    assert_eq!(got["client_timeout"], Value::Null);
    shutdown(&s).await;
}

pub async fn remote_errors(url: &str) {
    let t = transport(url);
    let topic = unique("err");
    let s = server(&t, &topic, "s1", basic_endpoint("s1")).await;
    let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
    let e = c
        .call::<Value>(&ctxt(), "fail", json!({}))
        .await
        .unwrap_err();
    let r = e.remote().expect("a remote error");
    assert_eq!(
        (r.class(), r.module(), r.message()),
        ("ValueError", "builtins", "boom from fail")
    );
    assert!(!e.is_retryable());
    let e = c
        .call::<Value>(&ctxt(), "nosuch", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.remote().unwrap().class(), "NoSuchMethod");
    assert_eq!(
        e.remote().unwrap().message(),
        "Endpoint does not support RPC method nosuch"
    );
    let e = c
        .call::<Value>(&ctxt(), "_private", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.remote().unwrap().class(), "NoSuchMethod");
    let e = c
        .call::<Value>(&ctxt(), "add", json!({"a": "x"}))
        .await
        .unwrap_err();
    assert_eq!(e.remote().unwrap().class(), "TypeError");
    shutdown(&s).await;
}

pub async fn legacy_policy_allows_private(url: &str) {
    let t = transport(url);
    let topic = unique("legacy");
    let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s1"))
        .endpoint(basic_endpoint("s1"))
        .access_policy(AccessPolicy::Legacy)
        .build()
        .unwrap();
    s.start().await.unwrap();
    let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
    assert_eq!(
        c.call::<String>(&ctxt(), "_private", json!({}))
            .await
            .unwrap(),
        "secret"
    );
    shutdown(&s).await;
}

pub async fn namespaces_and_versions(url: &str) {
    let t = transport(url);
    let topic = unique("nsv");
    let v13 = Endpoint::with_target(
        Target::new()
            .with_namespace("ns1")
            .with_version("1.3")
            .with_legacy_namespace("old"),
    )
    .json_method("which", |_c, _a| async { Ok(json!("ns1-1.3")) });
    let v2 = Endpoint::with_target(Target::new().with_namespace("ns1").with_version("2.0"))
        .json_method("which", |_c, _a| async { Ok(json!("ns1-2.0")) });
    let plain = Endpoint::new().json_method("which", |_c, _a| async { Ok(json!("default-1.0")) });
    let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s1"))
        .endpoint(v13)
        .endpoint(v2)
        .endpoint(plain)
        .build()
        .unwrap();
    s.start().await.unwrap();
    let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
    let call = |ns: Option<&str>, v: Option<&str>| {
        let mut p = c.prepare();
        if let Some(ns) = ns {
            p = p.namespace(ns);
        }
        if let Some(v) = v {
            p = p.version(v);
        }
        let client = p.build().unwrap();
        async move { client.call::<String>(&ctxt(), "which", json!({})).await }
    };
    assert_eq!(call(Some("ns1"), Some("1.1")).await.unwrap(), "ns1-1.3");
    assert_eq!(call(Some("old"), Some("1.3")).await.unwrap(), "ns1-1.3");
    assert_eq!(call(Some("ns1"), Some("2.0")).await.unwrap(), "ns1-2.0");
    assert_eq!(call(None, None).await.unwrap(), "default-1.0");
    let e = call(Some("ns1"), Some("1.4")).await.unwrap_err();
    assert_eq!(e.remote().unwrap().class(), "UnsupportedVersion");
    let e = call(Some("nsX"), Some("1.0")).await.unwrap_err();
    assert_eq!(e.remote().unwrap().class(), "UnsupportedVersion");
    let e = call(None, Some("1.1")).await.unwrap_err();
    assert_eq!(e.remote().unwrap().class(), "UnsupportedVersion");
    shutdown(&s).await;
}

pub async fn version_cap_refuses_before_sending(url: &str) {
    let t = transport(url);
    let c = RpcClient::builder(t, Target::topic(unique("cap")).with_version("1.3"))
        .version_cap("1.2")
        .build()
        .unwrap();
    assert!(!c.can_send_version(Some("1.3")));
    assert!(c.can_send_version(Some("1.1")));
    assert!(!c.can_send_version(Some("2.0")));
    let e = c.call::<Value>(&ctxt(), "x", json!({})).await.unwrap_err();
    assert!(matches!(e, Error::VersionCap { .. }), "{e}");
    let e = c.cast(&ctxt(), "x", json!({})).await.unwrap_err();
    assert!(matches!(e, Error::VersionCap { .. }), "{e}");
    assert!(c.prepare().version("1.x").build().is_err());
}

pub async fn invalid_targets(url: &str) {
    let t = transport(url);
    let c = RpcClient::new(t.clone(), Target::new()).unwrap();
    assert!(matches!(
        c.cast(&ctxt(), "m", json!({})).await,
        Err(Error::InvalidTarget { .. })
    ));
    let c = RpcClient::new(t.clone(), Target::topic("t").with_fanout(true)).unwrap();
    assert!(matches!(
        c.call::<Value>(&ctxt(), "m", json!({})).await,
        Err(Error::InvalidTarget { .. })
    ));
    assert!(
        RpcServer::builder(t.clone(), Target::topic("t"))
            .build()
            .is_err()
    );
    assert!(
        NotificationListener::builder(t, vec![Target::new()])
            .build()
            .is_err()
    );
}

pub async fn timeout_without_server(url: &str) {
    let t = transport(url);
    let c = RpcClient::builder(t, Target::topic(unique("nobody")))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    let e = c.call::<Value>(&ctxt(), "m", json!({})).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(e.is_retryable());
    assert!(start.elapsed() < Duration::from_secs(3));
}

pub async fn at_least_once_fails_fast_without_queue(url: &str) {
    let t = transport(url);
    let c = RpcClient::builder(t, Target::topic(unique("noqueue")))
        .timeout(Duration::from_secs(5))
        .at_least_once(true)
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    let e = c.call::<Value>(&ctxt(), "m", json!({})).await.unwrap_err();
    assert!(matches!(e, Error::Undeliverable { .. }), "{e}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

/// An endpoint whose `record` method sends what it got to a channel.
fn recorder(name: &str, tx: mpsc::UnboundedSender<(String, Value)>) -> Endpoint {
    let me = name.to_owned();
    Endpoint::new().json_method("record", move |_c, a| {
        let (me, tx) = (me.clone(), tx.clone());
        async move {
            let _ = tx.send((me, Value::Object(a)));
            Ok(Value::Null)
        }
    })
}

async fn recv_n(
    rx: &mut mpsc::UnboundedReceiver<(String, Value)>,
    n: usize,
) -> Vec<(String, Value)> {
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(x)) => got.push(x),
            _ => panic!("got {} of {n} messages: {got:?}", got.len()),
        }
    }
    got
}

async fn assert_quiet(rx: &mut mpsc::UnboundedReceiver<(String, Value)>) {
    if let Ok(Some(x)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        panic!("unexpected extra message {x:?}");
    }
}

pub async fn cast_is_delivered(url: &str) {
    let t = transport(url);
    let topic = unique("cast");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let s = server(&t, &topic, "s1", recorder("s1", tx)).await;
    let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
    for i in 0..5 {
        c.cast(&ctxt(), "record", json!({"i": i})).await.unwrap();
    }
    let mut got: Vec<i64> = recv_n(&mut rx, 5)
        .await
        .into_iter()
        .map(|(_, v)| v["i"].as_i64().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
    assert_quiet(&mut rx).await;
    shutdown(&s).await;
}

pub async fn fanout_reaches_every_server(url: &str) {
    let t = transport(url);
    let topic = unique("fan");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut servers = Vec::new();
    for n in ["a", "b", "c"] {
        servers.push(server(&t, &topic, n, recorder(n, tx.clone())).await);
    }
    let c = RpcClient::new(t.clone(), Target::topic(&topic).with_fanout(true)).unwrap();
    c.cast(&ctxt(), "record", json!({})).await.unwrap();
    let mut who: Vec<String> = recv_n(&mut rx, 3)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    who.sort();
    assert_eq!(who, ["a", "b", "c"]);
    assert_quiet(&mut rx).await;
    for s in &servers {
        shutdown(s).await;
    }
}

pub async fn server_directed_and_load_balanced(url: &str) {
    let t = transport(url);
    let topic = unique("direct");
    let s1 = server(&t, &topic, "s1", basic_endpoint("s1")).await;
    let s2 = server(&t, &topic, "s2", basic_endpoint("s2")).await;
    let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
    let to2 = c.prepare().server("s2").build().unwrap();
    for _ in 0..5 {
        assert_eq!(
            to2.call::<String>(&ctxt(), "whoami", json!({}))
                .await
                .unwrap(),
            "s2"
        );
    }
    let to1 = c.prepare().server("s1").build().unwrap();
    assert_eq!(
        to1.call::<String>(&ctxt(), "whoami", json!({}))
            .await
            .unwrap(),
        "s1"
    );
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        seen.insert(
            c.call::<String>(&ctxt(), "whoami", json!({}))
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        seen.len(),
        2,
        "both servers of the topic take calls: {seen:?}"
    );
    shutdown(&s1).await;
    shutdown(&s2).await;
}

pub async fn call_monitor_heartbeats_keep_long_calls_alive(url: &str) {
    let t = transport(url);
    let topic = unique("cm");
    let s = server(&t, &topic, "s1", basic_endpoint("s1")).await;
    let c = RpcClient::builder(t.clone(), Target::topic(&topic))
        .timeout(Duration::from_secs(20))
        .call_monitor_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let got: u64 = c.call(&ctxt(), "sleep", json!({"ms": 3500})).await.unwrap();
    assert_eq!(got, 3500);
    let got: Value = c.call(&ctxt(), "ctx", json!({})).await.unwrap();
    assert_eq!(got["client_timeout"].as_f64(), Some(2.0));
    shutdown(&s).await;
}

pub async fn stop_lets_inflight_calls_finish(url: &str) {
    let t = transport(url);
    let topic = unique("stop");
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let ep = basic_endpoint("s1").json_method("slow", move |_c, _a| {
        let started_tx = started_tx.clone();
        async move {
            let _ = started_tx.send(());
            tokio::time::sleep(Duration::from_millis(700)).await;
            Ok(json!("done"))
        }
    });
    let s = server(&t, &topic, "s1", ep).await;
    let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
    let call = tokio::spawn({
        let c = c.clone();
        async move { c.call::<String>(&ctxt(), "slow", json!({})).await }
    });
    tokio::time::timeout(Duration::from_secs(10), started.recv())
        .await
        .unwrap()
        .unwrap();
    s.stop().await;
    s.wait().await;
    assert_eq!(call.await.unwrap().unwrap(), "done");
    // Stopped: nobody answers any more.
    let quick = c
        .prepare()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    assert!(matches!(
        quick
            .call::<Value>(&ctxt(), "add", json!({"a": 1, "b": 1}))
            .await,
        Err(Error::Timeout { .. })
    ));
}

pub async fn handler_pool_is_bounded(url: &str) {
    let t = transport(url);
    let topic = unique("pool");
    let now = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let ep = {
        let (now, max) = (now.clone(), max.clone());
        Endpoint::new().json_method("work", move |_c, _a| {
            let (now, max) = (now.clone(), max.clone());
            async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(150)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(Value::Null)
            }
        })
    };
    let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s1"))
        .endpoint(ep)
        .pool_size(2)
        .build()
        .unwrap();
    s.start().await.unwrap();
    let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.call::<Value>(&ctxt(), "work", json!({})).await })
        })
        .collect();
    for h in calls {
        h.await.unwrap().unwrap();
    }
    assert_eq!(max.load(Ordering::SeqCst), 2);
    shutdown(&s).await;
}

#[derive(Debug)]
struct Tagging;

impl Serializer for Tagging {
    fn serialize_entity(&self, _c: &Context, e: Value) -> oslo_messaging::Result<Value> {
        Ok(json!({"tagged": e}))
    }
    fn deserialize_entity(&self, _c: &Context, e: Value) -> oslo_messaging::Result<Value> {
        Ok(e.get("tagged").cloned().unwrap_or(e))
    }
    fn serialize_context(&self, mut c: Context) -> oslo_messaging::Result<Context> {
        c.insert("serialized".into(), json!(true));
        Ok(c)
    }
}

pub async fn serializer_hook_runs_both_sides(url: &str) {
    let t = transport(url);
    let topic = unique("ser");
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ep = {
        let seen = seen.clone();
        Endpoint::new().json_method("look", move |c, a| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push((c.get("serialized").cloned(), Value::Object(a.clone())));
                Ok(a.get("v").cloned().unwrap_or(Value::Null))
            }
        })
    };
    let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s1"))
        .endpoint(ep)
        .serializer(Arc::new(Tagging))
        .build()
        .unwrap();
    s.start().await.unwrap();
    let c = RpcClient::builder(t.clone(), Target::topic(&topic))
        .serializer(Arc::new(Tagging))
        .build()
        .unwrap();
    let got: Value = c.call(&ctxt(), "look", json!({"v": 7})).await.unwrap();
    assert_eq!(got, json!(7));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, vec![(Some(json!(true)), json!({"v": 7}))]);
    shutdown(&s).await;
}

// --- notifications ---

type NoteRx = mpsc::UnboundedReceiver<Notification>;

fn note_endpoint(
    priorities: &[Priority],
    tx: mpsc::UnboundedSender<Notification>,
) -> NotificationEndpoint {
    let mut ep = NotificationEndpoint::new();
    for &p in priorities {
        let tx = tx.clone();
        ep = ep.on(p, move |n| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(n);
                NotificationResult::Handled
            }
        });
    }
    ep
}

async fn recv_notes(rx: &mut NoteRx, n: usize) -> Vec<Notification> {
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(x)) => got.push(x),
            _ => panic!("got {} of {n} notifications", got.len()),
        }
    }
    got
}

async fn notes_quiet(rx: &mut NoteRx) {
    if let Ok(Some(x)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        panic!("unexpected extra notification {x:?}");
    }
}

fn notifier(t: &Transport, topic: &str, driver: &str) -> Notifier {
    Notifier::builder(t.clone())
        .publisher_id("compute.host1")
        .driver(driver)
        .topics([topic])
        .build()
        .unwrap()
}

pub async fn notifications_reach_listener(url: &str) {
    for driver in ["messagingv2", "messaging"] {
        let t = transport(url);
        let topic = unique("notif");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let l = NotificationListener::builder(t.clone(), vec![Target::topic(&topic)])
            .endpoint(note_endpoint(&[Priority::Info, Priority::Error], tx))
            .build()
            .unwrap();
        l.start().await.unwrap();
        let n = notifier(&t, &topic, driver);
        n.info(&ctxt(), "compute.instance.create.end", json!({"id": 1}))
            .await
            .unwrap();
        n.warn(&ctxt(), "compute.instance.slow", json!({"id": 2}))
            .await
            .unwrap();
        n.error(&ctxt(), "compute.instance.fail", json!({"id": 3}))
            .await
            .unwrap();
        let mut got = recv_notes(&mut rx, 2).await;
        got.sort_by_key(|n| n.priority);
        assert_eq!(got[0].priority, Priority::Info);
        assert_eq!(got[0].event_type, "compute.instance.create.end");
        assert_eq!(got[0].publisher_id, "compute.host1");
        assert_eq!(got[0].payload, json!({"id": 1}));
        assert_eq!(got[0].ctxt["user"], "alice");
        assert!(
            got[0].metadata["message_id"]
                .as_str()
                .is_some_and(|s| s.len() == 36)
        );
        assert!(got[0].metadata["timestamp"].as_str().is_some());
        assert_eq!(got[1].priority, Priority::Error);
        notes_quiet(&mut rx).await;
        l.stop().await;
        l.wait().await;
    }
}

pub async fn notifications_wait_for_a_listener(url: &str) {
    let t = transport(url);
    let topic = unique("later");
    notifier(&t, &topic, "messagingv2")
        .info(&ctxt(), "e.early", json!(1))
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let l = NotificationListener::builder(t.clone(), vec![Target::topic(&topic)])
        .endpoint(note_endpoint(&[Priority::Info], tx))
        .build()
        .unwrap();
    l.start().await.unwrap();
    assert_eq!(recv_notes(&mut rx, 1).await[0].event_type, "e.early");
    l.stop().await;
    l.wait().await;
}

pub async fn listener_pools_each_get_a_copy(url: &str) {
    let t = transport(url);
    let topic = unique("pools");
    let (tx_a, mut rx_a) = mpsc::unbounded_channel();
    let (tx_b, mut rx_b) = mpsc::unbounded_channel();
    let pool_a = unique("poolA");
    let pool_b = unique("poolB");
    let mut listeners = Vec::new();
    for (pool, tx) in [(&pool_a, &tx_a), (&pool_a, &tx_a), (&pool_b, &tx_b)] {
        let l = NotificationListener::builder(t.clone(), vec![Target::topic(&topic)])
            .endpoint(note_endpoint(&[Priority::Info], tx.clone()))
            .pool(pool.clone())
            .build()
            .unwrap();
        l.start().await.unwrap();
        listeners.push(l);
    }
    let n = notifier(&t, &topic, "messagingv2");
    for i in 0..6 {
        n.info(&ctxt(), "e", json!(i)).await.unwrap();
    }
    assert_eq!(recv_notes(&mut rx_a, 6).await.len(), 6);
    assert_eq!(recv_notes(&mut rx_b, 6).await.len(), 6);
    notes_quiet(&mut rx_a).await;
    notes_quiet(&mut rx_b).await;
    for l in &listeners {
        l.stop().await;
        l.wait().await;
    }
}

pub async fn filters_select_notifications(url: &str) {
    let t = transport(url);
    let topic = unique("filter");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let filter = NotificationFilter::new()
        .event_type(r"compute\.")
        .unwrap()
        .payload("state", "act")
        .unwrap()
        .context("user", "ali")
        .unwrap()
        .metadata("timestamp", r"\d{4}-\d\d-\d\d ")
        .unwrap()
        .publisher_id(r"compute\.")
        .unwrap();
    let (other_tx, mut other_rx) = mpsc::unbounded_channel();
    let other_publisher = NotificationFilter::new().publisher_id("network").unwrap();
    let l = NotificationListener::builder(t.clone(), vec![Target::topic(&topic)])
        .endpoint(note_endpoint(&[Priority::Info], tx).filter(filter))
        .endpoint(note_endpoint(&[Priority::Info], other_tx).filter(other_publisher))
        .build()
        .unwrap();
    l.start().await.unwrap();
    let n = notifier(&t, &topic, "messagingv2");
    n.info(&ctxt(), "network.port", json!({"state": "active"}))
        .await
        .unwrap();
    n.info(&ctxt(), "compute.x", json!({"state": 1}))
        .await
        .unwrap();
    n.info(&ctxt(), "xcompute.x", json!({"state": "active"}))
        .await
        .unwrap();
    n.info(&ctxt(), "compute.y", json!({"state": "active"}))
        .await
        .unwrap();
    let got = recv_notes(&mut rx, 1).await;
    assert_eq!(got[0].event_type, "compute.y");
    notes_quiet(&mut rx).await;
    notes_quiet(&mut other_rx).await;
    l.stop().await;
    l.wait().await;
}

pub async fn requeue_redelivers_when_allowed(url: &str) {
    let t = transport(url);
    let topic = unique("requeue");
    let attempts = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let ep = {
        let attempts = attempts.clone();
        NotificationEndpoint::new().on(Priority::Info, move |n| {
            let (attempts, tx) = (attempts.clone(), tx.clone());
            async move {
                if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                    NotificationResult::Requeue
                } else {
                    let _ = tx.send(n);
                    NotificationResult::Handled
                }
            }
        })
    };
    let l = NotificationListener::builder(t.clone(), vec![Target::topic(&topic)])
        .endpoint(ep)
        .allow_requeue(true)
        .build()
        .unwrap();
    l.start().await.unwrap();
    notifier(&t, &topic, "messagingv2")
        .info(&ctxt(), "e.retry", json!({}))
        .await
        .unwrap();
    assert_eq!(recv_notes(&mut rx, 1).await[0].event_type, "e.retry");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    l.stop().await;
    l.wait().await;
}

pub async fn batch_listener_gets_batches(url: &str) {
    let t = transport(url);
    let topic = unique("batch");
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Notification>>();
    let ep = BatchNotificationEndpoint::new().on(Priority::Info, move |batch| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(batch);
            NotificationResult::Handled
        }
    });
    let n = notifier(&t, &topic, "messagingv2");
    for i in 0..5 {
        n.info(&ctxt(), "e.batch", json!(i)).await.unwrap();
    }
    let l = BatchNotificationListener::builder(t.clone(), vec![Target::topic(&topic)])
        .endpoint(ep)
        .batch_size(3)
        .batch_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    l.start().await.unwrap();
    let mut sizes = Vec::new();
    let mut total = 0;
    while total < 5 {
        let b = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        total += b.len();
        sizes.push(b.len());
    }
    assert!(sizes.iter().all(|&s| s <= 3), "{sizes:?}");
    assert_eq!(sizes[0], 3, "{sizes:?}");
    l.stop().await;
    l.wait().await;
}

#[macro_export]
macro_rules! transport_suite {
    ($url:expr) => {
        $crate::transport_suite!(@tests $url;
            call_returns_result, context_reaches_endpoint, remote_errors, legacy_policy_allows_private,
            namespaces_and_versions, version_cap_refuses_before_sending, invalid_targets,
            timeout_without_server, at_least_once_fails_fast_without_queue, cast_is_delivered,
            fanout_reaches_every_server, server_directed_and_load_balanced,
            call_monitor_heartbeats_keep_long_calls_alive, stop_lets_inflight_calls_finish,
            handler_pool_is_bounded, serializer_hook_runs_both_sides, notifications_reach_listener,
            notifications_wait_for_a_listener, listener_pools_each_get_a_copy, filters_select_notifications,
            requeue_redelivers_when_allowed, batch_listener_gets_batches);
    };
    (@tests $url:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(url) = $url else { return };
                suite::$name(&url).await;
            }
        )*
    };
}
