//! API details that do not depend on the transport: target rules, the explicit access policy, the
//! blocking wrappers, URL-driven driver selection.

use std::time::Duration;

use oslo_messaging::blocking;
use oslo_messaging::{
    AccessPolicy, Context, Endpoint, Error, RpcClient, RpcServer, Target, Transport,
    version_is_compatible,
};
use serde_json::{Value, json};

#[test]
fn version_rule_matches_the_original() {
    let c = |i: Option<&str>, r: Option<&str>| version_is_compatible(i, r).unwrap();
    assert!(c(None, None));
    assert!(!c(Some("1.0"), None));
    assert!(c(Some("1.2"), Some("1.1")));
    assert!(!c(Some("1.2"), Some("1.3")));
    assert!(!c(Some("1.9"), Some("2.0")));
    assert!(c(Some("2.0.1"), Some("2.0")));
    assert!(!c(Some("2.0"), Some("2.0.1")));
    assert!(version_is_compatible(Some("1.x"), Some("1.0")).is_err());
}

#[test]
fn transports_by_scheme() {
    assert!(Transport::new("memory://").is_ok());
    assert!(Transport::new("fake://").is_ok());
    assert!(matches!(
        Transport::new("kafka://h"),
        Err(Error::DriverLoad {
            feature_hint: false,
            ..
        })
    ));
    // Without the `zmq` feature the scheme is known but not built in; with it, `zmq://` takes no host.
    #[cfg(not(feature = "zmq"))]
    assert!(matches!(
        Transport::new("zmq://h"),
        Err(Error::DriverLoad {
            feature_hint: true,
            ..
        })
    ));
    #[cfg(feature = "zmq")]
    assert!(matches!(
        Transport::new("zmq://h"),
        Err(Error::Configuration(_))
    ));
    assert!(matches!(
        Transport::new("no scheme"),
        Err(Error::InvalidUrl { .. })
    ));
    assert!(matches!(
        Transport::new("memory://?x=1"),
        Err(Error::Configuration(_))
    ));
}

#[test]
fn target_display_and_namespaces() {
    let t = Target::topic("compute")
        .with_server("h1")
        .with_version("1.2");
    assert_eq!(
        t.to_string(),
        "<Target topic=compute, version=1.2, server=h1>"
    );
    let ep = Target::new().with_namespace("a").with_legacy_namespace("b");
    assert!(ep.accepts_namespace(Some("a")) && ep.accepts_namespace(Some("b")));
    assert!(!ep.accepts_namespace(None) && !ep.accepts_namespace(Some("c")));
    assert!(Target::new().accepts_namespace(None));
}

#[tokio::test]
async fn explicit_policy_serves_only_exposed_methods() {
    let t = Transport::new("memory:///explicit").unwrap();
    let ep = Endpoint::new()
        .json_method("open", |_c, _a| async { Ok(json!("open")) })
        .json_method("closed", |_c, _a| async { Ok(json!("closed")) })
        .expose("open");
    let s = RpcServer::builder(t.clone(), Target::topic("pol").with_server("s"))
        .endpoint(ep)
        .access_policy(AccessPolicy::Explicit)
        .ping_enabled(true)
        .build()
        .unwrap();
    s.start().await.unwrap();
    let c = RpcClient::new(t, Target::topic("pol")).unwrap();
    assert_eq!(
        c.call::<String>(&Context::new(), "open", json!({}))
            .await
            .unwrap(),
        "open"
    );
    let e = c
        .call::<Value>(&Context::new(), "closed", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.remote().map(|r| r.class()), Some("NoSuchMethod"));
    s.stop().await;
    s.wait().await;
}

#[tokio::test]
async fn ping_endpoint_and_arguments_must_be_objects() {
    let t = Transport::new("memory:///ping").unwrap();
    let s = RpcServer::builder(t.clone(), Target::topic("ping").with_server("s"))
        .ping_enabled(true)
        .build()
        .unwrap();
    s.start().await.unwrap();
    let c = RpcClient::new(t, Target::topic("ping")).unwrap();
    assert_eq!(
        c.call::<String>(&Context::new(), "oslo_rpc_server_ping", json!({}))
            .await
            .unwrap(),
        "pong"
    );
    assert!(matches!(
        c.call::<Value>(&Context::new(), "x", json!([1])).await,
        Err(Error::Serialization(_))
    ));
    s.stop().await;
    s.wait().await;
}

#[test]
fn blocking_wrappers() {
    let rt = blocking::Runtime::new(2).unwrap();
    let t = Transport::new("memory:///blocking").unwrap();
    let server = blocking::RpcServer::new(
        rt.clone(),
        RpcServer::builder(t.clone(), Target::topic("blk").with_server("s"))
            .endpoint(Endpoint::new().json_method("twice", |_c, a| async move {
                Ok(json!(a["n"].as_i64().unwrap_or(0) * 2))
            }))
            .build()
            .unwrap(),
    );
    server.start().unwrap();
    let client = blocking::RpcClient::new(
        rt.clone(),
        RpcClient::builder(t.clone(), Target::topic("blk"))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
    );
    assert_eq!(
        client
            .call::<i64>(&Context::new(), "twice", json!({"n": 21}))
            .unwrap(),
        42
    );
    client
        .cast(&Context::new(), "twice", json!({"n": 1}))
        .unwrap();
    server.stop();
    server.wait();
}
