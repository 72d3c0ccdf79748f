//! The `[oslo_messaging_rabbit]` options this driver honours, set from the URL's query parameters.

use std::time::Duration;

use crate::{Error, Result, TransportUrl};

/// `rabbit_login_method`: the SASL mechanism of the AMQP login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginMethod {
    /// `AMQPLAIN`, the default.
    AmqPlain,
    /// `PLAIN`.
    Plain,
    /// `EXTERNAL`: the broker takes the user from the TLS client certificate.
    External,
}

/// The RabbitMQ driver's options, with the original's defaults.
#[derive(Debug, Clone)]
pub(crate) struct RabbitOptions {
    pub(crate) heartbeat_timeout_threshold: u16,
    pub(crate) heartbeat_rate: u32,
    pub(crate) rabbit_retry_interval: f64,
    pub(crate) rabbit_retry_backoff: f64,
    pub(crate) rabbit_interval_max: f64,
    pub(crate) kombu_reconnect_delay: f64,
    pub(crate) kombu_missing_consumer_retry_timeout: f64,
    pub(crate) kombu_failover_strategy_shuffle: bool,
    pub(crate) amqp_durable_queues: bool,
    pub(crate) amqp_auto_delete: bool,
    pub(crate) rabbit_transient_queues_ttl: u32,
    pub(crate) rabbit_qos_prefetch_count: u16,
    pub(crate) rabbit_ha_queues: bool,
    pub(crate) rabbit_quorum_queue: bool,
    pub(crate) rabbit_transient_quorum_queue: bool,
    pub(crate) rabbit_quorum_delivery_limit: u32,
    pub(crate) rabbit_quorum_max_memory_length: u32,
    pub(crate) rabbit_quorum_max_memory_bytes: u32,
    pub(crate) enable_cancel_on_failover: bool,
    pub(crate) login: LoginMethod,
    /// `ssl`, or a `kombu+amqps` URL.
    pub(crate) ssl: bool,
    pub(crate) ssl_version: String,
    pub(crate) ssl_key_file: String,
    pub(crate) ssl_cert_file: String,
    pub(crate) ssl_ca_file: String,
    /// The URL's scheme is `kombu+amqps`: TLS with the defaults even when `ssl` is off (kombu's
    /// `SSLTransport`), and then without the `ssl_*` files.
    pub(crate) amqps: bool,
}

impl Default for RabbitOptions {
    fn default() -> Self {
        RabbitOptions {
            heartbeat_timeout_threshold: 60,
            heartbeat_rate: 3,
            rabbit_retry_interval: 1.0,
            rabbit_retry_backoff: 2.0,
            rabbit_interval_max: 30.0,
            kombu_reconnect_delay: 1.0,
            kombu_missing_consumer_retry_timeout: 60.0,
            kombu_failover_strategy_shuffle: false,
            amqp_durable_queues: false,
            amqp_auto_delete: false,
            rabbit_transient_queues_ttl: 1800,
            rabbit_qos_prefetch_count: 0,
            rabbit_ha_queues: false,
            rabbit_quorum_queue: false,
            rabbit_transient_quorum_queue: false,
            rabbit_quorum_delivery_limit: 0,
            rabbit_quorum_max_memory_length: 0,
            rabbit_quorum_max_memory_bytes: 0,
            enable_cancel_on_failover: false,
            login: LoginMethod::AmqPlain,
            ssl: false,
            ssl_version: String::new(),
            ssl_key_file: String::new(),
            ssl_cert_file: String::new(),
            ssl_ca_file: String::new(),
            amqps: false,
        }
    }
}

fn parse<T: std::str::FromStr>(key: &str, v: &str) -> Result<T> {
    v.trim()
        .parse()
        .map_err(|_| Error::Configuration(format!("bad value `{v}` for option `{key}`")))
}

fn boolean(key: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(Error::Configuration(format!(
            "bad value `{v}` for boolean option `{key}`"
        ))),
    }
}

impl RabbitOptions {
    /// The defaults, overridden by the URL's query parameters. An unknown parameter is an error, as in the
    /// original.
    pub(crate) fn from_url(url: &TransportUrl) -> Result<Self> {
        let mut o = RabbitOptions {
            amqps: url.transport.eq_ignore_ascii_case("kombu+amqps"),
            ..RabbitOptions::default()
        };
        for (k, v) in &url.query {
            match k.as_str() {
                "heartbeat_timeout_threshold" => o.heartbeat_timeout_threshold = parse(k, v)?,
                "heartbeat_rate" => o.heartbeat_rate = parse(k, v)?,
                "rabbit_retry_interval" => o.rabbit_retry_interval = parse(k, v)?,
                "rabbit_retry_backoff" => o.rabbit_retry_backoff = parse(k, v)?,
                "rabbit_interval_max" => o.rabbit_interval_max = parse(k, v)?,
                "kombu_reconnect_delay" => o.kombu_reconnect_delay = parse(k, v)?,
                "kombu_missing_consumer_retry_timeout" => {
                    o.kombu_missing_consumer_retry_timeout = parse(k, v)?
                }
                "kombu_failover_strategy" => {
                    o.kombu_failover_strategy_shuffle = match v.as_str() {
                        "round-robin" => false,
                        "shuffle" => true,
                        _ => {
                            return Err(Error::Configuration(format!(
                                "bad value `{v}` for option `{k}`"
                            )));
                        }
                    }
                }
                "amqp_durable_queues" => o.amqp_durable_queues = boolean(k, v)?,
                "amqp_auto_delete" => o.amqp_auto_delete = boolean(k, v)?,
                "rabbit_transient_queues_ttl" => o.rabbit_transient_queues_ttl = parse(k, v)?,
                "rabbit_qos_prefetch_count" => o.rabbit_qos_prefetch_count = parse(k, v)?,
                "rabbit_ha_queues" => o.rabbit_ha_queues = boolean(k, v)?,
                "rabbit_quorum_queue" => o.rabbit_quorum_queue = boolean(k, v)?,
                "rabbit_transient_quorum_queue" => o.rabbit_transient_quorum_queue = boolean(k, v)?,
                "rabbit_quorum_delivery_limit" => o.rabbit_quorum_delivery_limit = parse(k, v)?,
                "rabbit_quorum_max_memory_length" => {
                    o.rabbit_quorum_max_memory_length = parse(k, v)?
                }
                "rabbit_quorum_max_memory_bytes" => o.rabbit_quorum_max_memory_bytes = parse(k, v)?,
                "enable_cancel_on_failover" => o.enable_cancel_on_failover = boolean(k, v)?,
                "rabbit_login_method" => {
                    o.login = match v.as_str() {
                        "AMQPLAIN" => LoginMethod::AmqPlain,
                        "PLAIN" => LoginMethod::Plain,
                        "EXTERNAL" => LoginMethod::External,
                        _ => {
                            return Err(Error::Configuration(format!(
                                "unsupported `rabbit_login_method` `{v}` (PLAIN, AMQPLAIN and EXTERNAL are)"
                            )));
                        }
                    }
                }
                "ssl" => o.ssl = boolean(k, v)?,
                "ssl_version" => o.ssl_version = v.clone(),
                "ssl_key_file" => o.ssl_key_file = v.clone(),
                "ssl_cert_file" => o.ssl_cert_file = v.clone(),
                "ssl_ca_file" => o.ssl_ca_file = v.clone(),
                // Deprecated in the original and read by nothing there.
                "ssl_enforce_hostname_verification" | "ssl_enforce_fips_mode" => {
                    boolean(k, v)?;
                }
                "rabbit_stream_fanout" | "use_queue_manager" | "kombu_compression" => {
                    return Err(Error::Configuration(format!(
                        "option `{k}` is not supported by this driver"
                    )));
                }
                // Accepted for compatibility; they have no effect on this driver.
                "rpc_conn_pool_size"
                | "conn_pool_min_size"
                | "conn_pool_ttl"
                | "direct_mandatory_flag"
                | "kombu_reconnect_splay"
                | "hostname"
                | "processname" => {}
                _ => {
                    return Err(Error::Configuration(format!(
                        "no such option `{k}` in group [oslo_messaging_rabbit]"
                    )));
                }
            }
        }
        if o.login == LoginMethod::External && !o.ssl && !o.amqps {
            return Err(Error::Configuration(
                "`rabbit_login_method` `EXTERNAL` logs in with the TLS client certificate: it needs `ssl`"
                    .into(),
            ));
        }
        // A `kombu+amqps` URL without `ssl` takes no `ssl_*` option, so no client certificate either.
        if o.login == LoginMethod::External && (!o.ssl || o.ssl_cert_file.is_empty()) {
            return Err(Error::Configuration(
                "`rabbit_login_method` `EXTERNAL` logs in with the TLS client certificate: it needs `ssl` and `ssl_cert_file`"
                    .into(),
            ));
        }
        if o.rabbit_quorum_queue && o.rabbit_ha_queues {
            return Err(Error::Configuration(
                "`rabbit_quorum_queue` and `rabbit_ha_queues` cannot be used together".into(),
            ));
        }
        Ok(o)
    }

    /// The delay before retry number `attempt` (0-based): interval, growing by the backoff, capped, plus
    /// the reconnect delay.
    pub(crate) fn retry_delay(&self, attempt: u32) -> Duration {
        let d = self.rabbit_retry_interval + self.rabbit_retry_backoff * f64::from(attempt);
        Duration::from_secs_f64(
            d.min(self.rabbit_interval_max).max(0.0) + self.kombu_reconnect_delay.max(0.0),
        )
    }
}
