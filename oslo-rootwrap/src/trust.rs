//! Reading configuration safely: bounded sizes, and when running as root, refusing files and directories
//! that a non-root user could have written.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Whether the process runs with root's effective user id.
pub(crate) fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Reads a UTF-8 file of at most `limit` bytes.
pub(crate) fn read_bounded(path: &Path, limit: usize) -> Result<String> {
    let mut bytes = Vec::new();
    read_bounded_into(path, limit, &mut bytes)?;
    // Checked as UTF-8 by `read_bounded_into`; the conversion cannot fail.
    String::from_utf8(bytes).map_err(|_| not_utf8(path))
}

/// Reads a UTF-8 file of at most `limit` bytes into `buf` (cleared first, its allocation reused: the
/// binary reads every filter file through one buffer) and returns its text.
pub(crate) fn read_bounded_into<'b>(
    path: &Path,
    limit: usize,
    buf: &'b mut Vec<u8>,
) -> Result<&'b str> {
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    buf.clear();
    let file = std::fs::File::open(path).map_err(read_err)?;
    // Sized from the file's length (bounded by the limit), so that a small file takes one read rather
    // than a series of growing ones.
    let hint = file.metadata().map_or(0, |m| m.len()).min(limit as u64) as usize;
    buf.reserve(hint + 1);
    file.take(limit as u64 + 1)
        .read_to_end(buf)
        .map_err(read_err)?;
    if buf.len() > limit {
        return Err(Error::TooLarge {
            what: format!("`{}`", path.display()),
            size: buf.len(),
            limit,
        });
    }
    std::str::from_utf8(buf).map_err(|_| not_utf8(path))
}

fn not_utf8(path: &Path) -> Error {
    Error::Syntax {
        path: path.to_path_buf(),
        line: 0,
        message: "the file is not UTF-8".into(),
    }
}

/// Refuses `path` unless only root can change it: owned by root, not writable by others, writable by
/// its group only when that group is root's. Symbolic links are followed (the target is what is read).
pub(crate) fn check_root_only(path: &Path) -> Result<()> {
    root_only(path, &metadata(path)?)
}

fn metadata(path: &Path) -> Result<std::fs::Metadata> {
    std::fs::metadata(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// [`check_root_only`] on metadata already read.
fn root_only(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    let insecure = |reason: &str| Error::Insecure {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    if meta.uid() != 0 {
        return Err(insecure("not owned by root"));
    }
    if meta.mode() & 0o002 != 0 {
        return Err(insecure("writable by others"));
    }
    if meta.mode() & 0o020 != 0 && meta.gid() != 0 {
        return Err(insecure("writable by a group other than root's"));
    }
    Ok(())
}

/// Refuses a directory in which a non-root user could rename or replace what root creates: owned by
/// root and not writable by others (nor by a group other than root's), unless its sticky bit is set
/// (`/tmp`: only an entry's owner may rename it).
pub(crate) fn check_root_or_sticky(dir: &Path) -> Result<()> {
    let meta = metadata(dir)?;
    if meta.mode() & 0o1000 != 0 && meta.uid() == 0 {
        return Ok(());
    }
    root_only(dir, &meta)
}

/// The directories that passed [`check_root_or_sticky`] during one load of the configuration, so that
/// the ancestors the config file, the filter directories, their files and the `exec_dirs` share are
/// looked at once per load (each is still checked before anything below it is trusted).
#[derive(Debug, Default)]
pub(crate) struct Checked {
    dirs: HashSet<PathBuf>,
    /// The real paths of the directories checked by [`check_trusted`] (as given -> resolved), so that
    /// the real path of a file in one that is not a symbolic link itself is the directory's real path
    /// and the file's name, without resolving every component again.
    real_dirs: HashMap<PathBuf, PathBuf>,
}

impl Checked {
    fn root_or_sticky(&mut self, dir: &Path) -> Result<()> {
        if self.dirs.contains(dir) {
            return Ok(());
        }
        check_root_or_sticky(dir)?;
        self.dirs.insert(dir.to_path_buf());
        Ok(())
    }
}

/// Refuses `path` unless neither it nor the way to it can be changed by a user other than root: the
/// file or directory it finally names passes [`check_root_only`], every directory above that passes
/// [`check_root_or_sticky`] (a user who owns `/srv/x` can rename the root-owned `/srv/x/etc` and put
/// their own in its place), and when `path` is a symbolic link, the link is root's and so are the
/// directories that hold it, by the same rules. Links met half-way through a chain of links are not
/// looked at one by one; the directories of the final path are.
pub(crate) fn check_trusted(path: &Path, checked: &mut Checked) -> Result<()> {
    let read_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Read { path: p, source }
    };
    let link = std::fs::symlink_metadata(path).map_err(read_err(path))?;
    let is_link = link.file_type().is_symlink();
    let known = match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) if !is_link => {
            checked.real_dirs.get(parent).map(|dir| dir.join(name))
        }
        _ => None,
    };
    let real = match known {
        Some(real) => real,
        None => std::fs::canonicalize(path).map_err(read_err(path))?,
    };
    if is_link {
        check_root_only(&real)?;
    } else {
        // Not a link: what it names is what `lstat` described.
        root_only(&real, &link)?;
    }
    check_directories_above(&real, checked)?;
    if link.is_dir() {
        checked.real_dirs.insert(path.to_path_buf(), real);
    }
    if is_link {
        if link.uid() != 0 {
            return Err(Error::Insecure {
                path: path.to_path_buf(),
                reason: "a symbolic link not owned by root".into(),
            });
        }
        let holder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let holder = std::fs::canonicalize(holder).map_err(read_err(holder))?;
        checked.root_or_sticky(&holder)?;
        check_directories_above(&holder, checked)?;
    }
    Ok(())
}

/// Every directory above the real path `real`, up to `/` (each one not already passed in this load;
/// one that fails is never remembered, so a later path through it fails too).
fn check_directories_above(real: &Path, checked: &mut Checked) -> Result<()> {
    real.ancestors()
        .skip(1)
        .try_for_each(|dir| checked.root_or_sticky(dir))
}
