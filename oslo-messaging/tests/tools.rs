//! The command-line tools, run as processes: on `memory://` (alone) and against RabbitMQ (a server in
//! one process, calls from others, a notification to a listener here).
#![cfg(feature = "tools")]

use std::process::{Command, Output};

const RPC: &str = env!("CARGO_BIN_EXE_oslo-rpc");
const NOTIFY: &str = env!("CARGO_BIN_EXE_oslo-messaging-send-notification");

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().expect("run the tool")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn call_without_a_server_times_out_with_exit_2() {
    let out = run(
        RPC,
        &[
            "call",
            "--url",
            "memory://",
            "--topic",
            "nobody",
            "--timeout",
            "0.2",
            "ping",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("timed out"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_arguments_are_refused() {
    let out = run(
        RPC,
        &[
            "call",
            "--url",
            "memory://",
            "--topic",
            "t",
            "m",
            "not json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not JSON"),
        "{}",
        text(&out.stderr)
    );
    let out = run(RPC, &["call", "--url", "nosuch://", "--topic", "t", "m"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        NOTIFY,
        &["--transport-url", "memory://", "--priority", "debug", "x"],
    );
    assert!(
        !out.status.success(),
        "debug is not among the original's choices"
    );
    let out = run(
        NOTIFY,
        &[
            "--transport-url",
            "memory://",
            "--driver",
            "test",
            "payload",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[cfg(feature = "rabbit")]
mod rabbit {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::Duration;

    use super::*;

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

    #[test]
    fn serve_call_cast_and_fail_across_processes() {
        let Some((url, _lock)) = rabbit() else { return };
        let topic = unique("tools");
        let mut server = Command::new(RPC)
            .args(["serve", "--url", &url, "--topic", &topic, "--server", "s1"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(first.starts_with("serving <Target topic="), "{first}");
        assert!(
            !first.contains("oslo-secret"),
            "the password is printed: {first}"
        );

        let out = run(
            RPC,
            &[
                "call",
                "--url",
                &url,
                "--topic",
                &topic,
                "--timeout",
                "10",
                "add",
                r#"{"a": 2, "b": 40}"#,
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "42");

        let out = run(
            RPC,
            &[
                "call",
                "--url",
                &url,
                "--topic",
                &topic,
                "--server",
                "s1",
                "--timeout",
                "10",
                "echo",
                r#"{"x": [1, "é"]}"#,
            ],
        );
        assert_eq!(text(&out.stdout).trim(), r#"{"x":[1,"é"]}"#);

        let out = run(
            RPC,
            &[
                "call",
                "--url",
                &url,
                "--topic",
                &topic,
                "--timeout",
                "10",
                "fail",
                r#"{"message": "nope"}"#,
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(text(&out.stderr).trim(), "ValueError: nope");

        let out = run(
            RPC,
            &[
                "call",
                "--url",
                &url,
                "--topic",
                &topic,
                "--timeout",
                "10",
                "nosuch",
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr).trim(),
            "NoSuchMethod: Endpoint does not support RPC method nosuch"
        );

        let out = run(
            RPC,
            &[
                "cast", "--url", &url, "--topic", &topic, "--fanout", "echo", "{}",
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));

        server.kill().unwrap();
        let _ = server.wait();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn send_notification_reaches_a_listener() {
        use oslo_messaging::{
            NotificationEndpoint, NotificationListener, NotificationResult, Priority, Target,
            Transport,
        };
        let Some((url, _lock)) = rabbit() else { return };
        let topic = unique("tools_notif");
        let t = Transport::new(&url).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let l = NotificationListener::builder(t, vec![Target::topic(&topic)])
            .endpoint(NotificationEndpoint::new().on(Priority::Error, move |n| {
                let _ = tx.send(n);
                async { NotificationResult::Handled }
            }))
            .build()
            .unwrap();
        l.start().await.unwrap();
        let out = tokio::task::spawn_blocking({
            let (url, topic) = (url.clone(), topic.clone());
            move || {
                run(
                    NOTIFY,
                    &[
                        "--transport-url",
                        &url,
                        "--publisher-id",
                        "cli.host",
                        "--event-type",
                        "cli.test",
                        "--topic",
                        &topic,
                        "--priority",
                        "error",
                        r#"{"k": 1}"#,
                    ],
                )
            }
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let n = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (n.publisher_id.as_str(), n.event_type.as_str()),
            ("cli.host", "cli.test")
        );
        assert_eq!(
            n.payload,
            serde_json::json!(r#"{"k": 1}"#),
            "the payload is the string given, as in the original"
        );
        l.stop().await;
        l.wait().await;
    }

    /// Python's `oslo-messaging-send-notification`, from the virtualenv of the test script.
    fn python_tool() -> Option<std::path::PathBuf> {
        let bin = match std::env::var_os("OSLO_PYTHON") {
            Some(p) => {
                std::path::PathBuf::from(p).with_file_name("oslo-messaging-send-notification")
            }
            None => std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/venv/bin/oslo-messaging-send-notification"),
        };
        if bin.exists() {
            return Some(bin);
        }
        assert!(
            std::env::var("OSLO_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
            "the Python reference tool is missing: {}",
            bin.display()
        );
        eprintln!(
            "skipped: no Python oslo-messaging-send-notification at {}",
            bin.display()
        );
        None
    }

    /// `--config-file`: the transport, topics and `[oslo_messaging_rabbit]` options (here TLS, when the
    /// test script runs the TLS listener) come from the file, as with Python's tool, which is given the
    /// same file; `--transport-url` beats the file's URL. Both tools' notifications must arrive alike.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn send_notification_with_a_config_file_as_python() {
        use oslo_messaging::{
            NotificationEndpoint, NotificationListener, NotificationResult, Priority, Target,
            Transport,
        };
        let Some((url, _lock)) = rabbit() else { return };
        let Some(python) = python_tool() else { return };
        let (a, b) = (unique("tools_conf_a"), unique("tools_conf_b"));
        let t = Transport::new(&url).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let l = NotificationListener::builder(t, vec![Target::topic(&a), Target::topic(&b)])
            .endpoint(NotificationEndpoint::new().on(Priority::Warn, move |n| {
                let _ = tx.send(n);
                async { NotificationResult::Handled }
            }))
            .build()
            .unwrap();
        l.start().await.unwrap();

        // Over TLS when the listener is there (the file's `[oslo_messaging_rabbit]` options at work).
        let tls = std::env::var("OSLO_TEST_RABBIT_TLS_URL")
            .ok()
            .filter(|u| !u.is_empty());
        let (file_url, rabbit_section) = match &tls {
            Some(tls_url) => (
                tls_url.clone(),
                format!(
                    "ssl = true\nssl_ca_file = {}\nssl_cert_file = {}\nssl_key_file = {}\n",
                    std::env::var("OSLO_TEST_RABBIT_TLS_CA").unwrap(),
                    std::env::var("OSLO_TEST_RABBIT_TLS_CERT").unwrap(),
                    std::env::var("OSLO_TEST_RABBIT_TLS_KEY").unwrap()
                ),
            ),
            None => (url.clone(), String::new()),
        };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tool.conf");
        std::fs::write(
            &file,
            format!(
                "[DEFAULT]\ntransport_url = {file_url}\n[oslo_messaging_notifications]\n\
                 topics = {a},{b}\nretry = 0\n[oslo_messaging_rabbit]\n{rabbit_section}"
            ),
        )
        .unwrap();
        let file = file.to_str().unwrap().to_owned();
        let args = |who: &str| {
            vec![
                "--config-file".to_owned(),
                file.clone(),
                "--publisher-id".to_owned(),
                format!("{who}.host"),
                "--event-type".to_owned(),
                "conf.test".to_owned(),
                "--priority".to_owned(),
                "warn".to_owned(),
                r#"{"k": 1}"#.to_owned(),
            ]
        };
        let (ours, theirs) = tokio::task::spawn_blocking({
            let (ours, theirs) = (args("rust"), args("python"));
            let python = python.clone();
            move || {
                let run = |bin: &std::path::Path, args: &[String]| {
                    Command::new(bin).args(args).output().expect("run the tool")
                };
                (
                    run(std::path::Path::new(NOTIFY), &ours),
                    run(&python, &theirs),
                )
            }
        })
        .await
        .unwrap();
        assert!(ours.status.success(), "{}", text(&ours.stderr));
        assert!(theirs.status.success(), "{}", text(&theirs.stderr));

        let mut got = Vec::new();
        for _ in 0..4 {
            let n = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .expect("four notifications, one per tool and topic")
                .unwrap();
            got.push((
                n.publisher_id.clone(),
                n.event_type.clone(),
                n.payload.clone(),
            ));
        }
        got.sort_by(|x, y| x.0.cmp(&y.0));
        let expect = |who: &str| {
            (
                format!("{who}.host"),
                "conf.test".to_owned(),
                serde_json::json!(r#"{"k": 1}"#),
            )
        };
        assert_eq!(
            got,
            vec![
                expect("python"),
                expect("python"),
                expect("rust"),
                expect("rust")
            ]
        );

        // `--transport-url` beats the file's URL: with the file's pointing nowhere, ours still sends.
        std::fs::write(
            &file,
            format!(
                "[DEFAULT]\ntransport_url = rabbit://u:p@127.0.0.1:9/\n\
                 [oslo_messaging_notifications]\ntopics = {a}\nretry = 0\n"
            ),
        )
        .unwrap();
        let out = tokio::task::spawn_blocking({
            let (file, url) = (file.clone(), url.clone());
            move || {
                run(
                    NOTIFY,
                    &[
                        "--config-file",
                        &file,
                        "--transport-url",
                        &url,
                        "--priority",
                        "warn",
                        "x",
                    ],
                )
            }
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let n = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("the notification through --transport-url")
            .unwrap();
        assert_eq!(n.payload, serde_json::json!("x"));
        // And with only the file's URL (nowhere, no retry), the send fails.
        let out = tokio::task::spawn_blocking({
            let file = file.clone();
            move || run(NOTIFY, &["--config-file", &file, "x"])
        })
        .await
        .unwrap();
        assert!(!out.status.success(), "the file's URL is used");
        l.stop().await;
        l.wait().await;
    }
}
