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
