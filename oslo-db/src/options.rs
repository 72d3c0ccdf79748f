//! The `[database]` options, as a plain struct with oslo.db's defaults and chainable setters.

use std::fmt;
use std::time::Duration;

use crate::url::mask_password;

/// The options of oslo.db's `[database]` group, with the same names and defaults.
///
/// Build with [`DatabaseOptions::new`] and the chainable setters, or change the public fields. The
/// connection URLs are secrets: `Debug` masks their passwords.
///
/// ```
/// use std::time::Duration;
/// use oslo_db::DatabaseOptions;
///
/// let opts = DatabaseOptions::new("mysql+pymysql://nova:secret@db/nova")
///     .max_pool_size(10)
///     .pool_timeout(Duration::from_secs(5));
/// assert_eq!(opts.max_overflow, 50);
/// assert!(!format!("{opts:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct DatabaseOptions {
    /// `connection`: the URL of the database (SQLAlchemy spelling accepted).
    pub connection: Option<String>,
    /// `slave_connection`: a read replica used by async readers (and readers when
    /// `synchronous_reader` is false).
    pub slave_connection: Option<String>,
    /// `synchronous_reader`: readers use the writer's database (default true).
    pub synchronous_reader: bool,
    /// `sqlite_synchronous`: false sends `PRAGMA synchronous = OFF` (default true).
    pub sqlite_synchronous: bool,
    /// `sqlite_fk` (an engine argument in oslo.db): `PRAGMA foreign_keys = ON` (default false).
    pub sqlite_fk: bool,
    /// How long a SQLite connection waits on a locked database (Python's sqlite3 default: 5 s).
    pub sqlite_busy_timeout: Duration,
    /// `mysql_sql_mode`: the session `sql_mode` (default `TRADITIONAL`; empty keeps the server's).
    pub mysql_sql_mode: String,
    /// `mysql_wsrep_sync_wait`: Galera `wsrep_sync_wait` for the session.
    pub mysql_wsrep_sync_wait: Option<i64>,
    /// `connection_recycle_time`: connections older than this are replaced (default 3600 s).
    pub connection_recycle_time: Duration,
    /// `max_pool_size`: connections kept open in the pool (default 5).
    pub max_pool_size: u32,
    /// `max_overflow`: extra connections opened under load and closed when returned (default 50).
    pub max_overflow: u32,
    /// `pool_timeout`: how long a checkout waits for a free connection (SQLAlchemy's default 30 s).
    pub pool_timeout: Duration,
    /// A pooled connection idle at least this long is pinged before use, and replaced if the ping
    /// fails (default 1 s; zero pings at every checkout, as SQLAlchemy's `pool_pre_ping`). SQLite
    /// connections are never pinged.
    pub pool_pre_ping_after: Duration,
    /// `max_retries`: connection attempts at start; -1 tries forever, 0 does not test (default 10).
    pub max_retries: i32,
    /// `retry_interval`: between start-up connection attempts (default 10 s).
    pub retry_interval: Duration,
    /// `connection_debug`: 0..100; 50 or more logs every statement at INFO, 100 at DEBUG.
    pub connection_debug: u8,
    /// `use_db_reconnect`: [`crate::RetryPolicy::from_options`] retries on lost connections.
    pub use_db_reconnect: bool,
    /// `db_retry_interval` (default 1 s).
    pub db_retry_interval: Duration,
    /// `db_inc_retry_interval`: double the interval after each retry (default true).
    pub db_inc_retry_interval: bool,
    /// `db_max_retry_interval`: the cap of the doubling (default 10 s).
    pub db_max_retry_interval: Duration,
    /// `db_max_retries` (default 20; as in oslo.db, 0 or less means no retry).
    pub db_max_retries: i32,
    /// `connection_parameters`: `a=1&b=2` appended to the URL's query string.
    pub connection_parameters: String,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        DatabaseOptions {
            connection: None,
            slave_connection: None,
            synchronous_reader: true,
            sqlite_synchronous: true,
            sqlite_fk: false,
            sqlite_busy_timeout: Duration::from_secs(5),
            mysql_sql_mode: "TRADITIONAL".to_string(),
            mysql_wsrep_sync_wait: None,
            connection_recycle_time: Duration::from_secs(3600),
            max_pool_size: 5,
            max_overflow: 50,
            pool_timeout: Duration::from_secs(30),
            pool_pre_ping_after: Duration::from_secs(1),
            max_retries: 10,
            retry_interval: Duration::from_secs(10),
            connection_debug: 0,
            use_db_reconnect: false,
            db_retry_interval: Duration::from_secs(1),
            db_inc_retry_interval: true,
            db_max_retry_interval: Duration::from_secs(10),
            db_max_retries: 20,
            connection_parameters: String::new(),
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, value: $ty) -> Self {
                self.$name = value;
                self
            }
        )*
    };
}

impl DatabaseOptions {
    /// The defaults with `connection` set.
    pub fn new(connection: impl Into<String>) -> Self {
        DatabaseOptions {
            connection: Some(connection.into()),
            ..DatabaseOptions::default()
        }
    }

    /// Sets `slave_connection`.
    #[must_use]
    pub fn slave_connection(mut self, url: impl Into<String>) -> Self {
        self.slave_connection = Some(url.into());
        self
    }

    /// Sets `mysql_sql_mode`.
    #[must_use]
    pub fn mysql_sql_mode(mut self, mode: impl Into<String>) -> Self {
        self.mysql_sql_mode = mode.into();
        self
    }

    /// Sets `mysql_wsrep_sync_wait`.
    #[must_use]
    pub fn mysql_wsrep_sync_wait(mut self, value: i64) -> Self {
        self.mysql_wsrep_sync_wait = Some(value);
        self
    }

    /// Sets `connection_parameters`.
    #[must_use]
    pub fn connection_parameters(mut self, params: impl Into<String>) -> Self {
        self.connection_parameters = params.into();
        self
    }

    setters! {
        /// Sets `synchronous_reader`.
        synchronous_reader: bool;
        /// Sets `sqlite_synchronous`.
        sqlite_synchronous: bool;
        /// Sets `sqlite_fk`.
        sqlite_fk: bool;
        /// Sets the SQLite busy timeout.
        sqlite_busy_timeout: Duration;
        /// Sets `connection_recycle_time`.
        connection_recycle_time: Duration;
        /// Sets `max_pool_size`.
        max_pool_size: u32;
        /// Sets `max_overflow`.
        max_overflow: u32;
        /// Sets `pool_timeout`.
        pool_timeout: Duration;
        /// Sets how long a connection may sit idle before it is pinged at checkout.
        pool_pre_ping_after: Duration;
        /// Sets `max_retries` (start-up connection attempts).
        max_retries: i32;
        /// Sets `retry_interval` (between start-up connection attempts).
        retry_interval: Duration;
        /// Sets `connection_debug`.
        connection_debug: u8;
        /// Sets `use_db_reconnect`.
        use_db_reconnect: bool;
        /// Sets `db_retry_interval`.
        db_retry_interval: Duration;
        /// Sets `db_inc_retry_interval`.
        db_inc_retry_interval: bool;
        /// Sets `db_max_retry_interval`.
        db_max_retry_interval: Duration;
        /// Sets `db_max_retries`.
        db_max_retries: i32;
    }
}

impl fmt::Debug for DatabaseOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |u: &Option<String>| u.as_deref().map(mask_password);
        f.debug_struct("DatabaseOptions")
            .field("connection", &masked(&self.connection))
            .field("slave_connection", &masked(&self.slave_connection))
            .field("synchronous_reader", &self.synchronous_reader)
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .field("sqlite_fk", &self.sqlite_fk)
            .field("sqlite_busy_timeout", &self.sqlite_busy_timeout)
            .field("mysql_sql_mode", &self.mysql_sql_mode)
            .field("mysql_wsrep_sync_wait", &self.mysql_wsrep_sync_wait)
            .field("connection_recycle_time", &self.connection_recycle_time)
            .field("max_pool_size", &self.max_pool_size)
            .field("max_overflow", &self.max_overflow)
            .field("pool_timeout", &self.pool_timeout)
            .field("pool_pre_ping_after", &self.pool_pre_ping_after)
            .field("max_retries", &self.max_retries)
            .field("retry_interval", &self.retry_interval)
            .field("connection_debug", &self.connection_debug)
            .field("use_db_reconnect", &self.use_db_reconnect)
            .field("db_retry_interval", &self.db_retry_interval)
            .field("db_inc_retry_interval", &self.db_inc_retry_interval)
            .field("db_max_retry_interval", &self.db_max_retry_interval)
            .field("db_max_retries", &self.db_max_retries)
            .field("connection_parameters", &self.connection_parameters)
            .finish()
    }
}
