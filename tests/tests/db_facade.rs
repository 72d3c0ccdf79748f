//! The facade on every backend: scopes, nesting, upgrade errors, independent and savepoint scopes.
#![cfg(feature = "db")]

mod db_common;

use db_common::{NewInstance, database, instances};
use oslo_db::diesel::prelude::*;
use oslo_db::{Error, RequestContext, TransactionContext};

on_all_backends! {
    fn count(conn: &mut C) -> i64 {
            instances::table.count().get_result(conn).expect("count")
        }

        #[test]
        fn commits_and_rolls_back() {
        let Some(db) = database::<C>(|o| o) else { return };
        let f = db.facade();
        let mut ctx = RequestContext::<C>::new();
        f.writer()
            .using(&mut ctx, |ctx| {
                diesel::insert_into(instances::table)
                    .values(NewInstance::new("a"))
                    .execute(ctx.connection()?)?;
                Ok::<_, Error>(())
            })
            .unwrap();
        let err = f
            .writer()
            .using(&mut ctx, |ctx| {
                diesel::insert_into(instances::table)
                    .values(NewInstance::new("b"))
                    .execute(ctx.connection()?)?;
                Err::<(), _>(Error::Db { message: "boom".into() })
            })
            .unwrap_err();
        assert!(matches!(err, Error::Db { .. }));
        let n = f.reader().using(&mut ctx, |ctx| Ok::<_, Error>(count(ctx.connection()?))).unwrap();
        assert_eq!(n, 1, "the failed writer rolled back");
        assert!(ctx.transaction_slot().mode().is_none());
    }

    #[test]
        fn nested_scopes_share_the_transaction() {
        let Some(db) = database::<C>(|o| o) else { return };
        let f = db.facade();
        let mut ctx = RequestContext::<C>::new();
        let seen = f
            .writer()
            .using(&mut ctx, |ctx| {
                diesel::insert_into(instances::table)
                    .values(NewInstance::new("a"))
                    .execute(ctx.connection()?)?;
                // The inner reader sees the outer writer's uncommitted row: same transaction.
                f.reader().using(ctx, |ctx| Ok::<_, Error>(count(ctx.connection()?)))
            })
            .unwrap();
        assert_eq!(seen, 1);

        // A reader that contains a writer: the upgrade error, and nothing is written.
        let err = f
            .reader()
            .using(&mut ctx, |ctx| {
                f.writer().using(ctx, |ctx| {
                    diesel::insert_into(instances::table)
                        .values(NewInstance::new("b"))
                        .execute(ctx.connection()?)?;
                    Ok::<_, Error>(())
                })
            })
            .unwrap_err();
        assert!(
            matches!(err, Error::CantUpgrade { from: "reader", to: "writer" }),
            "{err}"
        );
        assert_eq!(err.to_string(), "can't upgrade a reader transaction to a writer mid-transaction");
        // Async reader → reader needs allow_async.
        let err = f
            .async_reader()
            .using(&mut ctx, |ctx| f.reader().using(ctx, |_| Ok::<_, Error>(())))
            .unwrap_err();
        assert!(matches!(err, Error::CantUpgrade { .. }));
        f.async_reader()
            .using(&mut ctx, |ctx| f.reader().allow_async().using(ctx, |_| Ok::<_, Error>(())))
            .unwrap();
        assert_eq!(f.reader().run(|c| Ok::<_, Error>(count(c))).unwrap(), 1);
    }

    #[test]
        fn independent_and_savepoint() {
        let Some(db) = database::<C>(|o| o) else { return };
        let f = db.facade();
        let mut ctx = RequestContext::<C>::new();
        // The independent transaction commits although the outer one rolls back.
        // (The outer one writes after the inner one: SQLite has one writer at a time.)
        let outer = f.writer().using(&mut ctx, |ctx| {
            f.writer().independent().using(ctx, |ctx| {
                diesel::insert_into(instances::table)
                    .values(NewInstance::new("inner"))
                    .execute(ctx.connection()?)?;
                Ok::<_, Error>(())
            })?;
            assert_eq!(ctx.transaction_slot().mode(), Some(oslo_db::Mode::Writer), "outer restored");
            diesel::insert_into(instances::table)
                .values(NewInstance::new("outer"))
                .execute(ctx.connection()?)?;
            Err::<(), _>(Error::Db { message: "roll the outer back".into() })
        });
        assert!(matches!(outer, Err(Error::Db { ref message }) if message == "roll the outer back"), "{outer:?}");
        let names: Vec<String> = f
            .reader()
            .run(|c| instances::table.select(instances::name).load(c).map_err(Error::from))
            .unwrap();
        assert_eq!(names, ["inner"]);

        // A failing savepoint rolls back its block only.
        f.writer()
            .using(&mut ctx, |ctx| {
                diesel::insert_into(instances::table)
                    .values(NewInstance::new("kept"))
                    .execute(ctx.connection()?)?;
                let r = f.writer().savepoint().using(ctx, |ctx| {
                    diesel::insert_into(instances::table)
                        .values(NewInstance::new("dropped"))
                        .execute(ctx.connection()?)?;
                    Err::<(), _>(Error::Db { message: "undo".into() })
                });
                assert!(r.is_err());
                f.writer().savepoint().using(ctx, |ctx| {
                    diesel::insert_into(instances::table)
                        .values(NewInstance::new("saved"))
                        .execute(ctx.connection()?)?;
                    Ok::<_, Error>(())
                })
            })
            .unwrap();
        let mut names: Vec<String> = f
            .reader()
            .run(|c| instances::table.select(instances::name).load(c).map_err(Error::from))
            .unwrap();
        names.sort();
        assert_eq!(names, ["inner", "kept", "saved"]);
    }

    #[test]
        fn connection_outside_a_scope_is_an_error() {
        let mut ctx = RequestContext::<C>::new();
        assert!(matches!(ctx.connection(), Err(Error::NoTransaction)));
    }
}

#[cfg(feature = "db-servers")]
mod mysql_session {
    use diesel::sql_types::Text;
    use oslo_db::diesel::prelude::*;

    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = Text)]
        mode: String,
    }

    fn session_mode(db: &crate::db_common::Db<diesel::MysqlConnection>) -> String {
        db.facade()
            .reader()
            .run(|c| {
                let m: Mode =
                    diesel::sql_query("SELECT @@SESSION.sql_mode AS mode").get_result(c)?;
                Ok::<_, oslo_db::Error>(m.mode)
            })
            .unwrap()
    }

    #[test]
    fn sql_mode_is_set_on_connect() {
        let Some(db) = crate::db_common::database::<diesel::MysqlConnection>(|o| o) else {
            return;
        };
        // TRADITIONAL, as the server spells it out.
        let mode = session_mode(&db);
        assert!(
            mode.contains("STRICT_ALL_TABLES") && mode.contains("STRICT_TRANS_TABLES"),
            "{mode}"
        );
        let Some(db) = crate::db_common::database::<diesel::MysqlConnection>(|o| {
            o.mysql_sql_mode("ANSI_QUOTES")
        }) else {
            return;
        };
        assert_eq!(session_mode(&db), "ANSI_QUOTES");
    }
}

#[cfg(feature = "db-servers")]
mod server_pool {
    use std::time::Duration;

    use diesel::connection::SimpleConnection;
    use diesel::sql_types::BigInt;
    use oslo_db::diesel::prelude::*;
    use oslo_db::{BackendKind, DbConnection, Error, Facade};

    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = BigInt)]
        pid: i64,
    }

    fn pid<C: DbConnection + diesel::connection::LoadConnection>(f: &Facade<C>) -> i64
    where
        Pid: diesel::deserialize::QueryableByName<C::Backend>,
        diesel::query_builder::SqlQuery: diesel::query_builder::QueryFragment<C::Backend>,
    {
        let sql = match C::BACKEND {
            BackendKind::Postgres => "SELECT pg_backend_pid()::bigint AS pid",
            _ => "SELECT CAST(CONNECTION_ID() AS SIGNED) AS pid",
        };
        f.reader()
            .run(|c| Ok::<_, Error>(diesel::sql_query(sql).get_result::<Pid>(c)?.pid))
            .unwrap()
    }

    macro_rules! pool_tests {
        ($($m:ident: $conn:ty;)*) => {$(
            mod $m {
                use super::*;
                type C = $conn;

                #[test]
                fn connections_are_recycled_and_dead_ones_replaced() {
                    let Some(db) = crate::db_common::database::<C>(|o| o) else { return };
                    let url = db.url();
                    let f = Facade::<C>::new(
                        oslo_db::DatabaseOptions::new(url.clone())
                            .max_pool_size(1)
                            .connection_recycle_time(Duration::from_millis(300))
                            .pool_pre_ping_after(Duration::from_millis(10)),
                    )
                    .unwrap();
                    let first = pid(&f);
                    assert_eq!(pid(&f), first, "the pooled connection is reused");
                    std::thread::sleep(Duration::from_millis(400));
                    let second = pid(&f);
                    assert_ne!(second, first, "an old connection is recycled");

                    // The server drops the pooled connection; the ping at checkout notices and the
                    // pool opens another, without an error to the caller.
                    let kill = match C::BACKEND {
                        BackendKind::Postgres => format!("SELECT pg_terminate_backend({second})"),
                        _ => format!("KILL {second}"),
                    };
                    let admin = Facade::<C>::new(oslo_db::DatabaseOptions::new(url)).unwrap();
                    admin.writer().run(|c| c.batch_execute(&kill).map_err(Error::from)).unwrap();
                    std::thread::sleep(Duration::from_millis(100));
                    let third = pid(&f);
                    assert_ne!(third, second);
                }
            }
        )*};
    }

    pool_tests! {
        postgres: diesel::PgConnection;
        mysql: diesel::MysqlConnection;
    }
}
