//! The `oslo-config` feature: options registered as oslo.messaging registers them, and transports and
//! notifiers built from a parsed configuration.
#![cfg(feature = "oslo-config")]

use std::path::Path;
use std::time::Duration;

use oslo_config::{ConfigOpts, EnvSource, ParseArgs};
use oslo_messaging::notify::take_test_notifications;
use oslo_messaging::{
    Context, Endpoint, Notifier, RpcClient, RpcServer, Target, Transport, config,
};
use serde_json::{Value, json};

fn parse(file: &Path) -> ConfigOpts {
    let mut conf = ConfigOpts::new();
    config::register_opts(&mut conf).unwrap();
    conf.set_env(EnvSource::Disabled);
    conf.parse(ParseArgs::new(["--config-file", file.to_str().unwrap()]))
        .unwrap();
    conf
}

fn conf_with(text: &str) -> (tempfile::TempDir, ConfigOpts) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.conf");
    std::fs::write(&file, text).unwrap();
    let conf = parse(&file);
    (dir, conf)
}

#[test]
fn defaults_are_oslo_messagings() {
    let (_dir, conf) = conf_with("");
    assert_eq!(
        conf.get_str("transport_url", None).unwrap().as_deref(),
        Some("rabbit://")
    );
    assert_eq!(
        conf.get_int("rpc_response_timeout", None).unwrap(),
        Some(60)
    );
    assert_eq!(
        conf.get_str_list("topics", Some(config::NOTIFICATIONS_GROUP))
            .unwrap(),
        Some(vec!["notifications".to_owned()])
    );
    assert_eq!(
        conf.get_int("retry", Some(config::NOTIFICATIONS_GROUP))
            .unwrap(),
        Some(-1)
    );
    // No rabbit option differs from its default, so none lands in the URL.
    let url = config::transport_url(&conf, None).unwrap();
    assert!(url.query.is_empty(), "{:?}", url.query);
    let all = config::list_opts();
    let secret: Vec<&str> = all
        .iter()
        .flat_map(|(g, opts)| {
            opts.iter()
                .filter(|o| o.is_secret())
                .map(move |o| (g.as_ref().map_or("DEFAULT", |g| g.name()), o.name()))
        })
        .filter(|(_, n)| *n == "transport_url")
        .map(|(g, _)| g)
        .collect();
    assert_eq!(secret, ["DEFAULT", config::NOTIFICATIONS_GROUP]);
}

#[test]
fn set_defaults_replace_the_defaults() {
    let mut conf = ConfigOpts::new();
    config::set_defaults(&mut conf, Some(8)).unwrap();
    config::set_transport_defaults(&mut conf, "glance").unwrap();
    conf.set_env(EnvSource::Disabled);
    conf.parse(ParseArgs::new(Vec::<String>::new())).unwrap();
    assert_eq!(
        conf.get_int("executor_thread_pool_size", None).unwrap(),
        Some(8)
    );
    assert_eq!(
        conf.get_str("control_exchange", None).unwrap().as_deref(),
        Some("glance")
    );
}

#[test]
fn the_urls_query_beats_the_group_and_deprecated_names_are_read() {
    let (_dir, conf) = conf_with(
        "[DEFAULT]\ntransport_url = rabbit://h/?heartbeat_rate=9\n\
         [oslo_messaging_rabbit]\nheartbeat_rate = 4\nkombu_reconnect_timeout = 12\n\
         conn_pool_ttl = 5\n",
    );
    let url = config::transport_url(&conf, None).unwrap();
    assert_eq!(
        url.query.get("heartbeat_rate").map(String::as_str),
        Some("9")
    );
    assert_eq!(
        url.query
            .get("kombu_missing_consumer_retry_timeout")
            .map(String::as_str),
        Some("12")
    );
    // Options without effect stay out of the URL.
    assert!(!url.query.contains_key("conn_pool_ttl"));
    // Other drivers get no rabbit options.
    let url = config::transport_url(&conf, Some("memory://")).unwrap();
    assert!(url.query.is_empty());
}

#[test]
fn a_bad_value_is_a_configuration_error() {
    let (_dir, conf) =
        conf_with("[DEFAULT]\nrpc_response_timeout = -1\ntransport_url = memory://\n");
    assert!(matches!(
        Transport::from_config(&conf),
        Err(oslo_messaging::Error::Configuration(_))
    ));
    let (_dir, conf) = conf_with(
        "[DEFAULT]\ntransport_url = rabbit://h/\n[oslo_messaging_rabbit]\nrabbit_login_method = EXTERNAL\n",
    );
    assert!(Transport::from_config(&conf).is_err());
    // Unregistered options: oslo-config's error, as a configuration error.
    let conf = ConfigOpts::new();
    assert!(matches!(
        Transport::from_config(&conf),
        Err(oslo_messaging::Error::Configuration(_))
    ));
}

#[test]
fn a_memory_transport_from_config_calls_and_notifies() {
    let (_dir, conf) = conf_with(
        "[DEFAULT]\ntransport_url = memory://\ncontrol_exchange = cfgtest\nrpc_response_timeout = 7\n\
         [oslo_messaging_notifications]\ndriver = test\ndriver = noop\ntopics = a, b\nretry = 2\n",
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let transport = Transport::from_config(&conf).unwrap();
    assert_eq!(transport.options().control_exchange, "cfgtest");
    assert_eq!(
        transport.options().rpc_response_timeout,
        Duration::from_secs(7)
    );
    let answer: Value = rt.block_on(async {
        let server = RpcServer::builder(transport.clone(), Target::topic("cfg").with_server("s"))
            .endpoint(
                Endpoint::new().json_method("echo", |_c, a| async move { Ok(Value::Object(a)) }),
            )
            .build()
            .unwrap();
        server.start().await.unwrap();
        let client = RpcClient::new(transport.clone(), Target::topic("cfg")).unwrap();
        let r = client
            .call::<Value>(&Context::new(), "echo", json!({"x": 1}))
            .await
            .unwrap();
        server.stop().await;
        server.wait().await;
        r
    });
    assert_eq!(answer, json!({"x": 1}));

    // The notification transport falls back to the RPC one.
    let notif = Transport::notification_from_config(&conf).unwrap();
    assert_eq!(notif.url().transport, "memory");
    let notifier = Notifier::builder_from_config(notif, &conf)
        .unwrap()
        .publisher_id("p")
        .build()
        .unwrap();
    let _ = take_test_notifications();
    rt.block_on(notifier.info(&Context::new(), "cfg.happened", json!({})))
        .unwrap();
    let sent: Vec<_> = take_test_notifications()
        .into_iter()
        .filter(|n| n.message.get("event_type") == Some(&json!("cfg.happened")))
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].retry, Some(2));
}

/// `[oslo_messaging_notifications] routing_config` is registered (though not listed, as in the original)
/// and read only when the `routing` driver is used; a missing or malformed file is then an error.
#[test]
fn routing_config_is_read_when_the_routing_driver_is_used() {
    let listed = config::list_opts()
        .into_iter()
        .flat_map(|(_, opts)| opts)
        .any(|o| o.name() == "routing_config");
    assert!(!listed, "the original's list_opts does not list it");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.yaml");
    let build = |driver: &str, file: &Path| {
        let (_d, conf) = conf_with(&format!(
            "[DEFAULT]\ntransport_url = memory://routing-conf\n[oslo_messaging_notifications]\n\
             driver = {driver}\nrouting_config = {}\n",
            file.display()
        ));
        let transport = Transport::notification_from_config(&conf).unwrap();
        Notifier::builder_from_config(transport, &conf)
            .unwrap()
            .build()
    };
    assert!(
        build("noop", &missing).is_ok(),
        "not read without the routing driver"
    );
    let err = build("routing", &missing).unwrap_err();
    assert!(err.to_string().contains("missing.yaml"), "{err}");

    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "# no groups\n").unwrap();
    assert!(
        build("routing", &empty).is_ok(),
        "an empty file has no groups"
    );

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "g:\n  log:\n    accepted_events: compute.*\n").unwrap();
    let err = build("routing", &bad).unwrap_err();
    assert!(
        err.to_string().contains("bad routing configuration"),
        "{err}"
    );
}
