//! oslo-messaging at work on `memory://`: an RPC server with two endpoints, a client calling, casting and
//! failing in the ways the original fails, and a notifier with a listener.
//!
//! The same code runs on RabbitMQ, wire-compatible with Python services, when the URL says so:
//! `OSLO_DEMO_TRANSPORT_URL=rabbit://user:pass@127.0.0.1:5672/ cargo run -p oslo-tests --bin demo messaging`.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use oslo_messaging::blocking::Runtime;
use oslo_messaging::{
    Context, Endpoint, Error, NotificationEndpoint, NotificationListener, NotificationResult,
    Notifier, Priority, RemoteError, RpcClient, RpcServer, Target, Transport,
};
use serde_json::json;

fn e(err: Error) -> String {
    err.to_string()
}

/// Runs the part.
pub fn run() -> Result<(), String> {
    let url = std::env::var("OSLO_DEMO_TRANSPORT_URL").unwrap_or_else(|_| "memory://".to_owned());
    let rt = Runtime::new(2).map_err(e)?;
    rt.block_on(async {
        let transport = Transport::builder(&url)
            .rpc_response_timeout(Duration::from_secs(5))
            .build()
            .map_err(e)?;
        println!("transport: {}", transport.url());

        // A server for topic `compute`, host `node1`: an API at version 1.3, and one in namespace `admin`.
        let compute = Endpoint::with_target(Target::new().with_version("1.3"))
            .method("resize", |_ctxt: Context, r: HashMap<String, String>| async move {
                // Typed arguments: the keyword arguments deserialise into any serde type.
                let get = |k: &str| r.get(k).cloned().ok_or_else(|| RemoteError::new("TypeError", format!("missing `{k}`")));
                Ok::<_, RemoteError>(format!("{} is now {}", get("instance")?, get("flavor")?))
            })
            .json_method("reboot", |ctxt, args| async move {
                match args.get("hard") {
                    Some(h) if h.is_boolean() => Ok(json!({"rebooted_by": ctxt.get("user"), "hard": h})),
                    _ => Err(RemoteError::new("ValueError", "`hard` must be true or false")),
                }
            });
        let admin = Endpoint::with_target(Target::new().with_namespace("admin").with_version("2.0"))
            .json_method("evacuate", |_ctxt, _args| async { Ok(json!("evacuating node1")) });
        let server = RpcServer::builder(transport.clone(), Target::topic("compute").with_server("node1"))
            .endpoint(compute)
            .endpoint(admin)
            .build()
            .map_err(e)?;
        server.start().await.map_err(e)?;

        let mut ctxt = Context::new();
        ctxt.insert("user".into(), json!("alice"));
        ctxt.insert("request_id".into(), json!("req-1"));
        let client = RpcClient::builder(transport.clone(), Target::topic("compute"))
            .version_cap("1.3")
            .build()
            .map_err(e)?;
        let v11 = client.prepare().version("1.1").build().map_err(e)?;

        let out: String = v11
            .call(&ctxt, "resize", json!({"instance": "vm-1", "flavor": "m1.large"}))
            .await
            .map_err(e)?;
        println!("call resize            -> {out}");
        let out: serde_json::Value = v11.call(&ctxt, "reboot", json!({"hard": true})).await.map_err(e)?;
        println!("call reboot            -> {out}");
        match v11.call::<serde_json::Value>(&ctxt, "reboot", json!({"hard": "yes"})).await {
            Err(Error::Remote(r)) => println!("call reboot(bad)       -> remote {}: {}", r.class(), r.message()),
            other => return Err(format!("expected a remote error, got {other:?}")),
        }
        let admin_client = client.prepare().namespace("admin").version("2.0").version_cap("2.0").build().map_err(e)?;
        let out: String = admin_client.call(&ctxt, "evacuate", json!({})).await.map_err(e)?;
        println!("call admin.evacuate    -> {out}");
        match client.prepare().version("1.4").version_cap("1.4").build().map_err(e)?.call::<String>(&ctxt, "resize", json!({})).await {
            Err(Error::Remote(r)) => println!("call resize @1.4       -> remote {}: {}", r.class(), r.message()),
            other => return Err(format!("expected UnsupportedVersion, got {other:?}")),
        }
        match client.prepare().version("1.5").build().map_err(e)?.cast(&ctxt, "resize", json!({})).await {
            Err(err) => println!("cast resize @1.5       -> refused before sending: {err}"),
            Ok(()) => return Err("the version cap let 1.5 through".into()),
        }
        let direct = v11.prepare().server("node1").build().map_err(e)?;
        direct.cast(&ctxt, "reboot", json!({"hard": false})).await.map_err(e)?;
        println!("cast reboot to node1   -> sent");
        let nobody = RpcClient::builder(transport.clone(), Target::topic("scheduler"))
            .timeout(Duration::from_millis(200))
            .build()
            .map_err(e)?;
        match nobody.call::<String>(&ctxt, "select", json!({})).await {
            Err(err @ Error::Timeout { .. }) => {
                println!("call scheduler.select  -> {err} (retryable: {})", err.is_retryable());
            }
            other => return Err(format!("expected a timeout, got {other:?}")),
        }
        server.stop().await;
        server.wait().await;

        // Notifications: a listener for INFO and ERROR on `notifications`, and a notifier.
        let (tx, rx) = mpsc::channel();
        let mut endpoint = NotificationEndpoint::new();
        for p in [Priority::Info, Priority::Error] {
            let tx = tx.clone();
            endpoint = endpoint.on(p, move |n| {
                let _ = tx.send(format!("{} {} from {}: {}", n.priority, n.event_type, n.publisher_id, n.payload));
                async { NotificationResult::Handled }
            });
        }
        let listener = NotificationListener::builder(transport.clone(), vec![Target::topic("notifications")])
            .endpoint(endpoint)
            .pool_size(1)
            .build()
            .map_err(e)?;
        listener.start().await.map_err(e)?;
        let notifier = Notifier::builder(transport.clone())
            .publisher_id("compute.node1")
            .driver("messagingv2")
            .build()
            .map_err(e)?;
        notifier.info(&ctxt, "compute.instance.resize.end", json!({"instance": "vm-1"})).await.map_err(e)?;
        notifier.debug(&ctxt, "compute.instance.debug", json!({})).await.map_err(e)?;
        notifier.error(&ctxt, "compute.instance.reboot.error", json!({"instance": "vm-1"})).await.map_err(e)?;
        for _ in 0..2 {
            let line = rx.recv_timeout(Duration::from_secs(5)).map_err(|err| format!("no notification: {err}"))?;
            println!("listener got           -> {line}");
        }
        listener.stop().await;
        listener.wait().await;
        println!("(the DEBUG notification went to `notifications.debug`, which this listener does not consume)");
        Ok(())
    })
}
