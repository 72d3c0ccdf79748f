//! Opportunistic test databases (oslo.db's `test_fixtures`): a throw-away database per test, on SQLite
//! always and on PostgreSQL and MySQL/MariaDB when a server is given.
//!
//! ```
//! use diesel::SqliteConnection;
//! use oslo_db::testing::TestDatabase;
//!
//! let db = TestDatabase::<SqliteConnection>::sqlite(|o| o)?;
//! db.facade().writer().run(|conn| {
//!     use diesel::connection::SimpleConnection;
//!     conn.batch_execute("CREATE TABLE t (x INTEGER)").map_err(oslo_db::Error::from)
//! })?;
//! # Ok::<(), oslo_db::Error>(())
//! ```

use std::fmt;
use std::path::PathBuf;

use rand::RngExt;

use crate::backend::DbConnection;
use crate::error::Error;
use crate::facade::Facade;
use crate::options::DatabaseOptions;
use crate::url::{BackendKind, DbUrl, mask_password};

/// The server URL of a backend for opportunistic tests, from `OSLO_TEST_POSTGRES_URL` /
/// `OSLO_TEST_MYSQL_URL`, or oslo.db's `OS_TEST_DBAPI_ADMIN_CONNECTION` (URLs separated by `;`).
pub fn admin_url(backend: BackendKind) -> Option<String> {
    let ours = match backend {
        BackendKind::Sqlite => return Some("sqlite://".to_string()),
        BackendKind::Postgres => "OSLO_TEST_POSTGRES_URL",
        BackendKind::Mysql => "OSLO_TEST_MYSQL_URL",
    };
    if let Ok(url) = std::env::var(ours)
        && !url.is_empty()
    {
        return Some(url);
    }
    let all = std::env::var("OS_TEST_DBAPI_ADMIN_CONNECTION").ok()?;
    all.split(';')
        .map(str::trim)
        .find(|u| DbUrl::parse(u, "").is_ok_and(|p| p.backend() == backend))
        .map(str::to_string)
}

/// A database that exists for one test: created with a random name, dropped when this is dropped.
pub struct TestDatabase<C: DbConnection> {
    facade: Option<Facade<C>>,
    name: String,
    admin: Option<DbUrl>,
    file: Option<PathBuf>,
}

impl<C: DbConnection> fmt::Debug for TestDatabase<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDatabase")
            .field("backend", &C::BACKEND)
            .field("name", &self.name)
            .finish()
    }
}

fn random_name() -> String {
    let n: u64 = rand::rng().random();
    format!("oslo_test_{n:016x}")
}

impl<C: DbConnection> TestDatabase<C> {
    /// A fresh SQLite database in a temporary file (a file, so that several connections see it).
    /// `configure` adjusts the options (such as `sqlite_fk`).
    pub fn sqlite(
        configure: impl FnOnce(DatabaseOptions) -> DatabaseOptions,
    ) -> Result<Self, Error> {
        let name = random_name();
        let file = std::env::temp_dir().join(format!("{name}.sqlite"));
        let url = format!("sqlite:///{}", file.display());
        let facade = Facade::new(configure(DatabaseOptions::new(url).max_retries(0)))?;
        Ok(TestDatabase {
            facade: Some(facade),
            name,
            admin: None,
            file: Some(file),
        })
    }

    /// A fresh database on the server of `admin_url` (a user that may create databases).
    pub fn provision(
        admin_url: &str,
        configure: impl FnOnce(DatabaseOptions) -> DatabaseOptions,
    ) -> Result<Self, Error> {
        let admin = DbUrl::parse(admin_url, "")?;
        if admin.backend() == BackendKind::Sqlite {
            return Self::sqlite(configure);
        }
        let name = random_name();
        let mut conn = C::open(&admin, &DatabaseOptions::default())?;
        conn.batch_execute(&create_sql(admin.backend(), &name))?;
        drop(conn);
        let url = admin.with_database(&name)?;
        // The facade gets the URL in clear; the masked form is for messages only.
        let clear = url.diesel_url().to_string();
        let facade = Facade::new(configure(DatabaseOptions::new(clear).max_retries(0)));
        // Built before the facade result is looked at, so that a failure still drops the database.
        let mut db = TestDatabase {
            facade: None,
            name,
            admin: Some(admin),
            file: None,
        };
        db.facade = Some(facade?);
        Ok(db)
    }

    /// On the backend's server named by [`admin_url`] (SQLite: a temporary file), or `None` when no
    /// server is configured for it.
    pub fn opportunistic(
        configure: impl FnOnce(DatabaseOptions) -> DatabaseOptions,
    ) -> Result<Option<Self>, Error> {
        match admin_url(C::BACKEND) {
            None => Ok(None),
            Some(u) if C::BACKEND == BackendKind::Sqlite => {
                let _ = u;
                Self::sqlite(configure).map(Some)
            }
            Some(u) => Self::provision(&u, configure).map(Some),
        }
    }

    /// The facade on the test database.
    pub fn facade(&self) -> &Facade<C> {
        // Set in every constructor; `None` only inside `drop`.
        self.facade
            .as_ref()
            .unwrap_or_else(|| unreachable!("the facade is set until drop"))
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of the test database, in clear (for a second facade or a Python oracle).
    pub fn url(&self) -> String {
        match (&self.admin, &self.file) {
            (Some(admin), _) => admin
                .with_database(&self.name)
                .map(|u| u.diesel_url().to_string())
                .unwrap_or_default(),
            (None, Some(file)) => format!("sqlite:///{}", file.display()),
            (None, None) => "sqlite://".to_string(),
        }
    }
}

fn create_sql(backend: BackendKind, name: &str) -> String {
    match backend {
        BackendKind::Mysql => format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"),
        _ => format!("CREATE DATABASE \"{name}\""),
    }
}

fn drop_sql(backend: BackendKind, name: &str) -> String {
    match backend {
        BackendKind::Mysql => format!("DROP DATABASE IF EXISTS `{name}`"),
        _ => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    }
}

impl<C: DbConnection> Drop for TestDatabase<C> {
    fn drop(&mut self) {
        if let Some(f) = self.facade.take() {
            f.dispose_pool();
        }
        if let Some(file) = &self.file {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut p = file.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
        if let Some(admin) = &self.admin {
            let dropped = C::open(admin, &DatabaseOptions::default()).and_then(|mut c| {
                c.batch_execute(&drop_sql(admin.backend(), &self.name))
                    .map_err(Error::from)
            });
            if let Err(e) = dropped {
                tracing::warn!(
                    database = %self.name,
                    server = %mask_password(admin.diesel_url()),
                    error = %e,
                    "db.testing: could not drop the test database"
                );
            }
        }
    }
}
