//! What only the RabbitMQ driver does: failover across hosts, options from the URL, duplicate delivery
//! detection by `_unique_id`, the 1.0 (no envelope) format, envelope versions, and expiration of calls.
#![cfg(feature = "rabbit")]

use std::time::Duration;

use oslo_messaging::lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use oslo_messaging::lapin::{BasicProperties, Connection, ConnectionProperties};
use oslo_messaging::{Context, Endpoint, Error, RpcClient, RpcServer, Target, Transport};
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn rabbit() -> Option<(String, std::fs::File)> {
    let url = match std::env::var("OSLO_TEST_RABBIT_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            assert!(std::env::var("OSLO_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"));
            eprintln!("skipped: OSLO_TEST_RABBIT_URL is not set");
            return None;
        }
    };
    let lock =
        std::fs::File::create(std::env::temp_dir().join("oslo-rs-rabbit-tests.lock")).unwrap();
    lock.lock_shared().unwrap();
    Some((url, lock))
}

fn unique(p: &str) -> String {
    format!("{p}_{}", uuid::Uuid::new_v4().simple())
}

/// `rabbit://user:pass@host:port/` split into its credentials and address.
fn parts(url: &str) -> (String, String) {
    let rest = url.trim_start_matches("rabbit://").trim_end_matches('/');
    let (creds, addr) = rest.rsplit_once('@').unwrap();
    (creds.to_owned(), addr.to_owned())
}

fn recorder(tx: mpsc::UnboundedSender<Value>) -> Endpoint {
    Endpoint::new()
        .json_method("record", move |_c, a| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Value::Object(a));
                Ok(Value::Null)
            }
        })
        .json_method("add", |_c, a| async move {
            Ok(json!(
                a["a"].as_i64().unwrap_or(0) + a["b"].as_i64().unwrap_or(0)
            ))
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_to_a_live_host() {
    let Some((url, _lock)) = rabbit() else { return };
    let (creds, addr) = parts(&url);
    // A dead host (nothing listens on port 1) next to the live one; the hosts are shuffled, so either may
    // be tried first.
    let multi = format!(
        "rabbit://{creds}@127.0.0.1:1,{creds}@{addr}/?rabbit_retry_interval=0.1&kombu_reconnect_delay=0"
    );
    let t = Transport::new(&multi).unwrap();
    assert!(!t.url().to_string().contains("oslo-secret"));
    let topic = unique("failover");
    let (tx, _rx) = mpsc::unbounded_channel();
    let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s"))
        .endpoint(recorder(tx))
        .build()
        .unwrap();
    s.start().await.unwrap();
    let c = RpcClient::builder(t.clone(), Target::topic(&topic))
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    for i in 0..3 {
        let v: i64 = c
            .call(&Context::new(), "add", json!({"a": i, "b": 1}))
            .await
            .unwrap();
        assert_eq!(v, i + 1);
    }
    s.stop().await;
    s.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_broker_fails_delivery_after_the_retries() {
    let Some((url, _lock)) = rabbit() else { return };
    let (creds, _) = parts(&url);
    let t = Transport::new(&format!(
        "rabbit://{creds}@127.0.0.1:1/?rabbit_retry_interval=0.05&kombu_reconnect_delay=0"
    ))
    .unwrap();
    let c = RpcClient::builder(t, Target::topic("nowhere"))
        .retry(Some(2))
        .build()
        .unwrap();
    let e = c.cast(&Context::new(), "m", json!({})).await.unwrap_err();
    assert!(matches!(e, Error::DeliveryFailure { .. }), "{e}");
    assert!(e.is_retryable());
    assert!(e.to_string().contains("after 3 tries"), "{e}");
}

#[test]
fn url_options_are_checked() {
    assert!(
        Transport::new("rabbit://h/?heartbeat_timeout_threshold=30&rabbit_qos_prefetch_count=10")
            .is_ok()
    );
    for bad in [
        "rabbit://h/?foo=1",
        "rabbit://h/?heartbeat_timeout_threshold=abc",
        "rabbit://h/?amqp_durable_queues=maybe",
        "rabbit://h/?ssl=true&ssl_version=TLSv1",
        "rabbit://h/?rabbit_quorum_queue=true&rabbit_ha_queues=true",
    ] {
        assert!(
            matches!(Transport::new(bad), Err(Error::Configuration(_))),
            "{bad}"
        );
    }
}

/// Publishes raw bodies to the default control exchange with `key`, as a foreign client would.
async fn publish_raw(url: &str, key: &str, bodies: &[Vec<u8>]) {
    let amqp = url.replacen("rabbit://", "amqp://", 1) + "%2f";
    let conn = Connection::connect(&amqp, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for b in bodies {
        let props = BasicProperties::default().with_content_type("application/json".into());
        ch.basic_publish(
            "openstack".into(),
            key.into(),
            BasicPublishOptions::default(),
            b,
            props,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    conn.close(200, "done".into()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_versions_and_the_old_format() {
    let Some((url, _lock)) = rabbit() else { return };
    let t = Transport::new(&url).unwrap();
    let topic = unique("dups");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s"))
        .endpoint(recorder(tx))
        .build()
        .unwrap();
    s.start().await.unwrap();
    let inner = |i: i64, uid: &str| {
        json!({"method": "record", "args": {"i": i}, "_unique_id": uid}).to_string()
    };
    let env = |inner: String, v: &str| {
        json!({"oslo.version": v, "oslo.message": inner})
            .to_string()
            .into_bytes()
    };
    publish_raw(
        &url,
        &topic,
        &[
            env(inner(1, "aaaa"), "2.0"),
            env(inner(1, "aaaa"), "2.0"), // the same `_unique_id`: dropped
            env(inner(2, "bbbb"), "2.1"), // a newer minor envelope than ours: dropped
            env(inner(3, "cccc"), "3.0"), // another major: dropped
            inner(4, "dddd").into_bytes(), // the 1.0 format, no envelope: read
            b"not json".to_vec(),         // garbage: dropped
            env(inner(5, "eeee"), "2.0"),
        ],
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let v = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        got.push(v["i"].as_i64().unwrap());
    }
    assert_eq!(got, [1, 4, 5]);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .is_err()
    );
    s.stop().await;
    s.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_calls_expire_from_the_queue() {
    let Some((url, _lock)) = rabbit() else { return };
    let t = Transport::new(&url).unwrap();
    let topic = unique("expire");
    // The server's queue exists, but the server is stopped: the call times out and its request expires.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s"))
        .endpoint(recorder(tx.clone()))
        .build()
        .unwrap();
    s.start().await.unwrap();
    s.stop().await;
    s.wait().await;
    let c = RpcClient::builder(t.clone(), Target::topic(&topic))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    assert!(matches!(
        c.call::<Value>(&Context::new(), "record", json!({"i": 1}))
            .await,
        Err(Error::Timeout { .. })
    ));
    c.cast(&Context::new(), "record", json!({"i": 2}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s"))
        .endpoint(recorder(tx))
        .build()
        .unwrap();
    s.start().await.unwrap();
    // The cast waited in the queue; the expired call did not.
    let v = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v["i"], 2);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .is_err()
    );
    s.stop().await;
    s.wait().await;
}

/// A reply whose queue does not exist yet is published mandatory and retried (every 0.25 s, up to
/// `kombu_missing_consumer_retry_timeout`), so it arrives once the caller's queue appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_wait_for_a_missing_reply_queue() {
    use futures::StreamExt;
    use oslo_messaging::lapin::options::{BasicConsumeOptions, QueueDeclareOptions};
    use oslo_messaging::lapin::types::FieldTable;
    let Some((url, _lock)) = rabbit() else { return };
    let t = Transport::new(&format!("{url}?kombu_missing_consumer_retry_timeout=10")).unwrap();
    let topic = unique("late_reply");
    let (tx, _rx) = mpsc::unbounded_channel();
    let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s"))
        .endpoint(recorder(tx))
        .build()
        .unwrap();
    s.start().await.unwrap();
    let reply_q = unique("reply");
    let request = json!({"method": "add", "args": {"a": 20, "b": 22}, "_msg_id": "m1", "_reply_q": reply_q,
                         "_timeout": null, "_unique_id": "u1"});
    let body = json!({"oslo.version": "2.0", "oslo.message": request.to_string()})
        .to_string()
        .into_bytes();
    publish_raw(&url, &topic, &[body]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let amqp = url.replacen("rabbit://", "amqp://", 1) + "%2f";
    let conn = Connection::connect(&amqp, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let opts = QueueDeclareOptions {
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(reply_q.as_str().into(), opts, FieldTable::default())
        .await
        .unwrap();
    let mut replies = ch
        .basic_consume(
            reply_q.as_str().into(),
            "c".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let d = tokio::time::timeout(Duration::from_secs(10), replies.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let outer: Value = serde_json::from_slice(&d.data).unwrap();
    let inner: Value = serde_json::from_str(outer["oslo.message"].as_str().unwrap()).unwrap();
    assert_eq!(
        (
            inner["result"].clone(),
            inner["ending"].clone(),
            inner["_msg_id"].clone()
        ),
        (json!(42), json!(true), json!("m1"))
    );
    assert_eq!(inner["failure"], Value::Null);
    assert_eq!(
        d.properties.content_type().as_ref().map(|c| c.as_str()),
        Some("application/json")
    );
    assert_eq!(*d.properties.delivery_mode(), Some(2));
    conn.close(200, "done".into()).await.unwrap();
    s.stop().await;
    s.wait().await;
}

/// AMQP heartbeats at `heartbeat_timeout_threshold`: with a 2 s threshold the broker drops a silent
/// connection after about 4 s; ours stay up through 7 s of idleness (no reconnection is logged).
#[tokio::test]
async fn heartbeats_keep_idle_connections_alive() {
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let Some((url, _lock)) = rabbit() else { return };
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let t = Transport::new(&format!("{url}?heartbeat_timeout_threshold=2")).unwrap();
    let topic = unique("heartbeat");
    let (tx, _rx) = mpsc::unbounded_channel();
    let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s"))
        .endpoint(recorder(tx))
        .build()
        .unwrap();
    s.start().await.unwrap();
    let c = RpcClient::builder(t.clone(), Target::topic(&topic))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(
        c.call::<i64>(&Context::new(), "add", json!({"a": 1, "b": 1}))
            .await
            .unwrap(),
        2
    );
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        c.call::<i64>(&Context::new(), "add", json!({"a": 2, "b": 2}))
            .await
            .unwrap(),
        4
    );
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        !text.contains("lost its connection")
            && !text.contains("reconnected")
            && !text.contains("retrying"),
        "{text}"
    );
    s.stop().await;
    s.wait().await;
}

/// Without the `rabbit-tls` feature, TLS is refused when the transport is built, saying what to enable.
#[cfg(not(feature = "rabbit-tls"))]
#[test]
fn tls_needs_the_rabbit_tls_feature() {
    for url in ["rabbit://h/?ssl=true", "kombu+amqps://h/"] {
        let err = Transport::new(url).unwrap_err();
        assert!(
            matches!(&err, Error::Configuration(m) if m.contains("`rabbit-tls` feature")),
            "{url}: {err}"
        );
    }
}
