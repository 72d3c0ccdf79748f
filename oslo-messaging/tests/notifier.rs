//! The notifier's drivers, on `memory://` (the `test` driver's store is per process, so these tests run
//! one after the other inside one test function each and filter by event type).

use std::sync::Arc;
use std::time::Duration;

use oslo_messaging::notify::take_test_notifications;
use oslo_messaging::{
    Context, NotificationEndpoint, NotificationListener, NotificationResult, Notifier, Priority,
    Target, Transport,
};
use serde_json::json;
use tokio::sync::mpsc;

fn ctxt() -> Context {
    let mut c = Context::new();
    c.insert("user".into(), json!("alice"));
    c.insert("auth_token".into(), json!("SECRET"));
    c
}

#[tokio::test]
async fn drivers_behave_as_the_originals() {
    let t = Transport::new("memory:///notifier-drivers").unwrap();

    // test: captures the message, with the context redacted and the priority upper case.
    let n = Notifier::builder(t.clone())
        .publisher_id("svc.host")
        .driver("test")
        .build()
        .unwrap();
    n.info(&ctxt(), "svc.thing.done", json!({"a": 1}))
        .await
        .unwrap();
    n.sample(&ctxt(), "svc.metric", json!(2.5)).await.unwrap();
    let got = take_test_notifications();
    assert_eq!(got.len(), 2);
    let m = &got[0].message;
    assert_eq!(got[0].priority, "INFO");
    assert_eq!(m["priority"], "INFO");
    assert_eq!(m["publisher_id"], "svc.host");
    assert_eq!(m["event_type"], "svc.thing.done");
    assert_eq!(m["payload"], json!({"a": 1}));
    assert_eq!(got[0].ctxt["auth_token"], serde_json::Value::Null);
    assert_eq!(got[0].ctxt["user"], "alice");
    let mut keys: Vec<_> = m.keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "event_type",
            "message_id",
            "payload",
            "priority",
            "publisher_id",
            "timestamp"
        ]
    );
    let id = m["message_id"].as_str().unwrap();
    assert_eq!((id.len(), id.matches('-').count()), (36, 4));
    let ts = m["timestamp"].as_str().unwrap();
    assert!(ts.len() == 19 || ts.len() == 26, "{ts}");
    assert_eq!(&ts[10..11], " ");
    assert_eq!(got[1].priority, "SAMPLE");

    // prepare: another publisher, the same drivers.
    n.prepare(Some("other.host"), None)
        .warn(&ctxt(), "svc.w", json!({}))
        .await
        .unwrap();
    let got = take_test_notifications();
    assert_eq!(
        (
            got[0].message["publisher_id"].as_str(),
            got[0].priority.as_str()
        ),
        (Some("other.host"), "WARN")
    );

    // noop and no driver: nothing; is_enabled only false for exactly noop.
    let noop = Notifier::builder(t.clone()).driver("noop").build().unwrap();
    assert!(!noop.is_enabled());
    noop.info(&ctxt(), "x", json!({})).await.unwrap();
    let none = Notifier::builder(t.clone()).build().unwrap();
    assert!(none.is_enabled());
    none.info(&ctxt(), "x", json!({})).await.unwrap();
    assert!(take_test_notifications().is_empty());

    // log: goes to tracing, never fails.
    Notifier::builder(t.clone())
        .driver("log")
        .build()
        .unwrap()
        .error(&ctxt(), "svc.e", json!({"password": "p"}))
        .await
        .unwrap();

    // unknown driver: an error when built.
    assert!(
        Notifier::builder(t.clone())
            .driver("nosuch")
            .build()
            .is_err()
    );

    // routing: compute events to `test`, error priority to `test` too (once), the rest nowhere.
    let routing = Notifier::builder(t.clone())
        .driver("routing")
        .routing_config_yaml(
            "group_1:\n  test:\n    accepted_events:\n      - compute.*\n  messagingv2:\n    accepted_priorities:\n      - ERROR\n",
        )
        .unwrap()
        .topics(["routed"])
        .build()
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let l = NotificationListener::builder(t.clone(), vec![Target::topic("routed")])
        .endpoint(NotificationEndpoint::new().on(Priority::Error, move |n| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(n.event_type);
                NotificationResult::Handled
            }
        }))
        .build()
        .unwrap();
    l.start().await.unwrap();
    routing
        .info(&ctxt(), "compute.instance.create", json!({}))
        .await
        .unwrap();
    routing
        .info(&ctxt(), "network.port", json!({}))
        .await
        .unwrap();
    routing
        .error(&ctxt(), "network.fail", json!({}))
        .await
        .unwrap();
    let got: Vec<String> = take_test_notifications()
        .into_iter()
        .map(|c| c.message["event_type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ["compute.instance.create"]);
    let e = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e, "network.fail");
    l.stop().await;
    l.wait().await;
}

#[derive(Debug)]
struct Upper;

impl oslo_messaging::Serializer for Upper {
    fn serialize_entity(
        &self,
        _c: &Context,
        e: serde_json::Value,
    ) -> oslo_messaging::Result<serde_json::Value> {
        Ok(json!(e.as_str().map(str::to_uppercase)))
    }
}

#[tokio::test]
async fn notifier_serializer_runs_on_the_payload() {
    let t = Transport::new("memory:///notifier-ser").unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let l = NotificationListener::builder(t.clone(), vec![Target::topic("ser")])
        .endpoint(NotificationEndpoint::new().on(Priority::Info, move |n| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(n.payload);
                NotificationResult::Handled
            }
        }))
        .build()
        .unwrap();
    l.start().await.unwrap();
    let n = Notifier::builder(t)
        .driver("messagingv2")
        .topics(["ser"])
        .serializer(Arc::new(Upper))
        .build()
        .unwrap();
    n.info(&Context::new(), "e", "quiet").await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap(),
        json!("QUIET")
    );
    l.stop().await;
    l.wait().await;
}
