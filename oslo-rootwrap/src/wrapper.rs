//! Loading the filter files, matching a command line against them, and the decision that results.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::filters::{Context, Filter, FilterKind};
use crate::ini::Ini;
use crate::trust;

/// The largest filter file accepted.
pub const MAX_FILTER_FILE_BYTES: usize = 1 << 20;
/// The most filter files read from all `filters_path` directories together.
pub const MAX_FILTER_FILES: usize = 1024;
/// The most filters loaded in all.
pub const MAX_FILTERS: usize = 100_000;
/// The most comma-separated fields one filter line may have.
pub const MAX_FIELDS: usize = 1024;
/// The filters the list has room for before it grows: more than the real nova, neutron, cinder, manila
/// and os-brick files together (164).
const LIST_CAPACITY: usize = 256;
/// The most words a command line may have.
pub const MAX_ARGS: usize = 16_384;
/// The most bytes a command line may have, all words together.
pub const MAX_ARGS_BYTES: usize = 4 << 20;

/// What the matching decided for an allowed command line: what runs, as whom, with which variables.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decision {
    /// The name of the filter that allowed it.
    pub filter: String,
    /// That filter's class.
    pub kind: FilterKind,
    /// The user the command runs as.
    pub run_as: String,
    /// The argument vector to execute: the resolved executable first.
    pub command: Vec<String>,
    /// Variables set for the command (from an `EnvFilter`), in order; the command gets these and `PATH`
    /// only.
    pub env: Vec<(String, String)>,
}

/// Every filter of a configuration, in the order they are tried.
#[derive(Debug, Default)]
pub struct Filters {
    list: Vec<Filter>,
}

/// Options for loading configuration.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    trust_check: bool,
}

impl Default for LoadOptions {
    /// Checks ownership and permissions when the process runs as root, as the binaries do.
    fn default() -> Self {
        LoadOptions {
            trust_check: trust::running_as_root(),
        }
    }
}

impl LoadOptions {
    /// Whether to refuse a config file, filter file or filter directory that a non-root user could
    /// have written (owner not root, writable by others, or by a group other than root's).
    pub fn trust_check(mut self, yes: bool) -> Self {
        self.trust_check = yes;
        self
    }

    /// Whether the ownership and permission checks are on.
    pub fn checks_trust(&self) -> bool {
        self.trust_check
    }
}

impl Filters {
    /// Parses the text of one filter file; `path` names it in errors and in each filter's origin.
    ///
    /// Lines of an unknown class are skipped with a warning, as the original does.
    pub fn parse_file(text: &str, path: &Path) -> Result<Vec<Filter>> {
        let mut out = Vec::new();
        Filters::parse_file_into(text, path, &mut out)?;
        Ok(out)
    }

    /// [`Filters::parse_file`], appending to `out` (one list grows for all the files, instead of a list
    /// per file copied into it).
    fn parse_file_into(text: &str, path: &Path, out: &mut Vec<Filter>) -> Result<()> {
        let syntax = |line: usize, message: String| Error::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        };
        let ini = Ini::parse(text, false).map_err(|e| syntax(e.line, e.message))?;
        let items = ini
            .into_items("Filters")
            .ok_or_else(|| syntax(0, "no `[Filters]` section".into()))?;
        out.reserve(items.len());
        // One copy of the file's path, shared by its filters.
        let origin: Arc<Path> = Arc::from(path);
        for (name, entry) in items {
            // The fields borrow from the value (itself borrowed from the file's text unless it had
            // continuation lines).
            let fields: Vec<&str> = crate::ini::split_ascii(&entry.value, b',')
                .map(crate::ini::py_trim)
                .collect();
            if fields.len() > MAX_FIELDS {
                return Err(syntax(entry.line, format!("more than {MAX_FIELDS} fields")));
            }
            match Filter::build(&name, &fields) {
                Ok(f) => out.push(f.with_origin(&origin, entry.line)),
                Err(crate::filters::BuildError::UnknownClass(class)) => {
                    tracing::warn!(
                        file = %path.display(),
                        line = entry.line,
                        "Skipping unknown filter class ({class}) specified in filter definitions"
                    );
                }
                Err(crate::filters::BuildError::TooFewFields(kind, n)) => {
                    return Err(syntax(
                        entry.line,
                        format!(
                            "filter `{name}`: {} needs at least {} fields after the class, got {n}",
                            kind.class_name(),
                            kind.min_fields()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Loads every filter file of the directories, in order: within a directory the files sorted by name,
    /// skipping names that start with `.` and anything that is not a regular file. The built-in
    /// `privsep-helper` filter (any `privsep-helper ...` as root) comes last, as in the original.
    pub fn load(dirs: &[PathBuf], options: LoadOptions) -> Result<Filters> {
        // Room for the filters of a few services' files, so that the list is not copied as it grows.
        let mut list = Vec::with_capacity(LIST_CAPACITY);
        // One buffer for the text of every file.
        let mut buf = Vec::new();
        let mut files = 0usize;
        let mut checked = trust::Checked::default();
        for dir in dirs {
            if !dir.is_absolute() || !dir.is_dir() {
                continue;
            }
            if options.trust_check {
                trust::check_trusted(dir, &mut checked)?;
                trust::check_root_only(dir)?;
            }
            let read_err = |source| Error::Read {
                path: dir.clone(),
                source,
            };
            let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(read_err)?
                .filter_map(|e| e.ok())
                .filter(|e| !e.file_name().as_encoded_bytes().starts_with(b"."))
                .map(|e| e.path())
                .collect();
            names.sort();
            for path in names {
                if !path.is_file() {
                    continue;
                }
                files += 1;
                if files > MAX_FILTER_FILES {
                    return Err(Error::TooLarge {
                        what: "the number of filter files".into(),
                        size: files,
                        limit: MAX_FILTER_FILES,
                    });
                }
                if options.trust_check {
                    trust::check_trusted(&path, &mut checked)?;
                }
                let text = trust::read_bounded_into(&path, MAX_FILTER_FILE_BYTES, &mut buf)?;
                Filters::parse_file_into(text, &path, &mut list)?;
                if list.len() > MAX_FILTERS {
                    return Err(Error::TooLarge {
                        what: "the number of filters".into(),
                        size: list.len(),
                        limit: MAX_FILTERS,
                    });
                }
            }
        }
        Ok(Filters::from_list(list))
    }

    /// The filters given, then the built-in `privsep-helper` one.
    pub fn from_list(mut list: Vec<Filter>) -> Filters {
        list.push(Filter::command("privsep-helper", "privsep-helper", "root"));
        Filters { list }
    }

    /// The filters, in the order they are tried.
    pub fn iter(&self) -> impl Iterator<Item = &Filter> {
        self.list.iter()
    }

    /// How many filters there are (the built-in one included).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none (never: the built-in filter is always there).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Decides whether `userargs` (the command line after the config file) may run, and how.
    ///
    /// The first filter that matches and whose executable exists wins. A chaining filter (`ip netns
    /// exec`, `ChainingRegExpFilter`) matches only if the chained command is allowed by a non-chaining
    /// filter with the same user — and, stricter than the original, a chained command given with a `/`
    /// must name that filter's own executable. Errors: [`Error::NoCommand`], [`Error::TooLarge`],
    /// [`Error::Unauthorized`] (no filter matched), [`Error::NotExecutable`] (one matched, no executable).
    pub fn decide(&self, userargs: &[String], exec_dirs: &[PathBuf]) -> Result<Decision> {
        if userargs.is_empty() {
            return Err(Error::NoCommand);
        }
        if userargs.len() > MAX_ARGS {
            return Err(Error::TooLarge {
                what: "the command line".into(),
                size: userargs.len(),
                limit: MAX_ARGS,
            });
        }
        let bytes: usize = userargs.iter().map(String::len).sum();
        if bytes > MAX_ARGS_BYTES {
            return Err(Error::TooLarge {
                what: "the command line".into(),
                size: bytes,
                limit: MAX_ARGS_BYTES,
            });
        }
        let ctx = Context { exec_dirs };
        let mut args = userargs.to_vec();
        let all: Vec<&Filter> = self.list.iter().collect();
        match match_filter(&all, &mut args, ctx) {
            Ok(f) => {
                let Some(command) = f.command_line(&args, exec_dirs) else {
                    return Err(Error::Unauthorized {
                        command: args.join(" "),
                    });
                };
                let env = f.environment(&mut args);
                Ok(Decision {
                    filter: f.name().to_string(),
                    kind: f.kind(),
                    run_as: f.run_as().to_string(),
                    command,
                    env,
                })
            }
            Err(Some(f)) => Err(Error::NotExecutable {
                exec_path: f.exec_path().to_string(),
                filter: f.name().to_string(),
            }),
            Err(None) => Err(Error::Unauthorized {
                command: args.join(" "),
            }),
        }
    }
}

/// The first filter that matches and has an executable; `Err(Some(f))` when only filters without an
/// executable matched (the first of them), `Err(None)` when none matched.
fn match_filter<'a>(
    filters: &[&'a Filter],
    userargs: &mut Vec<String>,
    ctx: Context<'_>,
) -> Result<&'a Filter, Option<&'a Filter>> {
    let mut first_not_executable: Option<&'a Filter> = None;
    for &f in filters {
        if !f.matches(userargs, ctx) {
            continue;
        }
        if f.kind().is_chaining() {
            let leaves: Vec<&Filter> = filters
                .iter()
                .copied()
                .filter(|l| l.run_as() == f.run_as() && !l.kind().is_chaining())
                .collect();
            let Some((mut chained, given)) = f.exec_args(userargs) else {
                continue;
            };
            match match_filter(&leaves, &mut chained, ctx) {
                Ok(leaf) => {
                    if given.contains('/') && !names_executable_of(leaf, &given, ctx.exec_dirs) {
                        continue;
                    }
                }
                Err(_) => continue,
            }
        }
        if f.find_executable(ctx.exec_dirs).is_none() {
            first_not_executable.get_or_insert(f);
            continue;
        }
        return Ok(f);
    }
    Err(first_not_executable)
}

/// Whether a chained command given as a path names the executable the leaf filter itself would run.
fn names_executable_of(leaf: &Filter, given: &str, exec_dirs: &[PathBuf]) -> bool {
    given == leaf.exec_path()
        || leaf
            .find_executable(exec_dirs)
            .is_some_and(|p| p.as_os_str() == given)
}
