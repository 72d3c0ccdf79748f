//! Database URLs: the SQLAlchemy spelling oslo.db configurations use, turned into what diesel wants.

use std::fmt;

use url::Url;

use crate::error::Error;

/// The database engines the facade speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// SQLite, embedded.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

impl BackendKind {
    /// The dialect name oslo.db uses (`sqlite`, `postgresql`, `mysql`).
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgresql",
            BackendKind::Mysql => "mysql",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed database URL (`sqlite://`, `sqlite:////var/lib/x.db`, `postgresql+psycopg2://u:p@h/db`,
/// `mysql+pymysql://u:p@h/db?charset=utf8`).
///
/// Its `Display` and `Debug` mask the password, so it can go into logs and errors.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    backend: BackendKind,
    /// For SQLite: the file path, or `None` for an in-memory database. For servers: the diesel URL.
    target: Option<String>,
    masked: String,
}

impl DbUrl {
    /// Parses a SQLAlchemy-style URL; `connection_parameters` (`a=1&b=2`) are appended to its query string.
    pub fn parse(raw: &str, connection_parameters: &str) -> Result<DbUrl, Error> {
        let raw = raw.trim();
        let invalid = |reason: &str| Error::InvalidUrl {
            url: mask_password(raw),
            reason: reason.to_string(),
        };
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or_else(|| invalid("no `://` after the scheme"))?;
        let dialect = scheme
            .split('+')
            .next()
            .unwrap_or(scheme)
            .to_ascii_lowercase();
        let backend = match dialect.as_str() {
            "sqlite" => BackendKind::Sqlite,
            "postgresql" | "postgres" => BackendKind::Postgres,
            "mysql" | "mariadb" => BackendKind::Mysql,
            other => return Err(invalid(&format!("unknown database dialect `{other}`"))),
        };
        if backend == BackendKind::Sqlite {
            // `sqlite://` and `sqlite:///:memory:` are in memory; `sqlite:///rel` is relative and
            // `sqlite:////abs` absolute, as in SQLAlchemy.
            let path = rest.split('?').next().unwrap_or("");
            let path = path.strip_prefix('/').unwrap_or(path);
            let target = if path.is_empty() || path == ":memory:" {
                None
            } else {
                Some(path.to_string())
            };
            return Ok(DbUrl {
                backend,
                target,
                // A password has no meaning here, but one written anyway stays out of logs.
                masked: mask_password(raw),
            });
        }
        let rest = normalize_userinfo(rest);
        let mut url = Url::parse(&format!("{}://{rest}", dialect_scheme(backend)))
            .map_err(|e| invalid(&e.to_string()))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        // Keep the query parameters the C client understands; SQLAlchemy-only ones (`charset`, `plugin`,
        // `read_default_file`…) are dropped: diesel already talks UTF-8 (utf8mb4 on MySQL).
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .into_owned()
            .chain(url::form_urlencoded::parse(connection_parameters.as_bytes()).into_owned())
            .collect();
        if backend == BackendKind::Mysql {
            pairs.retain(|(k, _)| {
                matches!(
                    k.as_str(),
                    "unix_socket" | "ssl_ca" | "ssl_cert" | "ssl_key" | "ssl_mode"
                )
            });
        }
        if pairs.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        let target = url.to_string();
        Ok(DbUrl {
            backend,
            masked: mask_password(&target),
            target: Some(target),
        })
    }

    /// The engine this URL names.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// Whether this is an in-memory SQLite database (one connection shared by everything).
    pub fn is_memory(&self) -> bool {
        self.backend == BackendKind::Sqlite && self.target.is_none()
    }

    /// The database name (SQLite: the file path), if any.
    pub fn database(&self) -> Option<String> {
        match (self.backend, &self.target) {
            (BackendKind::Sqlite, t) => t.clone(),
            (_, Some(t)) => Url::parse(t)
                .ok()
                .map(|u| u.path().trim_start_matches('/').to_string())
                .filter(|d| !d.is_empty()),
            (_, None) => None,
        }
    }

    /// The same server URL with another database name (used to provision throw-away databases).
    pub fn with_database(&self, database: &str) -> Result<DbUrl, Error> {
        match (&self.backend, &self.target) {
            (BackendKind::Sqlite, _) => Ok(DbUrl {
                backend: BackendKind::Sqlite,
                target: Some(database.to_string()),
                masked: format!("sqlite:///{database}"),
            }),
            (_, Some(t)) => {
                let mut url = Url::parse(t).map_err(|e| Error::InvalidUrl {
                    url: self.masked.clone(),
                    reason: e.to_string(),
                })?;
                url.set_path(&format!("/{database}"));
                let target = url.to_string();
                Ok(DbUrl {
                    backend: self.backend,
                    masked: mask_password(&target),
                    target: Some(target),
                })
            }
            (_, None) => Err(Error::InvalidUrl {
                url: self.masked.clone(),
                reason: "no server address".to_string(),
            }),
        }
    }

    /// What diesel's `establish` takes: the URL for servers, the path (or `:memory:`) for SQLite.
    ///
    /// This string holds the password in clear: never log it.
    pub fn diesel_url(&self) -> &str {
        self.target.as_deref().unwrap_or(":memory:")
    }
}

fn dialect_scheme(backend: BackendKind) -> &'static str {
    match backend {
        BackendKind::Sqlite => "sqlite",
        BackendKind::Postgres => "postgresql",
        BackendKind::Mysql => "mysql",
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({})", self.masked)
    }
}

/// The parts of `user:password@rest`: the user runs to the first `:` or `@` (and has no `/`), the
/// password to the last `@` (SQLAlchemy stops at the first, which leaves the rest of a password with
/// a raw `@` in the host: stopping at the last masks and connects with all of it). `None` when there is
/// no userinfo.
fn split_userinfo(rest: &str) -> Option<(&str, Option<&str>, &str)> {
    let user_end = rest.find([':', '/', '@', '?'])?;
    match rest.as_bytes().get(user_end) {
        Some(b'@') => Some((&rest[..user_end], None, &rest[user_end + 1..])),
        Some(b':') => {
            let after = &rest[user_end + 1..];
            let at = after.rfind('@')?;
            Some((&rest[..user_end], Some(&after[..at]), &after[at + 1..]))
        }
        _ => None,
    }
}

/// Replaces the password of a URL with `****`, as oslo.db's `sanitize_db_url` does.
///
/// Works on any `scheme://user:password@host...` string, parsed or not; the password runs to the last
/// `@`, whatever it holds.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match split_userinfo(rest) {
        Some((user, Some(_), host)) => format!("{scheme}://{user}:****@{host}"),
        _ => url.to_string(),
    }
}

/// `rest` with its userinfo percent-decoded (as SQLAlchemy does) and encoded again for a URL parser, so
/// that a password with `#`, `/` or `?` in it stays the password.
fn normalize_userinfo(rest: &str) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
    const USERINFO: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}')
        .add(b'/')
        .add(b':')
        .add(b';')
        .add(b'=')
        .add(b'@')
        .add(b'[')
        .add(b'\\')
        .add(b']')
        .add(b'^')
        .add(b'|')
        .add(b'%');
    let enc = |s: &str| {
        let decoded = percent_decode_str(s).decode_utf8_lossy().into_owned();
        utf8_percent_encode(&decoded, USERINFO).to_string()
    };
    match split_userinfo(rest) {
        Some((user, Some(password), host)) => format!("{}:{}@{host}", enc(user), enc(password)),
        Some((user, None, host)) => format!("{}@{host}", enc(user)),
        None => rest.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords() {
        assert_eq!(
            mask_password("mysql+pymysql://nova:s3cr@t@db:3306/nova?charset=utf8"),
            "mysql+pymysql://nova:****@db:3306/nova?charset=utf8"
        );
        assert_eq!(mask_password("sqlite:////tmp/x.db"), "sqlite:////tmp/x.db");
        assert_eq!(mask_password("postgresql://u@h/d"), "postgresql://u@h/d");
    }

    #[test]
    fn parses_sqlite_forms() {
        assert!(DbUrl::parse("sqlite://", "").unwrap().is_memory());
        assert!(DbUrl::parse("sqlite:///:memory:", "").unwrap().is_memory());
        let rel = DbUrl::parse("sqlite:///nova.db", "").unwrap();
        assert_eq!(rel.diesel_url(), "nova.db");
        let abs = DbUrl::parse("sqlite:////var/lib/nova.db", "").unwrap();
        assert_eq!(abs.diesel_url(), "/var/lib/nova.db");
        // Found by the `db_url` fuzz target: a password in a SQLite URL was printed.
        let odd = DbUrl::parse("sqlite://u:s3cr3t-pw@h", "").unwrap();
        assert_eq!(odd.to_string(), "sqlite://u:****@h");
    }

    #[test]
    fn strips_driver_and_sqlalchemy_only_params() {
        let u = DbUrl::parse(
            "mysql+pymysql://nova:pw@db/nova?charset=utf8",
            "ssl_mode=required",
        )
        .unwrap();
        assert_eq!(u.backend(), BackendKind::Mysql);
        assert_eq!(u.diesel_url(), "mysql://nova:pw@db/nova?ssl_mode=required");
        assert_eq!(u.to_string(), "mysql://nova:****@db/nova?ssl_mode=required");
        let p = DbUrl::parse("postgresql+psycopg2://u:p@h:5/d", "").unwrap();
        assert_eq!(p.diesel_url(), "postgresql://u:p@h:5/d");
        assert_eq!(p.database().as_deref(), Some("d"));
        assert!(DbUrl::parse("oracle://x", "").is_err());
        assert!(!format!("{:?}", DbUrl::parse("oracle://u:p@x", "").unwrap_err()).contains(":p@"));
    }
}
