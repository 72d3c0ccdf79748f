//! Fault test: a process running a persisted flow (directory backend) is killed mid-task; a new process
//! resumes it. Completed tasks are not run again, the interrupted one is, and the flow finishes.
#![cfg(feature = "taskflow")]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use taskflow::State;
use taskflow::persistence::{Backend, DirBackend};

fn example_binary() -> PathBuf {
    oslo_tests::build_example("taskflow", &[], "resumable")
}

fn journal(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("journal"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn killed_flow_resumes_in_a_new_process() {
    let bin = example_binary();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(&bin)
        .args([dir.path().to_str().unwrap(), "5", "400"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it while step3 runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !journal(dir.path()).iter().any(|l| l == "started step3") {
        assert!(
            Instant::now() < deadline,
            "step3 never started: {:?}",
            journal(dir.path())
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the flow ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup runs in the child
    child.wait().unwrap();
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

    // What the dead process left: step1-2 SUCCESS, step3 RUNNING, the flow RUNNING.
    let backend = DirBackend::new(dir.path().join("backend")).unwrap();
    let uuid = std::fs::read_to_string(dir.path().join("flow_uuid")).unwrap();
    let fd = backend.get_flow_details(uuid.trim()).unwrap();
    assert_eq!(fd.state, Some(State::Running));
    assert_eq!(fd.atom("step2").unwrap().state, State::Success);
    assert_eq!(fd.atom("step3").unwrap().state, State::Running);

    let out = Command::new(&bin)
        .args([dir.path().to_str().unwrap(), "5", "50"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "resume failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ended SUCCESS: acc = 5"), "{stdout}");
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
        assert_eq!(
            after
                .iter()
                .filter(|l| **l == format!("started {step}"))
                .count(),
            1,
            "{step} ran again"
        );
    }
    let fd = backend.get_flow_details(uuid.trim()).unwrap();
    assert_eq!(fd.state, Some(State::Success));
    assert!(fd.atoms.iter().all(|a| a.state == State::Success));
}
