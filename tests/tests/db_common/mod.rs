//! Shared by the `db_*` tests: the test schema on each backend, and the throw-away databases.
#![allow(dead_code, unreachable_pub)]

use oslo_db::testing::TestDatabase;
use oslo_db::{BackendKind, DatabaseOptions, DbConnection};

pub use oslo_db::chrono;

oslo_db::table_with_mixins! {
    instances (id) {
        id -> Integer,
        name -> Text,
        project_id -> Nullable<Text>,
        size -> Nullable<Integer>,
    }
}

oslo_db::diesel::table! {
    ports (id) {
        id -> Integer,
        instance_id -> Integer,
        mac -> Text,
    }
}

/// A row of `instances`.
#[derive(Debug, Clone, PartialEq, diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = instances)]
pub struct Instance {
    pub id: i32,
    pub name: String,
    pub project_id: Option<String>,
    pub size: Option<i32>,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: Option<chrono::NaiveDateTime>,
    pub deleted_at: Option<chrono::NaiveDateTime>,
    pub deleted: i32,
}

/// What tests insert.
#[derive(Debug, Clone, diesel::Insertable)]
#[diesel(table_name = instances)]
pub struct NewInstance<'a> {
    pub name: &'a str,
    pub project_id: Option<&'a str>,
    pub size: Option<i32>,
    pub created_at: chrono::NaiveDateTime,
}

impl<'a> NewInstance<'a> {
    pub fn new(name: &'a str) -> Self {
        NewInstance {
            name,
            project_id: None,
            size: None,
            created_at: oslo_db::utcnow(),
        }
    }
}

oslo_db::soft_delete_model!(instances, id: i32, project_id);
oslo_db::paginated_model!(
    instances,
    Instance {
        id,
        name,
        size,
        created_at
    }
);

/// The schema of `instances` and `ports` in each backend's SQL.
pub fn schema(backend: BackendKind) -> &'static str {
    match backend {
        BackendKind::Sqlite => {
            "CREATE TABLE instances (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name VARCHAR(64) NOT NULL,
                project_id VARCHAR(64),
                size INTEGER,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP,
                deleted_at TIMESTAMP,
                deleted INTEGER NOT NULL DEFAULT 0,
                CONSTRAINT uniq_instances0name0deleted UNIQUE (name, deleted),
                CONSTRAINT ck_instances_size CHECK (size IS NULL OR size >= 0)
            );
            CREATE TABLE ports (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                instance_id INTEGER NOT NULL REFERENCES instances (id),
                mac VARCHAR(32) NOT NULL UNIQUE
            );"
        }
        BackendKind::Postgres => {
            "CREATE TABLE instances (
                id SERIAL PRIMARY KEY,
                name VARCHAR(64) NOT NULL,
                project_id VARCHAR(64),
                size INTEGER,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP,
                deleted_at TIMESTAMP,
                deleted INTEGER NOT NULL DEFAULT 0,
                CONSTRAINT uniq_instances0name0deleted UNIQUE (name, deleted),
                CONSTRAINT ck_instances_size CHECK (size IS NULL OR size >= 0)
            );
            CREATE TABLE ports (
                id SERIAL PRIMARY KEY,
                instance_id INTEGER NOT NULL REFERENCES instances (id),
                mac VARCHAR(32) NOT NULL UNIQUE
            );"
        }
        BackendKind::Mysql => {
            "CREATE TABLE instances (
                id INTEGER AUTO_INCREMENT PRIMARY KEY,
                name VARCHAR(64) NOT NULL,
                project_id VARCHAR(64),
                size INTEGER,
                created_at DATETIME(6) NOT NULL,
                updated_at DATETIME(6),
                deleted_at DATETIME(6),
                deleted INTEGER NOT NULL DEFAULT 0,
                CONSTRAINT uniq_instances0name0deleted UNIQUE (name, deleted),
                CONSTRAINT ck_instances_size CHECK (size IS NULL OR size >= 0)
            ) ENGINE=InnoDB;
            CREATE TABLE ports (
                id INTEGER AUTO_INCREMENT PRIMARY KEY,
                instance_id INTEGER NOT NULL,
                mac VARCHAR(32) NOT NULL,
                CONSTRAINT mac UNIQUE (mac),
                CONSTRAINT fk_ports_instance FOREIGN KEY (instance_id) REFERENCES instances (id)
            ) ENGINE=InnoDB;"
        }
    }
}

/// A test database, holding the servers' lock shared so that no fault test restarts a server under it.
pub struct Db<C: DbConnection> {
    db: TestDatabase<C>,
    _lock: Option<std::fs::File>,
}

impl<C: DbConnection> std::ops::Deref for Db<C> {
    type Target = TestDatabase<C>;
    fn deref(&self) -> &TestDatabase<C> {
        &self.db
    }
}

fn lock_file() -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("oslo-db-server-tests.lock"))
        .expect("open the servers' lock file")
}

/// Taken shared by every test on a server, exclusively by the tests that restart one (the test runner
/// may run test binaries at the same time).
pub fn servers_lock(exclusive: bool) -> std::fs::File {
    let f = lock_file();
    if exclusive {
        f.lock().expect("lock the servers");
    } else {
        f.lock_shared().expect("lock the servers (shared)");
    }
    f
}

/// A throw-away database of backend `C` with the schema, or `None` when the backend's server is not
/// available outside CI.
pub fn database<C: DbConnection>(
    configure: impl FnOnce(DatabaseOptions) -> DatabaseOptions,
) -> Option<Db<C>> {
    let db = empty_database::<C>(configure)?;
    db.facade()
        .writer()
        .run(|conn| {
            conn.batch_execute(schema(C::BACKEND))
                .map_err(oslo_db::Error::from)
        })
        .expect("create the schema");
    Some(db)
}

/// A throw-away empty database of backend `C`, or `None` when the backend's server is not available
/// outside CI.
pub fn empty_database<C: DbConnection>(
    configure: impl FnOnce(DatabaseOptions) -> DatabaseOptions,
) -> Option<Db<C>> {
    let lock = (C::BACKEND != BackendKind::Sqlite).then(|| servers_lock(false));
    let db = match C::BACKEND {
        BackendKind::Sqlite => TestDatabase::<C>::sqlite(|o| configure(o.sqlite_fk(true))),
        BackendKind::Postgres => TestDatabase::<C>::provision(
            &oslo_tests::server_url(oslo_tests::Server::Postgres)?,
            configure,
        ),
        BackendKind::Mysql => TestDatabase::<C>::provision(
            &oslo_tests::server_url(oslo_tests::Server::Mysql)?,
            configure,
        ),
    }
    .expect("create the test database");
    Some(Db { db, _lock: lock })
}

/// Repeats the test items once per backend, each in a module where `C` is that backend's connection.
#[macro_export]
macro_rules! on_all_backends {
    ($($body:tt)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            type C = diesel::SqliteConnection;
            $($body)*
        }
        #[cfg(feature = "db-servers")]
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            type C = diesel::PgConnection;
            $($body)*
        }
        #[cfg(feature = "db-servers")]
        mod mysql {
            #[allow(unused_imports)]
            use super::*;
            type C = diesel::MysqlConnection;
            $($body)*
        }
    };
}

/// A test database's URL in the spelling of the Python oracle's SQLAlchemy drivers.
pub fn python_url(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("mysql://") {
        format!("mysql+pymysql://{rest}")
    } else if let Some(rest) = url.strip_prefix("postgresql://") {
        format!("postgresql+psycopg2://{rest}")
    } else {
        url.to_string()
    }
}
