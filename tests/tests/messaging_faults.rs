//! Fault tests on the real RabbitMQ: the broker restarted under a stream of casts, calls and notifications
//! (the clients and the server reconnect, no call hangs, confirmed notifications are not lost), and a
//! server killed in the middle of a call (the caller gets a timeout, not a hang).
//!
//! The broker restart takes the exclusive side of the lock every RabbitMQ test holds shared, so it never
//! happens under another test of the suite.
#![cfg(feature = "messaging")]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oslo_messaging::blocking::Runtime;
use oslo_messaging::{
    Context, Endpoint, Error, NotificationEndpoint, NotificationListener, NotificationResult,
    Notifier, Priority, RpcClient, RpcServer, Target, Transport,
};
use oslo_tests::{Server, python, server_url};
use serde_json::{Value, json};

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

fn restart_rabbit() {
    let script =
        std::env::var("OSLO_TEST_SERVERS").expect("OSLO_TEST_SERVERS names the servers script");
    let status = Command::new(script)
        .args(["restart", "rabbit"])
        .status()
        .expect("run the servers script");
    assert!(status.success(), "restarting RabbitMQ failed");
}

#[test]
fn broker_restart_mid_stream() {
    let Some(url) = server_url(Server::Rabbit) else {
        return;
    };
    let lock = oslo_tests::rabbit_lock_file();
    lock.lock().expect("take the broker lock exclusively");
    let rt = Runtime::new(2).unwrap();
    // Durable queues and exchange, so that confirmed notifications survive the restart.
    let durable_url = format!(
        "{}?amqp_durable_queues=true",
        url.trim_end_matches('/').to_owned() + "/"
    );
    let exchange = unique("faults_durable");
    let topic = unique("faults");
    let t = Transport::builder(&url).build().unwrap();
    let td = Transport::builder(&durable_url)
        .control_exchange(&exchange)
        .build()
        .unwrap();

    let served = Arc::new(AtomicUsize::new(0));
    let server = {
        let served = served.clone();
        RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s1"))
            .endpoint(Endpoint::new().json_method("ping", move |_c, a| {
                served.fetch_add(1, Ordering::SeqCst);
                async move { Ok(a.get("i").cloned().unwrap_or(Value::Null)) }
            }))
            .build()
            .unwrap()
    };
    let received = Arc::new(Mutex::new(HashSet::new()));
    let listener = {
        let received = received.clone();
        NotificationListener::builder(td.clone(), vec![Target::topic(&topic)])
            .endpoint(NotificationEndpoint::new().on(Priority::Info, move |n| {
                if let Some(i) = n.payload.get("i").and_then(Value::as_u64) {
                    received.lock().unwrap().insert(i);
                }
                async { NotificationResult::Handled }
            }))
            .build()
            .unwrap()
    };
    rt.block_on(async {
        server.start().await.unwrap();
        listener.start().await.unwrap();
    });

    let stop = Arc::new(AtomicBool::new(false));
    let call_results = Arc::new(Mutex::new(Vec::new()));
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let client = RpcClient::builder(t.clone(), Target::topic(&topic))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let notifier = Notifier::builder(td.clone())
        .publisher_id("faults")
        .driver("messagingv2")
        .topics([topic.as_str()])
        .build()
        .unwrap();
    let callers = {
        let (stop, call_results, client) = (stop.clone(), call_results.clone(), client.clone());
        rt.handle().spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let started = Instant::now();
                let r = client
                    .call::<u64>(&Context::new(), "ping", json!({"i": i}))
                    .await;
                let took = started.elapsed();
                let cast = client.cast(&Context::new(), "ping", json!({"i": -1})).await;
                call_results.lock().unwrap().push((
                    r.map_err(|e| e.to_string()),
                    took,
                    cast.is_ok(),
                ));
                i += 1;
                if took < Duration::from_millis(20) {
                    tokio_sleep(Duration::from_millis(20)).await;
                }
            }
        })
    };
    let notifying = {
        let (stop, confirmed, notifier) = (stop.clone(), confirmed.clone(), notifier.clone());
        rt.handle().spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                if notifier
                    .info(&Context::new(), "faults.tick", json!({"i": i}))
                    .await
                    .is_ok()
                {
                    confirmed.lock().unwrap().push(i);
                }
                i += 1;
                tokio_sleep(Duration::from_millis(20)).await;
            }
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    restart_rabbit();
    // After the restart, calls succeed again (the server and the client reconnected).
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ok_after = call_results
            .lock()
            .unwrap()
            .iter()
            .rev()
            .take(3)
            .filter(|(r, _, _)| r.is_ok())
            .count();
        if ok_after == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "calls did not recover after the broker restart"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    rt.block_on(async {
        callers.await.unwrap();
        notifying.await.unwrap();
    });
    let results = call_results.lock().unwrap().clone();
    // No call hung: each ended within its timeout (plus scheduling slack), with a result or a timeout.
    for (r, took, _) in &results {
        assert!(
            *took < Duration::from_secs(7),
            "a call took {took:?}: {r:?}"
        );
        if let Err(e) = r {
            assert!(
                e.contains("timed out"),
                "a call failed with something other than a timeout: {e}"
            );
        }
    }
    assert!(
        results.iter().filter(|(r, _, _)| r.is_err()).count() >= 1,
        "the restart was not noticed"
    );
    // Every notification the broker confirmed reaches the listener.
    let confirmed = confirmed.lock().unwrap().clone();
    assert!(confirmed.len() > 10);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let missing: Vec<u64> = {
            let got = received.lock().unwrap();
            confirmed
                .iter()
                .copied()
                .filter(|i| !got.contains(i))
                .collect()
        };
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "confirmed notifications lost: {missing:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(served.load(Ordering::SeqCst) > 0);
    rt.block_on(async {
        server.stop().await;
        listener.stop().await;
        server.wait().await;
        listener.wait().await;
    });
}

/// Sleeps without a tokio dependency in this crate: a timer thread wakes the task.
fn tokio_sleep(d: Duration) -> impl std::future::Future<Output = ()> {
    let done = Arc::new(AtomicBool::new(false));
    let mut started = false;
    std::future::poll_fn(move |cx| {
        if done.load(Ordering::SeqCst) {
            return std::task::Poll::Ready(());
        }
        if !started {
            started = true;
            let (done, waker) = (done.clone(), cx.waker().clone());
            std::thread::spawn(move || {
                std::thread::sleep(d);
                done.store(true, Ordering::SeqCst);
                waker.wake();
            });
        }
        std::task::Poll::Pending
    })
}

const PY_SLOW_SERVER: &str = r#"
import sys, time, logging, warnings
warnings.simplefilter('ignore')
logging.basicConfig(level=logging.CRITICAL)
import oslo_messaging as om
from oslo_config import cfg
cfg.CONF([], project='faults')
url, topic = sys.argv[1:3]
t = om.get_rpc_transport(cfg.CONF, url=url)
class Ep:
    def slow(self, ctxt, s):
        print('started', flush=True)
        time.sleep(s)
        return s
s = om.get_rpc_server(t, om.Target(topic=topic, server='doomed'), [Ep()])
s.start()
print('ready', flush=True)
sys.stdin.read()
"#;

#[test]
fn a_server_killed_mid_call_leaves_a_timeout_not_a_hang() {
    let Some(url) = server_url(Server::Rabbit) else {
        return;
    };
    let lock = oslo_tests::rabbit_lock_file();
    lock.lock_shared().expect("take the broker lock");
    let rt = Runtime::new(2).unwrap();
    let t = Transport::new(&url).unwrap();
    // Without and with call monitoring: the plain call waits for its whole timeout, the monitored call fails
    // as soon as the heartbeats stop.
    for (timeout, monitor, expect_within) in [(4.0, None, 6.0), (60.0, Some(2.0), 8.0)] {
        let topic = unique("faults_kill");
        let mut py = Command::new(python())
            .arg("-c")
            .arg(PY_SLOW_SERVER)
            .args([url.as_str(), topic.as_str()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Python server");
        let mut lines = BufReader::new(py.stdout.take().expect("stdout")).lines();
        assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"));
        let mut b = RpcClient::builder(t.clone(), Target::topic(&topic))
            .timeout(Duration::from_secs_f64(timeout));
        if let Some(m) = monitor {
            b = b.call_monitor_timeout(Duration::from_secs_f64(m));
        }
        let client = b.build().unwrap();
        let call = rt.handle().spawn(async move {
            let start = Instant::now();
            let r = client
                .call::<Value>(&Context::new(), "slow", json!({"s": 30}))
                .await;
            (r, start.elapsed())
        });
        assert_eq!(
            lines.next().and_then(Result::ok).as_deref(),
            Some("started")
        );
        std::thread::sleep(Duration::from_millis(2500));
        py.kill().expect("kill the server");
        let _ = py.wait();
        let (r, took) = rt.block_on(call).unwrap();
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        assert!(
            took.as_secs_f64() < expect_within,
            "the caller waited {took:?}"
        );
    }
}
