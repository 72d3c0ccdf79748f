//! oslo-messaging's options through oslo-config, differential against Python oslo.messaging 18.3.1: the
//! same config file and environment given to both, the registered option values, the transport URLs
//! (`TransportURL.parse(conf)`) and the RabbitMQ driver's effective options (`ConfigOptsProxy`)
//! compared; and transports built from config making a call (memory, and RabbitMQ when it runs).
#![cfg(feature = "messaging")]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oslo_config::{ConfigOpts, EnvSource, ParseArgs, Value as ConfValue};
use oslo_messaging::blocking::Runtime;
use oslo_messaging::{
    Context, Endpoint, Notifier, RpcClient, RpcServer, Target, Transport, TransportUrl, config,
};
use oslo_tests::{Server, run_python, run_python_json, server_url};
use serde_json::{Map, Value, json};

/// Options whose defaults depend on the process (`socket.gethostname()`, `sys.argv[0]`).
const PROCESS_DEPENDENT: &[&str] = &["hostname", "processname"];

const PY_VALUES: &str = r#"
import json, sys, warnings
warnings.simplefilter('ignore')
import oslo_messaging as om
from oslo_messaging import opts
from oslo_messaging._drivers import common
from oslo_config import cfg
args = json.load(sys.stdin)
conf = cfg.ConfigOpts()
for g, o in opts.list_opts():
    conf.register_opts(o, group=g)
conf(['--config-file', args['file']], project='x', default_config_files=[], default_config_dirs=[])
def url(u):
    return {'transport': u.transport, 'virtual_host': u.virtual_host, 'query': u.query,
            'hosts': [{'hostname': h.hostname, 'port': h.port, 'username': h.username,
                       'password': h.password} for h in u.hosts]}
values = {}
for g, o in opts.list_opts():
    section = conf[g] if g else conf
    values[g or 'DEFAULT'] = {x.name: section[x.dest] for x in o if x.name not in ('hostname', 'processname')}
rpc_url = om.TransportURL.parse(conf)
proxy = common.ConfigOptsProxy(conf, rpc_url, 'oslo_messaging_rabbit').oslo_messaging_rabbit
effective = {name: str(getattr(proxy, name)).lower() for name in args['rabbit']}
notif = om.TransportURL.parse(conf, conf.oslo_messaging_notifications.transport_url)
print(json.dumps({'values': values, 'rpc_url': url(rpc_url), 'notification_url': url(notif),
                  'effective': effective}))
"#;

fn to_json(v: Option<ConfValue>) -> Value {
    match v {
        None => Value::Null,
        Some(ConfValue::String(s)) => json!(s),
        Some(ConfValue::Integer(n)) => json!(n),
        Some(ConfValue::Float(x)) => json!(x),
        Some(ConfValue::Boolean(b)) => json!(b),
        Some(ConfValue::List(items)) => items.into_iter().map(|i| to_json(Some(i))).collect(),
        Some(ConfValue::Dict(map)) => map
            .into_iter()
            .map(|(k, v)| (k, to_json(Some(v))))
            .collect::<Map<_, _>>()
            .into(),
    }
}

fn url_json(u: &TransportUrl) -> Value {
    json!({
        "transport": u.transport,
        "virtual_host": u.virtual_host,
        "query": u.query,
        "hosts": u.hosts.iter().map(|h| json!({
            "hostname": h.hostname, "port": h.port, "username": h.username, "password": h.password,
        })).collect::<Vec<_>>(),
    })
}

fn parse(file: &Path, env: HashMap<String, String>) -> ConfigOpts {
    let mut conf = ConfigOpts::new();
    config::register_opts(&mut conf).unwrap();
    conf.set_env(EnvSource::Map(env));
    conf.parse(ParseArgs::new(["--config-file", file.to_str().unwrap()]))
        .unwrap();
    conf
}

const FILE: &str = "\
[DEFAULT]
transport_url = rabbit://user:s%40cret@host1:5673,host2/vhost?heartbeat_rate=5&rabbit_qos_prefetch_count=7
control_exchange = nova
rpc_thread_pool_size = 12

[oslo_messaging_rabbit]
amqp_durable_queues = true
heartbeat_rate = 2
rabbit_retry_interval = 3
kombu_reconnect_delay = 2
kombu_reconnect_timeout = 40
kombu_failover_strategy = shuffle
rabbit_quorum_queue = true
rabbit_quorum_delivery_limit = 4
rpc_conn_pool_size = 10

[oslo_messaging_notifications]
driver = messagingv2
driver = log
transport_url = memory://notif/
topics = notifications, audit
retry = 3

[oslo_messaging_kafka]
compression_codec = gzip
";

#[test]
fn options_and_urls_match_python() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("messaging.conf");
    std::fs::write(&file, FILE).unwrap();
    // The environment beats the file, for Python (`OS_<GROUP>__<OPT>`) as for us.
    let env: HashMap<String, String> = [
        ("OS_DEFAULT__RPC_RESPONSE_TIMEOUT", "17"),
        ("OS_OSLO_MESSAGING_RABBIT__RABBIT_INTERVAL_MAX", "20"),
        ("OS_OSLO_MESSAGING_RABBIT__RABBIT_RETRY_INTERVAL", "4"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let conf = parse(&file, env.clone());

    let rabbit_names: Vec<String> = config::list_opts()
        .into_iter()
        .filter(|(g, _)| g.as_ref().is_some_and(|g| g.name() == config::RABBIT_GROUP))
        .flat_map(|(_, opts)| opts.into_iter().map(|o| o.name().to_owned()))
        .filter(|n| !PROCESS_DEPENDENT.contains(&n.as_str()))
        .collect();
    let script = format!(
        "import os\nos.environ.update({})\n{PY_VALUES}",
        serde_json::to_string(&env).unwrap()
    );
    let py = run_python_json(
        &script,
        &json!({"file": file.to_str().unwrap(), "rabbit": rabbit_names}).to_string(),
    );

    // Every registered option's value.
    let mut values = Map::new();
    for (group, opts) in config::list_opts() {
        let group = group.map(|g| g.name().to_owned());
        let mut section = Map::new();
        for opt in opts {
            if PROCESS_DEPENDENT.contains(&opt.name()) {
                continue;
            }
            let v = conf.get(opt.name(), group.as_deref()).unwrap();
            section.insert(opt.name().to_owned(), to_json(v));
        }
        values.insert(
            group.unwrap_or_else(|| "DEFAULT".to_owned()),
            section.into(),
        );
    }
    assert_eq!(Value::from(values), py["values"]);

    // The URLs: the RPC one as Python parses it (our query carries the rabbit options besides).
    let rpc_url = config::transport_url(&conf, None).unwrap();
    let mut plain = rpc_url.clone();
    plain
        .query
        .retain(|k, _| py["rpc_url"]["query"].get(k).is_some());
    assert_eq!(url_json(&plain), py["rpc_url"]);
    let notif = Transport::notification_from_config(&conf).unwrap();
    assert_eq!(url_json(notif.url()), py["notification_url"]);

    // The RabbitMQ driver's effective options: from the URL's query, else the group, else the default.
    let defaults: HashMap<String, Option<ConfValue>> = config::list_opts()
        .into_iter()
        .filter(|(g, _)| g.as_ref().is_some_and(|g| g.name() == config::RABBIT_GROUP))
        .flat_map(|(_, opts)| opts)
        .map(|o| (o.name().to_owned(), o.default_value().cloned()))
        .collect();
    let mut compared = 0;
    for name in &rabbit_names {
        let ours = match rpc_url.query.get(name) {
            Some(v) => v.to_lowercase(),
            None => match &defaults[name] {
                Some(d) => d.to_string().to_lowercase(),
                None => "none".to_owned(),
            },
        };
        let from_conf = conf.get(name, Some(config::RABBIT_GROUP)).unwrap();
        let expected = py["effective"][name].as_str().unwrap();
        if rpc_url.query.contains_key(name) || from_conf == defaults[name] {
            assert_eq!(ours, expected, "option {name}");
            compared += 1;
        }
    }
    // Those set in the file or the environment and honoured by the driver all reach it.
    for (name, value) in [
        ("heartbeat_rate", "5"),
        ("rabbit_qos_prefetch_count", "7"),
        ("amqp_durable_queues", "true"),
        ("rabbit_retry_interval", "4"),
        ("rabbit_interval_max", "20"),
        ("kombu_reconnect_delay", "2.0"),
        ("kombu_missing_consumer_retry_timeout", "40"),
        ("kombu_failover_strategy", "shuffle"),
        ("rabbit_quorum_queue", "true"),
        ("rabbit_quorum_delivery_limit", "4"),
    ] {
        assert_eq!(
            rpc_url.query.get(name).map(String::as_str),
            Some(value),
            "{name}"
        );
        assert_eq!(py["effective"][name], json!(value), "{name}");
    }
    assert!(compared > 20, "only {compared} options compared");

    let transport = Transport::from_config(&conf).unwrap();
    assert_eq!(transport.options().control_exchange, "nova");
    assert_eq!(
        transport.options().rpc_response_timeout,
        Duration::from_secs(17)
    );
    // The password stays out of what the URL prints.
    assert!(!transport.url().to_string().contains("s@cret"));
}

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A server and a client on a transport built from config; the call's answer.
fn call_through(transport: &Transport, rt: &Runtime) -> Value {
    let topic = unique("msgcfg");
    let server = RpcServer::builder(transport.clone(), Target::topic(&topic).with_server("s1"))
        .endpoint(Endpoint::new().json_method("double", |_c, a| async move {
            Ok(json!(a["x"].as_i64().unwrap_or(0) * 2))
        }))
        .build()
        .unwrap();
    rt.block_on(server.start()).unwrap();
    let client = RpcClient::new(transport.clone(), Target::topic(&topic)).unwrap();
    let answer = rt
        .block_on(client.call::<Value>(&Context::new(), "double", json!({"x": 21})))
        .unwrap();
    rt.block_on(async {
        server.stop().await;
        server.wait().await;
    });
    answer
}

#[test]
fn a_memory_transport_from_config_calls_and_notifies() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("memory.conf");
    let exchange = unique("exchange");
    std::fs::write(
        &file,
        format!(
            "[DEFAULT]\ntransport_url = memory://\ncontrol_exchange = {exchange}\n\
             [oslo_messaging_notifications]\ndriver = test\ntopics = t1\nretry = 0\n"
        ),
    )
    .unwrap();
    let conf = parse(&file, HashMap::new());
    let rt = Runtime::new(2).unwrap();
    let transport = Transport::from_config(&conf).unwrap();
    assert_eq!(transport.options().control_exchange, exchange);
    assert_eq!(call_through(&transport, &rt), json!(42));

    let notifier =
        Notifier::builder_from_config(Transport::notification_from_config(&conf).unwrap(), &conf)
            .unwrap()
            .publisher_id("cfg")
            .build()
            .unwrap();
    let _ = oslo_messaging::notify::take_test_notifications();
    rt.block_on(notifier.info(&Context::new(), "cfg.event", json!({"k": 1})))
        .unwrap();
    let sent = oslo_messaging::notify::take_test_notifications();
    assert!(
        sent.iter()
            .any(|n| n.message.get("event_type") == Some(&json!("cfg.event"))),
        "{sent:?}"
    );
}

#[test]
fn a_rabbit_transport_from_config_calls() {
    let Some(url) = server_url(Server::Rabbit) else {
        return;
    };
    let lock = oslo_tests::rabbit_lock_file();
    lock.lock_shared().expect("take the broker lock");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rabbit.conf");
    std::fs::write(
        &file,
        format!(
            "[DEFAULT]\ntransport_url = {url}\ncontrol_exchange = {}\nrpc_response_timeout = 20\n\
             [oslo_messaging_rabbit]\nheartbeat_timeout_threshold = 30\nrabbit_qos_prefetch_count = 5\n\
             rpc_conn_pool_size = 4\n",
            unique("msgcfg_exchange")
        ),
    )
    .unwrap();
    let conf = parse(&file, HashMap::new());
    let rt = Runtime::new(2).unwrap();
    let transport = Transport::from_config(&conf).unwrap();
    assert_eq!(
        transport
            .url()
            .query
            .get("rabbit_qos_prefetch_count")
            .map(String::as_str),
        Some("5")
    );
    assert_eq!(call_through(&transport, &rt), json!(42));
    rt.block_on(transport.cleanup());

    // An option the driver does not support, turned on, is refused rather than ignored.
    std::fs::write(
        &file,
        format!("[DEFAULT]\ntransport_url = {url}\n[oslo_messaging_rabbit]\nrabbit_stream_fanout = true\n"),
    )
    .unwrap();
    assert!(Transport::from_config(&parse(&file, HashMap::new())).is_err());
}

#[test]
fn the_generator_lists_the_namespace_as_python_does() {
    let found = oslo_config::generator::list_opts(&[config::NAMESPACE.to_owned()]).unwrap();
    let ours = oslo_config::generator::sample_ini(&found, &Default::default());
    let theirs = run_python(
        "import subprocess, sys, os\n\
         exe = os.path.join(os.path.dirname(sys.executable), 'oslo-config-generator')\n\
         sys.stdout.write(subprocess.run([exe, '--namespace', 'oslo.messaging'], check=True, \
         capture_output=True, text=True).stdout)\n",
        "",
    );
    assert_eq!(ours, theirs);
}
