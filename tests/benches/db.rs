//! oslo-db against Python's oslo.db and raw diesel, on the same database engine, in one run.
//!
//! `cargo bench -p oslo-tests --no-default-features --features db-servers --bench db` (SQLite, and
//! PostgreSQL when `OSLO_TEST_POSTGRES_URL` is set; `--features db` for SQLite alone). Each side gets
//! its own fresh database with the same table and does the same work: 10,000 rows inserted in one
//! transaction, 10,000 more in 1,000 transactions of 10, 1,000 rows soft-deleted one UPDATE each in one
//! transaction (INSERTs of up to 1,000 rows on every side), then every live row read in pages of 100 (keyset pagination on `id`, one reader
//! transaction per page). Python uses the ORM as services do (`session.add`, `Query.soft_delete`,
//! `model_query` + `paginate_query`); SQLite runs with `synchronous = OFF` on all sides.

#[path = "../tests/db_common/mod.rs"]
mod db_common;

use std::time::{Duration, Instant};

use db_common::{Instance, NewInstance, instances};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use oslo_db::testing::TestDatabase;
use oslo_db::{
    BackendKind, DbConnection, Error, ModelQuery, ProjectFilter, ReadDeleted, SoftDelete, SortDir,
    paginate_query,
};

const ONE_TXN: usize = 10_000;
const TXNS: usize = 1_000;
const PER_TXN: usize = 10;
const DELETES: i32 = 1_000;
const PAGE: i64 = 100;

const PY: &str = r#"
import json, sys, time, datetime
import sqlalchemy as sa
from sqlalchemy import orm
from oslo_db.sqlalchemy import enginefacade, models, utils

req = json.load(sys.stdin)
Base = orm.declarative_base()

class Instance(Base, models.ModelBase, models.SoftDeleteMixin, models.TimestampMixin):
    __tablename__ = "instances"
    __table_args__ = (sa.UniqueConstraint("name", "deleted", name="uniq_instances0name0deleted"),)
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(64), nullable=False)
    project_id = sa.Column(sa.String(64))
    size = sa.Column(sa.Integer)

ctx_mgr = enginefacade.transaction_context()
ctx_mgr.configure(connection=req["url"], sqlite_synchronous=False)

class Ctx:
    pass

ctx = Ctx()
out = {}
n_one, n_txn, per_txn, n_del, page = req["n_one"], req["n_txn"], req["per_txn"], req["n_del"], req["page"]

t = time.perf_counter()
with ctx_mgr.writer.using(ctx) as s:
    for i in range(n_one):
        s.add(Instance(name="a%06d" % i, project_id="p", size=i % 7))
out["insert_one_txn"] = time.perf_counter() - t

t = time.perf_counter()
k = 0
for _ in range(n_txn):
    with ctx_mgr.writer.using(ctx) as s:
        for _ in range(per_txn):
            s.add(Instance(name="b%06d" % k, project_id="p", size=k % 7))
            k += 1
out["insert_many_txn"] = time.perf_counter() - t

t = time.perf_counter()
with ctx_mgr.writer.using(ctx) as s:
    for i in range(1, n_del + 1):
        s.query(Instance).filter(Instance.id == i * 3).soft_delete(synchronize_session=False)
out["soft_delete"] = time.perf_counter() - t

t = time.perf_counter()
marker, rows = None, 0
while True:
    with ctx_mgr.reader.using(ctx) as s:
        q = utils.model_query(Instance, s, deleted=False)
        q = utils.paginate_query(q, Instance, page, ["id"], marker=marker)
        got = q.all()
    if not got:
        break
    rows += len(got)
    marker = got[-1]
out["paginate"] = time.perf_counter() - t
out["rows"] = rows
print(json.dumps(out))
"#;

#[derive(Debug, Default, Clone, Copy)]
struct Times {
    insert_one_txn: Duration,
    insert_many_txn: Duration,
    soft_delete: Duration,
    paginate: Duration,
    rows: usize,
}

impl Times {
    fn phases(&self) -> [(&'static str, Duration); 4] {
        [
            ("insert 10,000 rows, one transaction", self.insert_one_txn),
            (
                "insert 10,000 rows, 1,000 transactions",
                self.insert_many_txn,
            ),
            ("soft-delete 1,000 rows", self.soft_delete),
            ("page through all rows, 100 at a time", self.paginate),
        ]
    }
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// Rows inserted per INSERT statement (SQLAlchemy's ORM batches its flushes the same way).
const BATCH: usize = 1_000;

fn names(prefix: char, range: std::ops::Range<usize>) -> Vec<(String, usize)> {
    range.map(|i| (format!("{prefix}{i:06}"), i)).collect()
}

fn rows(names: &[(String, usize)]) -> Vec<NewInstance<'_>> {
    names.iter().map(|(n, i)| row(n, *i)).collect()
}

fn row(name: &str, i: usize) -> NewInstance<'_> {
    NewInstance {
        name,
        project_id: Some("p"),
        size: Some((i % 7) as i32),
        created_at: oslo_db::utcnow(),
    }
}

macro_rules! bench_backend {
    ($conn:ty, $db:ty) => {{
        type C = $conn;
        type Db = $db;

        fn ours(db: &TestDatabase<C>) -> Times {
            let f = db.facade();
            let mut t = Times::default();
            t.insert_one_txn = timed(|| {
                f.writer()
                    .run(|c: &mut C| {
                        for chunk in names('a', 0..ONE_TXN).chunks(BATCH) {
                            diesel::insert_into(instances::table)
                                .values(rows(chunk))
                                .execute(c)?;
                        }
                        Ok::<_, Error>(())
                    })
                    .unwrap()
            });
            t.insert_many_txn = timed(|| {
                for k in 0..TXNS {
                    let batch = names('b', k * PER_TXN..(k + 1) * PER_TXN);
                    f.writer()
                        .run(|c: &mut C| {
                            diesel::insert_into(instances::table)
                                .values(rows(&batch))
                                .execute(c)?;
                            Ok::<_, Error>(())
                        })
                        .unwrap();
                }
            });
            t.soft_delete = timed(|| {
                f.writer()
                    .run(|c: &mut C| {
                        for i in 1..=DELETES {
                            instances::table.soft_delete(c, i * 3)?;
                        }
                        Ok::<_, Error>(())
                    })
                    .unwrap()
            });
            t.paginate = timed(|| {
                let mut marker: Option<Instance> = None;
                loop {
                    let page: Vec<Instance> = f
                        .reader()
                        .run(|c: &mut C| {
                            let q = ModelQuery::<Db>::model_query(
                                instances::table,
                                ReadDeleted::No,
                                ProjectFilter::Any,
                            )?;
                            let q = paginate_query::<instances::table, Db>(
                                q,
                                Some(PAGE),
                                &["id"],
                                &[SortDir::ASC],
                                marker.as_ref(),
                            )?;
                            Ok::<_, Error>(q.load(c)?)
                        })
                        .unwrap();
                    let Some(last) = page.last().cloned() else {
                        break;
                    };
                    t.rows += page.len();
                    marker = Some(last);
                }
            });
            t
        }

        fn raw(url: &str) -> Times {
            let mut c = <C as diesel::Connection>::establish(url).unwrap();
            if <C as DbConnection>::BACKEND == BackendKind::Sqlite {
                c.batch_execute("PRAGMA synchronous = OFF").unwrap();
            }
            let mut t = Times::default();
            t.insert_one_txn = timed(|| {
                c.transaction(|c| {
                    for chunk in names('a', 0..ONE_TXN).chunks(BATCH) {
                        diesel::insert_into(instances::table)
                            .values(rows(chunk))
                            .execute(c)?;
                    }
                    diesel::QueryResult::Ok(())
                })
                .unwrap()
            });
            t.insert_many_txn = timed(|| {
                for k in 0..TXNS {
                    let batch = names('b', k * PER_TXN..(k + 1) * PER_TXN);
                    c.transaction(|c| {
                        diesel::insert_into(instances::table)
                            .values(rows(&batch))
                            .execute(c)?;
                        diesel::QueryResult::Ok(())
                    })
                    .unwrap();
                }
            });
            t.soft_delete = timed(|| {
                c.transaction(|c| {
                    for i in 1..=DELETES {
                        let now = oslo_db::utcnow();
                        diesel::update(
                            instances::table
                                .filter(instances::deleted.eq(0))
                                .filter(instances::id.eq(i * 3)),
                        )
                        .set((
                            instances::deleted.eq(instances::id),
                            instances::deleted_at.eq(Some(now)),
                            instances::updated_at.eq(instances::updated_at),
                        ))
                        .execute(c)?;
                    }
                    diesel::QueryResult::Ok(())
                })
                .unwrap()
            });
            t.paginate = timed(|| {
                let mut marker: Option<i32> = None;
                loop {
                    let page: Vec<Instance> = c
                        .transaction(|c| {
                            let mut q = instances::table
                                .filter(instances::deleted.eq(0))
                                .order(instances::id.asc())
                                .limit(PAGE)
                                .into_boxed();
                            if let Some(id) = marker {
                                q = q.filter(instances::id.gt(id));
                            }
                            q.load(c)
                        })
                        .unwrap();
                    let Some(last) = page.last() else { break };
                    t.rows += page.len();
                    marker = Some(last.id);
                }
            });
            t
        }

        run::<C>(ours, raw)
    }};
}

fn python(url: &str) -> Times {
    let req = serde_json::json!({
        "url": db_common::python_url(url),
        "n_one": ONE_TXN, "n_txn": TXNS, "per_txn": PER_TXN, "n_del": DELETES, "page": PAGE,
    });
    let out = oslo_tests::run_python_json(PY, &req.to_string());
    let secs = |k: &str| Duration::from_secs_f64(out[k].as_f64().expect("a time"));
    Times {
        insert_one_txn: secs("insert_one_txn"),
        insert_many_txn: secs("insert_many_txn"),
        soft_delete: secs("soft_delete"),
        paginate: secs("paginate"),
        rows: out["rows"].as_u64().unwrap_or(0) as usize,
    }
}

fn fresh<C: DbConnection>() -> Option<TestDatabase<C>> {
    let db = match C::BACKEND {
        BackendKind::Sqlite => TestDatabase::<C>::sqlite(|o| o.sqlite_synchronous(false)).unwrap(),
        BackendKind::Postgres => TestDatabase::<C>::provision(
            &oslo_tests::server_url(oslo_tests::Server::Postgres)?,
            |o| o,
        )
        .unwrap(),
        BackendKind::Mysql => {
            TestDatabase::<C>::provision(&oslo_tests::server_url(oslo_tests::Server::Mysql)?, |o| o)
                .unwrap()
        }
    };
    db.facade()
        .writer()
        .run(|c| {
            c.batch_execute(db_common::schema(C::BACKEND))
                .map_err(Error::from)
        })
        .unwrap();
    if C::BACKEND == BackendKind::Postgres {
        // As SQLite runs with `synchronous = OFF`: commits do not wait for the disk, on every side, so
        // that the figures show the libraries rather than the disk.
        db.facade()
            .writer()
            .run(|c| {
                c.batch_execute(&format!(
                    "ALTER DATABASE \"{}\" SET synchronous_commit = off",
                    db.name()
                ))
                .map_err(Error::from)
            })
            .unwrap();
        // The setting applies to new connections.
        db.facade().dispose_pool();
    }
    Some(db)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Rounds per side; each phase keeps its best round (the machine is shared, so the best is the
/// least disturbed).
const ROUNDS: usize = 5;
const PY_ROUNDS: usize = 2;

fn best(all: &[Times]) -> Times {
    let min = |f: fn(&Times) -> Duration| all.iter().map(f).min().unwrap_or_default();
    Times {
        insert_one_txn: min(|t| t.insert_one_txn),
        insert_many_txn: min(|t| t.insert_many_txn),
        soft_delete: min(|t| t.soft_delete),
        paginate: min(|t| t.paginate),
        rows: all.first().map_or(0, |t| t.rows),
    }
}

fn run<C: DbConnection>(ours: fn(&TestDatabase<C>) -> Times, raw: fn(&str) -> Times) {
    let (mut r_ours, mut r_raw, mut r_py) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (Some(db_ours), Some(db_raw)) = (fresh::<C>(), fresh::<C>()) else {
            eprintln!("{}: no server, skipped", C::BACKEND);
            return;
        };
        let raw_url = match C::BACKEND {
            BackendKind::Sqlite => db_raw.url().trim_start_matches("sqlite:///").to_string(),
            _ => db_raw.url(),
        };
        // Alternate who goes first.
        if round % 2 == 0 {
            r_raw.push(raw(&raw_url));
            r_ours.push(ours(&db_ours));
        } else {
            r_ours.push(ours(&db_ours));
            r_raw.push(raw(&raw_url));
        }
        if round < PY_ROUNDS {
            let db_py = fresh::<C>().expect("the server answered a moment ago");
            r_py.push(python(&db_py.url()));
        }
    }
    let (t_ours, t_raw, t_py) = (best(&r_ours), best(&r_raw), best(&r_py));
    assert_eq!(t_ours.rows, t_raw.rows);
    assert_eq!(t_ours.rows, t_py.rows);
    println!(
        "\n{} ({} live rows paged; best of {ROUNDS} rounds, Python best of {PY_ROUNDS})",
        C::BACKEND,
        t_ours.rows
    );
    println!(
        "| {:<40} | {:>10} | {:>10} | {:>10} | {:>13} | {:>12} |",
        "work", "Python", "oslo-db", "raw diesel", "vs Python", "vs raw"
    );
    println!(
        "|{:-<42}|{:->12}|{:->12}|{:->12}|{:->15}|{:->14}|",
        "", "", "", "", "", ""
    );
    for ((name, py), ((_, o), (_, r))) in t_py
        .phases()
        .into_iter()
        .zip(t_ours.phases().into_iter().zip(t_raw.phases()))
    {
        println!(
            "| {:<40} | {:>10} | {:>10} | {:>10} | {:>12.1}x | {:>11.2}x |",
            name,
            ms(py),
            ms(o),
            ms(r),
            py.as_secs_f64() / o.as_secs_f64(),
            o.as_secs_f64() / r.as_secs_f64()
        );
    }
}

fn main() {
    println!(
        "oslo-db vs Python oslo.db 18.1 vs raw diesel (times: lower is better; \"vs Python\": how many times faster; \"vs raw\": our time / diesel's)"
    );
    bench_backend!(diesel::SqliteConnection, diesel::sqlite::Sqlite);
    #[cfg(feature = "db-servers")]
    bench_backend!(diesel::PgConnection, diesel::pg::Pg);
}
