//! What the facade needs of each diesel connection type: how to open one with oslo.db's session
//! settings, and how to tell that it still works.

use diesel::connection::{
    AnsiTransactionManager, Connection, InstrumentationEvent, SimpleConnection,
};

use crate::error::Error;
use crate::options::DatabaseOptions;
use crate::url::{BackendKind, DbUrl};

/// A diesel connection the facade can pool: `diesel::SqliteConnection` (feature `sqlite`),
/// `diesel::PgConnection` (`postgres`) and `diesel::MysqlConnection` (`mysql`).
pub trait DbConnection:
    Connection<TransactionManager = AnsiTransactionManager> + Send + Sized + 'static
{
    /// The engine of this connection type.
    const BACKEND: BackendKind;

    /// Opens a connection and applies the session settings of the options.
    fn open(url: &DbUrl, options: &DatabaseOptions) -> Result<Self, Error>;

    /// A round trip to the server: false when the connection no longer works.
    fn ping(&mut self) -> bool {
        SimpleConnection::batch_execute(self, "SELECT 1").is_ok()
    }

    /// The tables of the current database (for the schema check).
    #[doc(hidden)]
    fn table_names(&mut self) -> Result<Vec<String>, Error>;

    /// The columns of `table` with their nullability (for the schema check).
    #[doc(hidden)]
    fn table_columns(&mut self, table: &str) -> Result<Vec<(String, bool)>, Error>;
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
#[derive(diesel::QueryableByName)]
struct NameRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
#[derive(diesel::QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    nullable: i32,
}

/// A table name as an SQL string literal.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn literal(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
macro_rules! reflect {
    ($tables:expr, $columns:expr) => {
        fn table_names(&mut self) -> Result<Vec<String>, Error> {
            use diesel::RunQueryDsl;
            let rows: Vec<NameRow> = diesel::sql_query($tables).load(self)?;
            Ok(rows.into_iter().map(|r| r.name).collect())
        }

        fn table_columns(&mut self, table: &str) -> Result<Vec<(String, bool)>, Error> {
            use diesel::RunQueryDsl;
            let sql = format!($columns, literal(table));
            let rows: Vec<ColumnRow> = diesel::sql_query(sql).load(self)?;
            Ok(rows
                .into_iter()
                .map(|r| (r.name, r.nullable != 0))
                .collect())
        }
    };
}

fn establish<C: Connection>(url: &DbUrl) -> Result<C, Error> {
    C::establish(url.diesel_url()).map_err(|e| match Error::from(e) {
        Error::InvalidUrl { reason, .. } => Error::InvalidUrl {
            url: url.to_string(),
            reason,
        },
        // SQLite cannot create the file (its directory is missing): oslo.db's DBNonExistentDatabase.
        Error::Connection { message }
            if url.backend() == BackendKind::Sqlite
                && message.to_ascii_lowercase().contains("unable to open") =>
        {
            Error::NonExistentDatabase {
                database: url.database().unwrap_or_default(),
            }
        }
        other => other,
    })
}

/// `connection_debug`: 50 or more logs each statement at INFO, 100 at DEBUG (as oslo.db sets the
/// `sqlalchemy.engine` logger).
fn instrument<C: Connection>(conn: &mut C, options: &DatabaseOptions) {
    let level = options.connection_debug;
    if level < 50 {
        return;
    }
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            if level >= 100 {
                tracing::debug!(target: "oslo_db::sql", sql = %query, "db.query");
            } else {
                tracing::info!(target: "oslo_db::sql", sql = %query, "db.query");
            }
        }
    });
}

fn check_backend(url: &DbUrl, expected: BackendKind) -> Result<(), Error> {
    if url.backend() == expected {
        Ok(())
    } else {
        Err(Error::InvalidUrl {
            url: url.to_string(),
            reason: format!("this facade speaks {expected}, not {}", url.backend()),
        })
    }
}

#[cfg(feature = "sqlite")]
impl DbConnection for diesel::SqliteConnection {
    const BACKEND: BackendKind = BackendKind::Sqlite;

    fn open(url: &DbUrl, options: &DatabaseOptions) -> Result<Self, Error> {
        check_backend(url, Self::BACKEND)?;
        let mut conn: Self = establish(url)?;
        let mut pragmas = format!(
            "PRAGMA busy_timeout = {};",
            options.sqlite_busy_timeout.as_millis()
        );
        if !options.sqlite_synchronous {
            pragmas.push_str("PRAGMA synchronous = OFF;");
        }
        // diesel turns foreign keys on at connect; oslo.db leaves them off unless `sqlite_fk`.
        pragmas.push_str(if options.sqlite_fk {
            "PRAGMA foreign_keys = ON;"
        } else {
            "PRAGMA foreign_keys = OFF;"
        });
        conn.batch_execute(&pragmas)?;
        instrument(&mut conn, options);
        Ok(conn)
    }

    /// An embedded database does not go away.
    fn ping(&mut self) -> bool {
        true
    }

    reflect!(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        "SELECT name, CASE WHEN \"notnull\" = 0 AND pk = 0 THEN 1 ELSE 0 END AS nullable FROM pragma_table_info({})"
    );
}

#[cfg(feature = "postgres")]
impl DbConnection for diesel::PgConnection {
    const BACKEND: BackendKind = BackendKind::Postgres;

    fn open(url: &DbUrl, options: &DatabaseOptions) -> Result<Self, Error> {
        check_backend(url, Self::BACKEND)?;
        // diesel already sets `client_encoding` to UTF8, as oslo.db asks.
        let mut conn: Self = establish(url)?;
        instrument(&mut conn, options);
        Ok(conn)
    }

    reflect!(
        "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema()",
        "SELECT column_name::text AS name, CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
         FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = {}"
    );
}

#[cfg(feature = "mysql")]
impl DbConnection for diesel::MysqlConnection {
    const BACKEND: BackendKind = BackendKind::Mysql;

    fn open(url: &DbUrl, options: &DatabaseOptions) -> Result<Self, Error> {
        use diesel::RunQueryDsl;
        use diesel::sql_types::Text;

        #[derive(diesel::QueryableByName)]
        struct Mode {
            #[diesel(sql_type = Text)]
            mode: String,
        }

        check_backend(url, Self::BACKEND)?;
        let mut conn: Self = establish(url)?;
        if !options.mysql_sql_mode.is_empty() {
            diesel::sql_query("SET SESSION sql_mode = ?")
                .bind::<Text, _>(&options.mysql_sql_mode)
                .execute(&mut conn)?;
        }
        if let Some(wait) = options.mysql_wsrep_sync_wait {
            conn.batch_execute(&format!("SET SESSION wsrep_sync_wait = {wait}"))?;
        }
        let mode: Mode =
            diesel::sql_query("SELECT @@SESSION.sql_mode AS mode").get_result(&mut conn)?;
        if !mode.mode.contains("TRADITIONAL") && !mode.mode.contains("STRICT_ALL_TABLES") {
            tracing::warn!(
                sql_mode = %mode.mode,
                "db.connect: MySQL sql_mode is neither TRADITIONAL nor STRICT_ALL_TABLES: data may be silently truncated"
            );
        }
        instrument(&mut conn, options);
        Ok(conn)
    }

    reflect!(
        "SELECT CAST(table_name AS CHAR) AS name FROM information_schema.tables WHERE table_schema = DATABASE()",
        "SELECT CAST(column_name AS CHAR) AS name, CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
         FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = {}"
    );
}
