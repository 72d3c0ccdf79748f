//! Drivers of another crate (this test crate), registered through stevedore and picked by name: a
//! transport by its URL scheme `testdrv://`, a notification driver by its name; the built-in drivers found
//! the same way under oslo.messaging's names.
#![cfg(feature = "stevedore")]

use std::sync::{Arc, Mutex, PoisonError};

use oslo_messaging::plugins::{
    NOTIFICATION_DRIVERS, NotificationDriver, NotificationDriverPlugin, OutgoingNotification,
    TRANSPORT_DRIVERS, TransportPlugin,
};
use oslo_messaging::transport::{
    BoxFuture, CallOptions, Driver, IncomingNotification, IncomingRequest, NotificationFormat,
    Outgoing, SendOptions, Subscription, TransportOptions,
};
use oslo_messaging::{
    Context, Error, Notifier, Priority, Result, RpcClient, Target, Transport, TransportUrl,
};
use serde_json::{Value, json};
use stevedore::{InvokeArgs, PluginError, Registry};

/// A transport that answers calls itself and records what was cast, with the host of its URL.
#[derive(Debug)]
struct TestDriver {
    host: String,
    exchange: String,
    casts: Mutex<Vec<(String, String)>>,
}

impl Driver for TestDriver {
    fn cast<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        _opts: SendOptions,
    ) -> BoxFuture<'a, Result<()>> {
        let method = msg.message["method"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.casts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((target.topic.clone().unwrap_or_default(), method));
        Box::pin(async { Ok(()) })
    }

    fn call<'a>(
        &'a self,
        target: &'a Target,
        msg: Outgoing,
        _call: CallOptions,
        _opts: SendOptions,
    ) -> BoxFuture<'a, Result<Value>> {
        let reply = json!({
            "host": self.host,
            "exchange": self.exchange,
            "topic": target.topic,
            "method": msg.message["method"],
            "args": msg.message["args"],
        });
        Box::pin(async move { Ok(reply) })
    }

    fn notify<'a>(
        &'a self,
        _target: &'a Target,
        _msg: Outgoing,
        _format: NotificationFormat,
        _opts: SendOptions,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn listen<'a>(
        &'a self,
        _target: &'a Target,
    ) -> BoxFuture<'a, Result<Subscription<IncomingRequest>>> {
        Box::pin(async { Err(Error::State("testdrv does not serve".into())) })
    }

    fn listen_for_notifications<'a>(
        &'a self,
        _targets: &'a [(Target, String)],
        _pool: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Subscription<IncomingNotification>>> {
        Box::pin(async { Err(Error::State("testdrv does not listen".into())) })
    }

    fn cleanup(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

fn make_test_driver(url: &TransportUrl, options: &TransportOptions) -> Result<Arc<dyn Driver>> {
    Ok(Arc::new(TestDriver {
        host: url
            .hosts
            .first()
            .map(|h| h.hostname.clone())
            .unwrap_or_default(),
        exchange: options.control_exchange.clone(),
        casts: Mutex::new(Vec::new()),
    }))
}

fn testdrv(_: &InvokeArgs) -> Result<TransportPlugin, PluginError> {
    Ok(Box::new(make_test_driver))
}

fn broken(_: &InvokeArgs) -> Result<TransportPlugin, PluginError> {
    Err(PluginError::new("the broken driver refuses to load"))
}

stevedore::register! { namespace: TRANSPORT_DRIVERS, name: "testdrv", factory: testdrv }
stevedore::register! { namespace: TRANSPORT_DRIVERS, name: "brokendrv", factory: broken }

/// One notification this test's driver received: `(driver label, event type, priority, topics)`.
type Received = (String, String, String, Vec<String>);

static RECEIVED: Mutex<Vec<Received>> = Mutex::new(Vec::new());

#[derive(Debug)]
struct Capture {
    label: String,
}

impl NotificationDriver for Capture {
    fn notify<'a>(&'a self, n: OutgoingNotification<'a>) -> BoxFuture<'a, Result<()>> {
        RECEIVED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((
                self.label.clone(),
                n.message["event_type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                n.priority.as_str().to_owned(),
                n.topics.to_vec(),
            ));
        Box::pin(async { Ok(()) })
    }
}

fn capture(_: &InvokeArgs) -> Result<NotificationDriverPlugin, PluginError> {
    Ok(NotificationDriverPlugin::new(Capture {
        label: "capture".into(),
    }))
}

stevedore::register! { namespace: NOTIFICATION_DRIVERS, name: "capture", factory: capture }

fn received(event_prefix: &str) -> Vec<Received> {
    RECEIVED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|r| r.1.starts_with(event_prefix))
        .cloned()
        .collect()
}

#[test]
fn the_python_names_are_registered() {
    let reg = Registry::global();
    let mut transports = vec!["fake", "memory", "testdrv", "brokendrv"];
    if cfg!(feature = "rabbit") {
        transports.extend(["rabbit", "kombu", "amqp"]);
    }
    if cfg!(feature = "zmq") {
        transports.push("zmq");
    }
    let mut expected: Vec<&str> = transports.clone();
    expected.sort_unstable();
    assert_eq!(reg.names(TRANSPORT_DRIVERS), expected);
    assert_eq!(
        reg.names(NOTIFICATION_DRIVERS),
        [
            "capture",
            "log",
            "messaging",
            "messagingv2",
            "noop",
            "routing",
            "test"
        ]
    );
    let memory = reg
        .entry_points(TRANSPORT_DRIVERS)
        .find(|e| e.name() == "memory");
    assert_eq!(
        memory.map(|e| e.target()),
        Some("oslo_messaging::transport::memory::MemoryDriver")
    );
}

#[tokio::test]
async fn a_url_scheme_reaches_a_registered_driver() {
    let transport = Transport::builder("testdrv://broker.example:1234/")
        .control_exchange("nova")
        .build()
        .unwrap();
    let client = RpcClient::new(transport.clone(), Target::topic("compute")).unwrap();
    let reply: Value = client
        .call(&Context::new(), "ping", json!({"n": 1}))
        .await
        .unwrap();
    assert_eq!(
        reply,
        json!({"host": "broker.example", "exchange": "nova", "topic": "compute", "method": "ping", "args": {"n": 1}})
    );
    client
        .cast(&Context::new(), "reboot", json!({}))
        .await
        .unwrap();
    let driver = format!("{:?}", transport.driver());
    assert!(driver.contains("TestDriver"), "{driver}");
    assert!(driver.contains("(\"compute\", \"reboot\")"), "{driver}");

    // A suffix after `+` is not part of the driver name, as in oslo.messaging.
    assert!(Transport::new("testdrv+extra://h/").is_ok());
}

#[test]
fn built_in_schemes_still_work_and_unknown_ones_are_driver_load_errors() {
    assert!(Transport::new("memory:///plugins").is_ok());
    assert!(Transport::new("fake:///plugins").is_ok());
    let err = Transport::new("nosuchdrv://h/").unwrap_err();
    assert!(
        matches!(&err, Error::DriverLoad { scheme, feature_hint: false } if scheme == "nosuchdrv"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "no transport driver for `nosuchdrv`");
    #[cfg(not(feature = "rabbit"))]
    assert!(matches!(
        Transport::new("rabbit://h/"),
        Err(Error::DriverLoad {
            feature_hint: true,
            ..
        })
    ));
    // A plugin whose factory fails is a configuration error that names the namespace and the reason.
    let err = Transport::new("brokendrv://h/").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Configuration(_)), "{text}");
    assert!(text.contains("`brokendrv`"), "{text}");
    assert!(text.contains("`oslo.messaging.drivers`"), "{text}");
    assert!(text.contains("the broken driver refuses to load"), "{text}");
}

#[tokio::test]
async fn a_notification_driver_is_picked_by_name() {
    let transport = Transport::new("memory:///plugin-notify").unwrap();
    let notifier = Notifier::builder(transport.clone())
        .publisher_id("svc.host")
        .topics(["alerts"])
        .driver("capture")
        .driver("test")
        .build()
        .unwrap();
    notifier
        .warn(&Context::new(), "plugins.named.thing", json!({"x": 1}))
        .await
        .unwrap();
    assert_eq!(
        received("plugins.named."),
        [(
            "capture".to_owned(),
            "plugins.named.thing".to_owned(),
            "warn".to_owned(),
            vec!["alerts".to_owned()]
        )]
    );
    // The built-in `test` driver, found through stevedore too, got its copy.
    let captured = oslo_messaging::notify::take_test_notifications();
    assert!(
        captured
            .iter()
            .any(|c| c.message["event_type"] == "plugins.named.thing")
    );

    // The routing driver dispatches to a registered driver by name.
    let routed = Notifier::builder(transport.clone())
        .driver("routing")
        .routing_config_yaml(
            "group_1:\n  capture:\n    accepted_events:\n      - plugins.routed.*\n",
        )
        .unwrap()
        .build()
        .unwrap();
    routed
        .notify(
            &Context::new(),
            Priority::Info,
            "plugins.routed.yes",
            json!({}),
        )
        .await
        .unwrap();
    routed
        .notify(&Context::new(), Priority::Info, "plugins.other", json!({}))
        .await
        .unwrap();
    assert_eq!(received("plugins.routed.").len(), 1);
    assert!(received("plugins.other").is_empty());
}

#[test]
fn an_unknown_notification_driver_names_the_namespace() {
    let transport = Transport::new("memory:///plugin-unknown").unwrap();
    let err = Notifier::builder(transport)
        .driver("log")
        .driver("nosuch")
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "configuration error: unknown notification driver `nosuch` (no `oslo.messaging.notify.drivers` plugin of that name)"
    );
}

#[tokio::test]
async fn a_driver_named_twice_runs_once_as_in_python() {
    let notifier = Notifier::builder(Transport::new("memory:///plugin-twice").unwrap())
        .driver("capture")
        .driver("capture")
        .build()
        .unwrap();
    notifier
        .info(&Context::new(), "plugins.twice.x", json!({}))
        .await
        .unwrap();
    assert_eq!(received("plugins.twice.").len(), 1);
}
