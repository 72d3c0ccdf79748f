//! Transport URL parsing, differential against Python oslo.messaging's `TransportURL.parse`.
#![cfg(feature = "messaging")]

use oslo_messaging::TransportUrl;
use oslo_tests::run_python_json;
use serde_json::{Value, json};

const PARSE: &str = r#"
import json, sys, warnings
warnings.simplefilter('ignore')
import oslo_messaging as om
from oslo_config import cfg
conf = cfg.ConfigOpts()
out = []
for url in json.load(sys.stdin):
    try:
        u = om.TransportURL.parse(conf, url)
        out.append({'transport': u.transport, 'virtual_host': u.virtual_host, 'query': u.query,
                    'hosts': [{'hostname': h.hostname, 'port': h.port, 'username': h.username,
                               'password': h.password} for h in u.hosts]})
    except Exception as e:
        out.append({'error': type(e).__name__})
print(json.dumps(out))
"#;

fn ours(url: &str) -> Value {
    match TransportUrl::parse(url) {
        Ok(u) => json!({
            "transport": u.transport,
            "virtual_host": u.virtual_host,
            "query": u.query,
            "hosts": u.hosts.iter().map(|h| json!({
                "hostname": h.hostname, "port": h.port, "username": h.username, "password": h.password,
            })).collect::<Vec<_>>(),
        }),
        Err(_) => json!({"error": "error"}),
    }
}

#[test]
fn parse_matches_python() {
    let urls = [
        "rabbit://",
        "rabbit://h",
        "rabbit://h/",
        "rabbit://h//",
        "rabbit://h/%2Fvh",
        "rabbit://h/nova",
        "rabbit://user:pass@host:5672/",
        "rabbit://user:p%40ss%3Aword@host:5672/vh",
        "rabbit://us%40er:pass@host",
        "rabbit://a@b:pw@host/",
        "rabbit://user@host/",
        "rabbit://u1:p1@h1:5672,u2:p2@h2:5673/vh",
        "rabbit://u1:p1@h1,h2:5673/",
        "rabbit://h1,,h2/",
        "rabbit://[::1]:5672/",
        "rabbit://u:p@[fe80::1]/",
        "rabbit://[::1]/",
        "rabbit://::1/",
        "rabbit://h/?heartbeat_rate=4&ssl=true",
        "rabbit://h/?x=a&x=b&y=",
        "rabbit://h/?q=a+b%20c",
        "kombu+memory:////",
        "memory://",
        "fake://",
        "RaBbIt://h/",
        "zmq://host/",
        "rabbit://u:p@h:5672/vh#frag",
        "rabbit://h/a/b",
        "rabbit://user:@h/",
        "rabbit://:pw@h/",
    ];
    let reference = run_python_json(PARSE, &json!(urls).to_string());
    for (url, want) in urls.iter().zip(reference.as_array().unwrap()) {
        assert_eq!(&ours(url), want, "{url}");
    }
}

#[test]
fn bad_urls_are_errors_in_both() {
    let urls = [
        "no-scheme",
        "/just/a/path",
        "rabbit://h:notaport/",
        "rabbit://[::1/",
    ];
    let reference = run_python_json(PARSE, &json!(urls).to_string());
    for (url, want) in urls.iter().zip(reference.as_array().unwrap()) {
        assert!(
            want.get("error").is_some(),
            "Python accepts `{url}`: {want}"
        );
        assert!(TransportUrl::parse(url).is_err(), "we accept `{url}`");
    }
}

#[test]
fn passwords_are_never_printed() {
    let u = TransportUrl::parse("rabbit://user:s3cr%40t@h1:5672,u2:other-secret@h2/vh").unwrap();
    for text in [u.to_string(), format!("{u:?}"), format!("{:?}", u.hosts)] {
        assert!(
            !text.contains("s3cr") && !text.contains("other-secret"),
            "{text}"
        );
    }
    assert_eq!(u.to_string(), "rabbit://user:****@h1:5672,u2:****@h2/vh");
    let e = TransportUrl::parse("rabbit://user:s3cret@h:bad/").unwrap_err();
    assert!(!e.to_string().contains("s3cret"), "{e}");
}
