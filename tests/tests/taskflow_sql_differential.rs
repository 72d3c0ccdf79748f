//! Differential test: the records our SQL backend writes are read back by Python TaskFlow's own
//! SQLAlchemy backend (the tables have the original's shape), with the same states, intentions, results
//! and metadata; and the other way round, Python TaskFlow runs flows on its SQL backend in our tables and
//! we read its records (failures and retry histories in its dict form). On SQLite, PostgreSQL (native
//! `JSON` columns, as TaskFlow's) and MariaDB.
#![cfg(feature = "taskflow-sql")]

mod db_common;

use std::sync::Arc;

use db_common::{empty_database, python_url};
use taskflow::persistence::{Backend, SqlBackend, SqlConnection};
use taskflow::{Engine, Failure, Flow, Times, fn_task, json, retry};

const READ_WITH_TASKFLOW: &str = r#"
import contextlib, json, sys
import sqlalchemy
from taskflow.persistence import backends
be = backends.fetch({'connection': sys.stdin.read().strip()})
out = []
with contextlib.closing(be.get_connection()) as conn:
    for lb in conn.get_logbooks():
        flows = []
        for fd in lb:
            atoms = {}
            for ad in fd:
                atoms[ad.name] = {
                    'type': type(ad).__name__, 'state': ad.state, 'intention': ad.intention,
                    'results': ad.results, 'version': ad.version,
                    'failure': None if ad.failure is None else
                        [ad.failure.exception_str, list(ad.failure)],
                }
                if type(ad).__name__ == 'RetryDetail':
                    # TaskFlow's RetryDetail.from_dict replaces each attempt's value with the last
                    # failure's dict (a shadowed variable), so the values are read from the row itself.
                    with be.engine.connect() as c:
                        raw = c.execute(sqlalchemy.text(
                            "SELECT results FROM atomdetails WHERE uuid = :u"), {'u': ad.uuid}).scalar()
                    values = [v for v, _ in (json.loads(raw) if isinstance(raw, str) else raw)]
                    atoms[ad.name]['results'] = [
                        [value, {k: [f.exception_str, list(f)] for k, f in fails.items()}]
                        for value, (_, fails) in zip(values, ad.results)]
            flows.append({'uuid': fd.uuid, 'name': fd.name, 'state': fd.state, 'meta': fd.meta,
                          'atoms': atoms})
        out.append({'uuid': lb.uuid, 'name': lb.name, 'flows': flows})
print(json.dumps(out))
"#;

fn python_reads_our_records<C: SqlConnection>(db: &oslo_db::testing::TestDatabase<C>) {
    let backend = Arc::new(SqlBackend::new(db.facade().clone()).unwrap());
    let mut flow = Flow::linear("provision");
    flow.add(
        fn_task("ip", |_| {
            Ok(json!({"addr": "10.0.0.7", "ports": [22, 443]}))
        })
        .provides("ip"),
    )
    .unwrap();
    flow.add(
        fn_task("name", |ctx| {
            Ok(json!(format!("vm-{}", ctx.args().require("ip")?["addr"])))
        })
        .requires(["ip"])
        .provides("name"),
    )
    .unwrap();
    let mut engine = Engine::builder(flow)
        .backend(backend.clone())
        .flow_meta("owner", json!("ops"))
        .build()
        .unwrap();
    engine.run().unwrap();
    // A second flow that fails and is reverted.
    let mut bad = Flow::linear("bad");
    bad.add(fn_task("ok", |_| Ok(json!(1)))).unwrap();
    bad.add(fn_task("boom", |_| Err(Failure::new("IOError", "disk"))))
        .unwrap();
    let mut bad_engine = Engine::builder(bad)
        .backend(backend.clone())
        .build()
        .unwrap();
    assert!(bad_engine.run().is_err());

    let theirs = oslo_tests::run_python_json(READ_WITH_TASKFLOW, &python_url(&db.url()));
    let books = theirs.as_array().unwrap();
    assert_eq!(books.len(), 2, "{theirs}");
    let by_flow = |name: &str| {
        books
            .iter()
            .flat_map(|b| b["flows"].as_array().unwrap())
            .find(|f| f["name"] == json!(name))
            .unwrap_or_else(|| panic!("no flow `{name}` in {theirs}"))
            .clone()
    };
    let ours = backend
        .get_flow_details(&engine.flow_detail().uuid)
        .unwrap();
    let py = by_flow("provision");
    assert_eq!(py["uuid"], json!(ours.uuid));
    assert_eq!(py["state"], json!("SUCCESS"));
    assert_eq!(py["meta"]["owner"], json!("ops"));
    for a in &ours.atoms {
        let p = &py["atoms"][&a.name];
        assert_eq!(p["type"], json!("TaskDetail"), "{p}");
        assert_eq!(p["state"], json!(a.state.as_str()));
        assert_eq!(p["intention"], json!(a.intention.as_str()));
        assert_eq!(p["results"], a.results);
        assert_eq!(p["version"], json!(a.version));
        assert_eq!(p["failure"], json!(null));
    }
    assert_eq!(py["atoms"]["name"]["results"], json!("vm-\"10.0.0.7\""));

    let py = by_flow("bad");
    assert_eq!(py["state"], json!("REVERTED"));
    assert_eq!(py["atoms"]["ok"]["state"], json!("REVERTED"));
    assert_eq!(py["atoms"]["boom"]["state"], json!("REVERTED"));
    let ours_bad = backend
        .get_flow_details(&bad_engine.flow_detail().uuid)
        .unwrap();
    for a in &ours_bad.atoms {
        assert_eq!(
            py["atoms"][&a.name]["intention"],
            json!(a.intention.as_str())
        );
    }
    assert_eq!(py["atoms"]["boom"]["failure"], json!(["disk", ["IOError"]]));

    // A retry that needed two attempts: its history, failures included, in TaskFlow's form.
    let mut flaky =
        Flow::linear("flaky").with_retry(retry("again", Times::new(3)).provides("attempt"));
    flaky
        .add(
            fn_task("try", |ctx| {
                if ctx.arg::<u64>("attempt")? < 2 {
                    Err(Failure::new("TimeoutError", "slow"))
                } else {
                    Ok(json!("done"))
                }
            })
            .requires(["attempt"]),
        )
        .unwrap();
    let mut e = Engine::builder(flaky)
        .backend(backend.clone())
        .build()
        .unwrap();
    e.run().unwrap();
    let theirs = oslo_tests::run_python_json(READ_WITH_TASKFLOW, &python_url(&db.url()));
    let py = theirs
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["flows"].as_array().unwrap())
        .find(|f| f["name"] == json!("flaky"))
        .unwrap()
        .clone();
    assert_eq!(py["atoms"]["again"]["type"], json!("RetryDetail"));
    assert_eq!(
        py["atoms"]["again"]["results"],
        json!([[1, {"try": ["slow", ["TimeoutError"]]}], [2, {}]])
    );
    // And we read back what we wrote.
    let ours = backend.get_flow_details(&e.flow_detail().uuid).unwrap();
    assert_eq!(
        ours.atom("again").unwrap().results,
        json!([
            {"value": 1, "failures": {"try": {"kind": "TimeoutError", "message": "slow"}}},
            {"value": 2, "failures": {}}
        ])
    );
    let bad = backend
        .get_flow_details(&bad_engine.flow_detail().uuid)
        .unwrap();
    assert_eq!(
        bad.atom("boom").unwrap().failure,
        Some(Failure::new("IOError", "disk"))
    );
}

const WRITE_WITH_TASKFLOW: &str = r#"
import json, sys
import taskflow.engines
from taskflow import retry, task
from taskflow.patterns import linear_flow as lf
from taskflow.persistence import backends

be = backends.fetch({'connection': sys.stdin.read().strip()})

class Ip(task.Task):
    def execute(self):
        return {'addr': '10.0.0.7', 'ports': [22]}

class Flaky(task.Task):
    def execute(self, attempt):
        if attempt < 2:
            raise IOError('slow')
        return 'done'

class Boom(task.Task):
    def execute(self):
        raise ValueError('bad')

ok = lf.Flow('py-ok', retry=retry.Times(3, provides='attempt'))
ok.add(Ip('ip', provides='ip'), Flaky('flaky'))
e = taskflow.engines.load(ok, backend=be)
e.run()
bad = lf.Flow('py-bad')
bad.add(Ip('ip2'), Boom('boom'))
e2 = taskflow.engines.load(bad, backend=be)
try:
    e2.run()
except ValueError:
    pass
print(json.dumps({'ok': e.storage.flow_uuid, 'bad': e2.storage.flow_uuid}))
"#;

/// TaskFlow (Python) runs flows on its SQL backend in tables our migrations made; we read its records.
fn we_read_taskflows_records<C: SqlConnection>(db: &oslo_db::testing::TestDatabase<C>) {
    use taskflow::State;
    let backend = SqlBackend::new(db.facade().clone()).unwrap();
    let uuids = oslo_tests::run_python_json(WRITE_WITH_TASKFLOW, &python_url(&db.url()));
    let ok = backend
        .get_flow_details(uuids["ok"].as_str().unwrap())
        .unwrap();
    assert_eq!(ok.state, Some(State::Success));
    let ip = ok.atom("ip").unwrap();
    assert_eq!(ip.state, State::Success);
    assert_eq!(ip.results, json!({"addr": "10.0.0.7", "ports": [22]}));
    let again = ok
        .atoms
        .iter()
        .find(|a| a.atom_type == taskflow::persistence::AtomType::Retry)
        .expect("the retry's record");
    let history = again.results.as_array().unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["value"], json!(1));
    assert_eq!(history[0]["failures"]["flaky"]["kind"], json!("OSError"));
    assert_eq!(history[0]["failures"]["flaky"]["message"], json!("slow"));
    assert_eq!(history[1], json!({"value": 2, "failures": {}}));
    assert_eq!(ok.atom("flaky").unwrap().results, json!("done"));

    let bad = backend
        .get_flow_details(uuids["bad"].as_str().unwrap())
        .unwrap();
    assert_eq!(bad.state, Some(State::Reverted));
    let boom = bad.atom("boom").unwrap();
    assert_eq!(boom.state, State::Reverted);
    assert_eq!(boom.failure, Some(Failure::new("ValueError", "bad")));
    // The logbooks TaskFlow created hold the flow details.
    let books = backend.get_logbooks().unwrap();
    assert!(
        books
            .iter()
            .any(|b| b.flows.iter().any(|f| f.uuid == ok.uuid))
    );
}

mod sqlite {
    use super::*;

    #[test]
    fn python_taskflow_reads_our_records() {
        let Some(db) = empty_database::<diesel::SqliteConnection>(|o| o) else {
            return;
        };
        python_reads_our_records(&db);
    }

    #[test]
    fn we_read_python_taskflows_records() {
        let Some(db) = empty_database::<diesel::SqliteConnection>(|o| o) else {
            return;
        };
        we_read_taskflows_records(&db);
    }
}

mod mysql {
    use super::*;

    #[test]
    fn python_taskflow_reads_our_records() {
        let Some(db) = empty_database::<diesel::MysqlConnection>(|o| o) else {
            return;
        };
        python_reads_our_records(&db);
    }

    #[test]
    fn we_read_python_taskflows_records() {
        let Some(db) = empty_database::<diesel::MysqlConnection>(|o| o) else {
            return;
        };
        we_read_taskflows_records(&db);
    }
}

mod postgres {
    use super::*;

    #[test]
    fn python_taskflow_reads_our_records() {
        let Some(db) = empty_database::<diesel::PgConnection>(|o| o) else {
            return;
        };
        python_reads_our_records(&db);
    }

    #[test]
    fn we_read_python_taskflows_records() {
        let Some(db) = empty_database::<diesel::PgConnection>(|o| o) else {
            return;
        };
        we_read_taskflows_records(&db);
    }
}
