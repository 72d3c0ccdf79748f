//! Embedded migrations run by the facade, and the check that they agree with the diesel schema.
#![cfg(feature = "db")]

mod db_common;

use db_common::{empty_database, instances, ports};
use diesel::connection::SimpleConnection;
use oslo_db::embed_migrations;
use oslo_db::migrations::{EmbeddedMigrations, check_schema, schema_diff};
use oslo_db::{BackendKind, DbConnection, Error};

const SQLITE: EmbeddedMigrations = embed_migrations!("tests/db_common/migrations/sqlite");
#[cfg(feature = "db-servers")]
const POSTGRES: EmbeddedMigrations = embed_migrations!("tests/db_common/migrations/postgres");
#[cfg(feature = "db-servers")]
const MYSQL: EmbeddedMigrations = embed_migrations!("tests/db_common/migrations/mysql");

fn migrations(backend: BackendKind) -> EmbeddedMigrations {
    match backend {
        #[cfg(feature = "db-servers")]
        BackendKind::Postgres => POSTGRES,
        #[cfg(feature = "db-servers")]
        BackendKind::Mysql => MYSQL,
        _ => SQLITE,
    }
}

fn alter(backend: BackendKind) -> &'static str {
    match backend {
        BackendKind::Mysql => {
            "ALTER TABLE ports ADD COLUMN vnic VARCHAR(8) NULL; ALTER TABLE instances MODIFY name VARCHAR(64) NULL"
        }
        BackendKind::Postgres => {
            "ALTER TABLE ports ADD COLUMN vnic VARCHAR(8); ALTER TABLE instances ALTER COLUMN name DROP NOT NULL"
        }
        BackendKind::Sqlite => {
            "ALTER TABLE ports ADD COLUMN vnic VARCHAR(8); CREATE TABLE stray (x INTEGER)"
        }
    }
}

on_all_backends! {
    #[test]
    fn migrations_run_once_and_match_the_schema() {
        let Some(db) = empty_database::<C>(|o| o) else { return };
        let f = db.facade();
        let declared = oslo_db::declared_schema![instances, ports];
        assert_eq!(declared[0].columns.get("project_id"), Some(&true));
        assert_eq!(declared[0].columns.get("name"), Some(&false));
        let missing = f.reader().run(|c| schema_diff(c, &declared)).unwrap();
        assert_eq!(missing.missing_tables, ["instances", "ports"]);

        assert_eq!(f.run_migrations(migrations(C::BACKEND)).unwrap(), ["20260101000000"]);
        assert!(f.run_migrations(migrations(C::BACKEND)).unwrap().is_empty(), "already applied");
        f.reader().run(|c| check_schema(c, &declared)).unwrap();

        f.writer().run(|c| c.batch_execute(alter(C::BACKEND)).map_err(Error::from)).unwrap();
        let err = f.reader().run(|c| check_schema(c, &declared)).unwrap_err();
        let Error::Migration(msg) = &err else { panic!("{err:?}") };
        assert!(msg.contains("undeclared columns: ports.vnic"), "{msg}");
        match C::BACKEND {
            BackendKind::Sqlite => assert!(msg.contains("undeclared tables: stray"), "{msg}"),
            _ => assert!(msg.contains("nullability differs: instances.name"), "{msg}"),
        }
    }
}
