#![cfg(feature = "db")]
//! The facade on every backend: scopes, nesting, upgrade errors, independent and savepoint scopes.

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
        let Some(db) =
            crate::db_common::database::<diesel::MysqlConnection>(|o| o.mysql_sql_mode("ANSI_QUOTES"))
        else {
            return;
        };
        assert_eq!(session_mode(&db), "ANSI_QUOTES");
    }
}
