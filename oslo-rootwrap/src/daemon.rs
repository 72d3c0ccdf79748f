//! `oslo-rootwrap-daemon`: the configuration loaded once, commands served over a private Unix socket.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Rootwrap;
use crate::error::{Error, Result};
use crate::protocol::{self, Reply, Request};
use crate::trust;

/// The most connections the daemon serves at once (each has a thread and up to a frame of memory); one
/// more is closed at once.
pub const MAX_CONNECTIONS: usize = 64;

/// Where and for whom the daemon makes its socket.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    parent: PathBuf,
    owner: (u32, u32),
    idle_timeout: Option<Duration>,
}

impl Default for DaemonOptions {
    /// The system's temporary directory; the owner is the sudo caller (`SUDO_UID`/`SUDO_GID`), or the
    /// process's own user when not started through sudo; the idle timeout is the config's.
    fn default() -> Self {
        let env_id = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
        let owner = match (env_id("SUDO_UID"), env_id("SUDO_GID")) {
            (Some(u), Some(g)) => (u, g),
            _ => (
                nix::unistd::getuid().as_raw(),
                nix::unistd::getgid().as_raw(),
            ),
        };
        DaemonOptions {
            parent: std::env::temp_dir(),
            owner,
            idle_timeout: None,
        }
    }
}

impl DaemonOptions {
    /// The directory the daemon's private directory is created in.
    pub fn parent_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.parent = dir.into();
        self
    }

    /// The user and group that may connect (besides root).
    pub fn owner(mut self, uid: u32, gid: u32) -> Self {
        self.owner = (uid, gid);
        self
    }

    /// How long the daemon waits without a request before it exits, instead of `daemon_timeout`.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }
}

/// A bound daemon, ready to serve.
#[derive(Debug)]
pub struct Daemon {
    rootwrap: Arc<Rootwrap>,
    listener: UnixListener,
    dir: PathBuf,
    socket: PathBuf,
    owner_uid: u32,
    timeout: Duration,
}

/// Shared between the accept loop, the connections and the watchdog.
#[derive(Debug)]
struct State {
    stop: AtomicBool,
    active: AtomicUsize,
    last: Mutex<Instant>,
}

impl State {
    fn touch(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = Instant::now();
        }
    }

    fn idle_for(&self) -> Duration {
        self.last.lock().map(|l| l.elapsed()).unwrap_or_default()
    }
}

fn io_err(message: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Daemon {
        message: message.to_string(),
        source: Some(e),
    }
}

impl Daemon {
    /// Creates the private directory (mode 0700) and the socket (mode 0600), both owned by the caller.
    ///
    /// Running as root, the parent directory must be one no other user can rename entries of (owned by
    /// root, not writable by others unless sticky, as `/tmp`), so nobody can swap the private directory
    /// for a link while root works in it.
    pub fn bind(rootwrap: Rootwrap, options: DaemonOptions) -> Result<Daemon> {
        let (uid, gid) = options.owner;
        if nix::unistd::geteuid().is_root() {
            trust::check_root_or_sticky(&options.parent)?;
        }
        let mut dir = None;
        for attempt in 0..16u32 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let candidate = options.parent.join(format!(
                "rootwrap-{}-{:08x}{attempt}",
                std::process::id(),
                nanos
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&candidate) {
                Ok(()) => {
                    dir = Some(candidate);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("cannot create the socket directory")(e)),
            }
        }
        let dir = dir.ok_or_else(|| Error::Daemon {
            message: "cannot create a unique socket directory".into(),
            source: None,
        })?;
        let socket = dir.join("rootwrap.sock");
        let cleanup_on_err = |e: Error| {
            let _ = std::fs::remove_dir_all(&dir);
            e
        };
        let listener = UnixListener::bind(&socket)
            .map_err(io_err("cannot bind the socket"))
            .map_err(cleanup_on_err)?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
            .map_err(io_err("cannot set the socket's mode"))
            .map_err(cleanup_on_err)?;
        if nix::unistd::geteuid().is_root() {
            give_to_owner(&dir, &socket, uid, gid)
                .map_err(io_err("cannot give the socket to its caller"))
                .map_err(cleanup_on_err)?;
        }
        let timeout = options
            .idle_timeout
            .unwrap_or(Duration::from_secs(rootwrap.config().daemon_timeout));
        Ok(Daemon {
            rootwrap: Arc::new(rootwrap),
            listener,
            dir,
            socket,
            owner_uid: uid,
            timeout,
        })
    }

    /// The socket clients connect to.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// Serves until a shutdown request, `daemon_timeout` idle, or SIGTERM/SIGINT (which this blocks in
    /// the calling thread and waits for in a thread of its own); then removes the socket directory.
    pub fn serve(self) -> Result<()> {
        let state = Arc::new(State {
            stop: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        });
        watch_signals(&state, &self.socket);
        watch_idle(&state, &self.socket, self.timeout);
        tracing::info!(socket = %self.socket.display(), "rootwrap.daemon.start");
        for conn in self.listener.incoming() {
            if state.stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = conn else { continue };
            if !self.peer_allowed(&stream) {
                tracing::warn!("rootwrap daemon: refused a connection from another user");
                continue;
            }
            if state.active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                tracing::warn!("rootwrap daemon: too many connections, closed one");
                continue;
            }
            // A client that stops talking (between requests, or half-way through a frame) or stops
            // reading is dropped after the idle timeout, so it cannot keep the daemon alive for ever.
            let limit = Some(self.timeout.max(Duration::from_millis(1)));
            if stream.set_read_timeout(limit).is_err() || stream.set_write_timeout(limit).is_err() {
                continue;
            }
            let rootwrap = Arc::clone(&self.rootwrap);
            let st = Arc::clone(&state);
            let socket = self.socket.clone();
            st.active.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                serve_connection(&rootwrap, stream, &st, &socket);
                st.touch();
                st.active.fetch_sub(1, Ordering::SeqCst);
            });
        }
        // The directory goes with `self` (see `Drop`).
        tracing::info!("rootwrap.daemon.stop");
        Ok(())
    }

    fn peer_allowed(&self, stream: &UnixStream) -> bool {
        use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
        match getsockopt(stream, PeerCredentials) {
            Ok(cred) => {
                cred.uid() == self.owner_uid
                    || cred.uid() == 0
                    || cred.pid() == std::process::id() as i32
            }
            Err(_) => false,
        }
    }
}

impl Drop for Daemon {
    /// Removes the private directory and the socket, whether the daemon served or not. (A link the
    /// caller put in place of the directory is removed itself, not followed.)
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Gives the socket, then its directory, to the caller. The socket first, without following a link:
/// once the directory is the caller's, the caller may put anything (a link to `/etc/shadow`) where the
/// socket was, and root must not touch a path inside it any more.
fn give_to_owner(dir: &Path, socket: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(socket, Some(uid), Some(gid))?;
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))
}

/// Stops the accept loop: sets the flag, then connects once to wake it.
fn stop(state: &State, socket: &Path) {
    state.stop.store(true, Ordering::SeqCst);
    let _ = UnixStream::connect(socket);
}

fn watch_signals(state: &Arc<State>, socket: &Path) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    if set.thread_block().is_err() {
        return;
    }
    let st = Arc::clone(state);
    let socket = socket.to_path_buf();
    std::thread::spawn(move || {
        if set.wait().is_ok() {
            stop(&st, &socket);
        }
    });
}

fn watch_idle(state: &Arc<State>, socket: &Path, timeout: Duration) {
    let st = Arc::clone(state);
    let socket = socket.to_path_buf();
    std::thread::spawn(move || {
        let tick = Duration::from_millis(100).min(timeout.max(Duration::from_millis(10)));
        loop {
            std::thread::sleep(tick);
            if st.stop.load(Ordering::SeqCst) {
                return;
            }
            if st.active.load(Ordering::SeqCst) == 0 && st.idle_for() >= timeout {
                stop(&st, &socket);
                return;
            }
        }
    });
}

fn serve_connection(rootwrap: &Rootwrap, mut stream: UnixStream, state: &State, socket: &Path) {
    loop {
        let payload = match protocol::read_frame(&mut stream) {
            Ok(Some(p)) => p,
            _ => return,
        };
        state.touch();
        let reply = match Request::decode(&payload) {
            Ok(Request::Run { args, stdin }) => run(rootwrap, &args, stdin.as_deref()),
            Ok(Request::Shutdown) => {
                let _ = protocol::write_frame(
                    &mut stream,
                    &Reply {
                        code: 0,
                        stdout: Vec::new(),
                        stderr: Vec::new(),
                    }
                    .encode(),
                );
                stop(state, socket);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "rootwrap daemon: bad request");
                return;
            }
        };
        if protocol::write_frame(&mut stream, &reply.encode()).is_err() {
            return;
        }
        let _ = stream.flush();
        state.touch();
    }
}

fn run(rootwrap: &Rootwrap, args: &[String], stdin: Option<&[u8]>) -> Reply {
    match rootwrap.run_captured(args, stdin) {
        Ok(out) => Reply {
            code: out.code,
            stdout: out.stdout,
            stderr: out.stderr,
        },
        Err(e @ (Error::Unauthorized { .. } | Error::NotExecutable { .. })) => Reply {
            code: e.exit_code(),
            stdout: Vec::new(),
            stderr: Vec::new(),
        },
        Err(e) => Reply {
            code: e.exit_code(),
            stdout: Vec::new(),
            stderr: e.to_string().into_bytes(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    /// A link planted where the socket is must be given away itself, never the file it points at.
    #[test]
    fn the_socket_is_given_away_without_following_a_link() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: changing owners needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("private");
        std::fs::create_dir(&dir).unwrap();
        let victim = tmp.path().join("shadow");
        std::fs::write(&victim, "secret").unwrap();
        let socket = dir.join("rootwrap.sock");
        std::os::unix::fs::symlink(&victim, &socket).unwrap();
        give_to_owner(&dir, &socket, 4242, 4242).unwrap();
        assert_eq!(std::fs::metadata(&victim).unwrap().uid(), 0);
        assert_eq!(std::fs::symlink_metadata(&socket).unwrap().uid(), 4242);
        assert_eq!(std::fs::metadata(&dir).unwrap().uid(), 4242);
    }
}
