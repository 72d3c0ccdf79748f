//! The remote `http:` check against Python's, with a small HTTP server on 127.0.0.1 that records each
//! request and answers `True` when the credentials hold the role `admin`: the same decisions, the same
//! URL (with `%(key)s` substituted), and the same form fields.
#![cfg(feature = "policy")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use oslo_policy::{Enforcer, RemoteConfig};
use oslo_tests::run_python_json;
use serde_json::{Value, json};

/// One recorded request: the path and the form fields (each a JSON document).
type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn serve() -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body = String::from_utf8(body).unwrap();
            let fields: Vec<(String, String)> = body
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (decode(k), decode(v)))
                .collect();
            let admin = fields.iter().any(|(k, v)| {
                k == "credentials"
                    && serde_json::from_str::<Value>(v).unwrap()["roles"]
                        .as_array()
                        .is_some_and(|r| r.contains(&json!("admin")))
            });
            record.lock().unwrap().push((path, fields));
            let answer = if admin { "\"True\"" } else { "False" };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (port, seen)
}

const PYTHON: &str = r#"
import json, logging, sys, warnings
warnings.simplefilter('ignore')
logging.disable(logging.CRITICAL)
from oslo_config import cfg
from oslo_policy import policy
req = json.load(sys.stdin)
conf = cfg.ConfigOpts()
conf([], project='oslo-rs-difftest')
enf = policy.Enforcer(conf, policy_file=req['policy_file'])
conf.set_override('policy_dirs', [], group='oslo_policy')
out = []
for c in req['cases']:
    try:
        out.append('allow' if enf.enforce(c['rule'], c['target'], c['creds']) else 'deny')
    except Exception as e:
        out.append('error')
print(json.dumps(out))
"#;

#[test]
fn http_checks_agree_with_python() {
    let (port, seen) = serve();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    std::fs::write(
        &file,
        format!(
            "\"remote\": \"http://127.0.0.1:{port}/check/%(project_id)s\"\n\
             \"local_or_remote\": \"role:reader or http://127.0.0.1:{port}/x\"\n\
             \"missing_key\": \"http://127.0.0.1:{port}/%(nope)s\"\n\
             \"refused\": \"http://127.0.0.1:1/\"\n"
        ),
    )
    .unwrap();
    let mut cases = Vec::new();
    for rule in ["remote", "local_or_remote", "missing_key", "refused"] {
        for creds in [
            json!({"roles": ["admin"], "user_id": "u"}),
            json!({"roles": ["member"], "user_id": "u"}),
            json!({"roles": ["reader"]}),
        ] {
            cases.push(json!({"rule": rule, "target": {"project_id": "p1"}, "creds": creds}));
        }
    }
    let theirs = run_python_json(
        PYTHON,
        &json!({"policy_file": file, "cases": cases}).to_string(),
    );
    let python_requests = std::mem::take(&mut *seen.lock().unwrap());

    let enforcer = Enforcer::builder()
        .policy_file(&file)
        .policy_dirs(Vec::<String>::new())
        .remote(RemoteConfig {
            timeout: std::time::Duration::from_secs(5),
            ..RemoteConfig::default()
        })
        .build();
    let ours: Vec<&str> = cases
        .iter()
        .map(
            |c| match enforcer.enforce(c["rule"].as_str().unwrap(), &c["target"], &c["creds"]) {
                Ok(true) => "allow",
                Ok(false) => "deny",
                Err(_) => "error",
            },
        )
        .collect();
    let our_requests = std::mem::take(&mut *seen.lock().unwrap());
    let theirs: Vec<&str> = theirs
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ours, theirs);
    assert!(
        ours.contains(&"allow") && ours.contains(&"deny") && ours.contains(&"error"),
        "{ours:?}"
    );

    // The same requests: path, and fields with equal JSON.
    assert_eq!(our_requests.len(), python_requests.len());
    for ((our_path, our_fields), (their_path, their_fields)) in
        our_requests.iter().zip(&python_requests)
    {
        assert_eq!(our_path, their_path);
        let as_json = |fields: &[(String, String)]| -> Vec<(String, Value)> {
            let mut v: Vec<(String, Value)> = fields
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::from_str(v).unwrap()))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        assert_eq!(as_json(our_fields), as_json(their_fields));
    }
    assert_eq!(our_requests[0].0, "/check/p1");
}

const TLS_SERVER: &str = r#"
import http.server, json, ssl, sys
from urllib.parse import parse_qs
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length'])).decode()
        creds = json.loads(parse_qs(body)['credentials'][0])
        answer = b'True' if 'admin' in creds.get('roles', []) else b'False'
        self.send_response(200)
        self.send_header('Content-Length', str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *args):
        pass
srv = http.server.HTTPServer(('127.0.0.1', 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
if len(sys.argv) > 3:
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

const PYTHON_TLS: &str = r#"
import json, logging, sys, warnings
warnings.simplefilter('ignore')
logging.disable(logging.CRITICAL)
from oslo_config import cfg
from oslo_policy import policy
req = json.load(sys.stdin)
conf = cfg.ConfigOpts()
conf([], project='oslo-rs-difftest')
enf = policy.Enforcer(conf, policy_file=req['policy_file'])
conf.set_override('policy_dirs', [], group='oslo_policy')
conf.set_override('remote_timeout', 5, group='oslo_policy')
conf.set_override('remote_ssl_verify_server_crt', req['verify'], group='oslo_policy')
if req.get('ca'):
    conf.set_override('remote_ssl_ca_crt_file', req['ca'], group='oslo_policy')
if req.get('client'):
    conf.set_override('remote_ssl_client_crt_file', req['client'][0], group='oslo_policy')
    conf.set_override('remote_ssl_client_key_file', req['client'][1], group='oslo_policy')
out = []
for c in req['cases']:
    try:
        out.append('allow' if enf.enforce(c['rule'], c['target'], c['creds']) else 'deny')
    except Exception as e:
        out.append('error')
print(json.dumps(out))
"#;

/// Kills the server when the test ends, passed or failed.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `https:` with a self-signed certificate: accepted without verification (oslo's default), verified
/// against its CA file when asked, refused when verified without it; as Python.
#[test]
fn https_checks_agree_with_python() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "server");
    let mut server = Child(
        std::process::Command::new(oslo_tests::python())
            .arg("-c")
            .arg(TLS_SERVER)
            .arg(&cert)
            .arg(&key)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut port = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let port = port.trim().to_string();

    let file = dir.path().join("policy.yaml");
    std::fs::write(
        &file,
        format!("\"remote\": \"https://127.0.0.1:{port}/check\"\n"),
    )
    .unwrap();
    let cases: Vec<Value> = [json!({"roles": ["admin"]}), json!({"roles": ["member"]})]
        .into_iter()
        .map(|creds| json!({"rule": "remote", "target": {}, "creds": creds}))
        .collect();
    let mut outcomes = Vec::new();
    for (verify, ca) in [(false, None), (true, Some(&cert)), (true, None)] {
        let mut request = json!({"policy_file": file, "cases": cases, "verify": verify});
        if let Some(ca) = ca {
            request["ca"] = json!(ca);
        }
        let theirs = run_python_json(PYTHON_TLS, &request.to_string());
        let remote = RemoteConfig {
            verify_server: verify,
            ca_file: ca.cloned(),
            timeout: std::time::Duration::from_secs(5),
            ..RemoteConfig::default()
        };
        let enforcer = Enforcer::builder()
            .policy_file(&file)
            .policy_dirs(Vec::<String>::new())
            .remote(remote)
            .build();
        let ours: Vec<Value> = cases
            .iter()
            .map(|c| {
                json!(
                    match enforcer.enforce("remote", &c["target"], &c["creds"]) {
                        Ok(true) => "allow",
                        Ok(false) => "deny",
                        Err(_) => "error",
                    }
                )
            })
            .collect();
        assert_eq!(
            Value::Array(ours.clone()),
            theirs,
            "verify {verify}, ca {ca:?}"
        );
        outcomes.push(ours);
    }
    drop(server);
    assert_eq!(outcomes[0], [json!("allow"), json!("deny")]);
    assert_eq!(outcomes[1], [json!("allow"), json!("deny")]);
    assert_eq!(outcomes[2], [json!("error"), json!("error")]);
}

fn self_signed(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (cert, key)
}

/// A server that requires a client certificate: with oslo's client certificate and key options both
/// sides get through, without them both fail.
#[test]
fn https_client_certificates_agree_with_python() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "server");
    let (client_cert, client_key) = self_signed(dir.path(), "client");
    let mut server = Child(
        std::process::Command::new(oslo_tests::python())
            .arg("-c")
            .arg(TLS_SERVER)
            .args([&cert, &key, &client_cert])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut port = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let file = dir.path().join("policy.yaml");
    std::fs::write(
        &file,
        format!("\"remote\": \"https://127.0.0.1:{}/check\"\n", port.trim()),
    )
    .unwrap();
    let cases: Vec<Value> = [json!({"roles": ["admin"]}), json!({"roles": ["member"]})]
        .into_iter()
        .map(|creds| json!({"rule": "remote", "target": {}, "creds": creds}))
        .collect();
    let mut outcomes = Vec::new();
    for with_client in [true, false] {
        let mut request = json!({"policy_file": file, "cases": cases, "verify": false});
        let mut remote = RemoteConfig {
            timeout: std::time::Duration::from_secs(5),
            ..RemoteConfig::default()
        };
        if with_client {
            request["client"] = json!([client_cert, client_key]);
            remote.client_cert_file = Some(client_cert.clone());
            remote.client_key_file = Some(client_key.clone());
        }
        let theirs = run_python_json(PYTHON_TLS, &request.to_string());
        let enforcer = Enforcer::builder()
            .policy_file(&file)
            .policy_dirs(Vec::<String>::new())
            .remote(remote)
            .build();
        let ours: Vec<Value> = cases
            .iter()
            .map(|c| {
                json!(
                    match enforcer.enforce("remote", &c["target"], &c["creds"]) {
                        Ok(true) => "allow",
                        Ok(false) => "deny",
                        Err(_) => "error",
                    }
                )
            })
            .collect();
        assert_eq!(
            Value::Array(ours.clone()),
            theirs,
            "client certificate: {with_client}"
        );
        outcomes.push(ours);
    }
    drop(server);
    assert_eq!(outcomes[0], [json!("allow"), json!("deny")]);
    assert_eq!(outcomes[1], [json!("error"), json!("error")]);
}
