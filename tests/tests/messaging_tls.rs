//! Interop with Python oslo.messaging over TLS, on RabbitMQ's TLS listener (`OSLO_TEST_RABBIT_TLS_URL`,
//! client certificates required): a Python server and our client, our server and Python's client, each side
//! configured through a config file's `[oslo_messaging_rabbit] ssl*` options (ours through
//! `Transport::from_config`), and the same connection settings (host names, CAs, client certificate,
//! protocol versions) accepted or refused by both.
#![cfg(feature = "messaging")]

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oslo_config::{ConfigOpts, ParseArgs};
use oslo_messaging::blocking::Runtime;
use oslo_messaging::{
    Context, Endpoint, Error, RemoteError, RpcClient, RpcServer, Target, Transport, config,
};
use oslo_tests::{PythonProcess as Py, python, rabbit_lock_file};
use serde_json::{Map, Value, json};

/// The TLS listener and its files, or `None` (with a note) outside the test script.
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
    let lock = rabbit_lock_file();
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

/// A config file with the transport URL and the `[oslo_messaging_rabbit]` TLS options.
fn conf_file(dir: &std::path::Path, url: &str, rabbit: &[(&str, &str)]) -> String {
    let mut text = format!("[DEFAULT]\ntransport_url = {url}\n[oslo_messaging_rabbit]\n");
    for (k, v) in rabbit {
        text.push_str(&format!("{k} = {v}\n"));
    }
    let path = dir.join(format!("{}.conf", unique("tls")));
    std::fs::write(&path, text).expect("write the config file");
    path.to_str().expect("utf-8 path").to_owned()
}

fn our_transport(file: &str) -> Transport {
    try_our_transport(file).expect("transport from config")
}

/// The transport of a configuration file, or the error that refused it when it was built.
fn try_our_transport(file: &str) -> oslo_messaging::Result<Transport> {
    let mut conf = ConfigOpts::new();
    config::register_opts(&mut conf).expect("register");
    conf.parse(ParseArgs::new(["--config-file", file]).use_env(false))
        .expect("parse the config file");
    Transport::from_config(&conf)
}

const PY_PRELUDE: &str = r#"
import json, sys, time, logging, warnings
warnings.simplefilter('ignore')
logging.basicConfig(level=logging.CRITICAL)
import oslo_messaging as om
from oslo_config import cfg
cfg.CONF(['--config-file', sys.argv[1]], project='tls')
def out(*a):
    print(json.dumps(a), flush=True)
"#;

const PY_SERVER: &str = r#"
topic = sys.argv[2]
t = om.get_rpc_transport(cfg.CONF)
class Main:
    def echo(self, ctxt, x): return x
    def fail(self, ctxt): raise ValueError('boom over tls')
s = om.get_rpc_server(t, om.Target(topic=topic, server='py'), [Main()])
s.start()
out('ready')
sys.stdin.read()
s.stop(); s.wait(); t.cleanup()
"#;

const PY_CLIENT: &str = r#"
topic = sys.argv[2]
t = om.get_rpc_transport(cfg.CONF)
c = om.get_rpc_client(t, om.Target(topic=topic), timeout=20)
res = []
for x in [1, 'two', {'three': [3]}]:
    res.append(c.call({}, 'echo', x=x))
try:
    c.call({}, 'fail')
except Exception as e:
    res.append([type(e).__name__, str(e).split('\n')[0]])
t.cleanup()
out(res)
"#;

/// Casts once, with no retry, to a topic nobody consumes: `ok` or the exception's class and text.
const PY_PROBE: &str = r#"
t = om.get_rpc_transport(cfg.CONF)
c = om.get_rpc_client(t, om.Target(topic='tls_probe_nobody'), retry=0)
try:
    c.cast({}, 'x')
    out('ok')
except Exception as e:
    out(type(e).__name__ + ': ' + str(e))
t.cleanup()
"#;

fn py_command(body: &str, file: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(python());
    cmd.arg("-c")
        .arg(format!("{PY_PRELUDE}{body}"))
        .arg(file)
        .args(args);
    cmd
}

/// A Python helper running `body` on the config file `file`.
fn spawn_py(body: &str, file: &str, args: &[&str]) -> Py {
    Py::spawn(py_command(body, file, args))
}

fn good_options(tls: &Tls) -> Vec<(&'static str, String)> {
    vec![
        ("ssl", "true".to_owned()),
        ("ssl_ca_file", tls.ca.clone()),
        ("ssl_cert_file", tls.cert.clone()),
        ("ssl_key_file", tls.key.clone()),
    ]
}

fn as_refs<'a>(opts: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    opts.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn python_server_rust_client_over_tls() {
    let Some(tls) = tls() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = conf_file(dir.path(), &tls.url, &as_refs(&good_options(&tls)));
    let topic = unique("tls_py_server");
    let py = spawn_py(PY_SERVER, &file, &[&topic]);
    assert_eq!(py.next(60), json!(["ready"]));

    let rt = Runtime::new(2).expect("runtime");
    let transport = our_transport(&file);
    let client = RpcClient::builder(transport.clone(), Target::topic(&topic))
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    for x in [json!(1), json!("two"), json!({"three": [3]})] {
        let got = rt
            .block_on(client.call_json(&Context::new(), "echo", json!({ "x": x })))
            .expect("call the Python server over TLS");
        assert_eq!(got, x);
    }
    let err = rt
        .block_on(client.call_json(&Context::new(), "fail", json!({})))
        .expect_err("remote error");
    let remote = err.remote().expect("a remote error");
    assert_eq!(
        (remote.class(), remote.message()),
        ("ValueError", "boom over tls")
    );
    rt.block_on(transport.cleanup());
    py.finish();
}

#[test]
fn rust_server_python_client_over_tls() {
    let Some(tls) = tls() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = conf_file(dir.path(), &tls.url, &as_refs(&good_options(&tls)));
    let topic = unique("tls_rust_server");

    let rt = Runtime::new(2).expect("runtime");
    let transport = our_transport(&file);
    let endpoint = Endpoint::new()
        .json_method("echo", |_ctxt, args: Map<String, Value>| async move {
            Ok::<_, RemoteError>(args.get("x").cloned().unwrap_or(Value::Null))
        })
        .json_method("fail", |_ctxt, _args| async {
            Err::<Value, _>(RemoteError::new("ValueError", "boom over tls"))
        });
    let server = RpcServer::builder(transport.clone(), Target::topic(&topic).with_server("rust"))
        .endpoint(endpoint)
        .build()
        .expect("server");
    rt.block_on(server.start()).expect("start over TLS");

    let py = spawn_py(PY_CLIENT, &file, &[&topic]);
    assert_eq!(
        py.next(60),
        json!([[1, "two", {"three": [3]}, ["ValueError", "boom over tls"]]])
    );
    py.finish();
    rt.block_on(server.stop());
    rt.block_on(server.wait());
    rt.block_on(transport.cleanup());
}

/// The same settings, given to Python's driver and to ours: both connect, or both refuse. The one
/// deliberate difference: an `ssl_version` without `ssl_ca_file` makes Python verify nothing, while we
/// still verify the chain (against the system's store, where the test CA is not).
#[test]
fn both_sides_accept_and_refuse_the_same_settings() {
    let Some(tls) = tls() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let port = tls
        .url
        .rsplit_once(':')
        .map(|(_, p)| p.trim_end_matches('/').to_owned())
        .expect("a port");
    let by_ip = tls.url.replace("@localhost:", "@127.0.0.1:");
    let two_ips = by_ip.replace(
        &format!("@127.0.0.1:{port}/"),
        &format!("@127.0.0.1:{port},oslo:oslo-secret@127.0.0.1:{port}/"),
    );
    let plain = std::env::var("OSLO_TEST_RABBIT_URL").expect("OSLO_TEST_RABBIT_URL");
    let good = good_options(&tls);
    let with = |extra: &[(&'static str, &str)]| {
        let mut o = good.clone();
        for (k, v) in extra {
            o.retain(|(key, _)| key != k);
            o.push((k, (*v).to_owned()));
        }
        o
    };
    let without = |gone: &[&str]| {
        let mut o = good.clone();
        o.retain(|(k, _)| !gone.contains(k));
        o
    };
    // (what, URL, options, Python connects, we connect)
    type Case<'a> = (&'a str, String, Vec<(&'static str, String)>, bool, bool);
    let cases: Vec<Case<'_>> = vec![
        ("good", tls.url.clone(), good.clone(), true, true),
        (
            "TLSv1_2",
            tls.url.clone(),
            with(&[("ssl_version", "TLSv1_2")]),
            true,
            true,
        ),
        (
            "SSLv23",
            tls.url.clone(),
            with(&[("ssl_version", "SSLv23")]),
            true,
            true,
        ),
        ("name mismatch", by_ip.clone(), good.clone(), false, false),
        (
            "name mismatch, two hosts",
            two_ips,
            good.clone(),
            false,
            false,
        ),
        (
            "wrong CA",
            tls.url.clone(),
            with(&[("ssl_ca_file", &tls.other_ca)]),
            false,
            false,
        ),
        (
            "system store",
            tls.url.clone(),
            without(&["ssl_ca_file"]),
            false,
            false,
        ),
        (
            "system store, by IP",
            by_ip.clone(),
            without(&["ssl_ca_file"]),
            false,
            false,
        ),
        (
            "no client certificate",
            tls.url.clone(),
            without(&["ssl_cert_file", "ssl_key_file"]),
            false,
            false,
        ),
        (
            "EXTERNAL login",
            tls.url.clone(),
            with(&[("rabbit_login_method", "EXTERNAL")]),
            true,
            true,
        ),
        (
            "EXTERNAL login without a client certificate",
            tls.url.clone(),
            without(&["ssl_cert_file", "ssl_key_file"])
                .into_iter()
                .chain([("rabbit_login_method", "EXTERNAL".to_owned())])
                .collect(),
            false,
            false,
        ),
        (
            "TLS to the plain port",
            plain.clone(),
            good.clone(),
            false,
            false,
        ),
        (
            "no TLS to the TLS port",
            tls.url.clone(),
            vec![],
            false,
            false,
        ),
        (
            "ssl_version without a CA (Python verifies nothing)",
            tls.url.clone(),
            with(&[("ssl_version", "TLSv1_2")])
                .into_iter()
                .filter(|(k, _)| *k != "ssl_ca_file")
                .collect(),
            true,
            false,
        ),
    ];
    let rt = Runtime::new(2).expect("runtime");
    for (what, url, opts, py_ok, our_ok) in cases {
        let file = conf_file(dir.path(), &url, &as_refs(&opts));
        let out = py_command(PY_PROBE, &file, &[])
            .stderr(Stdio::inherit())
            .output()
            .expect("run the Python probe");
        let line = String::from_utf8_lossy(&out.stdout);
        let theirs: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("{what}: bad output `{line}`: {e}"));
        assert_eq!(
            theirs == json!(["ok"]),
            py_ok,
            "{what}: Python said {theirs}"
        );

        // Settings that cannot work (`EXTERNAL` without a client certificate) are refused at once.
        let transport = match try_our_transport(&file) {
            Ok(t) => t,
            Err(e) => {
                assert!(!our_ok, "{what}: refused when built: {e}");
                assert!(matches!(e, Error::Configuration(_)), "{what}: {e}");
                continue;
            }
        };
        let client = RpcClient::builder(transport.clone(), Target::topic("tls_probe_nobody"))
            .retry(Some(0))
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        // No retry, and each connection attempt is bounded: this cannot hang.
        let ours = rt.block_on(client.cast(&Context::new(), "x", json!({})));
        assert_eq!(ours.is_ok(), our_ok, "{what}: we said {ours:?}");
        rt.block_on(transport.cleanup());
    }
}
