//! Watching the policy files with inotify (the default): every kind of change is seen by the very
//! next `enforce` after the writing call returned, with no wait; the fallback looks at the files on
//! every call; enforcers leave no threads nor descriptors behind.

use std::path::Path;
use std::time::{Duration, SystemTime};

use oslo_policy::Enforcer;
use serde_json::json;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// Gives a file a modification time in the future, so a rewrite within the same clock tick is
/// still newer for the mtime comparison that follows an event.
fn write_later(path: &Path, text: &str, secs: u64) {
    write(path, text);
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(secs))
        .unwrap();
}

fn allows(e: &Enforcer, rule: &str) -> bool {
    e.enforce(rule, &json!({}), &json!({})).unwrap()
}

/// Many rounds of each change, each checked by the very next call, so a race would show.
const ROUNDS: u64 = 50;

fn check_every_change(e: &Enforcer, dir: &Path, file: &Path) {
    let pd = dir.join("policy.d");
    assert!(!allows(e, "a"));
    for i in 0..ROUNDS {
        // Rewritten in place.
        let (text, want) = if i % 2 == 0 {
            ("\"a\": \"@\"\n", true)
        } else {
            ("\"a\": \"!\"\n", false)
        };
        write_later(file, text, 10 + 4 * i);
        assert_eq!(allows(e, "a"), want, "in place, round {i}");
        // Replaced by rename.
        let tmp = dir.join(".policy.yaml.tmp");
        write_later(
            &tmp,
            if want {
                "\"a\": \"!\"\n"
            } else {
                "\"a\": \"@\"\n"
            },
            11 + 4 * i,
        );
        std::fs::rename(&tmp, file).unwrap();
        assert_eq!(allows(e, "a"), !want, "renamed, round {i}");
        // A file added to policy.d, then removed.
        let extra = pd.join(format!("extra-{i}.yaml"));
        write_later(&extra, "\"b\": \"@\"\n", 12 + 4 * i);
        assert!(allows(e, "b"), "added, round {i}");
        std::fs::remove_file(&extra).unwrap();
        // The directory's own time moves with the removal; make sure it is newer than the entry.
        std::fs::File::open(&pd)
            .unwrap()
            .set_modified(SystemTime::now() + Duration::from_secs(13 + 4 * i))
            .unwrap();
        assert!(!allows(e, "b"), "removed, round {i}");
    }
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    std::fs::create_dir(dir.path().join("policy.d")).unwrap();
    write(&file, "\"a\": \"!\"\n");
    (dir, file)
}

#[test]
fn watched_changes_are_seen_by_the_next_enforce() {
    let (dir, file) = setup();
    let e = Enforcer::builder().policy_file(&file).build();
    e.load_rules(false).unwrap();
    assert!(e.watching_files());
    check_every_change(&e, dir.path(), &file);
    assert!(e.watching_files());
}

#[test]
fn unwatched_changes_are_seen_by_the_next_enforce() {
    let (dir, file) = setup();
    let e = Enforcer::builder()
        .policy_file(&file)
        .watch_files(false)
        .build();
    check_every_change(&e, dir.path(), &file);
    assert!(!e.watching_files());
}

#[test]
fn an_unwatchable_place_falls_back_to_looking_every_call() {
    // The policy dir is given as an absolute path whose parent does not exist: it cannot be
    // watched, so the enforcer looks at the files on every call and still sees each change.
    let (dir, file) = setup();
    let missing = dir.path().join("no/such/policy.d");
    let e = Enforcer::builder()
        .policy_file(&file)
        .policy_dirs([missing])
        .build();
    assert!(!allows(&e, "a"));
    assert!(!e.watching_files());
    for i in 0..10 {
        write_later(&file, "\"a\": \"@\"\n", 10 + 2 * i);
        assert!(allows(&e, "a"));
        write_later(&file, "\"a\": \"!\"\n", 11 + 2 * i);
        assert!(!allows(&e, "a"));
    }
}

#[test]
fn a_watched_directory_replaced_is_watched_again() {
    let (dir, file) = setup();
    let e = Enforcer::builder().policy_file(&file).build();
    assert!(!allows(&e, "b"));
    // policy.d replaced by another directory (moved away, a new one moved in).
    let pd = dir.path().join("policy.d");
    let new = dir.path().join("policy.d.new");
    std::fs::create_dir(&new).unwrap();
    write_later(&new.join("x.yaml"), "\"b\": \"@\"\n", 10);
    std::fs::rename(&pd, dir.path().join("policy.d.old")).unwrap();
    std::fs::rename(&new, &pd).unwrap();
    assert!(allows(&e, "b"));
    assert!(e.watching_files());
    // And the new directory's changes are seen too.
    write_later(&pd.join("x.yaml"), "\"b\": \"!\"\n", 20);
    assert!(!allows(&e, "b"));
}

#[test]
fn concurrent_callers_never_see_old_rules_after_a_write() {
    let (_dir, file) = setup();
    let e = std::sync::Arc::new(Enforcer::builder().policy_file(&file).build());
    assert!(!allows(&e, "a"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (e, stop) = (e.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = e.enforce("a", &json!({}), &json!({}));
                }
            })
        })
        .collect();
    for i in 0..40u64 {
        let want = i % 2 == 0;
        write_later(
            &file,
            if want {
                "\"a\": \"@\"\n"
            } else {
                "\"a\": \"!\"\n"
            },
            10 + i,
        );
        assert_eq!(allows(&e, "a"), want, "round {i}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
}
