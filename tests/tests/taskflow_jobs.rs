//! Jobs and conductors on the SQL job board, on SQLite, PostgreSQL and MariaDB: a conductor process is
//! killed (SIGKILL) while it runs a job's flow; a second conductor takes the job over once the dead one's
//! claim lapses, and finishes the flow without rerunning the tasks that had completed.
#![cfg(feature = "taskflow-sql")]

mod db_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use db_common::empty_database;
use taskflow::persistence::{Backend, SqlBackend, SqlConnection};
use taskflow::{JobBoard, JobState, State};

fn example_binary() -> PathBuf {
    oslo_tests::build_example("taskflow", &["sql-postgres", "sql-mysql"], "conductor")
}

fn journal(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("journal"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

const TTL_MS: &str = "1500";

fn takeover<C: SqlConnection>(db: &oslo_db::testing::TestDatabase<C>) {
    let bin = example_binary();
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();

    let out = Command::new(&bin)
        .args([&url, d, "post", "5", "400"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "post failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job_uuid = String::from_utf8_lossy(&out.stdout).trim().to_owned();

    let mut alice = Command::new(&bin)
        .args([&url, d, "work", "alice", TTL_MS])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !journal(dir.path()).iter().any(|l| l == "started step3") {
        assert!(
            Instant::now() < deadline,
            "step3 never started: {:?}",
            journal(dir.path())
        );
        assert!(
            alice.try_wait().unwrap().is_none(),
            "alice ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    alice.kill().unwrap(); // SIGKILL: alice neither abandons the job nor updates anything
    alice.wait().unwrap();
    let before = journal(dir.path());
    assert_eq!(
        before,
        [
            "started step1",
            "finished step1",
            "started step2",
            "finished step2",
            "started step3"
        ]
    );

    // What alice left: her claim on the job, the flow RUNNING with step3 RUNNING.
    let backend = Arc::new(SqlBackend::new(db.facade().clone()).unwrap());
    let board = JobBoard::new("example", backend.clone());
    let job = board.job(&job_uuid).unwrap();
    assert_eq!(job.owner.as_deref(), Some("alice"));
    assert_eq!(
        job.state(),
        JobState::Claimed,
        "the claim has not lapsed yet"
    );
    let flow_uuid = job.details["flow_uuid"].as_str().unwrap().to_owned();
    let fd = backend.get_flow_details(&flow_uuid).unwrap();
    assert_eq!(fd.state, Some(State::Running));
    assert_eq!(fd.atom("step2").unwrap().state, State::Success);
    assert_eq!(fd.atom("step3").unwrap().state, State::Running);

    // Bob waits for the claim to lapse, takes the job and resumes the flow.
    let out = Command::new(&bin)
        .args([&url, d, "work", "bob", TTL_MS])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bob failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("bob: job {job_uuid} ended SUCCESS")),
        "{stdout}"
    );
    let after = journal(dir.path());
    assert_eq!(
        after[before.len()..],
        [
            "started step3",
            "finished step3",
            "started step4",
            "finished step4",
            "started step5",
            "finished step5"
        ]
    );
    for step in ["step1", "step2"] {
        let runs = after
            .iter()
            .filter(|l| **l == format!("started {step}"))
            .count();
        assert_eq!(runs, 1, "{step} ran again");
    }
    let fd = backend.get_flow_details(&flow_uuid).unwrap();
    assert_eq!(fd.state, Some(State::Success));
    assert!(fd.atoms.iter().all(|a| a.state == State::Success));
    assert_eq!(
        fd.atom("step5").unwrap().results,
        taskflow::json!(5),
        "step3 read step2's stored result"
    );
    // The job was consumed.
    assert!(matches!(
        board.job(&job_uuid),
        Err(taskflow::Error::NotFound(_))
    ));
}

on_all_backends! {
    #[test]
    fn a_second_conductor_takes_over_a_killed_ones_job() {
        let Some(db) = empty_database::<C>(|o| o) else { return };
        takeover(&db);
    }
}
