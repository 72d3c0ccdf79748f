//! taskflow's SQL persistence backend on SQLite, PostgreSQL and MariaDB: the records round trip, and a
//! flow suspended or left half-run is resumed from the database by a new engine, as on the directory
//! backend.
#![cfg(feature = "taskflow-sql")]

#[path = "../../taskflow/tests/common/backend_suite.rs"]
mod backend_suite;
mod db_common;

use std::sync::Arc;

use backend_suite::{atom_left_running, resume_with, reverted_flow_is_recorded, roundtrip};
use db_common::empty_database;
use taskflow::persistence::{Backend, LogBook, SqlBackend};
use taskflow::*;

on_all_backends! {
    fn sql_backend(db: &oslo_db::testing::TestDatabase<C>) -> Arc<SqlBackend<C>> {
        Arc::new(SqlBackend::new(db.facade().clone()).unwrap())
    }

    #[test]
    fn records_roundtrip() {
        let Some(db) = empty_database::<C>(|o| o) else { return };
        roundtrip(sql_backend(&db).as_ref());
    }

    #[test]
    fn suspended_flow_resumes() {
        let Some(db) = empty_database::<C>(|o| o) else { return };
        resume_with(sql_backend(&db));
    }

    #[test]
    fn an_atom_left_running_is_run_again() {
        let Some(db) = empty_database::<C>(|o| o) else { return };
        atom_left_running(sql_backend(&db));
    }

    #[test]
    fn a_reverted_flow_is_recorded() {
        let Some(db) = empty_database::<C>(|o| o) else { return };
        reverted_flow_is_recorded(sql_backend(&db));
    }

    #[test]
    fn only_one_of_racing_claimers_wins() {
        let Some(db) = empty_database::<C>(|o| o) else { return };
        let board = taskflow::JobBoard::new("race", sql_backend(&db));
        for round in 0..3 {
            let job = board
                .post_flow(&format!("j{round}"), "f", json!(null), json!({}))
                .unwrap();
            let barrier = Arc::new(std::sync::Barrier::new(6));
            let winners: Vec<String> = (0..6)
                .map(|i| {
                    let (board, barrier, uuid) = (board.clone(), barrier.clone(), job.uuid.clone());
                    std::thread::spawn(move || {
                        let owner = format!("owner{i}");
                        barrier.wait();
                        match board.claim(&uuid, &owner, std::time::Duration::from_secs(30)) {
                            Ok(_) => Some(owner),
                            Err(Error::Unclaimable(_)) => None,
                            Err(e) => panic!("{e}"),
                        }
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .filter_map(|t| t.join().unwrap())
                .collect();
            assert_eq!(winners.len(), 1, "{winners:?}");
            assert_eq!(board.job(&job.uuid).unwrap().owner, Some(winners[0].clone()));
        }
    }

    #[test]
    fn migrations_create_the_tables_once() {
        let Some(db) = empty_database::<C>(|o| o) else { return };
        let b = sql_backend(&db);
        assert!(b.upgrade().unwrap().is_empty(), "applied by new()");
        // A second backend on the same database sees the same records.
        let other = SqlBackend::new(db.facade().clone()).unwrap();
        let book = LogBook::new("shared");
        b.save_logbook(&book).unwrap();
        assert_eq!(other.get_logbook(&book.uuid).unwrap().name, "shared");
    }
}
