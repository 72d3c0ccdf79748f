//! Each backend's errors become the same oslo.db kinds.
#![cfg(feature = "db")]

mod db_common;

use db_common::{NewInstance, database, instances, ports};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use oslo_db::{BackendKind, DbConnection, Error};

on_all_backends! {
    fn insert(conn: &mut C, row: NewInstance<'_>) -> Result<i32, Error> {
        diesel::insert_into(instances::table).values(row).execute(conn)?;
        Ok(instances::table.select(diesel::dsl::max(instances::id)).first::<Option<i32>>(conn)?.unwrap_or(0))
    }

    #[test]
    fn duplicate_entry_names_the_columns() {
        let Some(db) = database::<C>(|o| o) else { return };
        let err = db
            .facade()
            .writer()
            .run(|c| {
                insert(c, NewInstance::new("web"))?;
                insert(c, NewInstance::new("web"))
            })
            .unwrap_err();
        let Error::DuplicateEntry { columns, value, .. } = &err else { panic!("{err:?}") };
        assert_eq!(columns, &["name", "deleted"], "{err:?}");
        match C::BACKEND {
            BackendKind::Sqlite => assert_eq!(value, &None),
            BackendKind::Postgres => assert_eq!(value.as_deref(), Some("web, 0")),
            BackendKind::Mysql => assert_eq!(value.as_deref(), Some("web-0")),
        }
        assert!(!err.is_retryable());
        // A one-column unique constraint named by the backend's default.
        let err = db
            .facade()
            .writer()
            .run(|c| {
                let id = insert(c, NewInstance::new("db"))?;
                diesel::insert_into(ports::table)
                    .values((ports::instance_id.eq(id), ports::mac.eq("aa")))
                    .execute(c)?;
                diesel::insert_into(ports::table)
                    .values((ports::instance_id.eq(id), ports::mac.eq("aa")))
                    .execute(c)?;
                Ok::<_, Error>(())
            })
            .unwrap_err();
        assert!(matches!(&err, Error::DuplicateEntry { columns, .. } if columns == &["mac"]), "{err:?}");
        assert!(err.to_string().starts_with("duplicate entry for `mac`"), "{err}");
    }

    #[test]
    fn reference_constraint_and_missing_table() {
        let Some(db) = database::<C>(|o| o) else { return };
        let f = db.facade();
        let err = f
            .writer()
            .run(|c| {
                diesel::insert_into(ports::table)
                    .values((ports::instance_id.eq(4242), ports::mac.eq("bb")))
                    .execute(c)
                    .map_err(Error::from)
            })
            .unwrap_err();
        let Error::Reference { table, constraint, .. } = &err else { panic!("{err:?}") };
        match C::BACKEND {
            BackendKind::Sqlite => assert_eq!((table, constraint), (&None, &None)),
            BackendKind::Postgres => {
                assert_eq!(table.as_deref(), Some("ports"));
                assert_eq!(constraint.as_deref(), Some("ports_instance_id_fkey"));
            }
            BackendKind::Mysql => {
                assert_eq!(table.as_deref(), Some("ports"));
                assert_eq!(constraint.as_deref(), Some("fk_ports_instance"));
            }
        }
        let mut row = NewInstance::new("neg");
        row.size = Some(-1);
        let err = f.writer().run(|c| insert(c, row.clone())).unwrap_err();
        assert!(
            matches!(&err, Error::Constraint { check_name: Some(n), .. } if n == "ck_instances_size"),
            "{err:?}"
        );
        let err = f
            .reader()
            .run(|c| c.batch_execute("SELECT * FROM no_such_table").map_err(Error::from))
            .unwrap_err();
        assert!(matches!(&err, Error::NonExistentTable { table } if table == "no_such_table"), "{err:?}");
        if C::BACKEND != BackendKind::Sqlite {
            // SQLite does not check lengths.
            let long = "x".repeat(100);
            let err = f.writer().run(|c| insert(c, NewInstance::new(&long))).unwrap_err();
            assert!(matches!(err, Error::Data { .. }), "{err:?}");
        }
    }

    #[test]
    fn unreachable_and_missing_databases() {
        let Some(db) = database::<C>(|o| o) else { return };
        let url = db.url();
        let missing = match C::BACKEND {
            BackendKind::Sqlite => return,
            _ => url.replace(db.name(), "oslo_no_such_database"),
        };
        let err = oslo_db::Facade::<C>::new(oslo_db::DatabaseOptions::new(missing).max_retries(1)).unwrap_err();
        assert!(
            matches!(&err, Error::NonExistentDatabase { database } if database == "oslo_no_such_database"),
            "{err:?}"
        );
        let closed = match C::BACKEND {
            BackendKind::Postgres => "postgresql://oslo:pw@127.0.0.1:9/x",
            _ => "mysql://oslo:pw@127.0.0.1:9/x",
        };
        let err = oslo_db::Facade::<C>::new(oslo_db::DatabaseOptions::new(closed).max_retries(1)).unwrap_err();
        assert!(err.is_connection_error() && err.is_retryable(), "{err:?}");
        assert!(!format!("{err} {err:?}").contains(":pw@"), "{err:?}");
    }
}
