//! The one error type of the crate, and the translation of each backend's errors into oslo.db's kinds.

use std::sync::LazyLock;
use std::time::Duration;

use diesel::result::{ConnectionError, DatabaseErrorKind, Error as DieselError};
use regex::Regex;

/// Everything that can go wrong, with database errors sorted into oslo.db's kinds.
///
/// Each backend's messages (and PostgreSQL's constraint names) are decoded into the same variants, so a
/// program reacts to [`Error::DuplicateEntry`] the same way on SQLite, PostgreSQL and MariaDB.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A unique constraint failed (`DBDuplicateEntry`). `columns` are decoded from the message or the
    /// constraint name (`uniq_<table>0<col1>0<col2>` gives `[col1, col2]`); `value` when the backend says.
    #[error("duplicate entry for {}{}", fmt_columns(columns), fmt_value(value.as_deref()))]
    DuplicateEntry {
        /// The columns of the violated constraint (empty when the backend does not say).
        columns: Vec<String>,
        /// The duplicated value, as the backend prints it.
        value: Option<String>,
        /// The backend's message.
        message: String,
    },
    /// A foreign key failed (`DBReferenceError`).
    #[error("foreign key constraint failed: {message}")]
    Reference {
        /// The table with the foreign key.
        table: Option<String>,
        /// The name of the constraint.
        constraint: Option<String>,
        /// The referencing column.
        key: Option<String>,
        /// The referenced table.
        key_table: Option<String>,
        /// The backend's message.
        message: String,
    },
    /// A CHECK or NOT NULL constraint failed (`DBConstraintError`).
    #[error("constraint failed: {message}")]
    Constraint {
        /// The table.
        table: Option<String>,
        /// The name of the check.
        check_name: Option<String>,
        /// The backend's message.
        message: String,
    },
    /// A deadlock or lock wait timeout (`DBDeadlock`); retrying the transaction may succeed.
    #[error("deadlock: {message}")]
    Deadlock {
        /// The backend's message.
        message: String,
    },
    /// MariaDB's "record has changed since last read" (`DBConsistencyError`, a kind of deadlock).
    #[error("consistency error: {message}")]
    Consistency {
        /// The backend's message.
        message: String,
    },
    /// The connection failed or was lost (`DBConnectionError`).
    #[error("database connection error: {message}")]
    Connection {
        /// The backend's or the driver's message.
        message: String,
    },
    /// A value does not fit its column (`DBDataError`).
    #[error("invalid data: {message}")]
    Data {
        /// The backend's message.
        message: String,
    },
    /// A table is missing (`DBNonExistentTable`).
    #[error("table `{table}` does not exist")]
    NonExistentTable {
        /// The table.
        table: String,
    },
    /// A database is missing (`DBNonExistentDatabase`).
    #[error("database `{database}` does not exist")]
    NonExistentDatabase {
        /// The database.
        database: String,
    },
    /// A constraint that was to be dropped is missing (`DBNonExistentConstraint`).
    #[error("constraint `{}` does not exist", constraint.as_deref().unwrap_or("?"))]
    NonExistentConstraint {
        /// The table.
        table: Option<String>,
        /// The constraint.
        constraint: Option<String>,
    },
    /// The backend does not support what was asked (`DBNotSupportedError`).
    #[error("not supported: {message}")]
    NotSupported {
        /// What is not supported.
        message: String,
    },
    /// A query that had to return a row returned none.
    #[error("no row found")]
    NotFound,
    /// Any other database error (`DBError`).
    #[error("database error: {message}")]
    Db {
        /// The backend's message.
        message: String,
    },
    /// No connection became free within `pool_timeout`.
    #[error("no database connection free after {timeout:?}")]
    PoolTimeout {
        /// The configured `pool_timeout`.
        timeout: Duration,
    },
    /// A reader (or async reader) scope contains a scope that wants more.
    #[error("can't upgrade a {from} transaction to a {to} mid-transaction")]
    CantUpgrade {
        /// The mode of the outer transaction.
        from: &'static str,
        /// The mode asked for inside it.
        to: &'static str,
    },
    /// A connection was asked of a context outside any transaction scope.
    #[error("no transaction is in progress on this context")]
    NoTransaction,
    /// A database URL could not be understood (the password is masked).
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL, password masked.
        url: String,
        /// Why.
        reason: String,
    },
    /// Options that cannot work together.
    #[error("invalid database options: {0}")]
    Config(String),
    /// A pagination sort key that is not a column of the table (`InvalidSortKey`).
    #[error("sort key `{key}` is not a column")]
    InvalidSortKey {
        /// The key asked for.
        key: String,
    },
    /// A sort direction other than `asc`/`desc` with an optional `-nullsfirst`/`-nullslast`.
    #[error(
        "unknown sort direction `{dir}`, must be one of: asc, desc, asc-nullsfirst, asc-nullslast, desc-nullsfirst, desc-nullslast"
    )]
    InvalidSortDir {
        /// The direction asked for.
        dir: String,
    },
    /// Migrations failed or disagree with the declared schema.
    #[error("migration error: {0}")]
    Migration(String),
    /// A caller asks [`crate::RetryPolicy`] to run the function again (`RetryRequest`): always retried;
    /// when the retries are exhausted the error comes back as it is.
    #[error("retry requested: {0}")]
    RetryRequest(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn fmt_columns(columns: &[String]) -> String {
    if columns.is_empty() {
        "unknown columns".to_string()
    } else {
        columns
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn fmt_value(value: Option<&str>) -> String {
    value.map(|v| format!(": value `{v}`")).unwrap_or_default()
}

impl Error {
    /// Whether running the transaction again may succeed: deadlocks, lost connections and explicit
    /// retry requests.
    pub fn is_retryable(&self) -> bool {
        self.is_deadlock() || self.is_connection_error() || matches!(self, Error::RetryRequest(_))
    }

    /// A deadlock, lock wait timeout or MariaDB consistency error (`DBDeadlock` and subclasses).
    pub fn is_deadlock(&self) -> bool {
        matches!(self, Error::Deadlock { .. } | Error::Consistency { .. })
    }

    /// A failed or lost connection (`DBConnectionError`).
    pub fn is_connection_error(&self) -> bool {
        matches!(self, Error::Connection { .. })
    }

    /// Asks a retry loop to run again, carrying why.
    pub fn retry_request(inner: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        Error::RetryRequest(inner.into())
    }
}

impl From<DieselError> for Error {
    fn from(err: DieselError) -> Self {
        translate(&err)
    }
}

impl From<ConnectionError> for Error {
    fn from(err: ConnectionError) -> Self {
        match err {
            ConnectionError::InvalidConnectionUrl(reason) => Error::InvalidUrl {
                url: String::new(),
                reason,
            },
            ConnectionError::BadConnection(message) => {
                from_message(&message).unwrap_or(Error::Connection { message })
            }
            ConnectionError::CouldntSetupConfiguration(e) => translate(&e),
            other => Error::Connection {
                message: other.to_string(),
            },
        }
    }
}

macro_rules! re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($pat).expect("a valid regex"));
    };
}

// SQLite.
re!(
    SQLITE_UNIQUE,
    r"UNIQUE\s+constraint\s+failed:\s+(?P<columns>.+)$"
);
re!(
    SQLITE_UNIQUE_OLD,
    r"columns?\s+(?P<columns>[^)]+?)\s+(is|are)\s+not\s+unique$"
);
re!(SQLITE_NO_TABLE, r"no such table: (?P<table>.+)");
// PostgreSQL.
re!(PG_DUP, r#"duplicate\s+key.*"(?P<columns>[^"]+)""#);
re!(
    PG_KEY,
    r"Key\s+\((?P<key>.*)\)=\((?P<value>.*)\)\s+already\s+exists"
);
re!(
    PG_FK,
    r#"on table "(?P<table>[^"]+)" violates foreign key constraint "(?P<constraint>[^"]+)""#
);
re!(
    PG_FK_DETAIL,
    r#"Key \((?P<key>.+)\)=\(.+\) is (not present in|still referenced from) table "(?P<key_table>[^"]+)""#
);
re!(
    PG_CHECK,
    r#"new row for relation "(?P<table>.+)" violates check constraint "(?P<check>.+)""#
);
re!(
    PG_NO_CONSTRAINT,
    r#"constraint "(?P<constraint>.+)" of relation "(?P<table>.+)" does not exist"#
);
re!(PG_NO_TABLE, r#"table "(?P<table>.+)" does not exist"#);
re!(PG_NO_RELATION, r#"relation "(?P<table>.+)" does not exist"#);
re!(
    PG_NO_DATABASE,
    r#"database "(?P<database>.+)" does not exist"#
);
// MySQL / MariaDB (diesel gives the message without the error number).
re!(
    MY_DUP,
    r"Duplicate entry '(?P<value>.*)' for key '(?P<columns>[^']+)'"
);
re!(
    MY_FK,
    r#"a foreign key constraint fails \([`"].+[`"]\.[`"](?P<table>.+)[`"], CONSTRAINT [`"](?P<constraint>.+)[`"] FOREIGN KEY \([`"](?P<key>.+)[`"]\) REFERENCES [`"](?P<key_table>[^`"]+)[`"]"#
);
re!(
    MY_NO_DROP,
    r"Can't DROP (?:FOREIGN KEY |CONSTRAINT |INDEX )?['`](?P<constraint>.+)['`]; check that"
);
re!(MY_NO_TABLE, r"Unknown table '(.+\.)?(?P<table>.+)'");
re!(MY_NO_TABLE2, r"Table '(.+\.)?(?P<table>.+)' doesn't exist");
re!(MY_NO_DATABASE, r"Unknown database '(?P<database>.+)'");
re!(
    MY_CHECK,
    r"CONSTRAINT [`'](?P<check>.+?)[`'] failed for [`'](.+?[`']\.[`'])?(?P<table>[^`']+)[`']"
);
re!(SQLITE_CHECK, r"CHECK constraint failed: (?P<check>.+)$");

fn cap(re: &Regex, text: &str, name: &str) -> Option<String> {
    re.captures(text)
        .and_then(|c| c.name(name))
        .map(|m| m.as_str().to_string())
}

/// Decodes the columns from a constraint or key name, as oslo.db does: `uniq_<table>0<c1>0<c2>` gives
/// `[c1, c2]`; PostgreSQL's `<table>_<col>_key` gives `[col]`; anything else is the one column.
fn columns_from_constraint(name: &str, postgres: bool) -> Vec<String> {
    // MySQL 8 prefixes the key with `<table>.`.
    let name = if postgres {
        name
    } else {
        name.rsplit('.').next().unwrap_or(name)
    };
    if let Some(rest) = name.strip_prefix("uniq_") {
        return rest.split('0').skip(1).map(str::to_string).collect();
    }
    if let (true, Some(first), Some(last)) = (postgres, name.find('_'), name.rfind('_'))
        && first < last
    {
        return vec![name[first + 1..last].to_string()];
    }
    vec![name.to_string()]
}

/// Translates errors recognised by their message alone (any backend).
fn from_message(message: &str) -> Option<Error> {
    let lower = message.to_ascii_lowercase();
    if let Some(database) = cap(&PG_NO_DATABASE, message, "database")
        .or_else(|| cap(&MY_NO_DATABASE, message, "database"))
    {
        return Some(Error::NonExistentDatabase { database });
    }
    if lower.contains("deadlock") || lower.contains("lock wait timeout exceeded") {
        return Some(Error::Deadlock {
            message: message.to_string(),
        });
    }
    if lower.contains("record has changed since last read") {
        return Some(Error::Consistency {
            message: message.to_string(),
        });
    }
    const CONNECTION: &[&str] = &[
        "could not connect to server",
        "connection to server",
        "server closed the connection",
        "terminating connection",
        "no connection to the server",
        "the database system is starting up",
        "the database system is shutting down",
        "connection refused",
        "server has gone away",
        "lost connection to",
        "can't connect to",
        "server shutdown in progress",
        "connection was killed",
        "packet sequence number wrong",
        "wsrep has not yet prepared node",
        "broken pipe",
        "connection reset",
    ];
    if CONNECTION.iter().any(|p| lower.contains(p)) {
        return Some(Error::Connection {
            message: message.to_string(),
        });
    }
    None
}

/// Translates one diesel error into our kinds.
pub(crate) fn translate(err: &DieselError) -> Error {
    match err {
        DieselError::DatabaseError(kind, info) => {
            let message = info.message().to_string();
            let full = match info.details() {
                Some(d) => format!("{message}\n{d}"),
                None => message.clone(),
            };
            translate_database(kind, info.as_ref(), message, &full)
        }
        DieselError::NotFound => Error::NotFound,
        DieselError::BrokenTransactionManager => Error::Connection {
            message: err.to_string(),
        },
        DieselError::SerializationError(_) | DieselError::DeserializationError(_) => Error::Data {
            message: err.to_string(),
        },
        other => {
            let message = other.to_string();
            from_message(&message).unwrap_or(Error::Db { message })
        }
    }
}

fn translate_database(
    kind: &DatabaseErrorKind,
    info: &(dyn diesel::result::DatabaseErrorInformation + Send + Sync),
    message: String,
    full: &str,
) -> Error {
    // Some paths (MySQL's `batch_execute`, SQL run as text) leave the kind unknown: the message says.
    let by_message;
    let kind = if matches!(kind, DatabaseErrorKind::Unknown) {
        by_message = if MY_DUP.is_match(&message)
            || SQLITE_UNIQUE.is_match(&message)
            || SQLITE_UNIQUE_OLD.is_match(&message)
            || PG_DUP.is_match(&message)
        {
            DatabaseErrorKind::UniqueViolation
        } else if MY_FK.is_match(&message) || PG_FK.is_match(&message) {
            DatabaseErrorKind::ForeignKeyViolation
        } else if PG_CHECK.is_match(&message) || SQLITE_CHECK.is_match(&message) {
            DatabaseErrorKind::CheckViolation
        } else {
            DatabaseErrorKind::Unknown
        };
        &by_message
    } else {
        kind
    };
    match kind {
        DatabaseErrorKind::UniqueViolation => {
            if let Some(c) = SQLITE_UNIQUE.captures(&message) {
                let columns = c["columns"]
                    .trim()
                    .split(", ")
                    .map(|c| c.rsplit('.').next().unwrap_or(c).to_string())
                    .collect();
                return Error::DuplicateEntry {
                    columns,
                    value: None,
                    message,
                };
            }
            if let Some(c) = SQLITE_UNIQUE_OLD.captures(&message) {
                let columns = c["columns"].split(", ").map(str::to_string).collect();
                return Error::DuplicateEntry {
                    columns,
                    value: None,
                    message,
                };
            }
            if let Some(c) = MY_DUP.captures(&message) {
                return Error::DuplicateEntry {
                    columns: columns_from_constraint(&c["columns"], false),
                    value: Some(c["value"].to_string()),
                    message,
                };
            }
            // PostgreSQL: the constraint name, from the error fields or the message.
            let constraint = info
                .constraint_name()
                .map(str::to_string)
                .or_else(|| cap(&PG_DUP, &message, "columns"));
            if let Some(constraint) = constraint {
                return Error::DuplicateEntry {
                    columns: columns_from_constraint(&constraint, true),
                    value: cap(&PG_KEY, full, "value"),
                    message,
                };
            }
            Error::DuplicateEntry {
                columns: Vec::new(),
                value: None,
                message,
            }
        }
        DatabaseErrorKind::ForeignKeyViolation => {
            if let Some(c) = PG_FK.captures(&message) {
                return Error::Reference {
                    table: Some(c["table"].to_string()),
                    constraint: Some(c["constraint"].to_string()),
                    key: cap(&PG_FK_DETAIL, full, "key"),
                    key_table: cap(&PG_FK_DETAIL, full, "key_table"),
                    message,
                };
            }
            if let Some(c) = MY_FK.captures(&message) {
                return Error::Reference {
                    table: Some(c["table"].to_string()),
                    constraint: Some(c["constraint"].to_string()),
                    key: Some(c["key"].to_string()),
                    key_table: Some(c["key_table"].to_string()),
                    message,
                };
            }
            Error::Reference {
                table: info.table_name().map(str::to_string),
                constraint: info.constraint_name().map(str::to_string),
                key: None,
                key_table: None,
                message,
            }
        }
        DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation => {
            Error::Constraint {
                table: cap(&PG_CHECK, &message, "table")
                    .or_else(|| cap(&MY_CHECK, &message, "table"))
                    .or_else(|| info.table_name().map(str::to_string)),
                check_name: cap(&PG_CHECK, &message, "check")
                    .or_else(|| cap(&MY_CHECK, &message, "check"))
                    .or_else(|| cap(&SQLITE_CHECK, &message, "check"))
                    .or_else(|| info.constraint_name().map(str::to_string)),
                message,
            }
        }
        DatabaseErrorKind::SerializationFailure => Error::Deadlock { message },
        DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
            Error::Connection { message }
        }
        _ => translate_by_message(message),
    }
}

fn translate_by_message(message: String) -> Error {
    if let Some(e) = from_message(&message) {
        return e;
    }
    let lower = message.to_ascii_lowercase();
    if let Some(c) = PG_NO_CONSTRAINT.captures(&message) {
        return Error::NonExistentConstraint {
            table: Some(c["table"].to_string()),
            constraint: Some(c["constraint"].to_string()),
        };
    }
    if let Some(c) = MY_CHECK.captures(&message) {
        return Error::Constraint {
            table: Some(c["table"].to_string()),
            check_name: Some(c["check"].to_string()),
            message,
        };
    }
    if let Some(constraint) = cap(&MY_NO_DROP, &message, "constraint") {
        return Error::NonExistentConstraint {
            table: None,
            constraint: Some(constraint),
        };
    }
    if let Some(table) = cap(&SQLITE_NO_TABLE, &message, "table")
        .or_else(|| cap(&PG_NO_TABLE, &message, "table"))
        .or_else(|| cap(&PG_NO_RELATION, &message, "table"))
        .or_else(|| cap(&MY_NO_TABLE, &message, "table"))
        .or_else(|| cap(&MY_NO_TABLE2, &message, "table"))
    {
        return Error::NonExistentTable { table };
    }
    if lower.contains("foreign key constraint failed") {
        return Error::Reference {
            table: None,
            constraint: None,
            key: None,
            key_table: None,
            message,
        };
    }
    const DATA: &[&str] = &[
        "data too long for column",
        "out of range value",
        "data truncated for column",
        "incorrect string value",
        "incorrect integer value",
        "incorrect datetime value",
        "incorrect date value",
        "incorrect decimal value",
        "value too long for type",
        "is out of range for type",
        "invalid input syntax",
        "invalid byte sequence",
        "datatype mismatch",
        "string or blob too big",
    ];
    if DATA.iter().any(|p| lower.contains(p)) {
        return Error::Data { message };
    }
    const NOT_SUPPORTED: &[&str] = &["not supported", "does not support", "not implemented"];
    if NOT_SUPPORTED.iter().any(|p| lower.contains(p)) {
        return Error::NotSupported { message };
    }
    Error::Db { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_constraint_names() {
        assert_eq!(
            columns_from_constraint("uniq_instances0name0deleted", true),
            ["name", "deleted"]
        );
        assert_eq!(
            columns_from_constraint("uniq_instances0name0deleted", false),
            ["name", "deleted"]
        );
        assert_eq!(
            columns_from_constraint("instances_name_key", true),
            ["name"]
        );
        assert_eq!(columns_from_constraint("t.name", false), ["name"]);
        assert_eq!(columns_from_constraint("PRIMARY", false), ["PRIMARY"]);
    }

    #[test]
    fn message_kinds() {
        assert!(
            from_message("Deadlock found when trying to get lock; try restarting transaction")
                .is_some_and(|e| e.is_deadlock())
        );
        assert!(from_message("deadlock detected").is_some_and(|e| e.is_retryable()));
        assert!(
            from_message("MySQL server has gone away").is_some_and(|e| e.is_connection_error())
        );
        assert!(matches!(
            translate_by_message("no such table: foo".into()),
            Error::NonExistentTable { table } if table == "foo"
        ));
        assert!(matches!(
            translate_by_message("Data too long for column 'name' at row 1".into()),
            Error::Data { .. }
        ));
    }
}
