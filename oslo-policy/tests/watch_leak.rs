//! Enforcers that watch their files leave nothing behind when dropped: many more of them, one
//! after another, than the per-user inotify instance limit (128 by default) all get a watch, and the
//! process's inotify descriptors and threads are back to what they were. Alone in its file so no
//! other test opens descriptors or threads meanwhile.

use oslo_policy::Enforcer;
use serde_json::json;

fn count(dir: &str, keep: impl Fn(&std::path::Path) -> bool) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| keep(&e.path()))
        .count()
}

fn inotify_fds() -> usize {
    count("/proc/self/fd", |p| {
        std::fs::read_link(p).is_ok_and(|l| l.to_string_lossy().contains("inotify"))
    })
}

fn threads() -> usize {
    count("/proc/self/task", |_| true)
}

#[test]
fn dropped_enforcers_leave_no_watch_nor_thread() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    std::fs::create_dir(dir.path().join("policy.d")).unwrap();
    std::fs::write(&file, "\"a\": \"@\"\n").unwrap();
    let (fds, tasks) = (inotify_fds(), threads());
    for i in 0..400 {
        let e = Enforcer::builder().policy_file(&file).build();
        assert!(e.enforce("a", &json!({}), &json!({})).unwrap());
        assert!(e.watching_files(), "enforcer {i} could not watch");
        if i == 0 {
            assert_eq!(inotify_fds(), fds + 1, "one descriptor per enforcer");
            assert_eq!(threads(), tasks, "no thread per enforcer");
        }
    }
    assert_eq!(inotify_fds(), fds);
    assert_eq!(threads(), tasks);
}
