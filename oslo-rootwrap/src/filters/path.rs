//! `PathFilter` and the real-path resolution it relies on.

use std::collections::HashMap;

use super::{Filter, command};

/// How many symbolic links one resolution may follow.
const MAX_LINKS: usize = 40;

/// The real absolute path of `path`, as Python's `os.path.realpath` (non-strict) computes it: symbolic
/// links resolved for every component that exists, `.`/`..` folded, the rest kept as written, a relative
/// path taken from the current directory.
///
/// Returns `None` where the original would fall back to an unresolved or empty path: a symbolic-link
/// loop, too many links, a missing current directory, or a path that is not UTF-8.
pub fn realpath(path: &str) -> Option<String> {
    let mut seen: HashMap<String, Option<String>> = HashMap::new();
    let mut budget = MAX_LINKS;
    let base = if path.starts_with('/') {
        String::new()
    } else {
        std::env::current_dir().ok()?.to_str()?.to_string()
    };
    let resolved = join_real(base, path, &mut seen, &mut budget)?;
    Some(if resolved.is_empty() {
        "/".to_string()
    } else {
        resolved
    })
}

/// Resolves `rest` on top of the already-real absolute `path` ("" stands for `/`).
fn join_real(
    mut path: String,
    rest: &str,
    seen: &mut HashMap<String, Option<String>>,
    budget: &mut usize,
) -> Option<String> {
    if rest.starts_with('/') {
        path.clear();
    }
    for name in rest.split('/') {
        if name.is_empty() || name == "." {
            continue;
        }
        if name == ".." {
            match path.rfind('/') {
                Some(i) => path.truncate(i),
                None => path.clear(),
            }
            continue;
        }
        let candidate = format!("{path}/{name}");
        let is_link =
            std::fs::symlink_metadata(&candidate).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            path = candidate;
            continue;
        }
        match seen.get(&candidate) {
            Some(Some(done)) => {
                path = done.clone();
                continue;
            }
            Some(None) => return None, // a loop
            None => {}
        }
        *budget = budget.checked_sub(1)?;
        seen.insert(candidate.clone(), None);
        let target = std::fs::read_link(&candidate).ok()?;
        let target = target.to_str()?;
        path = join_real(path, target, seen, budget)?;
        seen.insert(candidate, Some(path.clone()));
    }
    Some(path)
}

/// Whether the real path `value` is `dir` or inside it, compared component by component (the original
/// compares strings, so `/var/lib/images` also admits `/var/lib/images2`). A `dir` written with a
/// trailing `/` admits only what is below it.
fn is_within(dir: &str, value: &str) -> bool {
    if dir == "/" {
        return value.starts_with('/');
    }
    if dir.ends_with('/') {
        return value.starts_with(dir);
    }
    value == dir || value.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

pub(crate) fn matches(filter: &Filter, userargs: &[String]) -> bool {
    if userargs.len() < 2 || !command::matches(filter, userargs) {
        return false;
    }
    let values = &userargs[1..];
    filter.args.len() == values.len()
        && filter.args.iter().zip(values).all(|(spec, value)| {
            if spec.starts_with('/') {
                realpath(value).is_some_and(|real| is_within(spec, &real))
            } else {
                spec == "pass" || spec == value
            }
        })
}

/// The command with every value checked against a directory replaced by its real path, checked again:
/// the path is resolved anew here, and a link changed since [`matches`] must not hand the command a
/// path that was never checked (`None` then; the original passes whatever the second resolution gives).
pub(crate) fn command_line(
    filter: &Filter,
    exec: String,
    userargs: &[String],
) -> Option<Vec<String>> {
    let mut cmd = vec![exec];
    for (spec, value) in filter.args.iter().zip(userargs.iter().skip(1)) {
        if spec.starts_with('/') {
            let real = realpath(value).filter(|real| is_within(spec, real))?;
            cmd.push(real);
        } else {
            cmd.push(value.clone());
        }
    }
    Some(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_is_by_component() {
        assert!(is_within("/var/lib/images", "/var/lib/images/x"));
        assert!(is_within("/var/lib/images", "/var/lib/images"));
        assert!(!is_within("/var/lib/images", "/var/lib/images2/x"));
        assert!(is_within("/", "/etc"));
        assert!(is_within("/tmp/", "/tmp/a"));
    }

    #[test]
    fn realpath_folds_dots() {
        assert_eq!(realpath("/a/./b/../c").as_deref(), Some("/a/c"));
        assert_eq!(realpath("/..").as_deref(), Some("/"));
    }

    /// The link is swapped between the decision and the building of the command line (the race a
    /// caller who owns the link can run): the command must never get a path that was not checked.
    #[test]
    fn a_link_swapped_after_the_match_is_not_passed_on() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_str().unwrap().to_string();
        let allowed = format!("{root}/images");
        std::fs::create_dir(&allowed).unwrap();
        std::fs::write(format!("{allowed}/disk"), "").unwrap();
        std::fs::write(format!("{root}/shadow"), "").unwrap();
        let link = format!("{root}/link");
        std::os::unix::fs::symlink(format!("{allowed}/disk"), &link).unwrap();
        let fields = ["PathFilter", "/bin/chown", "root", "nova", &allowed];
        let filter = Filter::build("chown", &fields).unwrap();
        let userargs: Vec<String> = ["chown", "nova", &link]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(matches(&filter, &userargs));
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(format!("{root}/shadow"), &link).unwrap();
        assert_eq!(command_line(&filter, "/bin/chown".into(), &userargs), None);
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(format!("{allowed}/disk"), &link).unwrap();
        assert_eq!(
            command_line(&filter, "/bin/chown".into(), &userargs),
            Some(vec![
                "/bin/chown".to_string(),
                "nova".into(),
                format!("{allowed}/disk")
            ])
        );
    }
}
