//! The `[database]` options through oslo-config (the `oslo-config` feature): registered with the names,
//! types, defaults and help of oslo.db 18.1, listed for `oslo-config-generator` under the `oslo.db`
//! namespace, and read back into [`DatabaseOptions`].
//!
//! ```
//! use oslo_config::{ConfigOpts, ParseArgs};
//! use oslo_db::{DatabaseOptions, config};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("api.conf");
//! std::fs::write(&file, "[database]\nconnection = sqlite://\nmax_pool_size = 10\n")?;
//!
//! let mut conf = ConfigOpts::new();
//! config::set_defaults(&mut conf, &config::Defaults::new().max_overflow(20))?;
//! conf.parse(ParseArgs::new(["--config-file", file.to_str().unwrap()]).use_env(false))?;
//!
//! let options = DatabaseOptions::from_config(&conf)?;
//! assert_eq!(options.connection.as_deref(), Some("sqlite://"));
//! assert_eq!((options.max_pool_size, options.max_overflow), (10, 20));
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use oslo_config::{ConfigOpts, Opt, OptGroup};

use crate::error::Error;
use crate::options::DatabaseOptions;
use crate::url::mask_password;

/// The group the options live in.
pub const GROUP: &str = "database";

/// The namespace `oslo-config-generator --namespace` knows these options by.
pub const NAMESPACE: &str = "oslo.db";

/// The options of `[database]`, in oslo.db's order.
///
/// oslo.db 18.1 declares no deprecated names for them (the old `sql_connection` in `[DEFAULT]` and the
/// `[sql]` group were dropped years ago), so none are read here either. `backend`,
/// `asyncio_connection`, `asyncio_slave_connection` and `connection_trace` are registered so that
/// files written for Python parse and the generator lists them, but nothing here uses them.
pub fn opts() -> Vec<Opt> {
    vec![
        Opt::boolean("sqlite_synchronous")
            .default(true)
            .help("If True, SQLite uses synchronous mode."),
        Opt::string("backend")
            .default("sqlalchemy")
            .help("The back end to use for the database."),
        Opt::string("connection")
            .secret()
            .help("The SQLAlchemy connection string to use to connect to the database."),
        Opt::string("slave_connection")
            .secret()
            .help("The SQLAlchemy connection string to use to connect to the slave database."),
        Opt::string("asyncio_connection")
            .secret()
            .help("The SQLAlchemy asyncio connection string to use to connect to the database."),
        Opt::string("asyncio_slave_connection").secret().help(
            "The SQLAlchemy asyncio connection string to use to connect to the slave database.",
        ),
        Opt::boolean("synchronous_reader").default(true).help(
            "Whether or not to assume a reader context needs to guarantee it can read data \
             committed by a writer assuming replication lag is present; defaults to True. When \
             False, a reader context works the same as async_reader and will select the slave \
             database if present. When using a galera cluster, this can be set to False only if you \
             set mysql_wsrep_sync_wait to 1 (this will guarantee that the reader will wait until \
             writesets are committed).Note that this may incur a performance degradation within the \
             galera cluster. Note also that this parameter has no effect if you do not set any \
             slave_connection.",
        ),
        Opt::string("mysql_sql_mode").default("TRADITIONAL").help(
            "The SQL mode to be used for MySQL sessions. This option, including the default, \
             overrides any server-set SQL mode. To use whatever SQL mode is set by the server \
             configuration, set this to no value. Example: mysql_sql_mode=",
        ),
        Opt::integer("mysql_wsrep_sync_wait").help(
            "For Galera only, configure wsrep_sync_wait causality checks on new connections.  \
             Default is None, meaning don't configure any setting.",
        ),
        Opt::integer("connection_recycle_time").default(3600).help(
            "Connections which have been present in the connection pool longer than this number of \
             seconds will be replaced with a new one the next time they are checked out from the \
             pool.",
        ),
        Opt::integer("max_pool_size").default(5).help(
            "Maximum number of SQL connections to keep open in a pool. Setting a value of 0 \
             indicates no limit.",
        ),
        Opt::integer("max_retries").default(10).help(
            "Maximum number of database connection retries during startup. Set to -1 to specify an \
             infinite retry count.",
        ),
        Opt::integer("retry_interval")
            .default(10)
            .help("Interval between retries of opening a SQL connection."),
        Opt::integer("max_overflow")
            .default(50)
            .help("If set, use this value for max_overflow with SQLAlchemy."),
        Opt::integer("connection_debug")
            .default(0)
            .min(0)
            .max(100)
            .help("Verbosity of SQL debugging information: 0=None, 100=Everything."),
        Opt::boolean("connection_trace")
            .default(false)
            .help("Add Python stack traces to SQL as comment strings."),
        Opt::integer("pool_timeout")
            .help("If set, use this value for pool_timeout with SQLAlchemy."),
        Opt::boolean("use_db_reconnect")
            .default(false)
            .help("Enable the experimental use of database reconnect on connection lost."),
        Opt::integer("db_retry_interval")
            .default(1)
            .help("Seconds between retries of a database transaction."),
        Opt::boolean("db_inc_retry_interval").default(true).help(
            "If True, increases the interval between retries of a database operation up to \
             db_max_retry_interval.",
        ),
        Opt::integer("db_max_retry_interval").default(10).help(
            "If db_inc_retry_interval is set, the maximum seconds between retries of a database \
             operation.",
        ),
        Opt::integer("db_max_retries").default(20).help(
            "Maximum retries in case of connection error or deadlock error before error is raised. \
             Set to -1 to specify an infinite retry count.",
        ),
        Opt::string("connection_parameters").default("").help(
            "Optional URL parameters to append onto the connection URL at connect time; specify as \
             param1=value1&param2=value2&...",
        ),
    ]
}

/// The options by group, as oslo.db's `list_opts` (what the generator lists for `oslo.db`).
pub fn list_opts() -> Vec<(Option<OptGroup>, Vec<Opt>)> {
    vec![(Some(OptGroup::new(GROUP)), opts())]
}

inventory::submit! {
    oslo_config::generator::OptList { namespace: NAMESPACE, list: list_opts }
}

/// Registers the `[database]` options (registering them again is harmless), before or after parsing.
pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), oslo_config::Error> {
    conf.register_opts(opts(), Some(GROUP))
}

/// The defaults a service may replace (oslo.db's `options.set_defaults` keyword arguments).
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Defaults {
    /// `connection`, e.g. `sqlite:///$state_path/nova.sqlite`.
    pub connection: Option<String>,
    /// `max_pool_size`.
    pub max_pool_size: Option<i64>,
    /// `max_overflow`.
    pub max_overflow: Option<i64>,
    /// `pool_timeout`, in seconds.
    pub pool_timeout: Option<i64>,
}

impl Defaults {
    /// Nothing replaced.
    pub fn new() -> Self {
        Defaults::default()
    }

    /// Replaces the default `connection`.
    #[must_use]
    pub fn connection(mut self, url: impl Into<String>) -> Self {
        self.connection = Some(url.into());
        self
    }

    /// Replaces the default `max_pool_size`.
    #[must_use]
    pub fn max_pool_size(mut self, size: i64) -> Self {
        self.max_pool_size = Some(size);
        self
    }

    /// Replaces the default `max_overflow`.
    #[must_use]
    pub fn max_overflow(mut self, size: i64) -> Self {
        self.max_overflow = Some(size);
        self
    }

    /// Replaces the default `pool_timeout` (seconds).
    #[must_use]
    pub fn pool_timeout(mut self, secs: i64) -> Self {
        self.pool_timeout = Some(secs);
        self
    }
}

impl fmt::Debug for Defaults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Defaults")
            .field("connection", &self.connection.as_deref().map(mask_password))
            .field("max_pool_size", &self.max_pool_size)
            .field("max_overflow", &self.max_overflow)
            .field("pool_timeout", &self.pool_timeout)
            .finish()
    }
}

/// Registers the options and replaces the given defaults (oslo.db's `options.set_defaults`).
pub fn set_defaults(conf: &mut ConfigOpts, defaults: &Defaults) -> Result<(), oslo_config::Error> {
    register_opts(conf)?;
    if let Some(url) = &defaults.connection {
        conf.set_default("connection", url.as_str(), Some(GROUP))?;
    }
    for (name, value) in [
        ("max_pool_size", defaults.max_pool_size),
        ("max_overflow", defaults.max_overflow),
        ("pool_timeout", defaults.pool_timeout),
    ] {
        if let Some(v) = value {
            conf.set_default(name, v, Some(GROUP))?;
        }
    }
    Ok(())
}

fn config_error(e: &oslo_config::Error) -> Error {
    Error::Config(e.to_string())
}

struct Reader<'a>(&'a ConfigOpts);

impl Reader<'_> {
    fn string(&self, name: &str) -> Result<Option<String>, Error> {
        self.0
            .get_str(name, Some(GROUP))
            .map_err(|e| config_error(&e))
    }

    fn int(&self, name: &str) -> Result<Option<i64>, Error> {
        self.0
            .get_int(name, Some(GROUP))
            .map_err(|e| config_error(&e))
    }

    fn boolean(&self, name: &str, default: bool) -> Result<bool, Error> {
        Ok(self
            .0
            .get_bool(name, Some(GROUP))
            .map_err(|e| config_error(&e))?
            .unwrap_or(default))
    }

    /// A count or a number of seconds that may not be negative.
    fn natural(&self, name: &str) -> Result<Option<u64>, Error> {
        self.int(name)?
            .map(|v| {
                u64::try_from(v).map_err(|_| {
                    Error::Config(format!("`[{GROUP}] {name}` may not be negative, got `{v}`"))
                })
            })
            .transpose()
    }

    fn secs(&self, name: &str) -> Result<Option<Duration>, Error> {
        Ok(self.natural(name)?.map(Duration::from_secs))
    }

    fn retries(&self, name: &str) -> Result<Option<i32>, Error> {
        self.int(name)?
            .map(|v| {
                // Any count beyond i32 is as good as forever.
                Ok(i32::try_from(v).unwrap_or(if v < 0 { -1 } else { i32::MAX }))
            })
            .transpose()
    }
}

impl DatabaseOptions {
    /// The `[database]` options of a parsed [`ConfigOpts`] (registered with [`register_opts`] or
    /// [`set_defaults`]).
    ///
    /// Unset `pool_timeout` keeps SQLAlchemy's 30 s; a negative `connection_recycle_time` (SQLAlchemy's
    /// "never") turns recycling off; a negative `max_overflow` (SQLAlchemy's "no limit") allows any
    /// number of extra connections; a negative pool size or interval is [`Error::Config`], as is a
    /// value oslo-config refuses (an error that names the option, its source and why). The options
    /// that are not oslo.db's (`sqlite_fk`, the SQLite busy timeout, `pool_pre_ping_after`) keep their
    /// defaults: set them on the result.
    pub fn from_config(conf: &ConfigOpts) -> Result<DatabaseOptions, Error> {
        let r = Reader(conf);
        let d = DatabaseOptions::default();
        let max_pool_size = match r.natural("max_pool_size")? {
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
            None => d.max_pool_size,
        };
        let max_overflow = match r.int("max_overflow")? {
            Some(n) if n < 0 => u32::MAX,
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
            None => d.max_overflow,
        };
        let connection_recycle_time = match r.int("connection_recycle_time")? {
            Some(n) => Duration::from_secs(u64::try_from(n).unwrap_or(0)),
            None => d.connection_recycle_time,
        };
        let connection_debug = match r.int("connection_debug")? {
            // The option's bounds are 0..=100, so this only guards against a bypassed check.
            Some(n) => u8::try_from(n.clamp(0, 100)).unwrap_or(100),
            None => d.connection_debug,
        };
        Ok(DatabaseOptions {
            connection: r.string("connection")?,
            slave_connection: r.string("slave_connection")?,
            synchronous_reader: r.boolean("synchronous_reader", d.synchronous_reader)?,
            sqlite_synchronous: r.boolean("sqlite_synchronous", d.sqlite_synchronous)?,
            mysql_sql_mode: r.string("mysql_sql_mode")?.unwrap_or_default(),
            mysql_wsrep_sync_wait: r.int("mysql_wsrep_sync_wait")?,
            connection_recycle_time,
            max_pool_size,
            max_overflow,
            pool_timeout: r.secs("pool_timeout")?.unwrap_or(d.pool_timeout),
            max_retries: r.retries("max_retries")?.unwrap_or(d.max_retries),
            retry_interval: r.secs("retry_interval")?.unwrap_or(d.retry_interval),
            connection_debug,
            use_db_reconnect: r.boolean("use_db_reconnect", d.use_db_reconnect)?,
            db_retry_interval: r.secs("db_retry_interval")?.unwrap_or(d.db_retry_interval),
            db_inc_retry_interval: r.boolean("db_inc_retry_interval", d.db_inc_retry_interval)?,
            db_max_retry_interval: r
                .secs("db_max_retry_interval")?
                .unwrap_or(d.db_max_retry_interval),
            db_max_retries: r.retries("db_max_retries")?.unwrap_or(d.db_max_retries),
            connection_parameters: r.string("connection_parameters")?.unwrap_or_default(),
            ..d
        })
    }
}
