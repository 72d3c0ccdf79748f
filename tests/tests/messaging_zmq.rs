//! `zmq://` behaviour beyond the shared transport suite, in one process over loopback sockets: it binds
//! only the configured address, checks its URL options, makes what it cannot deliver an error to the
//! caller, keeps its queues bounded when a server is slow (refusing rather than growing, and losing
//! nothing it accepted), confirms a long call once (no duplicate on another server), bounds the
//! notifications waiting for a listener, and withdraws a transport's servers on cleanup.
#![cfg(feature = "messaging")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use oslo_messaging::blocking::Runtime;
use oslo_messaging::{
    Context, Endpoint, Error, NotificationEndpoint, NotificationListener, NotificationResult,
    Notifier, Priority, RpcClient, RpcServer, Target, Transport,
};
use serde_json::{Value, json};

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn whoami_server(t: &Transport, topic: &str) -> RpcServer {
    RpcServer::builder(t.clone(), Target::topic(topic).with_server("s1"))
        .endpoint(Endpoint::new().json_method("whoami", |_c, _a| async { Ok(json!("s1")) }))
        .build()
        .unwrap()
}

/// A listener (not started) on `topic` whose info notifications' payloads come to the receiver.
fn payload_listener(t: &Transport, topic: &str) -> (NotificationListener, mpsc::Receiver<Value>) {
    let (tx, rx) = mpsc::channel();
    let ep = NotificationEndpoint::new().on(Priority::Info, move |n| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(n.payload);
            NotificationResult::Handled
        }
    });
    let l = NotificationListener::builder(t.clone(), vec![Target::topic(topic)])
        .endpoint(ep)
        .build()
        .unwrap();
    (l, rx)
}

/// The local addresses (hex `addr:port` as in `/proc/net/tcp`) listening on `port`.
fn listening_on(port: u16) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local = *f.get(1)?;
            let state = *f.get(3)?;
            let (_, p) = local.split_once(':')?;
            (state == "0A" && u16::from_str_radix(p, 16).ok()? == port).then(|| local.to_owned())
        })
        .collect()
}

#[test]
fn binds_only_the_configured_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rt = Runtime::new(2).unwrap();
    let t = Transport::new(&format!("zmq://?bind_address=127.0.0.1&bind_port={port}")).unwrap();
    let topic = unique("zb");
    let s = whoami_server(&t, &topic);
    rt.block_on(s.start()).unwrap();
    // 127.0.0.1 only, not 0.0.0.0.
    assert_eq!(listening_on(port), [format!("0100007F:{port:04X}")]);
    let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
    assert_eq!(
        rt.block_on(c.call::<String>(&Context::new(), "whoami", json!({})))
            .unwrap(),
        "s1"
    );
    rt.block_on(async {
        s.stop().await;
        s.wait().await;
        t.cleanup().await;
    });
    // Binding every interface needs the address others reach us on.
    assert!(matches!(
        Transport::new("zmq://?bind_address=0.0.0.0"),
        Err(Error::Configuration(_))
    ));
    assert!(Transport::new("zmq://?bind_address=0.0.0.0&host=127.0.0.1").is_ok());
}

#[test]
fn url_options_are_checked() {
    for bad in [
        "zmq://?colour=blue",
        "zmq://?ack_timeout=-1",
        "zmq://?send_timeout=soon",
        "zmq://?queue_size=0",
        "zmq://?max_connections=0",
        "zmq://?max_message_size=0",
        "zmq://?max_message_size=1073741825",
        "zmq://?bind_port=70000",
        "zmq://?target_expire=10&target_update=20",
        "zmq://somehost:1234",
        "zmq+redis://",
        "zmq+redis://h1:1,h2:2",
        "zmq+redis://127.0.0.1:6379/notadb",
        "zmq+redis://127.0.0.1:6379?matchmaker_file=/x.json",
        "zmq://?matchmaker_file=/nonexistent/targets.json",
    ] {
        match Transport::new(bad) {
            Err(Error::Configuration(_)) => {}
            other => panic!("`{bad}` gave {other:?}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.json");
    std::fs::write(&file, r#"{"compute": ["127.0.0.1:0"]}"#).unwrap();
    assert!(matches!(
        Transport::new(&format!("zmq://?matchmaker_file={}", file.display())),
        Err(Error::Configuration(_))
    ));
    std::fs::write(&file, r#"{"compute": ["127.0.0.1:9"]}"#).unwrap();
    assert!(Transport::new(&format!("zmq://?matchmaker_file={}", file.display())).is_ok());
}

#[test]
fn what_nobody_takes_is_an_error_to_the_caller() {
    let rt = Runtime::new(2).unwrap();
    let t = Transport::new("zmq://?send_timeout=0.3").unwrap();
    let topic = unique("znobody");
    rt.block_on(async {
        let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
        // A cast waits `send_timeout` for a server to appear, then fails.
        let start = Instant::now();
        let e = c.cast(&Context::new(), "m", json!({})).await.unwrap_err();
        assert!(matches!(e, Error::Undeliverable { .. }), "{e}");
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert!(start.elapsed() < Duration::from_secs(3));
        // At least once: at once.
        let strict = c.prepare().at_least_once(true).build().unwrap();
        let start = Instant::now();
        let e = strict
            .cast(&Context::new(), "m", json!({}))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Undeliverable { .. }), "{e}");
        assert!(start.elapsed() < Duration::from_millis(200));
        // A fanout nobody listens to.
        let fan = RpcClient::new(t.clone(), Target::topic(&topic).with_fanout(true)).unwrap();
        let e = fan.cast(&Context::new(), "m", json!({})).await.unwrap_err();
        assert!(matches!(e, Error::Undeliverable { .. }), "{e}");
        // A server of the topic, but not the one named.
        let s = whoami_server(&t, &topic);
        s.start().await.unwrap();
        let other = strict.prepare().server("s2").build().unwrap();
        let e = other
            .call::<Value>(&Context::new(), "whoami", json!({}))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Undeliverable { .. }), "{e}");
        s.stop().await;
        s.wait().await;
        t.cleanup().await;
    });
}

#[test]
fn a_server_holds_at_most_max_connections() {
    let rt = Runtime::new(2).unwrap();
    let server_t = Transport::new("zmq://?max_connections=1").unwrap();
    let topic = unique("zconns");
    let s = whoami_server(&server_t, &topic);
    rt.block_on(s.start()).unwrap();
    let target = Target::topic(&topic).with_server("s1");
    let first_t = Transport::new("zmq://").unwrap();
    let second_t = Transport::new("zmq://?send_timeout=0.5").unwrap();
    let first = RpcClient::new(first_t.clone(), target.clone()).unwrap();
    let second = RpcClient::new(second_t.clone(), target)
        .unwrap()
        .prepare()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let ctx = Context::new();
    let whoami = |c: &RpcClient| rt.block_on(c.call::<Value>(&ctx, "whoami", json!({})));
    assert_eq!(whoami(&first).unwrap(), "s1");
    // The server holds the first client's connection: the second's is closed, and its call fails as
    // one to a server that is down does (it retries until its timeout), not a hang.
    let e = whoami(&second).unwrap_err();
    assert!(e.is_retryable(), "{e}");
    // The first goes on, and once its transport is gone the second is served.
    assert_eq!(whoami(&first).unwrap(), "s1");
    rt.block_on(async {
        first_t.cleanup().await;
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match whoami(&second) {
            Ok(v) => break assert_eq!(v, "s1"),
            Err(e) if Instant::now() < deadline => {
                assert!(e.is_retryable(), "{e}");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("the second client is never served: {e}"),
        }
    }
    rt.block_on(async {
        s.stop().await;
        s.wait().await;
        second_t.cleanup().await;
        server_t.cleanup().await;
    });
}

#[test]
fn a_slow_server_refuses_rather_than_queueing_without_bound() {
    let rt = Runtime::new(4).unwrap();
    // The server's queue holds one request; its one handler takes 300 ms each.
    let server_t = Transport::new("zmq://?queue_size=1").unwrap();
    let client_t = Transport::new("zmq://?send_timeout=0.2").unwrap();
    let topic = unique("zslow");
    let handled = Arc::new(AtomicUsize::new(0));
    let ep = {
        let handled = handled.clone();
        Endpoint::new().json_method("work", move |_c, _a| {
            let handled = handled.clone();
            async move {
                std::thread::sleep(Duration::from_millis(300));
                handled.fetch_add(1, Ordering::SeqCst);
                Ok(Value::Null)
            }
        })
    };
    let s = RpcServer::builder(server_t.clone(), Target::topic(&topic).with_server("s1"))
        .endpoint(ep)
        .pool_size(1)
        .build()
        .unwrap();
    rt.block_on(s.start()).unwrap();
    let c = RpcClient::new(client_t.clone(), Target::topic(&topic)).unwrap();
    let (mut taken, mut refused) = (0, 0);
    rt.block_on(async {
        for i in 0..12 {
            match c.cast(&Context::new(), "work", json!({"i": i})).await {
                Ok(()) => taken += 1,
                Err(e) => {
                    assert!(matches!(e, Error::DeliveryFailure { .. }), "{e}");
                    assert!(e.is_retryable());
                    refused += 1;
                }
            }
        }
    });
    assert!(refused > 0, "a full queue must refuse");
    assert!(taken >= 2, "taken {taken}");
    // Everything taken is handled.
    let deadline = Instant::now() + Duration::from_secs(10);
    while handled.load(Ordering::SeqCst) < taken && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(handled.load(Ordering::SeqCst), taken);
    rt.block_on(async {
        s.stop().await;
        s.wait().await;
        server_t.cleanup().await;
        client_t.cleanup().await;
    });
}

/// A call's delivery is confirmed by its reply when that comes soon, and by an ACK otherwise: a call that
/// runs far longer than the caller's ack timeout, with no heartbeat, is still known to be taken, so it is
/// neither sent to the other server of the topic nor failed.
#[test]
fn a_call_longer_than_the_ack_timeout_runs_once() {
    let rt = Runtime::new(4).unwrap();
    let topic = unique("zlong");
    let runs = Arc::new(AtomicUsize::new(0));
    let mut servers = Vec::new();
    for name in ["s1", "s2"] {
        let t = Transport::new("zmq://").unwrap();
        let ep = {
            let runs = runs.clone();
            Endpoint::new().json_method("slow", move |_c, _a| {
                let runs = runs.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(600));
                    Ok(json!("done"))
                }
            })
        };
        let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server(name))
            .endpoint(ep)
            .build()
            .unwrap();
        rt.block_on(s.start()).unwrap();
        servers.push((t, s));
    }
    let client_t = Transport::new("zmq://?ack_timeout=0.2").unwrap();
    let c = RpcClient::builder(client_t.clone(), Target::topic(&topic))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 0..3 {
            let v: Value = c
                .call(&Context::new(), "slow", json!({"i": i}))
                .await
                .unwrap();
            assert_eq!(v, json!("done"));
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(runs.load(Ordering::SeqCst), 3, "each call ran exactly once");
    rt.block_on(async {
        for (t, s) in &servers {
            s.stop().await;
            s.wait().await;
            t.cleanup().await;
        }
        client_t.cleanup().await;
    });
}

/// `max_message_size` bounds what a transport takes and what it sends: a request or notification over
/// it fails at once, without a retry (no server would take it), and a reply over it reaches its caller
/// as a remote failure; messages under it go through.
#[test]
fn messages_over_max_message_size_are_errors() {
    let rt = Runtime::new(2).unwrap();
    let t = Transport::new("zmq://?max_message_size=4096").unwrap();
    let topic = unique("zsize");
    let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s1"))
        .endpoint(
            Endpoint::new()
                .json_method("echo", |_c, a| async move { Ok(a["s"].clone()) })
                .json_method("repeat", |_c, a| async move {
                    let n = a["n"].as_u64().unwrap_or(0) as usize;
                    Ok(json!("x".repeat(n)))
                }),
        )
        .build()
        .unwrap();
    rt.block_on(s.start()).unwrap();
    let c = RpcClient::new(t.clone(), Target::topic(&topic)).unwrap();
    let n = Notifier::builder(t.clone())
        .publisher_id("size.host")
        .driver("messagingv2")
        .topics([topic.as_str()])
        .build()
        .unwrap();
    let (l, notes) = payload_listener(&t, &topic);
    let ctx = Context::new();
    rt.block_on(async {
        let small = "x".repeat(1000);
        let v: Value = c.call(&ctx, "echo", json!({"s": small})).await.unwrap();
        assert_eq!(v, json!(small));
        // A request over the limit: refused before sending, at once.
        let started = Instant::now();
        let e = c
            .call::<Value>(&ctx, "echo", json!({"s": "x".repeat(5000)}))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Serialization(_)), "{e}");
        assert!(e.to_string().contains("max_message_size"), "{e}");
        assert!(!e.is_retryable());
        assert!(started.elapsed() < Duration::from_secs(1));
        let e = c
            .cast(&ctx, "echo", json!({"s": "x".repeat(5000)}))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Serialization(_)), "{e}");
        // A notification with no listener yet (it would wait in the queue) ...
        let e = n
            .info(&ctx, "e.big", json!("x".repeat(5000)))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Serialization(_)), "{e}");
        // ... and one sent to a listener at once.
        l.start().await.unwrap();
        let e = n
            .info(&ctx, "e.big", json!("x".repeat(5000)))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Serialization(_)), "{e}");
        n.info(&ctx, "e.small", json!("small")).await.unwrap();
        // A reply over the limit: a failure to its caller.
        let e = match c.call::<Value>(&ctx, "repeat", json!({"n": 5000})).await {
            Ok(v) => panic!("a reply of {} bytes came", v.to_string().len()),
            Err(e) => e,
        };
        let remote = e.remote().unwrap_or_else(|| panic!("{e}"));
        assert_eq!(remote.class(), "MessageDeliveryFailure");
        assert!(
            remote.message().contains("max_message_size"),
            "{}",
            remote.message()
        );
        // And the connection goes on.
        let v: Value = c.call(&ctx, "echo", json!({"s": "ok"})).await.unwrap();
        assert_eq!(v, "ok");
    });
    // Only the small notification came.
    assert_eq!(
        notes.recv_timeout(Duration::from_secs(10)).unwrap(),
        "small"
    );
    assert!(notes.recv_timeout(Duration::from_millis(100)).is_err());
    rt.block_on(async {
        l.stop().await;
        l.wait().await;
        s.stop().await;
        s.wait().await;
        t.cleanup().await;
    });
}

#[test]
fn notifications_waiting_for_a_listener_are_bounded() {
    let rt = Runtime::new(2).unwrap();
    let t = Transport::new("zmq://?max_pending=3").unwrap();
    let topic = unique("zpending");
    let n = Notifier::builder(t.clone())
        .publisher_id("bench.host")
        .driver("messagingv2")
        .topics([topic.as_str()])
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 0..3 {
            n.info(&Context::new(), "e.wait", json!(i)).await.unwrap();
        }
        let e = n
            .info(&Context::new(), "e.wait", json!(3))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::DeliveryFailure { .. }), "{e}");
    });
    let (l, rx) = payload_listener(&t, &topic);
    rt.block_on(l.start()).unwrap();
    let got: Vec<Value> = (0..3)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    assert_eq!(got, [json!(0), json!(1), json!(2)], "in order");
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    rt.block_on(async {
        l.stop().await;
        l.wait().await;
        t.cleanup().await;
    });
}

#[test]
fn cleanup_withdraws_the_servers_and_closes_the_transport() {
    let rt = Runtime::new(2).unwrap();
    let server_t = Transport::new("zmq://").unwrap();
    let client_t = Transport::new("zmq://").unwrap();
    let topic = unique("zclean");
    let s = whoami_server(&server_t, &topic);
    rt.block_on(s.start()).unwrap();
    let c = RpcClient::builder(client_t.clone(), Target::topic(&topic))
        .at_least_once(true)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(
            c.call::<String>(&Context::new(), "whoami", json!({}))
                .await
                .unwrap(),
            "s1"
        );
        server_t.cleanup().await;
        let start = Instant::now();
        let e = c
            .call::<String>(&Context::new(), "whoami", json!({}))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Undeliverable { .. }), "{e}");
        assert!(start.elapsed() < Duration::from_secs(2));
        let mine = RpcClient::new(server_t.clone(), Target::topic(&topic)).unwrap();
        let e = mine
            .cast(&Context::new(), "whoami", json!({}))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::State(_)), "{e}");
        client_t.cleanup().await;
    });
}

#[test]
fn a_requeued_notification_goes_to_another_listener_of_its_pool() {
    let rt = Runtime::new(2).unwrap();
    let (t1, t2, t3) = (
        Transport::new("zmq://").unwrap(),
        Transport::new("zmq://").unwrap(),
        Transport::new("zmq://").unwrap(),
    );
    let topic = unique("zrequeue");
    let pool = unique("pool");
    let requeued = Arc::new(AtomicUsize::new(0));
    let refuser = {
        let requeued = requeued.clone();
        NotificationEndpoint::new().on(Priority::Info, move |_n| {
            requeued.fetch_add(1, Ordering::SeqCst);
            async { NotificationResult::Requeue }
        })
    };
    let (tx, rx) = mpsc::channel();
    let taker = NotificationEndpoint::new().on(Priority::Info, move |n| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(n.payload);
            NotificationResult::Handled
        }
    });
    let l1 = NotificationListener::builder(t1.clone(), vec![Target::topic(&topic)])
        .endpoint(refuser)
        .pool(pool.clone())
        .allow_requeue(true)
        .build()
        .unwrap();
    let l2 = NotificationListener::builder(t2.clone(), vec![Target::topic(&topic)])
        .endpoint(taker)
        .pool(pool.clone())
        .build()
        .unwrap();
    rt.block_on(async {
        l1.start().await.unwrap();
        l2.start().await.unwrap();
    });
    let n = Notifier::builder(t3.clone())
        .publisher_id("compute.host1")
        .driver("messagingv2")
        .topics([topic.as_str()])
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 0..6 {
            n.info(&Context::new(), "e.requeue", json!(i))
                .await
                .unwrap();
        }
    });
    let mut got: Vec<i64> = (0..6)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(10))
                .unwrap()
                .as_i64()
                .unwrap()
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3, 4, 5]);
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    assert!(
        requeued.load(Ordering::SeqCst) > 0,
        "the pool shares the notifications"
    );
    rt.block_on(async {
        for l in [&l1, &l2] {
            l.stop().await;
            l.wait().await;
        }
        for t in [&t1, &t2, &t3] {
            t.cleanup().await;
        }
    });
}
