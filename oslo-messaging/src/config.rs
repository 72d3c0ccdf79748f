//! The oslo.messaging options through oslo-config (the `oslo-config` feature): `[DEFAULT]`
//! `transport_url`, `control_exchange` and `rpc_response_timeout`, `[oslo_messaging_rabbit]`,
//! `[oslo_messaging_notifications]` (and, so that files written for Python validate,
//! `[oslo_messaging_kafka]`), registered with the names, types, defaults, help, deprecated names and
//! secret flags of oslo.messaging 18.3.1, listed for `oslo-config-generator` under the `oslo.messaging`
//! namespace, and read back into a [`Transport`] and a [`Notifier`].
//!
//! ```
//! use oslo_config::{ConfigOpts, ParseArgs};
//! use oslo_messaging::{Notifier, Transport, config};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("api.conf");
//! std::fs::write(
//!     &file,
//!     "[DEFAULT]\ntransport_url = memory://\ncontrol_exchange = nova\nrpc_response_timeout = 5\n\
//!      [oslo_messaging_notifications]\ndriver = test\ntopics = a,b\n",
//! )?;
//!
//! let mut conf = ConfigOpts::new();
//! config::register_opts(&mut conf)?;
//! conf.parse(ParseArgs::new(["--config-file", file.to_str().unwrap()]).use_env(false))?;
//!
//! let transport = Transport::from_config(&conf)?;
//! assert_eq!(transport.options().control_exchange, "nova");
//! assert_eq!(transport.options().rpc_response_timeout.as_secs(), 5);
//! let notifier = Notifier::builder_from_config(Transport::notification_from_config(&conf)?, &conf)?
//!     .build()?;
//! assert!(notifier.is_enabled());
//! # Ok(())
//! # }
//! ```
//!
//! # What the `[oslo_messaging_rabbit]` options do here
//!
//! The RabbitMQ driver reads its options from the transport URL's query, so [`transport_url`] puts
//! the value of each option the driver knows into the query (when set to other than its default, and
//! when the URL does not give it already: the URL wins, as with Python's `ConfigOptsProxy`).
//!
//! - Honoured: `amqp_durable_queues`, `amqp_auto_delete`, `kombu_reconnect_delay`,
//!   `kombu_missing_consumer_retry_timeout`, `kombu_failover_strategy`, `rabbit_login_method` (`PLAIN`,
//!   `AMQPLAIN`, and `EXTERNAL` over TLS), `rabbit_retry_interval`, `rabbit_retry_backoff`, `rabbit_interval_max`,
//!   `rabbit_ha_queues`, `rabbit_quorum_queue`, `rabbit_transient_quorum_queue`,
//!   `rabbit_quorum_delivery_limit`, `rabbit_quorum_max_memory_length`,
//!   `rabbit_quorum_max_memory_bytes`, `rabbit_transient_queues_ttl`, `rabbit_qos_prefetch_count`,
//!   `heartbeat_timeout_threshold`, `heartbeat_rate`, `enable_cancel_on_failover`, and TLS: `ssl`,
//!   `ssl_ca_file`, `ssl_cert_file`, `ssl_key_file`, `ssl_version` (`SSLv23` or `TLSv1_2`; TLS 1.0
//!   and 1.1 are refused) with the `rabbit-tls` feature (without it, `ssl` on is refused).
//! - Refused when turned on (the driver does not support them, building the transport fails):
//!   `rabbit_stream_fanout`, `use_queue_manager`, `kombu_compression`, and `rabbit_login_method`
//!   `RABBIT-CR-DEMO`.
//! - Registered but without effect: `rpc_conn_pool_size`, `conn_pool_min_size`, `conn_pool_ttl`,
//!   `kombu_reconnect_splay`, `direct_mandatory_flag`, `hostname`, `processname` (the queue manager
//!   is not supported), and `ssl_enforce_hostname_verification` and `ssl_enforce_fips_mode` (read by
//!   nothing in the original either).
//!
//! `executor_thread_pool_size`, `rpc_ping_enabled` and the `[oslo_messaging_kafka]` options are
//! registered and listed, and have no effect (there is no thread pool executor, ping endpoint or
//! Kafka driver).

use std::collections::BTreeMap;
use std::time::Duration;

use oslo_config::types::FloatType;
use oslo_config::{ConfigOpts, Opt, OptGroup, OptType, Value};

use crate::notify::NotifierBuilder;
use crate::{Error, Notifier, Result, Transport, TransportUrl};

/// The namespace `oslo-config-generator --namespace` knows these options by.
pub const NAMESPACE: &str = "oslo.messaging";

/// The group of the notification options.
pub const NOTIFICATIONS_GROUP: &str = "oslo_messaging_notifications";

/// The group of the RabbitMQ driver's options.
pub const RABBIT_GROUP: &str = "oslo_messaging_rabbit";

/// The group of the Kafka driver's options (registered only so that files written for Python parse).
pub const KAFKA_GROUP: &str = "oslo_messaging_kafka";

/// The RabbitMQ options the driver reads from the URL's query: honoured, or refused when turned on.
const RABBIT_URL_OPTS: &[&str] = &[
    "amqp_durable_queues",
    "amqp_auto_delete",
    "ssl",
    "ssl_version",
    "ssl_key_file",
    "ssl_cert_file",
    "ssl_ca_file",
    "kombu_reconnect_delay",
    "kombu_compression",
    "kombu_missing_consumer_retry_timeout",
    "kombu_failover_strategy",
    "rabbit_login_method",
    "rabbit_retry_interval",
    "rabbit_retry_backoff",
    "rabbit_interval_max",
    "rabbit_ha_queues",
    "rabbit_quorum_queue",
    "rabbit_transient_quorum_queue",
    "rabbit_quorum_delivery_limit",
    "rabbit_quorum_max_memory_length",
    "rabbit_quorum_max_memory_bytes",
    "rabbit_transient_queues_ttl",
    "rabbit_qos_prefetch_count",
    "heartbeat_timeout_threshold",
    "heartbeat_rate",
    "enable_cancel_on_failover",
    "use_queue_manager",
    "rabbit_stream_fanout",
];

/// The host name, as Python's `socket.gethostname()` (the default of `hostname`).
fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The program's file name, as Python's `os.path.basename(sys.argv[0])` (the default of `processname`).
fn process_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default()
}

fn default_opts() -> Vec<Opt> {
    vec![
        Opt::integer("executor_thread_pool_size").default(64).deprecated_opt(Some("rpc_thread_pool_size"), None).help("Size of executor thread pool when executor is threading or eventlet."),
        Opt::integer("rpc_response_timeout").default(60).help("Seconds to wait for a response from a call."),
        Opt::string("transport_url").default("rabbit://").secret().help("The network address and optional user credentials for connecting to the messaging backend, in URL format. The expected format is:\n\ndriver://[user:pass@]host:port[,[userN:passN@]hostN:portN]/virtual_host?query\n\nExample: rabbit://rabbitmq:password@127.0.0.1:5672//\n\nFor full details on the fields in the URL see the documentation of oslo_messaging.TransportURL at https://docs.openstack.org/oslo.messaging/latest/reference/transport.html"),
        Opt::string("control_exchange").default("openstack").help("The default exchange under which topics are scoped. May be overridden by an exchange name specified in the transport_url option."),
        Opt::boolean("rpc_ping_enabled").default(false).help("Add an endpoint to answer to ping calls. Endpoint is named oslo_rpc_server_ping"),
    ]
}

fn notification_opts() -> Vec<Opt> {
    vec![
        Opt::multi_string("driver").default(Vec::<String>::new()).help("The Drivers(s) to handle sending notifications. Possible values are messaging, messagingv2, routing, log, test, noop"),
        Opt::string("transport_url").secret().help("A URL representing the messaging driver to use for notifications. If not set, we fall back to the same configuration used for RPC."),
        Opt::list("topics").default(["notifications"]).help("AMQP topic used for OpenStack notifications."),
        Opt::integer("retry").default(-1).help("The maximum number of attempts to re-send a notification message which failed to be delivered due to a recoverable error. 0 - No retry, -1 - indefinite"),
    ]
}

fn rabbit_opts() -> Vec<Opt> {
    vec![
        Opt::boolean("amqp_durable_queues").default(false).help("Use durable queues in AMQP. If rabbit_quorum_queue is enabled, queues will be durable and this value will be ignored."),
        Opt::boolean("amqp_auto_delete").default(false).help("Auto-delete queues in AMQP."),
        Opt::integer("rpc_conn_pool_size").min(1).default(30).help("Size of RPC connection pool."),
        Opt::integer("conn_pool_min_size").default(2).help("The pool size limit for connections expiration policy"),
        Opt::integer("conn_pool_ttl").default(1200).help("The time-to-live in sec of idle connections in the pool"),
        Opt::boolean("ssl").default(false).help("Connect over SSL."),
        Opt::string("ssl_version").default("").help("SSL version to use (valid only if SSL enabled). Valid values are TLSv1 and SSLv23. SSLv2, SSLv3, TLSv1_1, and TLSv1_2 may be available on some distributions."),
        Opt::string("ssl_key_file").default("").help("SSL key file (valid only if SSL enabled)."),
        Opt::string("ssl_cert_file").default("").help("SSL cert file (valid only if SSL enabled)."),
        Opt::string("ssl_ca_file").default("").help("SSL certification authority file (valid only if SSL enabled)."),
        Opt::boolean("ssl_enforce_hostname_verification").default(true).deprecated_for_removal(Some("Verification is always enabled now")).help("When true, verify the broker hostname against the certificate when ``ssl_ca_file`` is set. When false, ``ssl`` with ``ssl_ca_file`` still validates the certificate chain but does not verify the broker hostname. ``ssl=true`` without ``ssl_ca_file`` never enables hostname verification."),
        Opt::boolean("ssl_enforce_fips_mode").default(false).deprecated_for_removal(Some("FIPS_mode_set API was removed in OpenSSL 3.0.0. This option has no effect now.")).help("Global toggle for enforcing the OpenSSL FIPS mode. This feature requires Python support. This is available in Python 3.9 in all environments and may have been backported to older Python versions on select environments. If the Python executable used does not support OpenSSL FIPS mode, an exception will be raised."),
        Opt::new("kombu_reconnect_delay", OptType::Float(FloatType::new().min(0.0).max(4.5))).default(1.0_f64).help("How long to wait (in seconds) before reconnecting in response to an AMQP consumer cancel notification."),
        Opt::new("kombu_reconnect_splay", OptType::Float(FloatType::new().min(0.0))).default(0.0_f64).help("Random time to wait for when reconnecting in response to an AMQP consumer cancel notification."),
        Opt::string("kombu_compression").help("EXPERIMENTAL: Possible values are: gzip, bz2. If not set compression will not be used. This option may not be available in future versions."),
        Opt::integer("kombu_missing_consumer_retry_timeout").default(60).deprecated_opt(Some("kombu_reconnect_timeout"), None).help("How long to wait a missing client before abandoning to send it its replies. This value should not be longer than rpc_response_timeout."),
        Opt::string("kombu_failover_strategy").choices(["round-robin", "shuffle"]).default("round-robin").help("Determines how the next RabbitMQ node is chosen in case the one we are currently connected to becomes unavailable. Takes effect only if more than one RabbitMQ node is provided in config."),
        Opt::string("rabbit_login_method").choices(["PLAIN", "AMQPLAIN", "EXTERNAL", "RABBIT-CR-DEMO"]).default("AMQPLAIN").help("The RabbitMQ login method."),
        Opt::integer("rabbit_retry_interval").min(1).default(1).help("How frequently to retry connecting with RabbitMQ."),
        Opt::integer("rabbit_retry_backoff").min(0).default(2).help("How long to backoff for between retries when connecting to RabbitMQ."),
        Opt::integer("rabbit_interval_max").min(1).default(30).help("Maximum interval of RabbitMQ connection retries."),
        Opt::boolean("rabbit_ha_queues").default(false).help("Try to use HA queues in RabbitMQ (x-ha-policy: all). If you change this option, you must wipe the RabbitMQ database. In RabbitMQ 3.0, queue mirroring is no longer controlled by the x-ha-policy argument when declaring a queue. If you just want to make sure that all queues (except those with auto-generated names) are mirrored across all nodes, run: \"rabbitmqctl set_policy HA '^(?!amq\\.).*' '{\"ha-mode\": \"all\"}' \""),
        Opt::boolean("rabbit_quorum_queue").default(false).help("Use quorum queues in RabbitMQ (x-queue-type: quorum). The quorum queue is a modern queue type for RabbitMQ implementing a durable, replicated FIFO queue based on the Raft consensus algorithm. It is available as of RabbitMQ 3.8.0. If set this option will conflict with the HA queues (``rabbit_ha_queues``) aka mirrored queues, in other words the HA queues should be disabled. Quorum queues are also durable by default so the amqp_durable_queues option is ignored when this option is enabled."),
        Opt::boolean("rabbit_transient_quorum_queue").default(false).help("Use quorum queues for transients queues in RabbitMQ. Enabling this option will then make sure those queues are also using quorum kind of rabbit queues, which are HA by default."),
        Opt::integer("rabbit_quorum_delivery_limit").default(0).help("Each time a message is redelivered to a consumer, a counter is incremented. Once the redelivery count exceeds the delivery limit the message gets dropped or dead-lettered (if a DLX exchange has been configured) Used only when rabbit_quorum_queue is enabled, Default 0 which means dont set a limit."),
        Opt::integer("rabbit_quorum_max_memory_length").default(0).help("By default all messages are maintained in memory if a quorum queue grows in length it can put memory pressure on a cluster. This option can limit the number of messages in the quorum queue. Used only when rabbit_quorum_queue is enabled, Default 0 which means dont set a limit."),
        Opt::integer("rabbit_quorum_max_memory_bytes").default(0).help("By default all messages are maintained in memory if a quorum queue grows in length it can put memory pressure on a cluster. This option can limit the number of memory bytes used by the quorum queue. Used only when rabbit_quorum_queue is enabled, Default 0 which means dont set a limit."),
        Opt::integer("rabbit_transient_queues_ttl").min(0).default(1800).help("Positive integer representing duration in seconds for queue TTL (x-expires). Queues which are unused for the duration of the TTL are automatically deleted. The parameter affects only reply and fanout queues. Setting 0 as value will disable the x-expires. If doing so, make sure you have a rabbitmq policy to delete the queues or you deployment will create an infinite number of queue over time.In case rabbit_stream_fanout is set to True, this option will control data retention policy (x-max-age) for messages in the fanout queue rather then the queue duration itself. So the oldest data in the stream queue will be discarded from it once reaching TTL Setting to 0 will disable x-max-age for stream which make stream grow indefinitely filling up the diskspace"),
        Opt::integer("rabbit_qos_prefetch_count").default(0).help("Specifies the number of messages to prefetch. Setting to zero allows unlimited messages."),
        Opt::integer("heartbeat_timeout_threshold").default(60).help("Number of seconds after which the Rabbit broker is considered down if heartbeat's keep-alive fails (0 disables heartbeat)."),
        Opt::integer("heartbeat_rate").default(3).help("How often times during the heartbeat_timeout_threshold we check the heartbeat."),
        Opt::boolean("direct_mandatory_flag").default(true).deprecated_for_removal(Some("Mandatory flag no longer deactivable.")).help("(DEPRECATED) Enable/Disable the RabbitMQ mandatory flag for direct send. The direct send is used as reply, so the MessageUndeliverable exception is raised in case the client queue does not exist.MessageUndeliverable exception will be used to loop for a timeout to lets a chance to sender to recover.This flag is deprecated and it will not be possible to deactivate this functionality anymore"),
        Opt::boolean("enable_cancel_on_failover").default(false).help("Enable x-cancel-on-ha-failover flag so that rabbitmq server will cancel and notify consumerswhen queue is down"),
        Opt::boolean("use_queue_manager").default(false).help("Should we use consistant queue names or random ones"),
        Opt::string("hostname").default(local_hostname()).sample_default("node1.example.com").help("Hostname used by queue manager. Defaults to the value returned by socket.gethostname()."),
        Opt::string("processname").default(process_name()).sample_default("nova-api").help("Process name used by queue manager"),
        Opt::boolean("rabbit_stream_fanout").default(false).help("Use stream queues in RabbitMQ (x-queue-type: stream). Streams are a new persistent and replicated data structure (\"queue type\") in RabbitMQ which models an append-only log with non-destructive consumer semantics. It is available as of RabbitMQ 3.9.0. If set this option will replace all fanout queues with only one stream queue."),
    ]
}

fn kafka_opts() -> Vec<Opt> {
    vec![
        Opt::integer("kafka_max_fetch_bytes").default(1048576).help("Max fetch bytes of Kafka consumer"),
        Opt::float("kafka_consumer_timeout").default(1.0_f64).help("Default timeout(s) for Kafka consumers"),
        Opt::string("consumer_group").default("oslo_messaging_consumer").help("Group id for Kafka consumer. Consumers in one group will coordinate message consumption"),
        Opt::float("producer_batch_timeout").default(0.0_f64).help("Upper bound on the delay for KafkaProducer batching in seconds"),
        Opt::integer("producer_batch_size").default(16384).help("Size of batch for the producer async send"),
        Opt::string("compression_codec").choices(["none", "gzip", "snappy", "lz4", "zstd"]).default("none").help("The compression codec for all data generated by the producer. If not set, compression will not be used. Note that the allowed values of this depend on the kafka version"),
        Opt::boolean("enable_auto_commit").default(false).help("Enable asynchronous consumer commits"),
        Opt::integer("max_poll_records").default(500).help("The maximum number of records returned in a poll call"),
        Opt::string("security_protocol").choices(["PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"]).default("PLAINTEXT").help("Protocol used to communicate with brokers"),
        Opt::string("sasl_mechanism").default("PLAIN").help("Mechanism when security protocol is SASL"),
        Opt::string("ssl_cafile").default("").help("CA certificate PEM file used to verify the server certificate"),
        Opt::string("ssl_client_cert_file").default("").help("Client certificate PEM file used for authentication."),
        Opt::string("ssl_client_key_file").default("").help("Client key PEM file used for authentication."),
        Opt::string("ssl_client_key_password").default("").help("Client key password file used for authentication."),
    ]
}

/// The options by group, in oslo.messaging's order (`oslo_messaging.opts.list_opts`: what the generator
/// lists for `oslo.messaging`).
pub fn list_opts() -> Vec<(Option<OptGroup>, Vec<Opt>)> {
    vec![
        (None, default_opts()),
        (
            Some(OptGroup::new(NOTIFICATIONS_GROUP)),
            notification_opts(),
        ),
        (Some(OptGroup::new(RABBIT_GROUP)), rabbit_opts()),
        (Some(OptGroup::new(KAFKA_GROUP)), kafka_opts()),
    ]
}

inventory::submit! {
    oslo_config::generator::OptList { namespace: NAMESPACE, list: list_opts }
}

/// `[oslo_messaging_notifications] routing_config`: registered by the original's routing driver when it
/// loads, so not listed by [`list_opts`] (nor by the generator), but registered by [`register_opts`].
fn routing_config_opt() -> Opt {
    Opt::string("routing_config")
        .default("")
        .help("RoutingNotifier configuration file location.")
}

/// Registers every option of [`list_opts`], and `[oslo_messaging_notifications] routing_config`
/// (registering them again is harmless), before or after parsing.
pub fn register_opts(conf: &mut ConfigOpts) -> std::result::Result<(), oslo_config::Error> {
    for (group, opts) in list_opts() {
        let name = group.as_ref().map(|g| g.name().to_owned());
        conf.register_opts(opts, name.as_deref())?;
    }
    conf.register_opts(vec![routing_config_opt()], Some(NOTIFICATIONS_GROUP))
}

/// Registers the options and replaces the default of `executor_thread_pool_size` (oslo's
/// `oslo_messaging.opts.set_defaults(conf, executor_thread_pool_size=...)`).
pub fn set_defaults(
    conf: &mut ConfigOpts,
    executor_thread_pool_size: Option<i64>,
) -> std::result::Result<(), oslo_config::Error> {
    register_opts(conf)?;
    if let Some(size) = executor_thread_pool_size {
        conf.set_default("executor_thread_pool_size", size, None)?;
    }
    Ok(())
}

/// Registers the options and replaces the default of `control_exchange` (oslo's
/// `oslo_messaging.set_transport_defaults(control_exchange)`).
pub fn set_transport_defaults(
    conf: &mut ConfigOpts,
    control_exchange: &str,
) -> std::result::Result<(), oslo_config::Error> {
    register_opts(conf)?;
    conf.set_default("control_exchange", control_exchange, None)
}

fn config_error(e: oslo_config::Error) -> Error {
    Error::Configuration(e.to_string())
}

fn string_opt(conf: &ConfigOpts, name: &str, group: Option<&str>) -> Result<Option<String>> {
    conf.get_str(name, group).map_err(config_error)
}

/// The value as the URL's query carries it (`true`/`false` for booleans).
fn query_text(value: &Value) -> String {
    match value {
        Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// The transport URL the configuration names: `url` when given, else `[DEFAULT] transport_url`
/// (oslo's `TransportURL.parse(conf, url)`); for the RabbitMQ driver, with the
/// `[oslo_messaging_rabbit]` options it honours added to the query (see the module documentation).
pub fn transport_url(conf: &ConfigOpts, url: Option<&str>) -> Result<TransportUrl> {
    let text = match url {
        Some(u) => u.to_owned(),
        None => string_opt(conf, "transport_url", None)?.unwrap_or_else(|| "rabbit://".to_owned()),
    };
    let mut parsed = TransportUrl::parse(&text)?;
    if matches!(parsed.driver(), "rabbit" | "kombu" | "amqp") {
        let defaults: BTreeMap<String, Option<Value>> = rabbit_opts()
            .into_iter()
            .map(|o| (o.name().to_owned(), o.default_value().cloned()))
            .collect();
        for &name in RABBIT_URL_OPTS {
            if parsed.query.contains_key(name) {
                continue;
            }
            let value = conf.get(name, Some(RABBIT_GROUP)).map_err(config_error)?;
            let Some(value) = value else { continue };
            if defaults.get(name).and_then(Option::as_ref) != Some(&value) {
                parsed.query.insert(name.to_owned(), query_text(&value));
            }
        }
    }
    Ok(parsed)
}

fn rpc_response_timeout(conf: &ConfigOpts) -> Result<Duration> {
    let secs = conf
        .get_int("rpc_response_timeout", None)
        .map_err(config_error)?
        .unwrap_or(60);
    let secs = u64::try_from(secs).map_err(|_| {
        Error::Configuration(format!(
            "bad value `{secs}` for option `rpc_response_timeout`"
        ))
    })?;
    Ok(Duration::from_secs(secs))
}

fn build_transport(conf: &ConfigOpts, url: Option<&str>) -> Result<Transport> {
    let url = transport_url(conf, url)?;
    let control_exchange =
        string_opt(conf, "control_exchange", None)?.unwrap_or_else(|| "openstack".to_owned());
    Transport::builder(&url.expose_secret())
        .control_exchange(control_exchange)
        .rpc_response_timeout(rpc_response_timeout(conf)?)
        .build()
}

impl Transport {
    /// A transport built from a parsed [`ConfigOpts`], as oslo's `get_rpc_transport(conf)`:
    /// `[DEFAULT] transport_url` (with the `[oslo_messaging_rabbit]` options, see [`transport_url`]),
    /// `control_exchange` and `rpc_response_timeout`.
    ///
    /// The options must be registered ([`register_opts`]) and the configuration parsed; otherwise the
    /// error is oslo-config's, as [`Error::Configuration`].
    pub fn from_config(conf: &ConfigOpts) -> Result<Transport> {
        build_transport(conf, None)
    }

    /// The transport for notifications, as oslo's `get_notification_transport(conf)`:
    /// `[oslo_messaging_notifications] transport_url` when set, else the RPC transport's URL; the other
    /// options as [`Transport::from_config`].
    pub fn notification_from_config(conf: &ConfigOpts) -> Result<Transport> {
        notification_transport(conf, None)
    }
}

/// The transport for notifications, as oslo's `get_notification_transport(conf, url)`: `url` when given,
/// else `[oslo_messaging_notifications] transport_url`, else `[DEFAULT] transport_url`; the
/// `[oslo_messaging_rabbit]` options apply to each (see the module documentation).
pub fn notification_transport(conf: &ConfigOpts, url: Option<&str>) -> Result<Transport> {
    let configured;
    let url = match url {
        Some(u) => Some(u),
        None => {
            configured = string_opt(conf, "transport_url", Some(NOTIFICATIONS_GROUP))?;
            configured.as_deref()
        }
    };
    build_transport(conf, url)
}

impl Notifier {
    /// A builder set from `[oslo_messaging_notifications]`, as oslo's `Notifier(transport)` reads it:
    /// every `driver` (none: the notifier sends nothing), `topics`, `retry` (negative: retry for
    /// ever), and `routing_config`, the YAML file of the `routing` driver's rules (read by `build` when
    /// the drivers include `routing`).
    pub fn builder_from_config(transport: Transport, conf: &ConfigOpts) -> Result<NotifierBuilder> {
        let drivers = conf
            .get_str_list("driver", Some(NOTIFICATIONS_GROUP))
            .map_err(config_error)?
            .unwrap_or_default();
        let topics = conf
            .get_str_list("topics", Some(NOTIFICATIONS_GROUP))
            .map_err(config_error)?
            .unwrap_or_else(|| vec!["notifications".to_owned()]);
        let retry = conf
            .get_int("retry", Some(NOTIFICATIONS_GROUP))
            .map_err(config_error)?
            .and_then(|r| u32::try_from(r).ok());
        let routing_config = string_opt(conf, "routing_config", Some(NOTIFICATIONS_GROUP))?
            .filter(|f| !f.is_empty());
        let mut builder = Notifier::builder(transport).topics(topics).retry(retry);
        if let Some(file) = routing_config {
            builder = builder.routing_config_path(file);
        }
        for driver in drivers {
            builder = builder.driver(driver);
        }
        Ok(builder)
    }
}
