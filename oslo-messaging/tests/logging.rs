//! What the server logs: a failure is an error, an expected exception only a debug line; passwords in the
//! log driver's output are masked.

use std::io::Write;
use std::sync::{Arc, Mutex};

use oslo_messaging::{
    Context, Endpoint, Notifier, RemoteError, RpcClient, RpcServer, Target, Transport,
};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Everything runs on this one thread (a current-thread runtime), so the thread's subscriber sees it all.
#[tokio::test]
async fn expected_exceptions_are_not_logged_as_failures() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let t = Transport::new("memory:///logging").unwrap();
    let ep = Endpoint::new()
        .json_method("expected", |_c, _a| async {
            Err(RemoteError::new("KeyError", "'gone'").expected())
        })
        .json_method("broken", |_c, _a| async {
            Err(RemoteError::new("RuntimeError", "really broken"))
        });
    let s = RpcServer::builder(t.clone(), Target::topic("log").with_server("s"))
        .endpoint(ep)
        .build()
        .unwrap();
    s.start().await.unwrap();
    let c = RpcClient::new(t.clone(), Target::topic("log")).unwrap();
    let e = c
        .call::<Value>(&Context::new(), "expected", json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        e.remote().map(|r| r.class()),
        Some("KeyError"),
        "the caller sees the exception all the same"
    );
    let text = logs.text();
    assert!(
        text.contains("DEBUG") && text.contains("expected exception"),
        "{text}"
    );
    assert!(!text.contains("ERROR"), "{text}");
    c.call::<Value>(&Context::new(), "broken", json!({}))
        .await
        .unwrap_err();
    let text = logs.text();
    assert!(
        text.contains("ERROR") && text.contains("really broken"),
        "{text}"
    );

    let n = Notifier::builder(t.clone()).driver("log").build().unwrap();
    n.info(
        &Context::new(),
        "svc.login",
        json!({"user": "bob", "password": "hunter2"}),
    )
    .await
    .unwrap();
    let text = logs.text();
    assert!(
        text.contains("oslo.messaging.notification.svc.login"),
        "{text}"
    );
    assert!(
        text.contains(r#"\"password\": \"***\""#) || text.contains(r#""password": "***""#),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    s.stop().await;
    s.wait().await;
}
