//! `CommandFilter`: the command word only, and the executable lookup every filter shares.

use std::path::{Path, PathBuf};

use super::{Filter, basename};

/// Whether the first word is the filter's executable, by its full path or by its base name.
pub(crate) fn matches(filter: &Filter, userargs: &[String]) -> bool {
    word_matches(&filter.exec_path, userargs.first())
}

pub(crate) fn word_matches(exec_path: &str, word: Option<&String>) -> bool {
    match word {
        Some(w) => *w == exec_path || w == basename(exec_path),
        None => false,
    }
}

/// Whether `path` is a regular file the caller may execute.
pub(crate) fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
        && nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// The executable for `exec_path`: itself when absolute; otherwise a bare name (no `/`) looked up in the
/// absolute `exec_dirs` entries, in order.
pub(crate) fn get_exec(exec_path: &str, exec_dirs: &[PathBuf]) -> Option<PathBuf> {
    if exec_path.starts_with('/') {
        let p = PathBuf::from(exec_path);
        return is_executable(&p).then_some(p);
    }
    if exec_path.is_empty() || exec_path.contains('/') || exec_path == "." || exec_path == ".." {
        return None;
    }
    exec_dirs
        .iter()
        .filter(|d| d.is_absolute())
        .map(|d| d.join(exec_path))
        .find(|p| is_executable(p))
}
