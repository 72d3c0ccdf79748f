//! Real faults on PostgreSQL and MariaDB: a deadlock between two connections, translated and retried to
//! success; the server restarted under load, with the pool recovering and no write lost or doubled.
//! (They need the `db-servers` feature, which links the PostgreSQL and MySQL client libraries.)
#![cfg(feature = "db")]
#![cfg_attr(
    not(feature = "db-servers"),
    allow(unused_imports, unused_macros, dead_code)
)]

mod db_common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use db_common::{NewInstance, instances};
use diesel::prelude::*;
use oslo_db::testing::TestDatabase;
use oslo_db::{BackendKind, DbConnection, Error, Facade, RetryPolicy};

fn provision<C: DbConnection>() -> Option<TestDatabase<C>> {
    let server = match C::BACKEND {
        BackendKind::Postgres => oslo_tests::Server::Postgres,
        _ => oslo_tests::Server::Mysql,
    };
    let db = TestDatabase::<C>::provision(&oslo_tests::server_url(server)?, |o| {
        o.max_pool_size(2)
            .max_overflow(4)
            .pool_timeout(Duration::from_secs(60))
    })
    .expect("create the test database");
    db.facade()
        .writer()
        .run(|c| {
            diesel::connection::SimpleConnection::batch_execute(c, db_common::schema(C::BACKEND))
                .map_err(Error::from)
        })
        .expect("create the schema");
    Some(db)
}

macro_rules! fault_tests {
    ($($m:ident: $conn:ty;)*) => {$(
        mod $m {
            use super::*;
            type C = $conn;

            #[test]
            fn deadlock_is_translated_and_retried() {
                let _lock = db_common::servers_lock(false);
                let Some(db) = provision::<C>() else { return };
                let f = db.facade().clone();
                f.writer()
                    .run(|c| {
                        for name in ["a", "b"] {
                            let mut row = NewInstance::new(name);
                            row.size = Some(0);
                            diesel::insert_into(instances::table).values(row).execute(c)?;
                        }
                        Ok::<_, Error>(())
                    })
                    .unwrap();
                let barrier = Arc::new(Barrier::new(2));
                let deadlocks = Arc::new(AtomicU32::new(0));
                let worker = |first: &'static str, second: &'static str, add: i32| {
                    let (f, barrier, deadlocks) = (f.clone(), Arc::clone(&barrier), Arc::clone(&deadlocks));
                    std::thread::spawn(move || {
                        let mut attempt = 0;
                        let policy = RetryPolicy::new()
                            .retry_interval(Duration::from_millis(50))
                            .max_retries(10)
                            .retry_on_deadlock(true);
                        policy.call(|| {
                            attempt += 1;
                            let r = f.writer().run(|c: &mut C| {
                                let bump = |c: &mut C, name: &str| {
                                    diesel::update(instances::table.filter(instances::name.eq(name)))
                                        .set(instances::size.eq(instances::size + add))
                                        .execute(c)
                                };
                                bump(c, first)?;
                                if attempt == 1 {
                                    // Both hold their first row: each now waits for the other's.
                                    barrier.wait();
                                }
                                bump(c, second)?;
                                Ok::<_, Error>(())
                            });
                            if let Err(e) = &r {
                                assert!(e.is_deadlock(), "not a deadlock: {e:?}");
                                deadlocks.fetch_add(1, Ordering::SeqCst);
                            }
                            r
                        })
                    })
                };
                let t1 = worker("a", "b", 1);
                let t2 = worker("b", "a", 10);
                t1.join().unwrap().unwrap();
                t2.join().unwrap().unwrap();
                assert!(deadlocks.load(Ordering::SeqCst) >= 1, "no deadlock happened");
                let sizes: Vec<Option<i32>> = f
                    .reader()
                    .run(|c| instances::table.order(instances::name).select(instances::size).load(c).map_err(Error::from))
                    .unwrap();
                assert_eq!(sizes, [Some(11), Some(11)], "both transactions applied once");
            }

            #[test]
            fn restart_under_load_loses_and_doubles_nothing() {
                // No other server test runs while the server restarts.
                let _lock = db_common::servers_lock(true);
                let Some(db) = provision::<C>() else { return };
                let f: Facade<C> = db.facade().clone();
                const WORKERS: usize = 4;
                const WRITES: usize = 40;
                let failures = Arc::new(AtomicU32::new(0));
                let handles: Vec<_> = (0..WORKERS)
                    .map(|w| {
                        let (f, failures) = (f.clone(), Arc::clone(&failures));
                        std::thread::spawn(move || {
                            let policy = RetryPolicy::new()
                                .retry_interval(Duration::from_millis(200))
                                .max_retry_interval(Duration::from_secs(1))
                                .max_retries(120)
                                .retry_on_disconnect(true)
                                .retry_on_deadlock(true);
                            for i in 0..WRITES {
                                let name = format!("w{w}-{i}");
                                policy
                                    .call(|| {
                                        let r = f.writer().run(|c: &mut C| {
                                            // Idempotent: a retried write whose COMMIT went through
                                            // before the connection dropped is not done twice.
                                            let done: i64 = instances::table
                                                .filter(instances::name.eq(&name))
                                                .count()
                                                .get_result(c)?;
                                            if done == 0 {
                                                diesel::insert_into(instances::table)
                                                    .values(NewInstance::new(&name))
                                                    .execute(c)?;
                                            }
                                            Ok::<_, Error>(())
                                        });
                                        if r.is_err() {
                                            failures.fetch_add(1, Ordering::SeqCst);
                                        }
                                        r
                                    })
                                    .unwrap_or_else(|e| panic!("{name} failed for good: {e}"));
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        })
                    })
                    .collect();
                std::thread::sleep(Duration::from_millis(400));
                let script = std::env::var("OSLO_TEST_SERVERS").expect("OSLO_TEST_SERVERS names servers.sh");
                let which = if C::BACKEND == BackendKind::Postgres { "postgres" } else { "mysql" };
                let status = std::process::Command::new(script)
                    .args(["restart", which])
                    .status()
                    .expect("run servers.sh");
                assert!(status.success(), "restarting {which} failed");
                for h in handles {
                    h.join().unwrap();
                }
                let names: Vec<String> = f
                    .reader()
                    .run(|c| instances::table.select(instances::name).load(c).map_err(Error::from))
                    .unwrap();
                let mut unique = names.clone();
                unique.sort();
                unique.dedup();
                assert_eq!(names.len(), WORKERS * WRITES, "no write lost or doubled");
                assert_eq!(unique.len(), WORKERS * WRITES);
                eprintln!("{which}: {} failed attempts retried", failures.load(Ordering::SeqCst));
            }
        }
    )*};
}

#[cfg(feature = "db-servers")]
fault_tests! {
    postgres: diesel::PgConnection;
    mysql: diesel::MysqlConnection;
}
