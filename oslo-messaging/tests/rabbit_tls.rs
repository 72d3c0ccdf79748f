//! TLS to RabbitMQ (`ssl`, `ssl_ca_file`, `ssl_cert_file`, `ssl_key_file`, `ssl_version`) against the
//! broker's TLS listener that the test script starts (`OSLO_TEST_RABBIT_TLS_URL`, a server certificate for
//! `localhost` only, signed by `OSLO_TEST_RABBIT_TLS_CA`; the broker wants a client certificate).
#![cfg(feature = "rabbit-tls")]

use std::time::{Duration, Instant};

use oslo_messaging::{
    Context, Endpoint, Error, NotificationEndpoint, NotificationListener, NotificationResult,
    Notifier, Priority, RemoteError, RpcClient, RpcServer, Target, Transport,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The TLS listener's URL and files, holding the shared broker lock (the fault tests restart the broker
/// only under the exclusive one).
struct Tls {
    url: String,
    ca: String,
    cert: String,
    key: String,
    other_ca: String,
    _lock: std::fs::File,
}

fn tls() -> Option<Tls> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let Some(url) = var("OSLO_TEST_RABBIT_TLS_URL") else {
        assert!(
            std::env::var("OSLO_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
            "OSLO_TEST_RABBIT_TLS_URL is not set but OSLO_TEST_REQUIRE_SERVERS=1"
        );
        eprintln!("skipped: OSLO_TEST_RABBIT_TLS_URL is not set (run through scripts/test.sh)");
        return None;
    };
    let lock = std::fs::File::create(std::env::temp_dir().join("oslo-rs-rabbit-tests.lock"))
        .expect("create the broker lock file");
    lock.lock_shared().expect("take the broker lock");
    let must = |name: &str| var(name).unwrap_or_else(|| panic!("{name} is not set"));
    Some(Tls {
        url,
        ca: must("OSLO_TEST_RABBIT_TLS_CA"),
        cert: must("OSLO_TEST_RABBIT_TLS_CERT"),
        key: must("OSLO_TEST_RABBIT_TLS_KEY"),
        other_ca: must("OSLO_TEST_RABBIT_TLS_OTHER_CA"),
        _lock: lock,
    })
}

fn enc(s: &str) -> String {
    s.replace('%', "%25").replace('/', "%2F")
}

impl Tls {
    /// The listener's URL with `ssl=true`, the client certificate and the given CA file.
    fn url_with_ca(&self, ca: &str) -> String {
        format!(
            "{}?ssl=true&ssl_ca_file={}&ssl_cert_file={}&ssl_key_file={}",
            self.url,
            enc(ca),
            enc(&self.cert),
            enc(&self.key)
        )
    }

    fn good_url(&self) -> String {
        self.url_with_ca(&self.ca)
    }

    /// The listener's port.
    fn port(&self) -> &str {
        self.url
            .rsplit_once(':')
            .map(|(_, p)| p.trim_end_matches('/'))
            .expect("a port in OSLO_TEST_RABBIT_TLS_URL")
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Awaits `attempt`, which must fail within 15 s (an answer, not retries until a timeout), and returns its
/// error.
async fn fails_quickly<T: std::fmt::Debug>(
    attempt: impl std::future::Future<Output = oslo_messaging::Result<T>>,
    what: &str,
) -> Error {
    let start = Instant::now();
    let err = attempt.await.expect_err(what);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{what}: took {:?}",
        start.elapsed()
    );
    err
}

async fn echo_server(transport: &Transport, topic: &str) -> RpcServer {
    let endpoint = Endpoint::new()
        .json_method("echo", |_ctxt, args| async move {
            Ok::<_, RemoteError>(Value::Object(args))
        })
        .json_method("fail", |_ctxt, _args| async {
            Err::<Value, _>(RemoteError::new("ValueError", "no"))
        });
    let server = RpcServer::builder(transport.clone(), Target::topic(topic).with_server("s1"))
        .endpoint(endpoint)
        .build()
        .expect("server");
    server.start().await.expect("server start over TLS");
    server
}

#[tokio::test]
async fn rpc_and_notifications_over_tls() {
    let Some(tls) = tls() else { return };
    let transport = Transport::new(&tls.good_url()).expect("transport");
    let topic = unique("tls_rpc");
    let server = echo_server(&transport, &topic).await;

    let client = RpcClient::builder(transport.clone(), Target::topic(&topic))
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let got = client
        .call_json(&Context::new(), "echo", json!({"x": [1, "two"]}))
        .await
        .expect("call over TLS");
    assert_eq!(got, json!({"x": [1, "two"]}));
    let err = client
        .call_json(&Context::new(), "fail", json!({}))
        .await
        .expect_err("remote failure");
    assert_eq!(err.remote().map(|r| r.class()), Some("ValueError"));
    client
        .cast(&Context::new(), "echo", json!({"x": 1}))
        .await
        .expect("cast over TLS");

    // Notifications, through a listener on its own TLS connection.
    let ntopic = unique("tls_notif");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let listener = NotificationListener::builder(transport.clone(), vec![Target::topic(&ntopic)])
        .endpoint(NotificationEndpoint::new().on(Priority::Info, move |n| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((n.event_type, n.payload));
                NotificationResult::Handled
            }
        }))
        .build()
        .expect("listener");
    listener.start().await.expect("listener start over TLS");
    let notifier = Notifier::builder(transport.clone())
        .publisher_id("rust.tls")
        .driver("messagingv2")
        .topics([ntopic.as_str()])
        .build()
        .expect("notifier");
    notifier
        .info(&Context::new(), "tls.event", json!({"n": 7}))
        .await
        .expect("notify over TLS");
    let (event, payload) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("notification in time")
        .expect("notification");
    assert_eq!((event.as_str(), payload), ("tls.event", json!({"n": 7})));

    listener.stop().await;
    listener.wait().await;
    server.stop().await;
    server.wait().await;
    transport.cleanup().await;
}

/// `ssl_version` `TLSv1_2` pins the protocol; `SSLv23` lets the sides agree (TLS 1.3 here).
#[tokio::test]
async fn ssl_version_choices() {
    let Some(tls) = tls() else { return };
    for version in ["TLSv1_2", "sslv23"] {
        let url = format!("{}&ssl_version={version}", tls.good_url());
        let transport = Transport::new(&url).expect("transport");
        let topic = unique("tls_version");
        let server = echo_server(&transport, &topic).await;
        let client = RpcClient::builder(transport.clone(), Target::topic(&topic))
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        let got = client
            .call_json(&Context::new(), "echo", json!({"v": version}))
            .await
            .unwrap_or_else(|e| panic!("call with ssl_version {version}: {e}"));
        assert_eq!(got, json!({"v": version}));
        server.stop().await;
        server.wait().await;
        transport.cleanup().await;
    }
    for (version, says) in [
        ("TLSv1", "not supported"),
        ("TLSv1_1", "not supported"),
        ("SSLv3", "invalid SSL version"),
    ] {
        let url = format!("{}&ssl_version={version}", tls.good_url());
        let err = Transport::new(&url).expect_err(version);
        assert!(
            matches!(&err, Error::Configuration(m) if m.contains(says)),
            "{version}: {err}"
        );
    }
}

/// A CA that did not sign the broker's certificate: calls, casts and servers fail at once with the
/// reason, instead of retrying until a timeout.
#[tokio::test]
async fn wrong_ca_is_a_clear_error() {
    let Some(tls) = tls() else { return };
    let transport = Transport::new(&tls.url_with_ca(&tls.other_ca)).expect("transport");
    let client = RpcClient::builder(transport.clone(), Target::topic(unique("tls_wrong_ca")))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");

    let err = fails_quickly(
        client.call_json(&Context::new(), "echo", json!({})),
        "no trust in the broker",
    )
    .await;
    let text = err.to_string();
    assert!(!err.is_retryable(), "{text}");
    assert!(
        text.contains("TLS handshake with `localhost:") && text.contains("UnknownIssuer"),
        "{text}"
    );

    // A cast with unlimited retries does not retry this either.
    let err = fails_quickly(
        client.cast(&Context::new(), "echo", json!({})),
        "cast refused",
    )
    .await;
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    let server = RpcServer::builder(
        transport.clone(),
        Target::topic(unique("tls_wrong_ca")).with_server("s"),
    )
    .endpoint(Endpoint::new())
    .build()
    .expect("server");
    let err = server.start().await.expect_err("server cannot subscribe");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

/// With `ssl_ca_file`, the broker's name is checked against the host connected to, as Python's driver
/// does (through kombu when the URL names several hosts): the certificate names `localhost` only.
#[tokio::test]
async fn hostname_checked_with_a_ca_file() {
    let Some(tls) = tls() else { return };
    let port = tls.port();
    let by_ip = tls.good_url().replace("@localhost:", "@127.0.0.1:");
    let two_hosts = by_ip.replace(
        &format!("@127.0.0.1:{port}/"),
        &format!("@127.0.0.1:{port},oslo:oslo-secret@127.0.0.1:{port}/"),
    );
    assert_ne!(two_hosts, by_ip);
    for url in [by_ip, two_hosts] {
        let transport = Transport::new(&url).expect("transport");
        let client = RpcClient::builder(transport.clone(), Target::topic(unique("tls_name")))
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        let err = client
            .call_json(&Context::new(), "echo", json!({}))
            .await
            .expect_err("name mismatch");
        assert!(err.to_string().contains("not valid for name"), "{err}");
    }
}

/// Without `ssl_ca_file` (and with a `kombu+amqps` URL, which turns TLS on by itself) the system's store
/// is used, where the test CA is unknown.
#[tokio::test]
async fn without_a_ca_file_the_system_store_is_used() {
    let Some(tls) = tls() else { return };
    let with_ssl = format!(
        "{}?ssl=true&ssl_cert_file={}&ssl_key_file={}",
        tls.url,
        enc(&tls.cert),
        enc(&tls.key)
    );
    let amqps = tls.url.replacen("rabbit://", "kombu+amqps://", 1);
    for url in [with_ssl, amqps] {
        let transport = Transport::new(&url).expect("transport");
        let client = RpcClient::builder(transport.clone(), Target::topic(unique("tls_system")))
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        let err = client
            .call_json(&Context::new(), "echo", json!({}))
            .await
            .expect_err("unknown CA");
        assert!(err.to_string().contains("UnknownIssuer"), "{url}: {err}");
    }
}

/// The plain AMQP listener's port (`OSLO_TEST_RABBIT_URL`), required when the servers are.
fn plain_port() -> Option<String> {
    let Ok(plain) = std::env::var("OSLO_TEST_RABBIT_URL") else {
        assert!(
            std::env::var("OSLO_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
            "OSLO_TEST_RABBIT_URL is not set but OSLO_TEST_REQUIRE_SERVERS=1"
        );
        eprintln!("skipped: OSLO_TEST_RABBIT_URL is not set");
        return None;
    };
    let port = plain
        .rsplit_once(':')
        .map(|(_, p)| p.trim_end_matches('/').to_owned())
        .expect("a port in OSLO_TEST_RABBIT_URL");
    Some(port)
}

/// TLS to the plain AMQP port: the broker does not speak TLS there, which is garbage on the wire rather
/// than a verdict, so it is retried (as Python retries its `SSLError`) and reported when the retries end.
#[tokio::test]
async fn tls_to_a_plain_listener_is_retried_then_reported() {
    let Some(tls) = tls() else { return };
    let Some(plain_port) = plain_port() else {
        return;
    };
    let url = format!(
        "{}?ssl=true&ssl_ca_file={}&ssl_cert_file={}&ssl_key_file={}&rabbit_retry_interval=0&rabbit_retry_backoff=0&kombu_reconnect_delay=0",
        tls.url
            .replace(&format!(":{}/", tls.port()), &format!(":{plain_port}/")),
        enc(&tls.ca),
        enc(&tls.cert),
        enc(&tls.key)
    );
    let transport = Transport::new(&url).expect("transport");
    let client = RpcClient::builder(transport, Target::topic(unique("tls_plain")))
        .retry(Some(2))
        .build()
        .expect("client");
    let err = fails_quickly(
        client.cast(&Context::new(), "echo", json!({})),
        "not a TLS listener",
    )
    .await;
    let text = err.to_string();
    assert!(matches!(err, Error::DeliveryFailure { .. }), "{text}");
    assert!(
        text.contains("after 3 tries") && text.contains("TLS handshake with `localhost:"),
        "{text}"
    );
}

/// One host that does not speak TLS does not stop the failover: every cast goes through the other host.
#[tokio::test]
async fn failover_past_a_host_that_does_not_speak_tls() {
    let Some(tls) = tls() else { return };
    let Some(plain_port) = plain_port() else {
        return;
    };
    let (scheme_user, _) = tls.url.split_once("@localhost:").expect("a localhost URL");
    let user = scheme_user.trim_start_matches("rabbit://");
    let url = format!(
        "{scheme_user}@localhost:{plain_port},{user}@localhost:{}/?ssl=true&ssl_ca_file={}&ssl_cert_file={}&ssl_key_file={}&rabbit_retry_interval=0&rabbit_retry_backoff=0&kombu_reconnect_delay=0",
        tls.port(),
        enc(&tls.ca),
        enc(&tls.cert),
        enc(&tls.key)
    );
    // The driver shuffles a URL's hosts once per transport: in eight transports the plain host comes
    // first at least once but for one chance in 256.
    for round in 0..8 {
        let transport = Transport::new(&url).expect("transport");
        let client = RpcClient::builder(transport, Target::topic(unique("tls_failover")))
            .retry(Some(3))
            .build()
            .expect("client");
        for cast in 0..2 {
            tokio::time::timeout(
                Duration::from_secs(30),
                client.cast(
                    &Context::new(),
                    "echo",
                    json!({"round": round, "cast": cast}),
                ),
            )
            .await
            .expect("cast in time")
            .unwrap_or_else(|e| panic!("cast {round}/{cast}: {e}"));
        }
    }
}

/// The broker wants a client certificate: without one it refuses the connection. In TLS 1.3 its verdict
/// comes after the handshake, as an alert; when the socket closes before the alert is read the attempt
/// is a lost connection, retried (here at once), so the verdict is what ends the cast.
#[tokio::test]
async fn client_certificate_is_required_by_the_broker() {
    let Some(tls) = tls() else { return };
    let url = format!(
        "{}?ssl=true&ssl_ca_file={}&rabbit_retry_interval=0&rabbit_retry_backoff=0&kombu_reconnect_delay=0",
        tls.url,
        enc(&tls.ca)
    );
    let transport = Transport::new(&url).expect("transport");
    let client = RpcClient::builder(transport.clone(), Target::topic(unique("tls_no_cert")))
        .retry(Some(20))
        .build()
        .expect("client");
    let err = client
        .cast(&Context::new(), "echo", json!({}))
        .await
        .expect_err("no client certificate");
    let text = err.to_string();
    assert!(matches!(err, Error::Configuration(_)), "{text}");
    assert!(
        text.contains("refused") && text.contains("CertificateRequired"),
        "{text}"
    );
}

/// Bad files are reported when the transport is built, naming the file.
#[test]
fn unreadable_files_are_configuration_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    for (option, path, says) in [
        ("ssl_ca_file", &missing, "cannot read the CA file"),
        ("ssl_ca_file", &empty, "no PEM certificate"),
        (
            "ssl_cert_file",
            &missing,
            "cannot read the client certificate file",
        ),
    ] {
        let url = format!(
            "rabbit://u:p@localhost:1/?ssl=true&{option}={}",
            enc(path.to_str().expect("utf-8 path"))
        );
        let err = Transport::new(&url).expect_err(option);
        let text = err.to_string();
        assert!(matches!(err, Error::Configuration(_)), "{text}");
        assert!(
            text.contains(says) && text.contains(path.to_str().unwrap()),
            "{text}"
        );
    }
}

/// A transport prints without the URL's passwords, whatever its driver (lapin's URIs print theirs).
#[tokio::test]
async fn passwords_stay_out_of_debug() {
    let secret = "s3cr3t-Pa55";
    for url in [
        format!("rabbit://u:{secret}@localhost:1/"),
        format!("rabbit://u:{secret}@localhost:1,v:{secret}@[::1]:2/vhost"),
        format!("kombu+amqps://u:{secret}@localhost:1/"),
        format!("memory://u:{secret}@/"),
        format!("zmq+redis://:{secret}@127.0.0.1:1/0"),
    ] {
        let transport = Transport::new(&url).expect(&url);
        let debug = format!("{transport:?}");
        assert!(!debug.contains(secret), "{debug}");
        let parsed = oslo_messaging::TransportUrl::parse(&url).expect("url");
        for shown in [format!("{parsed:?}"), parsed.to_string()] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
    let target = Target::topic("t").with_server("s");
    assert!(!format!("{target:?}").contains(secret));
}

/// Settings that cannot work are refused when the transport is built: `EXTERNAL` without a client
/// certificate, a host that is no TLS server name. Messages show IPv6 addresses in brackets.
#[tokio::test]
async fn tls_settings_checked_when_the_transport_is_built() {
    for url in [
        "rabbit://u:p@localhost:1/?ssl=true&rabbit_login_method=EXTERNAL",
        "kombu+amqps://u:p@localhost:1/?rabbit_login_method=EXTERNAL",
    ] {
        let err = Transport::new(url).expect_err(url);
        let text = err.to_string();
        assert!(matches!(err, Error::Configuration(_)), "{text}");
        assert!(
            text.contains("EXTERNAL") && text.contains("ssl_cert_file"),
            "{text}"
        );
    }
    let err = Transport::new("rabbit://u:p@localhost:1,u:p@bad..name:2/?ssl=true")
        .expect_err("bad server name");
    assert!(
        err.to_string().contains("bad TLS server name `bad..name`"),
        "{err}"
    );

    let transport = Transport::new("rabbit://u:p@[::1]:1/").expect("transport");
    assert!(
        format!("{transport:?}").contains("\"[::1]:1\""),
        "{transport:?}"
    );
    let client = RpcClient::builder(transport, Target::topic(unique("tls_v6")))
        .retry(Some(0))
        .build()
        .expect("client");
    let err = client
        .cast(&Context::new(), "echo", json!({}))
        .await
        .expect_err("nothing listens there");
    assert!(err.to_string().contains("`[::1]:1`"), "{err}");
}

/// Without `ssl_ca_file` the broker's name is not checked (as in Python): the transport says so once.
#[test]
fn tls_without_a_ca_file_warns_that_the_name_is_not_checked() {
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::util::SubscriberInitExt;

    struct Log(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let warnings = |url: &str| -> usize {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let _guard = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Log(writer.clone()))
            .finish()
            .set_default();
        let transport = Transport::new(url).expect(url);
        let _ = format!("{transport:?}");
        let text =
            String::from_utf8_lossy(&buf.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
        text.matches("not its host name").count()
    };
    assert_eq!(
        warnings("rabbit://u:p@localhost:1,u:p@localhost:2/?ssl=true"),
        1
    );
    if let Ok(ca) = std::env::var("OSLO_TEST_RABBIT_TLS_CA") {
        let url = format!(
            "rabbit://u:p@localhost:1/?ssl=true&ssl_ca_file={}",
            enc(&ca)
        );
        assert_eq!(warnings(&url), 0);
    }
}

/// A key whose lines were joined into one (or a certificate file holding such a key) is refused without
/// quoting it: the PEM parser's messages show the offending line, which here is the whole key.
#[test]
fn key_material_never_appears_in_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4";
    let one_line = format!("-----BEGIN PRIVATE KEY----- {body} -----END PRIVATE KEY-----\n");
    let cert =
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQk9HVVM=\n-----END CERTIFICATE-----\n";
    let key_file = dir.path().join("one-line.key");
    std::fs::write(&key_file, &one_line).expect("write");
    let combined = dir.path().join("combined.pem");
    std::fs::write(&combined, format!("{cert}{one_line}")).expect("write");
    let unterminated = dir.path().join("unterminated.key");
    std::fs::write(
        &unterminated,
        format!("-----BEGIN PRIVATE KEY-----\n{body}\n"),
    )
    .expect("write");
    let cert_file = dir.path().join("cert.pem");
    std::fs::write(&cert_file, cert).expect("write");
    let path = |p: &std::path::Path| enc(p.to_str().expect("utf-8 path"));
    for query in [
        format!(
            "ssl_cert_file={}&ssl_key_file={}",
            path(&cert_file),
            path(&key_file)
        ),
        format!(
            "ssl_cert_file={}&ssl_key_file={}",
            path(&cert_file),
            path(&unterminated)
        ),
        format!("ssl_cert_file={}", path(&combined)),
    ] {
        let url = format!("rabbit://u:p@localhost:1/?ssl=true&{query}");
        let err = Transport::new(&url).expect_err(&query);
        let (text, debug) = (err.to_string(), format!("{err:?}"));
        assert!(matches!(err, Error::Configuration(_)), "{text}");
        for shown in [&text, &debug] {
            assert!(!shown.contains(&body[..16]), "key material shown: {shown}");
            assert!(!shown.contains("[45, 45"), "raw bytes shown: {shown}");
        }
        assert!(
            text.contains(".key`") || text.contains("combined.pem`"),
            "{text}"
        );
    }

    // What is wrong is still said, in fixed words.
    let encrypted = dir.path().join("encrypted.key");
    std::fs::write(
        &encrypted,
        format!(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{body}\n-----END ENCRYPTED PRIVATE KEY-----\n"
        ),
    )
    .expect("write");
    for (query, says) in [
        (
            format!(
                "ssl_cert_file={}&ssl_key_file={}",
                path(&cert_file),
                path(&encrypted)
            ),
            "encrypted keys are not supported",
        ),
        (
            format!("ssl_cert_file={}", path(&cert_file)),
            "no private key in it; set ssl_key_file",
        ),
        (
            format!(
                "ssl_cert_file={}&ssl_key_file={}",
                path(&cert_file),
                path(&key_file)
            ),
            "not an unencrypted PEM private key (PKCS#1, PKCS#8 or SEC1)",
        ),
    ] {
        let url = format!("rabbit://u:p@localhost:1/?ssl=true&{query}");
        let text = Transport::new(&url).expect_err(&query).to_string();
        assert!(text.contains(says), "{query}: {text}");
    }
}

/// `SSL_CERT_FILE` replaces the system's store, as it does for OpenSSL and so for Python: a process told
/// to trust the test CA reaches the broker without `ssl_ca_file`, and then checks no name (`127.0.0.1`).
#[cfg(feature = "tools")]
#[tokio::test]
async fn ssl_cert_file_replaces_the_system_store() {
    let Some(tls) = tls() else { return };
    let transport = Transport::new(&tls.good_url()).expect("transport");
    let topic = unique("tls_env");
    let server = echo_server(&transport, &topic).await;
    let url = format!(
        "{}?ssl=true&ssl_cert_file={}&ssl_key_file={}",
        tls.url.replace("@localhost:", "@127.0.0.1:"),
        enc(&tls.cert),
        enc(&tls.key)
    );
    let topic_arg = topic.clone();
    let run = move |cert_file: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_oslo-rpc"))
            .args([
                "call",
                "--url",
                &url,
                "--topic",
                &topic_arg,
                "--timeout",
                "20",
            ])
            .args(["echo", r#"{"via": "env"}"#])
            .env("SSL_CERT_FILE", cert_file)
            .env_remove("SSL_CERT_DIR")
            .output()
            .expect("run oslo-rpc")
    };
    let missing = std::env::temp_dir().join(unique("no-such-store"));
    let missing = missing.to_str().expect("utf-8 path").to_owned();
    let (ok, refused, unreadable) = tokio::task::spawn_blocking({
        let (ca, other, missing) = (tls.ca.clone(), tls.other_ca.clone(), missing.clone());
        move || (run(&ca), run(&other), run(&missing))
    })
    .await
    .expect("join");
    let said = String::from_utf8_lossy(&unreadable.stderr);
    assert!(!unreadable.status.success());
    assert!(
        said.contains("`SSL_CERT_FILE`") && said.contains(&missing),
        "{said}"
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let got: Value = serde_json::from_slice(&ok.stdout).expect("JSON result");
    assert_eq!(got, json!({"via": "env"}));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("UnknownIssuer"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    server.stop().await;
    server.wait().await;
    transport.cleanup().await;
}

/// `rabbit_login_method=EXTERNAL`: the broker takes the user from the client certificate (`oslo-client`
/// in the test script's broker), whatever the URL's credentials; without TLS it is refused at once.
#[tokio::test]
async fn external_login_with_the_client_certificate() {
    let Some(tls) = tls() else { return };
    let url = format!(
        "{}&rabbit_login_method=EXTERNAL",
        tls.good_url().replace("oslo:oslo-secret@", "nobody:wrong@")
    );
    let transport = Transport::new(&url).expect("transport");
    let topic = unique("tls_external");
    let server = echo_server(&transport, &topic).await;
    let client = RpcClient::builder(transport.clone(), Target::topic(&topic))
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let got = client
        .call_json(&Context::new(), "echo", json!({"who": "cert"}))
        .await
        .expect("call with an EXTERNAL login");
    assert_eq!(got, json!({"who": "cert"}));
    server.stop().await;
    server.wait().await;
    transport.cleanup().await;

    let err = Transport::new("rabbit://h/?rabbit_login_method=EXTERNAL").unwrap_err();
    assert!(err.to_string().contains("needs `ssl`"), "{err}");
}

/// Heartbeats run over TLS too (the TLS connection's timers are the runtime kit's): with a 2 s threshold
/// the broker drops a silent connection after about 4 s; ours stay up through 7 s of idleness.
#[tokio::test]
async fn heartbeats_keep_idle_tls_connections_alive() {
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let Some(tls) = tls() else { return };
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let url = format!("{}&heartbeat_timeout_threshold=2", tls.good_url());
    let transport = Transport::new(&url).expect("transport");
    let topic = unique("tls_heartbeat");
    let server = echo_server(&transport, &topic).await;
    let client = RpcClient::builder(transport.clone(), Target::topic(&topic))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    for round in 0..2 {
        let got = client
            .call_json(&Context::new(), "echo", json!({"round": round}))
            .await
            .expect("call");
        assert_eq!(got, json!({"round": round}));
        if round == 0 {
            tokio::time::sleep(Duration::from_secs(7)).await;
        }
    }
    let text = String::from_utf8_lossy(
        &logs
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned();
    assert!(
        !text.contains("lost its connection")
            && !text.contains("reconnected")
            && !text.contains("retrying"),
        "{text}"
    );
    server.stop().await;
    server.wait().await;
    transport.cleanup().await;
}
