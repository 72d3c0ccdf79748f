//! The facade on SQLite: in-memory sharing, foreign keys on request, the busy timeout, the reader
//! pool on `slave_connection`, pool limits, and URLs with passwords kept out of messages.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use oslo_db::testing::TestDatabase;
use oslo_db::{DatabaseOptions, Error, Facade, RequestContext, TransactionContext};

type C = SqliteConnection;

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(c: &mut C, table: &str) -> Result<i64, Error> {
    let r: N = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result(c)?;
    Ok(r.n)
}

fn exec(c: &mut C, sql: &str) -> Result<(), Error> {
    c.batch_execute(sql).map_err(Error::from)
}

#[test]
fn in_memory_database_is_shared_and_has_one_connection() {
    let f = Facade::<C>::new(DatabaseOptions::new("sqlite://")).unwrap();
    f.writer()
        .run(|c| exec(c, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)"))
        .unwrap();
    // Another scope, another checkout: the same database.
    assert_eq!(f.reader().run(|c| count(c, "t")).unwrap(), 1);
    // An independent transaction inside another needs a second connection.
    let mut ctx = RequestContext::<C>::new();
    let err = f
        .writer()
        .using(&mut ctx, |ctx| {
            f.writer().independent().using(ctx, |_| Ok::<_, Error>(()))
        })
        .unwrap_err();
    assert!(matches!(err, Error::NotSupported { .. }), "{err:?}");
    assert!(ctx.transaction_slot().mode().is_none());
}

#[test]
fn foreign_keys_only_on_request() {
    let schema =
        "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (p INTEGER REFERENCES p (id))";
    for fk in [false, true] {
        let db = TestDatabase::<C>::sqlite(|o| o.sqlite_fk(fk)).unwrap();
        db.facade().writer().run(|c| exec(c, schema)).unwrap();
        let r = db
            .facade()
            .writer()
            .run(|c| exec(c, "INSERT INTO c VALUES (42)"));
        if fk {
            assert!(matches!(r, Err(Error::Reference { .. })), "{r:?}");
        } else {
            r.unwrap();
        }
    }
}

#[test]
fn a_locked_database_is_waited_for_up_to_the_busy_timeout() {
    let db =
        TestDatabase::<C>::sqlite(|o| o.sqlite_busy_timeout(Duration::from_millis(300))).unwrap();
    let f = db.facade();
    f.writer()
        .run(|c| exec(c, "CREATE TABLE t (x INTEGER)"))
        .unwrap();
    let mut ctx = RequestContext::<C>::new();
    let started = Instant::now();
    let err = f
        .writer()
        .using(&mut ctx, |ctx| {
            exec(ctx.connection()?, "INSERT INTO t VALUES (1)")?;
            // A second connection cannot write while the first holds the write lock.
            f.writer().independent().using(ctx, |ctx| {
                exec(ctx.connection()?, "INSERT INTO t VALUES (2)")
            })
        })
        .unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("locked"), "{err}");
    assert_eq!(
        f.reader().run(|c| count(c, "t")).unwrap(),
        0,
        "the outer transaction rolled back"
    );
}

#[test]
fn readers_use_the_slave_connection_when_asked() {
    let main = TestDatabase::<C>::sqlite(|o| o).unwrap();
    let replica = TestDatabase::<C>::sqlite(|o| o).unwrap();
    main.facade()
        .writer()
        .run(|c| exec(c, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)"))
        .unwrap();
    replica
        .facade()
        .writer()
        .run(|c| {
            exec(
                c,
                "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2)",
            )
        })
        .unwrap();
    for synchronous_reader in [true, false] {
        let f = Facade::<C>::new(
            DatabaseOptions::new(main.url())
                .slave_connection(replica.url())
                .synchronous_reader(synchronous_reader),
        )
        .unwrap();
        assert_eq!(f.writer().run(|c| count(c, "t")).unwrap(), 1);
        assert_eq!(
            f.async_reader().run(|c| count(c, "t")).unwrap(),
            2,
            "async readers read the replica"
        );
        let reader = f.reader().run(|c| count(c, "t")).unwrap();
        assert_eq!(reader, if synchronous_reader { 1 } else { 2 });
    }
}

#[test]
fn the_pool_waits_then_times_out_and_overflow_is_closed() {
    let db = TestDatabase::<C>::sqlite(|o| o).unwrap();
    let f = Facade::<C>::new(
        DatabaseOptions::new(db.url())
            .max_pool_size(1)
            .max_overflow(1)
            .pool_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    let (mut a, mut b) = (RequestContext::<C>::new(), RequestContext::<C>::new());
    // Two connections (one pooled, one overflow) are in use: a third checkout times out.
    let err = f
        .reader()
        .using(&mut a, |a| {
            f.reader().independent().using(a, |_| {
                let started = Instant::now();
                let r = f
                    .reader()
                    .independent()
                    .using(&mut b, |_| Ok::<_, Error>(()));
                assert!(started.elapsed() >= Duration::from_millis(200));
                r
            })
        })
        .unwrap_err();
    assert!(matches!(err, Error::PoolTimeout { .. }), "{err:?}");
    // Both came back; the pool serves again.
    f.reader().run(|c| count(c, "sqlite_master")).unwrap();
}

#[test]
fn passwords_stay_out_of_messages() {
    let err =
        Facade::<C>::new(DatabaseOptions::new("mysql+pymysql://nova:hunter2@db/nova")).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("nova:****@db"), "{text}");
    let f = Facade::<C>::new(DatabaseOptions::new("sqlite://")).unwrap();
    assert!(format!("{f:?}").contains("sqlite://"));
    let opts = DatabaseOptions::new("postgresql://u:hunter2@h/d")
        .slave_connection("postgresql://u:hunter2@r/d");
    assert!(!format!("{opts:?}").contains("hunter2"));
}

#[test]
fn a_panic_in_a_scope_does_not_leak_the_transaction() {
    let db = TestDatabase::<C>::sqlite(|o| o.max_pool_size(1).max_overflow(0)).unwrap();
    let f = db.facade().clone();
    f.writer()
        .run(|c| exec(c, "CREATE TABLE t (x INTEGER)"))
        .unwrap();
    let g = f.clone();
    let r = std::thread::spawn(move || {
        g.writer().run(|c| {
            exec(c, "INSERT INTO t VALUES (1)")?;
            panic!("boom");
            #[allow(unreachable_code)]
            Ok::<_, Error>(())
        })
    })
    .join();
    assert!(r.is_err());
    assert_eq!(f.reader().run(|c| count(c, "t")).unwrap(), 0);
    f.writer()
        .run(|c| exec(c, "INSERT INTO t VALUES (2)"))
        .unwrap();
    assert_eq!(f.reader().run(|c| count(c, "t")).unwrap(), 1);
}

#[test]
fn a_database_in_a_missing_directory_does_not_exist() {
    let err =
        Facade::<C>::new(DatabaseOptions::new("sqlite:////nonexistent-oslo-dir/x.db")).unwrap_err();
    assert!(
        matches!(&err, Error::NonExistentDatabase { database } if database == "/nonexistent-oslo-dir/x.db"),
        "{err:?}"
    );
}

/// A writer for the test subscriber that keeps what it is given.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged(connection_debug: u8, level: tracing::Level) -> String {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let f =
            Facade::<C>::new(DatabaseOptions::new("sqlite://").connection_debug(connection_debug))
                .unwrap();
        f.reader().run(|c| exec(c, "SELECT 1234")).unwrap();
    });
    String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn connection_debug_logs_statements() {
    assert!(logged(100, tracing::Level::DEBUG).contains("SELECT 1234"));
    let info = logged(50, tracing::Level::INFO);
    assert!(
        info.contains("SELECT 1234") && info.contains("INFO"),
        "{info}"
    );
    assert!(!logged(0, tracing::Level::TRACE).contains("SELECT 1234"));
    assert!(
        !logged(100, tracing::Level::INFO).contains("SELECT 1234"),
        "100 logs at DEBUG"
    );
}
