//! Watching the policy file and `policy.d` directories with inotify, so that `enforce` need not
//! `stat` them on every call.
//!
//! A [`Watcher`] owns an inotify instance watching the *parent* directory of the policy file (so a
//! replace-by-rename is seen as well as a write in place) and each policy directory and its parent.
//! There is no background thread: the kernel queues an event on the inotify descriptor while the
//! writing system call runs (before it returns), so "has anything happened?" is one non-blocking
//! `poll` of that descriptor, far cheaper here than a `stat` of each file. When it has, the
//! enforcer drains the queue and looks at the modification times as oslo does.
//!
//! The dirty flag closes the races between callers: a caller that finds events marks the flag
//! *before* it drains the queue, so another caller finds either the events or the mark; the mark is
//! cleared only under the enforcer's write lock, just before the look at the files that it stands
//! for. Dropping the watcher closes the descriptor; nothing else is left behind.

#[cfg(target_os = "linux")]
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(target_os = "linux")]
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// A watch over some directories.
#[derive(Debug)]
pub(crate) struct Watcher {
    dirty: AtomicBool,
    stale: AtomicBool,
    #[cfg(target_os = "linux")]
    inotify: Inotify,
}

impl Watcher {
    /// Whether anything happened in the watched directories since the last [`Watcher::take`]:
    /// the mark, or events waiting in the kernel's queue (then the mark is set and the queue
    /// drained). An error polling counts as a change, so the caller looks at the files.
    pub(crate) fn pending(&self) -> bool {
        if self.dirty.load(Ordering::SeqCst) {
            return true;
        }
        if self.queued() {
            self.dirty.store(true, Ordering::SeqCst);
            self.drain();
            return true;
        }
        false
    }

    /// Clears the mark and the queue, to be called under the enforcer's write lock right before it
    /// looks at the files: whatever happened before is covered by that look, whatever happens
    /// after is queued for the next call.
    pub(crate) fn take(&self) {
        self.dirty.store(false, Ordering::SeqCst);
        self.drain();
    }

    /// Whether a watched directory went away (deleted, moved, unmounted) or the queue overflowed:
    /// the watch set must be built again.
    pub(crate) fn is_stale(&self) -> bool {
        self.stale.load(Ordering::SeqCst)
    }
}

/// The directories to watch for a policy file and policy directories (deduplicated).
pub(crate) fn dirs_to_watch(policy_file: Option<&Path>, policy_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut push = |p: PathBuf| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    if let Some(parent) = policy_file.and_then(Path::parent) {
        push(if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_path_buf()
        });
    }
    for d in policy_dirs {
        push(d.clone());
        if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            push(parent.to_path_buf());
        }
    }
    out
}

#[cfg(target_os = "linux")]
impl Watcher {
    /// Watches `dirs`; an error (inotify limits, a directory that cannot be watched) is returned as
    /// text for the caller to log before it falls back to looking at the files on every call.
    pub(crate) fn new(dirs: &[PathBuf]) -> Result<Self, String> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(|e| format!("inotify_init: {e}"))?;
        let mask = AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF
            | AddWatchFlags::IN_ONLYDIR;
        for d in dirs {
            inotify
                .add_watch(d.as_path(), mask)
                .map_err(|e| format!("inotify_add_watch {}: {e}", d.display()))?;
        }
        Ok(Self {
            // Marked from the start: a change between the last look at the files and the watch
            // being set up is then caught by the first look.
            dirty: AtomicBool::new(true),
            stale: AtomicBool::new(false),
            inotify,
        })
    }

    fn queued(&self) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut fds = [PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(0) => false,
            Ok(_) => true,
            Err(_) => true,
        }
    }

    fn drain(&self) {
        loop {
            match self.inotify.read_events() {
                Ok(events) if events.is_empty() => return,
                Ok(events) => {
                    if events.iter().any(|e| {
                        e.mask.intersects(
                            AddWatchFlags::IN_IGNORED
                                | AddWatchFlags::IN_Q_OVERFLOW
                                | AddWatchFlags::IN_DELETE_SELF
                                | AddWatchFlags::IN_MOVE_SELF
                                | AddWatchFlags::IN_UNMOUNT,
                        )
                    }) {
                        self.stale.store(true, Ordering::SeqCst);
                    }
                }
                Err(nix::errno::Errno::EINTR) => {}
                // EAGAIN: drained. Anything else: the next poll reports it again.
                Err(_) => return,
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Watcher {
    /// No inotify here: the caller falls back to looking at the files on every call.
    pub(crate) fn new(_dirs: &[PathBuf]) -> Result<Self, String> {
        Err("file watching is only implemented with Linux inotify".into())
    }

    fn queued(&self) -> bool {
        true
    }

    fn drain(&self) {}
}
