//! The SQL backend and the job board on SQLite (the cross-crate suite runs them on PostgreSQL and
//! MariaDB too).

use std::sync::Arc;
use std::time::Duration;

use diesel::SqliteConnection;
use oslo_db::testing::TestDatabase;
use taskflow::persistence::{AtomDetail, AtomType, Backend, FlowDetail, LogBook, SqlBackend};
use taskflow::*;

fn backend() -> (
    TestDatabase<SqliteConnection>,
    Arc<SqlBackend<SqliteConnection>>,
) {
    let db = TestDatabase::<SqliteConnection>::sqlite(|o| o).unwrap();
    let b = Arc::new(SqlBackend::new(db.facade().clone()).unwrap());
    (db, b)
}

#[test]
fn records_roundtrip() {
    let (_db, b) = backend();
    let mut book = LogBook::new("book");
    let mut fd = FlowDetail::new("flow");
    fd.state = Some(State::Running);
    let mut ad = AtomDetail::new("a", AtomType::Task);
    ad.results = json!({"k": [1, 2]});
    ad.state = State::Success;
    fd.atoms.push(ad.clone());
    book.flows.push(fd.clone());
    b.save_logbook(&book).unwrap();
    let got = b.get_logbook(&book.uuid).unwrap();
    assert_eq!(got.flows[0].state, Some(State::Running));
    assert_eq!(got.flows[0].atoms[0].results, json!({"k": [1, 2]}));
    ad.failure = Some(Failure::new("IOError", "disk"));
    b.update_atom_details(&fd.uuid, &ad).unwrap();
    assert_eq!(
        b.get_atom_details(&ad.uuid).unwrap().failure.unwrap().kind,
        "IOError"
    );
    let retry = AtomDetail::new("r", AtomType::Retry);
    b.update_atom_details(&fd.uuid, &retry).unwrap();
    let got = b.get_atom_details(&retry.uuid).unwrap();
    assert_eq!((got.atom_type, got.results), (AtomType::Retry, json!([])));
    assert!(matches!(
        b.update_atom_details("nope", &retry),
        Err(Error::NotFound(_))
    ));
    b.destroy_logbook(&book.uuid).unwrap();
    assert!(matches!(b.get_logbook(&book.uuid), Err(Error::NotFound(_))));
    assert!(matches!(
        b.get_atom_details(&ad.uuid),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn migrations_run_once() {
    let (_db, b) = backend();
    assert!(b.upgrade().unwrap().is_empty(), "already applied by new()");
}

#[test]
fn claims_are_exclusive_and_lapse() {
    let (_db, b) = backend();
    let board = JobBoard::new("b", b);
    let job = board.post_flow("j", "f", json!(null), json!({})).unwrap();
    assert_eq!(job.state(), JobState::Unclaimed);
    let claimed = board
        .claim(&job.uuid, "alice", Duration::from_millis(300))
        .unwrap();
    assert_eq!(
        (claimed.owner.as_deref(), claimed.state()),
        (Some("alice"), JobState::Claimed)
    );
    assert!(matches!(
        board.claim(&job.uuid, "bob", Duration::from_secs(5)),
        Err(Error::Unclaimable(_))
    ));
    assert!(matches!(
        board.consume(&job.uuid, "bob"),
        Err(Error::JobFailure(_))
    ));
    assert!(matches!(
        board.abandon(&job.uuid, "bob"),
        Err(Error::JobFailure(_))
    ));
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        board
            .renew(&job.uuid, "alice", Duration::from_secs(5))
            .is_err(),
        "lapsed"
    );
    board
        .claim(&job.uuid, "bob", Duration::from_secs(5))
        .unwrap();
    board.abandon(&job.uuid, "bob").unwrap();
    board
        .claim(&job.uuid, "carol", Duration::from_secs(5))
        .unwrap();
    board.consume(&job.uuid, "carol").unwrap();
    assert!(matches!(board.job(&job.uuid), Err(Error::NotFound(_))));
    assert!(board.jobs().unwrap().is_empty());
}

fn factories() -> FlowFactories {
    let mut f = FlowFactories::new();
    f.register("add", |args| {
        let fails = args["fail"].as_bool().unwrap_or(false);
        let mut flow = Flow::linear("add");
        flow.add(
            fn_task("sum", |ctx| {
                Ok(json!(ctx.arg::<i64>("x")? + ctx.arg::<i64>("y")?))
            })
            .requires(["x", "y"])
            .provides("z"),
        )?;
        flow.add(fn_task("check", move |_| {
            if fails {
                Err(Failure::new("ValueError", "bad sum"))
            } else {
                Ok(json!(true))
            }
        }))?;
        Ok(flow)
    });
    f
}

#[test]
fn a_conductor_runs_and_consumes_jobs() {
    let (_db, b) = backend();
    let board = JobBoard::new("work", b.clone());
    let ok = board
        .post_flow("ok", "add", json!({}), json!({"x": 2, "y": 3}))
        .unwrap();
    let bad = board
        .post_flow("bad", "add", json!({"fail": true}), json!({"x": 1, "y": 1}))
        .unwrap();
    let lost = board
        .post_flow("lost", "nope", json!({}), json!({}))
        .unwrap();
    let conductor =
        Conductor::new("c1", board.clone(), factories()).poll_interval(Duration::from_millis(10));
    let done = conductor.run(Some(Duration::from_millis(50))).unwrap();
    assert_eq!(done.len(), 3);
    let mut consumed = Vec::new();
    let mut abandoned = Vec::new();
    for d in done {
        match d {
            Dispatched::Consumed { job, state, error } => {
                consumed.push((job.name, state, error.map(|e| e.to_string())))
            }
            Dispatched::Abandoned { job, error } => {
                abandoned.push((job.name, error.map(|e| e.kind())))
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        consumed,
        [
            ("ok".to_owned(), State::Success, None),
            (
                "bad".to_owned(),
                State::Reverted,
                Some("ValueError: bad sum".to_owned())
            )
        ]
    );
    assert_eq!(abandoned, [("lost".to_owned(), Some("NotFound"))]);
    // The flow's results are in the logbook; the job that could not be built is back on the board.
    let fd = b
        .get_flow_details(ok.details["flow_uuid"].as_str().unwrap())
        .unwrap();
    assert_eq!(fd.atom("sum").unwrap().results, json!(5));
    assert!(board.job(&bad.uuid).is_err());
    let left = board.jobs().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].uuid.as_str(), left[0].state()),
        (lost.uuid.as_str(), JobState::Unclaimed)
    );
}

#[test]
fn a_conductor_skips_jobs_claimed_by_others() {
    let (_db, b) = backend();
    let board = JobBoard::new("work", b);
    let job = board
        .post_flow("ok", "add", json!({}), json!({"x": 2, "y": 3}))
        .unwrap();
    board
        .claim(&job.uuid, "other", Duration::from_secs(60))
        .unwrap();
    let conductor = Conductor::new("c1", board.clone(), factories());
    assert!(conductor.run_once().unwrap().is_none());
    assert_eq!(
        board.job(&job.uuid).unwrap().owner.as_deref(),
        Some("other")
    );
}

#[test]
fn a_lost_claim_suspends_the_flow_and_the_job_is_left_alone() {
    let (_db, b) = backend();
    let board = JobBoard::new("work", b.clone());
    let started = Arc::new(std::sync::Barrier::new(2));
    let mut factories = FlowFactories::new();
    let s = started.clone();
    factories.register("slow", move |_| {
        let s = s.clone();
        let mut flow = Flow::linear("slow");
        flow.add(fn_task("wait", move |_| {
            s.wait();
            std::thread::sleep(Duration::from_millis(400));
            Ok(json!(1))
        }))?;
        flow.add(fn_task("after", |_| Ok(json!(2))))?;
        Ok(flow)
    });
    let job = board
        .post_flow("slow", "slow", json!({}), json!({}))
        .unwrap();
    let conductor =
        Conductor::new("c1", board.clone(), factories).claim_ttl(Duration::from_millis(150));
    let runner = std::thread::spawn(move || conductor.run_once());
    started.wait();
    // An operator removes the job while it runs: the next renewal fails and the engine suspends.
    board.delete(&job.uuid).unwrap();
    let d = runner.join().unwrap().unwrap().unwrap();
    let Dispatched::Abandoned { job: j, error } = d else {
        panic!("{d:?}")
    };
    assert_eq!(j.uuid, job.uuid);
    assert!(error.is_none());
    let fd = b
        .get_flow_details(job.details["flow_uuid"].as_str().unwrap())
        .unwrap();
    assert_eq!(fd.state, Some(State::Suspended));
    assert_eq!(fd.atom("wait").unwrap().state, State::Success);
    assert_eq!(fd.atom("after").unwrap().state, State::Pending);
}

#[test]
fn a_stopped_conductor_suspends_its_flow_and_another_finishes_it() {
    let (_db, b) = backend();
    let board = JobBoard::new("work", b.clone());
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Arc::new(std::sync::Barrier::new(2));
    let mut factories = FlowFactories::new();
    let (s, r) = (started.clone(), runs.clone());
    factories.register("two", move |_| {
        let (s, r1, r2) = (s.clone(), r.clone(), r.clone());
        let mut flow = Flow::linear("two");
        flow.add(fn_task("first", move |_| {
            r1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if r1.load(std::sync::atomic::Ordering::SeqCst) == 1 {
                s.wait();
                std::thread::sleep(Duration::from_millis(300));
            }
            Ok(json!(1))
        }))?;
        flow.add(fn_task("second", move |_| {
            r2.fetch_add(10, std::sync::atomic::Ordering::SeqCst);
            Ok(json!(2))
        }))?;
        Ok(flow)
    });
    let job = board.post_flow("two", "two", json!({}), json!({})).unwrap();
    let first = Arc::new(
        Conductor::new("c1", board.clone(), factories.clone())
            .poll_interval(Duration::from_millis(10)),
    );
    let c1 = first.clone();
    let runner = std::thread::spawn(move || c1.run(None));
    started.wait();
    first.stop();
    let done = runner.join().unwrap().unwrap();
    assert!(
        matches!(&done[..], [Dispatched::Abandoned { error: None, .. }]),
        "{done:?}"
    );
    assert_eq!(board.job(&job.uuid).unwrap().state(), JobState::Unclaimed);
    let second = Conductor::new("c2", board.clone(), factories);
    let Some(Dispatched::Consumed { state, .. }) = second.run_once().unwrap() else {
        panic!("c2 did not finish the job")
    };
    assert_eq!(state, State::Success);
    assert_eq!(
        runs.load(std::sync::atomic::Ordering::SeqCst),
        11,
        "first ran once, second once"
    );
}
