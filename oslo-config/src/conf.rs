//! [`ConfigOpts`]: registered options, their sources, and oslo's precedence.
//!
//! Precedence, highest first: overrides, the command line, the environment (`OS_<GROUP>__<DEST>`), config
//! files (later wins; `--config-file` and `--config-dir` applied in argv order), `set_default`, the
//! option's default. For a command-line option, a config file named on the command line *after* the flag
//! wins over the flag, as in oslo.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;

use crate::fasthash::{FxBuild, FxHashMap, FxIndexMap, combine, hash_str};

use crate::cli::{self, CliSettings, Event, SubCommand, SubMatch};
use crate::error::Error;
use crate::ini::{IniDocument, normalize_section};
use crate::location::Location;
use crate::opt::{Opt, OptGroup};
use crate::resolve::{Piece, check_typed, convert, py_str, scan};
use crate::types::Value;

/// Names oslo reserves in the default group.
const RESERVED: &[&str] = &[
    "project",
    "prog",
    "version",
    "usage",
    "default_config_files",
    "default_config_dirs",
];

/// How deep `$name` references may nest before we call it a cycle.
const MAX_DEPTH: usize = 32;

/// What to parse, and how the program presents itself (oslo's `conf(args, project=, prog=, ...)`).
///
/// ```
/// use oslo_config::ParseArgs;
///
/// let args = ParseArgs::new(["--debug", "--config-file", "/etc/nova/nova.conf"])
///     .project("nova")
///     .prog("nova-api")
///     .version("1.0");
/// # let _ = args;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ParseArgs {
    args: Vec<String>,
    project: Option<String>,
    prog: Option<String>,
    version: Option<String>,
    usage: Option<String>,
    description: Option<String>,
    epilog: Option<String>,
    default_config_files: Option<Vec<PathBuf>>,
    default_config_dirs: Option<Vec<PathBuf>>,
    use_env: Option<bool>,
    validate_default_values: bool,
    #[cfg(feature = "toml")]
    toml_files: Vec<PathBuf>,
}

impl ParseArgs {
    /// The command-line arguments, without the program name (`std::env::args().skip(1)`).
    pub fn new<S: Into<String>>(args: impl IntoIterator<Item = S>) -> Self {
        ParseArgs {
            args: args.into_iter().map(Into::into).collect(),
            ..ParseArgs::default()
        }
    }

    /// The project name, used to find default config files (`/etc/<project>/<project>.conf`, ...).
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// The program name (defaults to the executable's name without `.py`).
    pub fn prog(mut self, prog: impl Into<String>) -> Self {
        self.prog = Some(prog.into());
        self
    }

    /// The version `--version` prints (no `--version` flag without it).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The usage line of `--help`.
    pub fn usage(mut self, usage: impl Into<String>) -> Self {
        self.usage = Some(usage.into());
        self
    }

    /// The description of `--help`.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// The epilog of `--help`.
    pub fn epilog(mut self, text: impl Into<String>) -> Self {
        self.epilog = Some(text.into());
        self
    }

    /// The config files read when `--config-file` is not given (instead of discovering them).
    pub fn default_config_files<P: Into<PathBuf>>(
        mut self,
        files: impl IntoIterator<Item = P>,
    ) -> Self {
        self.default_config_files = Some(files.into_iter().map(Into::into).collect());
        self
    }

    /// The config directories read when `--config-dir` is not given (instead of discovering them).
    pub fn default_config_dirs<P: Into<PathBuf>>(
        mut self,
        dirs: impl IntoIterator<Item = P>,
    ) -> Self {
        self.default_config_dirs = Some(dirs.into_iter().map(Into::into).collect());
        self
    }

    /// Whether `OS_<GROUP>__<OPT>` variables are read (default: as set by
    /// [`ConfigOpts::set_env`], the process environment).
    pub fn use_env(mut self, yes: bool) -> Self {
        self.use_env = Some(yes);
        self
    }

    /// A TOML file layered under the INI files (feature `toml`): it beats `set_default` and defaults, and
    /// loses to INI files, the environment, the command line and overrides; a later TOML file beats an
    /// earlier one. Values keep where they came from ([`Location::Toml`]).
    #[cfg(feature = "toml")]
    pub fn toml_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.toml_files.push(path.into());
        self
    }

    /// Check every default against its type while parsing.
    pub fn validate_default_values(mut self, yes: bool) -> Self {
        self.validate_default_values = yes;
        self
    }
}

/// Where `OS_<GROUP>__<OPT>` variables are read from.
#[derive(Debug, Clone, Default)]
pub enum EnvSource {
    /// The process environment: its `OS_*` variables as they are when parsing (and reloading).
    #[default]
    Process,
    /// A fixed set of variables (for tests and embedding).
    Map(HashMap<String, String>),
    /// No environment variables.
    Disabled,
}

/// A resolved value with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The value (`None` when the option has no value and no default).
    pub value: Option<Value>,
    /// Where it came from (`None` when there is no value at all).
    pub location: Option<Location>,
}

/// One change found by [`ConfigOpts::mutate_config_files`]: the raw values before and after, as oslo
/// reports them (strings, or lists of strings for multi-valued options).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The group (`None` for `DEFAULT`).
    pub group: Option<String>,
    /// The option name.
    pub name: String,
    /// The raw value before.
    pub old: Option<Value>,
    /// The raw value after.
    pub new: Option<Value>,
}

/// The sub-command chosen on the command line (oslo's `SubCommandAttr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenSubCommand {
    /// The dest the sub-commands were registered under.
    pub dest: String,
    /// The sub-command's name.
    pub name: String,
    /// Each given argument's dest and raw values.
    pub args: Vec<(String, Vec<String>)>,
}

/// A function called after [`ConfigOpts::mutate_config_files`] with the changes.
pub type MutateHook = Arc<dyn Fn(&ConfigOpts, &[Change]) + Send + Sync>;

#[derive(Debug, Clone)]
struct OptEntry {
    opt: Opt,
    cli: bool,
    /// Set through `set_override` and `set_default`, which few options are: boxed to keep entries small.
    override_value: Option<Box<Value>>,
    default_value: Option<Box<Value>>,
    /// [`file_key_hash`] of the section and the option's key, computed once.
    file_hash: u64,
    /// The deprecated (section, key) names also read, in oslo's order.
    deprecated: Vec<(String, String)>,
}

/// The options of a group in registration order, found by dest name.
///
/// The entries are kept in a vector and indexed by the hash of their dest: registering an option costs no
/// copy of its name and one move of the entry. A dest whose hash is already taken by another dest (a
/// collision) is found by scanning `collided`.
#[derive(Debug, Clone)]
struct OptMap {
    entries: Vec<OptEntry>,
    by_hash: FxHashMap<u64, usize>,
    collided: Vec<usize>,
    /// The normalised section the options are read from in files, and its hash.
    section: Box<str>,
    section_hash: u64,
}

impl OptMap {
    fn new(section: String, capacity: usize) -> Self {
        OptMap {
            entries: Vec::with_capacity(capacity),
            by_hash: FxHashMap::with_capacity_and_hasher(capacity, FxBuild::default()),
            collided: Vec::new(),
            section_hash: hash_str(&section),
            section: section.into_boxed_str(),
        }
    }

    fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
        self.by_hash.reserve(additional);
    }

    fn index_of(&self, dest: &str) -> Option<usize> {
        let at = |i: &usize| {
            self.entries
                .get(*i)
                .is_some_and(|e| e.opt.dest_name() == dest)
        };
        match self.by_hash.get(&hash_str(dest)) {
            Some(i) if at(i) => Some(*i),
            _ if self.collided.is_empty() => None,
            _ => self.collided.iter().copied().find(|i| at(i)),
        }
    }

    fn get(&self, dest: &str) -> Option<&OptEntry> {
        self.entries.get(self.index_of(dest)?)
    }

    fn get_mut(&mut self, dest: &str) -> Option<&mut OptEntry> {
        let i = self.index_of(dest)?;
        self.entries.get_mut(i)
    }

    fn get_index(&self, index: usize) -> Option<&OptEntry> {
        self.entries.get(index)
    }

    /// Indexes the entry at `i`, whose dest is not indexed yet.
    fn index_entry(&mut self, i: usize, hash: u64) {
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(_) => self.collided.push(i),
        }
    }

    /// Puts an entry in: at the end, or in the place of the one with the same dest, which comes back.
    /// `hash` is `hash_str` of the dest.
    fn replace(&mut self, entry: OptEntry, hash: u64) -> (usize, Option<OptEntry>) {
        let found = match self.by_hash.get(&hash) {
            Some(&i)
                if self
                    .entries
                    .get(i)
                    .is_some_and(|e| e.opt.dest_name() == entry.opt.dest_name()) =>
            {
                Some(i)
            }
            _ if self.collided.is_empty() => None,
            _ => self.index_of(entry.opt.dest_name()),
        };
        if let Some(i) = found
            && let Some(slot) = self.entries.get_mut(i)
        {
            return (i, Some(std::mem::replace(slot, entry)));
        }
        let i = self.entries.len();
        self.entries.push(entry);
        self.index_entry(i, hash);
        (i, None)
    }

    /// Removes an entry, keeping the order of the others.
    fn shift_remove(&mut self, dest: &str) -> Option<OptEntry> {
        let i = self.index_of(dest)?;
        let removed = self.entries.remove(i);
        self.by_hash.clear();
        self.collided.clear();
        let hashes: Vec<u64> = self
            .entries
            .iter()
            .map(|e| hash_str(e.opt.dest_name()))
            .collect();
        for (i, hash) in hashes.into_iter().enumerate() {
            self.index_entry(i, hash);
        }
        Some(removed)
    }

    fn values(&self) -> std::slice::Iter<'_, OptEntry> {
        self.entries.iter()
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.opt.dest_name())
    }

    /// Calls `f` on every entry (which must not change the entry's dest).
    fn for_each_mut(&mut self, f: impl FnMut(&mut OptEntry)) {
        self.entries.iter_mut().for_each(f);
    }
}

#[derive(Debug, Clone)]
struct GroupEntry {
    group: OptGroup,
    opts: OptMap,
}

impl GroupEntry {
    fn new(group: OptGroup, capacity: usize) -> Self {
        GroupEntry {
            opts: OptMap::new(normalize_section(&group.name), capacity),
            group,
        }
    }
}

#[derive(Debug)]
struct LoadedFile {
    path: PathBuf,
    doc: IniDocument,
}

#[derive(Debug, Clone)]
enum CliValue {
    Single(String, Location),
    Multi(Vec<(String, Location)>),
}

/// Everything read from files and the command line by one parse (oslo's `_Namespace`).
#[derive(Debug, Default)]
struct Namespace {
    files: Vec<Arc<LoadedFile>>,
    #[cfg(feature = "toml")]
    toml: Vec<crate::toml_layer::TomlLayer>,
    cli: HashMap<(Option<String>, String), CliValue>,
    config_files: Vec<PathBuf>,
    config_dirs: Vec<PathBuf>,
    explicit_dirs: Vec<PathBuf>,
}

#[derive(Debug)]
struct State {
    args: ParseArgs,
    settings: CliSettings,
    default_files: Vec<PathBuf>,
    default_dirs: Vec<PathBuf>,
    ns: Arc<Namespace>,
    mutable_ns: Option<Arc<Namespace>>,
    sub: Option<ChosenSubCommand>,
    /// The process's `OS_*` variables, read when parsing (and reloading).
    process_env: FxHashMap<String, String>,
}

/// The options of a program and the values they resolve to (oslo's `ConfigOpts`).
///
/// ```
/// use oslo_config::{ConfigOpts, Location, Opt, OptGroup, ParseArgs, Value};
///
/// let dir = tempfile::tempdir().unwrap();
/// let file = dir.path().join("app.conf");
/// std::fs::write(&file, "[DEFAULT]\nworkers = 8\n[database]\nurl = sqlite://$state_path/app.db\n").unwrap();
///
/// let mut conf = ConfigOpts::new();
/// conf.register_opt(Opt::integer("workers").default(1), None).unwrap();
/// conf.register_opt(Opt::string("state_path").default("/var/lib/app"), None).unwrap();
/// conf.register_group(OptGroup::new("database").help("Database options")).unwrap();
/// conf.register_opt(Opt::string("url").secret(), Some("database")).unwrap();
/// conf.register_cli_opt(Opt::boolean("debug").short('d'), None).unwrap();
///
/// conf.parse(ParseArgs::new(["-d", "--config-file", file.to_str().unwrap()]).use_env(false)).unwrap();
///
/// assert_eq!(conf.get_int("workers", None).unwrap(), Some(8));
/// assert_eq!(conf.get_bool("debug", None).unwrap(), Some(true));
/// assert_eq!(conf.get_str("url", Some("database")).unwrap().as_deref(), Some("sqlite:///var/lib/app/app.db"));
/// let where_from = conf.resolve("workers", None).unwrap().location.unwrap();
/// assert_eq!(where_from, Location::File { path: file.clone(), line: 2 });
/// ```
pub struct ConfigOpts {
    default_opts: OptMap,
    groups: FxIndexMap<String, GroupEntry>,
    subs: Option<(String, Vec<SubCommand>)>,
    state: Option<State>,
    env: EnvSource,
    hooks: Vec<MutateHook>,
    warned: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for ConfigOpts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigOpts")
            .field(
                "default_opts",
                &self.default_opts.keys().collect::<Vec<_>>(),
            )
            .field("groups", &self.groups.keys().collect::<Vec<_>>())
            .field("parsed", &self.state.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for ConfigOpts {
    fn default() -> Self {
        ConfigOpts::new()
    }
}

/// A value of `opt` from `origin` (not its default) that its type refused.
fn invalid_value(
    opt: &Opt,
    group: Option<&str>,
    origin: &Origin<'_>,
    reason: crate::types::InvalidValue,
) -> Error {
    Error::InvalidValue {
        name: opt.name.to_string(),
        group: group_label(group),
        location: origin.location(),
        reason,
    }
}

fn group_label(group: Option<&str>) -> String {
    group.unwrap_or("DEFAULT").to_owned()
}

/// The `OS_<GROUP>__<DEST>` variable of an option.
pub fn env_var_name(group: Option<&str>, dest: &str) -> String {
    let group = group.unwrap_or("DEFAULT");
    let mut out = String::with_capacity(5 + group.len() + dest.len());
    out.push_str("OS_");
    if group.is_ascii() && dest.is_ascii() {
        out.push_str(group);
        out.push_str("__");
        out.push_str(dest);
        out.make_ascii_uppercase();
    } else {
        out.push_str(&group.to_uppercase());
        out.push_str("__");
        out.push_str(&dest.to_uppercase());
    }
    out
}

fn config_search_dirs(home: Option<&Path>, project: Option<&str>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let (Some(p), Some(h)) = (project, home) {
        dirs.push(h.join(format!(".{p}")));
    }
    if let Some(h) = home {
        dirs.push(h.to_owned());
    }
    if let Some(p) = project {
        dirs.push(Path::new("/etc").join(p));
    }
    dirs.push(PathBuf::from("/etc"));
    if let Some(p) = project {
        for var in ["SNAP_COMMON", "SNAP"] {
            if let Some(s) = std::env::var_os(var) {
                dirs.push(PathBuf::from(s).join("etc").join(p));
            }
        }
    }
    dirs
}

fn find_with_extension(
    home: Option<&Path>,
    project: Option<&str>,
    prog: Option<&str>,
    ext: &str,
) -> Vec<PathBuf> {
    let dirs = config_search_dirs(home, project);
    [project, prog]
        .into_iter()
        .flatten()
        .filter_map(|name| {
            dirs.iter()
                .map(|d| d.join(format!("{name}{ext}")))
                .find(|p| p.exists())
        })
        .collect()
}

/// oslo's default config files: for each of `project` and `prog`, the first `<name>.conf` found in
/// `~/.<project>/`, `~/`, `/etc/<project>/`, `/etc/`, `$SNAP_COMMON/etc/<project>`, `$SNAP/etc/<project>`
/// (`~` is `$HOME`).
pub fn find_config_files(project: Option<&str>, prog: Option<&str>) -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    find_with_extension(home.as_deref(), project, prog, ".conf")
}

/// [`find_config_files`] with an explicit home directory instead of `$HOME`.
pub fn find_config_files_in(
    home: Option<&Path>,
    project: Option<&str>,
    prog: Option<&str>,
) -> Vec<PathBuf> {
    find_with_extension(home, project, prog, ".conf")
}

/// oslo's default config directories: the same search for `<name>.conf.d`.
pub fn find_config_dirs(project: Option<&str>, prog: Option<&str>) -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    find_with_extension(home.as_deref(), project, prog, ".conf.d")
}

/// [`find_config_dirs`] with an explicit home directory instead of `$HOME`.
pub fn find_config_dirs_in(
    home: Option<&Path>,
    project: Option<&str>,
    prog: Option<&str>,
) -> Vec<PathBuf> {
    find_with_extension(home, project, prog, ".conf.d")
}

/// The `*.conf` files of a directory, sorted by name as oslo does (byte order: `100-a.conf` first).
fn dir_conf_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with(".conf") && !n.starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

enum Loaded {
    File(Arc<LoadedFile>),
    NotFound,
    Denied,
}

/// oslo's `_fixpath`: `~` expanded, then made absolute.
fn fixpath(p: &str) -> PathBuf {
    let expanded = match (p.strip_prefix('~'), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            PathBuf::from(home).join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(p),
    };
    std::path::absolute(&expanded).unwrap_or(expanded)
}

fn load_file(path: &Path) -> Result<Loaded, Error> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::NotFound),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Ok(Loaded::Denied),
        Err(e) => {
            return Err(Error::ConfigFileRead {
                path: path.to_owned(),
                reason: e.to_string(),
            });
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| Error::ConfigFileRead {
        path: path.to_owned(),
        reason: format!("not valid UTF-8: {e}"),
    })?;
    let doc = IniDocument::parse_owned(text).map_err(|e| Error::ConfigFileParse {
        path: path.to_owned(),
        line: e.line,
        message: e.message.to_owned(),
        text: crate::ini::py_repr(&e.text),
    })?;
    Ok(Loaded::File(Arc::new(LoadedFile {
        path: path.to_owned(),
        doc,
    })))
}

/// The (section, key) names an option is read under in files, in oslo's order.
fn file_names(group: Option<&str>, opt: &Opt) -> Vec<(String, String)> {
    let mut names = vec![(
        normalize_section(group.unwrap_or("DEFAULT")),
        opt.dest_name().to_owned(),
    )];
    names.extend(deprecated_names(group, opt));
    names
}

/// The deprecated (section, key) names of an option, in oslo's order (no allocation when there are none).
fn deprecated_names(group: Option<&str>, opt: &Opt) -> Vec<(String, String)> {
    let mut names = Vec::new();
    if opt.rare.is_none() {
        return names;
    }
    for d in opt.all_deprecated() {
        if d.name.is_none() && d.group.is_none() {
            continue;
        }
        let g = d.group.as_deref().or(group).unwrap_or("DEFAULT");
        let n = d.name.clone().unwrap_or_else(|| opt.dest_name().to_owned());
        names.push((normalize_section(g), n));
    }
    names
}

/// A value's place in a config file.
#[derive(Debug, Clone, Copy)]
struct FileAt<'a> {
    path: &'a Path,
    line: usize,
}

/// Where a resolved value came from, borrowed from the sources until a [`Location`] is asked for (a
/// plain [`ConfigOpts::get`] never builds one).
#[derive(Debug, Clone)]
enum Origin<'a> {
    OptDefault,
    SetDefault,
    SetOverride,
    File(FileAt<'a>),
    Borrowed(&'a Location),
    Owned(Location),
}

impl Origin<'_> {
    fn location(&self) -> Location {
        match self {
            Origin::OptDefault => Location::OptDefault,
            Origin::SetDefault => Location::SetDefault,
            Origin::SetOverride => Location::SetOverride,
            Origin::File(at) => Location::File {
                path: at.path.to_owned(),
                line: at.line,
            },
            Origin::Borrowed(l) => (*l).clone(),
            Origin::Owned(l) => l.clone(),
        }
    }
}

/// A raw value found in files: one string (the last) or all of them for a multi-valued option, with the
/// index of the name that matched (0: the current name, then the deprecated ones in order).
#[derive(Debug, Clone)]
enum FileHit<'a> {
    Single(&'a str, FileAt<'a>, usize),
    Multi(Vec<(&'a str, FileAt<'a>)>, FileAt<'a>, usize),
}

/// The hash a file's index has for (normalised section, key).
fn file_key_hash(section: &str, key: &str) -> u64 {
    combine(hash_str(section), hash_str(key))
}

/// oslo's `_get_file_value`: newest file first; `name_index` tells which of the names matched.
fn lookup_files<'a>(
    files: &'a [Arc<LoadedFile>],
    names: &[(String, String)],
    multi: bool,
) -> Option<FileHit<'a>> {
    let (first, rest) = names.split_first()?;
    let hash = file_key_hash(&first.0, &first.1);
    lookup_files_by(files, (&first.0, &first.1, hash), rest, multi)
}

/// [`lookup_files`] with the current name (normalised section, key, [`file_key_hash`]) given apart from
/// the deprecated ones.
fn lookup_files_by<'a>(
    files: &'a [Arc<LoadedFile>],
    current: (&str, &str, u64),
    deprecated: &[(String, String)],
    multi: bool,
) -> Option<FileHit<'a>> {
    if deprecated.is_empty() && !multi {
        // The common case: one name, the last value of the newest file that has it.
        let (section, key, hash) = current;
        return files.iter().rev().find_map(|f| {
            let (value, line) = f.doc.last_hashed(section, key, hash)?;
            let at = FileAt {
                path: &f.path,
                line,
            };
            Some(FileHit::Single(value, at, 0))
        });
    }
    let mut acc: Vec<(&'a str, FileAt<'a>)> = Vec::new();
    let mut first: Option<(FileAt<'a>, usize)> = None;
    for f in files.iter().rev() {
        let names = std::iter::once(current).chain(
            deprecated
                .iter()
                .map(|(s, k)| (s.as_str(), k.as_str(), file_key_hash(s, k))),
        );
        for (ni, (section, key, hash)) in names.enumerate() {
            if !multi {
                if let Some((value, line)) = f.doc.last_hashed(section, key, hash) {
                    let at = FileAt {
                        path: &f.path,
                        line,
                    };
                    return Some(FileHit::Single(value, at, ni));
                }
                continue;
            }
            let mut vals: Vec<(&'a str, FileAt<'a>)> = f
                .doc
                .values_hashed(section, key, hash)
                .map(|(value, line)| {
                    (
                        value,
                        FileAt {
                            path: &f.path,
                            line,
                        },
                    )
                })
                .collect();
            if vals.is_empty() {
                continue;
            }
            if first.is_none() {
                first = vals.first().map(|(_, at)| (*at, ni));
            }
            vals.append(&mut acc);
            acc = vals;
        }
    }
    match first {
        Some((at, ni)) if multi => Some(FileHit::Multi(acc, at, ni)),
        _ => None,
    }
}

fn raw_of(hit: &FileHit<'_>) -> Value {
    match hit {
        FileHit::Single(s, _, _) => Value::String((*s).to_owned()),
        FileHit::Multi(v, _, _) => Value::List(
            v.iter()
                .map(|(s, _)| Value::String((*s).to_owned()))
                .collect(),
        ),
    }
}

/// A raw value chosen for an option: text borrowed from a file, or a value.
enum Raw<'a> {
    Text(&'a str),
    Value(Value),
}

fn raw_of_cli(v: &CliValue) -> Value {
    match v {
        CliValue::Single(s, _) => Value::String(s.clone()),
        CliValue::Multi(v) => {
            Value::List(v.iter().map(|(s, _)| Value::String(s.clone())).collect())
        }
    }
}

impl ConfigOpts {
    /// An empty set of options, reading the process environment.
    pub fn new() -> Self {
        ConfigOpts {
            default_opts: OptMap::new("DEFAULT".to_owned(), 0),
            groups: FxIndexMap::default(),
            subs: None,
            state: None,
            env: EnvSource::Process,
            hooks: Vec::new(),
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// Where `OS_<GROUP>__<OPT>` variables come from (the process environment by default).
    pub fn set_env(&mut self, env: EnvSource) {
        self.env = env;
    }

    /// Registers a group (the first registration of a name wins, as in oslo).
    pub fn register_group(&mut self, group: OptGroup) -> Result<(), Error> {
        if group.name == "DEFAULT" {
            return Err(Error::InvalidOpt {
                name: group.name,
                reason: "DEFAULT is not a group".to_owned(),
            });
        }
        self.groups
            .entry(group.name.clone())
            .or_insert_with(|| GroupEntry::new(group, 0));
        Ok(())
    }

    fn register_inner(&mut self, opt: Opt, group: Option<&str>, cli: bool) -> Result<bool, Error> {
        self.check_new(&opt, group, cli)?;
        let index = group.map(|g| self.group_index(g));
        self.register_at(index, opt, group, cli)
    }

    /// The checks on an option before it is registered.
    fn check_new(&self, opt: &Opt, group: Option<&str>, cli: bool) -> Result<(), Error> {
        opt.validate()?;
        if group.is_none() && RESERVED.contains(&opt.dest_name()) {
            return Err(Error::InvalidOpt {
                name: opt.name.to_string(),
                reason: format!("Name {} was reserved for oslo.config.", opt.name),
            });
        }
        if cli && self.state.is_some() {
            return Err(Error::ArgsAlreadyParsed {
                message: format!("cannot register CLI option `{}`", opt.name),
            });
        }
        Ok(())
    }

    /// The index of a group, created if needed.
    fn group_index(&mut self, g: &str) -> usize {
        match self.groups.get_index_of(g) {
            Some(i) => i,
            None => {
                self.groups
                    .insert_full(g.to_owned(), GroupEntry::new(OptGroup::new(g), 0))
                    .0
            }
        }
    }

    /// Registers a checked option in the group at `index` (`None`: `DEFAULT`): one look-up of its name.
    fn register_at(
        &mut self,
        index: Option<usize>,
        opt: Opt,
        group: Option<&str>,
        cli: bool,
    ) -> Result<bool, Error> {
        let opts = match (index, group) {
            (Some(i), Some(g)) => {
                let (_, entry) = self
                    .groups
                    .get_index_mut(i)
                    .ok_or_else(|| Error::NoSuchGroup { name: g.to_owned() })?;
                &mut entry.opts
            }
            _ => &mut self.default_opts,
        };
        let deprecated = deprecated_names(group, &opt);
        let dest_hash = hash_str(opt.dest_name());
        // As `file_key_hash(section, dest)`, from the hashes at hand.
        let file_hash = combine(opts.section_hash, dest_hash);
        let entry = OptEntry {
            opt,
            cli,
            override_value: None,
            default_value: None,
            file_hash,
            deprecated,
        };
        // One look-up: the entry goes in, and in the rare case that the name was taken, the one that was
        // there goes back.
        let (index, existing) = opts.replace(entry, dest_hash);
        let Some(mut existing) = existing else {
            return Ok(true);
        };
        let same = opts
            .get_index(index)
            .is_some_and(|new| existing.opt.same_as(&new.opt));
        let name = existing.opt.dest_name().to_owned();
        existing.cli |= same && cli;
        opts.replace(existing, dest_hash);
        if same {
            return Ok(false);
        }
        Err(Error::DuplicateOpt {
            name,
            group: group_label(group),
        })
    }

    /// Registers an option in a group (`None`: `DEFAULT`); the group is created if needed.
    ///
    /// Returns `Ok(false)` when the identical option was already registered; a different option under the
    /// same name is [`Error::DuplicateOpt`].
    pub fn register_opt(&mut self, opt: Opt, group: Option<&str>) -> Result<bool, Error> {
        self.register_inner(opt, group, false)
    }

    /// Registers several options in a group.
    pub fn register_opts(
        &mut self,
        opts: impl IntoIterator<Item = Opt>,
        group: Option<&str>,
    ) -> Result<(), Error> {
        let opts = opts.into_iter();
        let (hint, _) = opts.size_hint();
        // The group is looked up (or created) once for all the options.
        let index = match group {
            Some(g) => {
                let i = self.group_index(g);
                if let Some((_, entry)) = self.groups.get_index_mut(i) {
                    entry.opts.reserve(hint);
                }
                Some(i)
            }
            None => {
                self.default_opts.reserve(hint);
                None
            }
        };
        for o in opts {
            self.check_new(&o, group, false)?;
            self.register_at(index, o, group, false)?;
        }
        Ok(())
    }

    /// Registers an option that is also a command-line flag (before [`ConfigOpts::parse`]).
    pub fn register_cli_opt(&mut self, opt: Opt, group: Option<&str>) -> Result<bool, Error> {
        self.register_inner(opt, group, true)
    }

    /// Registers several command-line options.
    pub fn register_cli_opts(
        &mut self,
        opts: impl IntoIterator<Item = Opt>,
        group: Option<&str>,
    ) -> Result<(), Error> {
        for o in opts {
            self.register_cli_opt(o, group)?;
        }
        Ok(())
    }

    /// Registers sub-commands (oslo's `SubCommandOpt`): the chosen one is [`ConfigOpts::sub_command`].
    pub fn register_sub_commands(
        &mut self,
        dest: impl Into<String>,
        commands: Vec<SubCommand>,
    ) -> Result<(), Error> {
        if self.state.is_some() {
            return Err(Error::ArgsAlreadyParsed {
                message: "cannot register sub-commands".to_owned(),
            });
        }
        self.subs = Some((dest.into(), commands));
        Ok(())
    }

    /// Removes an option (only before parsing, as in oslo).
    pub fn unregister_opt(&mut self, name: &str, group: Option<&str>) -> Result<(), Error> {
        if self.state.is_some() {
            return Err(Error::ArgsAlreadyParsed {
                message: "reset before unregistering options".to_owned(),
            });
        }
        let opts = self.opts_of_mut(group)?;
        opts.shift_remove(name)
            .map(|_| ())
            .ok_or_else(|| Error::NoSuchOpt {
                name: name.to_owned(),
                group: group_label(group),
            })
    }

    /// Checks that an option is registered (oslo's `import_opt` without the import).
    pub fn require_opt(&self, name: &str, group: Option<&str>) -> Result<(), Error> {
        self.find(name, group).map(|_| ())
    }

    /// Checks that a group is registered (oslo's `import_group` without the import).
    pub fn require_group(&self, group: &str) -> Result<(), Error> {
        if self.groups.contains_key(group) {
            Ok(())
        } else {
            Err(Error::NoSuchGroup {
                name: group.to_owned(),
            })
        }
    }

    fn opts_of_mut(&mut self, group: Option<&str>) -> Result<&mut OptMap, Error> {
        match group {
            None => Ok(&mut self.default_opts),
            Some(g) => self
                .groups
                .get_mut(g)
                .map(|e| &mut e.opts)
                .ok_or_else(|| Error::NoSuchGroup { name: g.to_owned() }),
        }
    }

    fn opts_of(&self, group: Option<&str>) -> Result<&OptMap, Error> {
        match group {
            None => Ok(&self.default_opts),
            Some(g) => self
                .groups
                .get(g)
                .map(|e| &e.opts)
                .ok_or_else(|| Error::NoSuchGroup { name: g.to_owned() }),
        }
    }

    /// Finds an option by dest, or by one of its deprecated names (as oslo's `_get_opt_info`).
    fn find(&self, name: &str, group: Option<&str>) -> Result<&OptEntry, Error> {
        self.find_in_group(name, group).map(|(e, _)| e)
    }

    /// [`Self::find`], with the options of the group the option is in.
    fn find_in_group(
        &self,
        name: &str,
        group: Option<&str>,
    ) -> Result<(&OptEntry, &OptMap), Error> {
        let opts = self.opts_of(group)?;
        if let Some(e) = opts.get(name) {
            return Ok((e, opts));
        }
        for e in opts.values() {
            for d in e.opt.all_deprecated() {
                let dg = d.group.as_deref().or(group);
                if d.name.as_deref() == Some(name) && dg == group {
                    return Ok((e, opts));
                }
            }
        }
        Err(Error::NoSuchOpt {
            name: name.to_owned(),
            group: group_label(group),
        })
    }

    fn find_mut(&mut self, name: &str, group: Option<&str>) -> Result<&mut OptEntry, Error> {
        let dest = self.find(name, group)?.opt.dest_name().to_owned();
        let opts = self.opts_of_mut(group)?;
        opts.get_mut(&dest).ok_or_else(|| Error::NoSuchOpt {
            name: name.to_owned(),
            group: group_label(group),
        })
    }

    /// Every registered option with its group (`None`: `DEFAULT`), `DEFAULT` first, then groups in
    /// registration order.
    pub fn all_opts(&self) -> impl Iterator<Item = (Option<&str>, &Opt)> {
        self.default_opts
            .values()
            .map(|e| (None, &e.opt))
            .chain(self.groups.values().flat_map(|g| {
                g.opts
                    .values()
                    .map(move |e| (Some(g.group.name.as_str()), &e.opt))
            }))
    }

    /// The registered groups, in registration order.
    pub fn groups(&self) -> impl Iterator<Item = &OptGroup> {
        self.groups.values().map(|g| &g.group)
    }

    /// Whether an option was registered for the command line.
    pub fn is_cli_opt(&self, name: &str, group: Option<&str>) -> bool {
        self.find(name, group).is_ok_and(|e| e.cli)
    }

    fn cli_opts(&self) -> Vec<(Option<&str>, &Opt)> {
        let mut v: Vec<(Option<&str>, &Opt)> = self
            .default_opts
            .values()
            .filter(|e| e.cli)
            .map(|e| (None, &e.opt))
            .collect();
        for g in self.groups.values() {
            v.extend(
                g.opts
                    .values()
                    .filter(|e| e.cli)
                    .map(|e| (Some(g.group.name.as_str()), &e.opt)),
            );
        }
        v
    }

    /// Parses the command line and the config files (oslo's `conf(...)`), then checks required options.
    ///
    /// Calling it again starts over. `--help` and `--version` come back as [`Error::CommandLine`] with exit
    /// code 0 and the text to print.
    pub fn parse(&mut self, args: ParseArgs) -> Result<(), Error> {
        self.state = None;
        let prog = args.prog.clone().unwrap_or_else(|| {
            std::env::args()
                .next()
                .map(|a| {
                    let base = Path::new(&a)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or(a.clone());
                    base.strip_suffix(".py").map(str::to_owned).unwrap_or(base)
                })
                .unwrap_or_default()
        });
        let default_files = args
            .default_config_files
            .clone()
            .unwrap_or_else(|| find_config_files(args.project.as_deref(), Some(&prog)));
        let default_dirs = args
            .default_config_dirs
            .clone()
            .unwrap_or_else(|| find_config_dirs(args.project.as_deref(), Some(&prog)));
        let settings = CliSettings {
            prog,
            version: args.version.clone(),
            usage: args.usage.clone(),
            description: args.description.clone(),
            epilog: args.epilog.clone(),
        };
        let (ns, sub) = self.build_namespace(&args, &settings, &default_files, &default_dirs)?;
        self.state = Some(State {
            args,
            settings,
            default_files,
            default_dirs,
            ns: Arc::new(ns),
            mutable_ns: None,
            sub,
            process_env: process_os_vars(),
        });
        let result = self.after_parse();
        if result.is_err() {
            self.state = None;
        }
        result
    }

    fn after_parse(&self) -> Result<(), Error> {
        let validate = self
            .state
            .as_ref()
            .is_some_and(|s| s.args.validate_default_values);
        // CLI values are checked now, like oslo's `_validate_cli_options`.
        for (group, opt) in self.cli_opts() {
            let Some(state) = &self.state else { break };
            if let Some(cv) = state
                .ns
                .cli
                .get(&(group.map(str::to_owned), opt.dest_name().to_owned()))
            {
                let (raw, loc) = match cv {
                    CliValue::Single(s, l) => (Value::String(s.clone()), l.clone()),
                    CliValue::Multi(v) => (
                        Value::List(v.iter().map(|(s, _)| Value::String(s.clone())).collect()),
                        v.first()
                            .map(|(_, l)| l.clone())
                            .unwrap_or(Location::OptDefault),
                    ),
                };
                self.convert_at(opt, group, &raw, &Origin::Owned(loc), &state.ns, 0)?;
            }
        }
        for (group, opt) in self.all_opts() {
            if validate && let Some(d) = &opt.core.default {
                let entry = self.find(opt.dest_name(), group)?;
                if entry.default_value.is_none() {
                    let ns = self
                        .state
                        .as_ref()
                        .map(|s| s.ns.clone())
                        .unwrap_or_default();
                    self.convert_at(opt, group, d, &Origin::OptDefault, &ns, 0)?;
                }
            }
            if opt.is_required() {
                let entry = self.find(opt.dest_name(), group)?;
                if opt.core.default.is_some()
                    || entry.default_value.is_some()
                    || entry.override_value.is_some()
                {
                    continue;
                }
                if self.resolve(opt.dest_name(), group)?.value.is_none() {
                    return Err(Error::RequiredOpt {
                        name: opt.name.to_string(),
                        group: group_label(group),
                    });
                }
            }
        }
        Ok(())
    }

    fn build_namespace(
        &self,
        args: &ParseArgs,
        settings: &CliSettings,
        default_files: &[PathBuf],
        default_dirs: &[PathBuf],
    ) -> Result<(Namespace, Option<ChosenSubCommand>), Error> {
        let cli_opts = self.cli_opts();
        let subs: &[SubCommand] = self.subs.as_ref().map(|(_, s)| s.as_slice()).unwrap_or(&[]);
        let parsed = cli::parse(settings, &cli_opts, subs, &args.args)?;
        let mut ns = Namespace::default();
        let mut not_found = Vec::new();
        let mut denied = Vec::new();

        let has_file_flag = args
            .args
            .iter()
            .any(|a| a == "--config-file" || a.starts_with("--config-file="));
        let has_dir_flag = args
            .args
            .iter()
            .any(|a| a == "--config-dir" || a.starts_with("--config-dir="));
        if !has_file_flag {
            for f in default_files {
                self.add_file(&mut ns, &cli_opts, f, &mut not_found, &mut denied)?;
            }
        }
        if !has_dir_flag {
            for d in default_dirs {
                if !d.exists() {
                    continue;
                }
                for f in dir_conf_files(d) {
                    self.add_file(&mut ns, &cli_opts, &f, &mut not_found, &mut denied)?;
                }
            }
        }
        for ev in &parsed.events {
            match ev {
                Event::ConfigFile(p) => {
                    let path = fixpath(p);
                    ns.config_files.push(path.clone());
                    self.add_file(&mut ns, &cli_opts, &path, &mut not_found, &mut denied)?;
                }
                Event::ConfigDir(d) => {
                    let dir = fixpath(d);
                    if !dir.is_dir() {
                        return Err(Error::ConfigDirNotFound { dir });
                    }
                    ns.config_dirs.push(dir.clone());
                    ns.explicit_dirs.push(dir.clone());
                    for f in dir_conf_files(&dir) {
                        self.add_file(&mut ns, &cli_opts, &f, &mut not_found, &mut denied)?;
                    }
                }
                Event::Value { opt, raw, flag } => {
                    let Some((group, o)) = cli_opts.get(*opt) else {
                        continue;
                    };
                    let key = (group.map(str::to_owned), o.dest_name().to_owned());
                    let loc = Location::CommandLine { flag: flag.clone() };
                    if o.multi {
                        match ns
                            .cli
                            .entry(key)
                            .or_insert_with(|| CliValue::Multi(Vec::new()))
                        {
                            CliValue::Multi(v) => v.push((raw.clone(), loc)),
                            single => *single = CliValue::Multi(vec![(raw.clone(), loc)]),
                        }
                    } else {
                        ns.cli.insert(key, CliValue::Single(raw.clone(), loc));
                    }
                }
            }
        }
        if !has_file_flag {
            ns.config_files = default_files.to_vec();
        }
        if !has_dir_flag {
            ns.config_dirs = default_dirs.to_vec();
        }
        #[cfg(feature = "toml")]
        for path in &args.toml_files {
            if !path.exists() {
                not_found.push(path.clone());
                continue;
            }
            ns.toml.push(crate::toml_layer::load(path)?);
        }
        if !not_found.is_empty() {
            return Err(Error::ConfigFilesNotFound { paths: not_found });
        }
        if !denied.is_empty() {
            return Err(Error::ConfigFilesPermissionDenied { paths: denied });
        }
        let sub = parsed.sub.map(|SubMatch { name, values }| {
            let args = self
                .subs
                .as_ref()
                .and_then(|(_, s)| s.iter().find(|c| c.name == name))
                .map(|c| {
                    values
                        .into_iter()
                        .filter_map(|(i, v)| c.args.get(i).map(|o| (o.dest_name().to_owned(), v)))
                        .collect()
                })
                .unwrap_or_default();
            ChosenSubCommand {
                dest: self
                    .subs
                    .as_ref()
                    .map(|(d, _)| d.clone())
                    .unwrap_or_default(),
                name,
                args,
            }
        });
        Ok((ns, sub))
    }

    /// Parses one file and, like oslo, copies its values for CLI options into the command-line values at
    /// this point of argv.
    fn add_file(
        &self,
        ns: &mut Namespace,
        cli_opts: &[(Option<&str>, &Opt)],
        path: &Path,
        not_found: &mut Vec<PathBuf>,
        denied: &mut Vec<PathBuf>,
    ) -> Result<(), Error> {
        let fixed = fixpath(&path.to_string_lossy());
        let path = fixed.as_path();
        let file = match load_file(path)? {
            Loaded::File(f) => f,
            Loaded::NotFound => {
                not_found.push(path.to_owned());
                return Ok(());
            }
            Loaded::Denied => {
                denied.push(path.to_owned());
                return Ok(());
            }
        };
        let single = [file.clone()];
        for (group, o) in cli_opts {
            let names = file_names(*group, o);
            let Some(hit) = lookup_files(&single, &names, o.multi) else {
                continue;
            };
            let key = (group.map(str::to_owned), o.dest_name().to_owned());
            match hit {
                FileHit::Single(v, at, _) => {
                    let value = CliValue::Single(v.to_owned(), Origin::File(at).location());
                    ns.cli.insert(key, value);
                }
                FileHit::Multi(vals, _, _) => {
                    let vals: Vec<(String, Location)> = vals
                        .into_iter()
                        .map(|(v, at)| (v.to_owned(), Origin::File(at).location()))
                        .collect();
                    match ns
                        .cli
                        .entry(key)
                        .or_insert_with(|| CliValue::Multi(Vec::new()))
                    {
                        CliValue::Multi(v) => v.extend(vals),
                        other => *other = CliValue::Multi(vals),
                    }
                }
            }
        }
        ns.files.push(file);
        Ok(())
    }

    fn state(&self) -> Option<&State> {
        self.state.as_ref()
    }

    /// The option's `OS_<GROUP>__<DEST>` variable, if set; the name is only built when there are variables
    /// to look it up in.
    fn env_value(&self, group: Option<&str>, dest: &str) -> Option<(String, Location)> {
        if self.state().is_some_and(|s| s.args.use_env == Some(false)) {
            return None;
        }
        let (v, var) = match &self.env {
            EnvSource::Process => match self.state() {
                Some(s) => {
                    if s.process_env.is_empty() {
                        return None;
                    }
                    let var = env_var_name(group, dest);
                    (s.process_env.get(&var).cloned()?, var)
                }
                None => {
                    let var = env_var_name(group, dest);
                    (std::env::var(&var).ok()?, var)
                }
            },
            EnvSource::Map(m) => {
                if m.is_empty() {
                    return None;
                }
                let var = env_var_name(group, dest);
                (m.get(&var).cloned()?, var)
            }
            EnvSource::Disabled => return None,
        };
        Some((v, Location::Environment { var }))
    }

    fn warn_once(&self, key: String, message: impl FnOnce() -> String) {
        let first = self
            .warned
            .lock()
            .map(|mut w| w.insert(key))
            .unwrap_or(false);
        if first {
            tracing::warn!(target: "oslo_config", "{}", message());
        }
    }

    /// The value of an option, typed, with interpolation applied (`None`: no value and no default).
    ///
    /// `group` is `None` for `DEFAULT`. An option can also be asked for under one of its deprecated names.
    pub fn get(&self, name: &str, group: Option<&str>) -> Result<Option<Value>, Error> {
        let empty;
        let ns = match self.state() {
            Some(s) => self.namespace_of(s, name, group)?,
            None => {
                empty = Namespace::default();
                &empty
            }
        };
        Ok(self.resolve_in(name, group, ns, 0)?.0)
    }

    /// The value of an option and where it came from.
    pub fn resolve(&self, name: &str, group: Option<&str>) -> Result<Resolved, Error> {
        let empty;
        let ns = match self.state() {
            Some(s) => self.namespace_of(s, name, group)?,
            None => {
                empty = Namespace::default();
                &empty
            }
        };
        let (value, origin) = self.resolve_in(name, group, ns, 0)?;
        Ok(Resolved {
            value,
            location: origin.as_ref().map(Origin::location),
        })
    }

    /// The namespace an option reads: the snapshot of the last mutation for a mutable option.
    fn namespace_of<'a>(
        &self,
        s: &'a State,
        name: &str,
        group: Option<&str>,
    ) -> Result<&'a Namespace, Error> {
        Ok(match &s.mutable_ns {
            Some(m) if self.find(name, group)?.opt.mutable => m,
            _ => &s.ns,
        })
    }

    fn resolve_in<'a>(
        &'a self,
        name: &str,
        group: Option<&str>,
        ns: &'a Namespace,
        depth: usize,
    ) -> Result<(Option<Value>, Option<Origin<'a>>), Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TemplateSubstitution {
                message: format!("references nest too deep (a cycle?) at option {name}"),
            });
        }
        let (entry, opts) = self.find_in_group(name, group)?;
        let opt = &entry.opt;
        if let Some(v) = &entry.override_value {
            let v = self.substitute_value(v, group, ns, depth)?;
            return Ok((Some(v), Some(Origin::SetOverride)));
        }
        let env = self.env_value(group, opt.dest_name());
        let file_hit = lookup_files_by(
            &ns.files,
            (&opts.section, opt.dest_name(), entry.file_hash),
            &entry.deprecated,
            opt.multi,
        );
        let cli = if entry.cli {
            ns.cli
                .get(&(group.map(str::to_owned), opt.dest_name().to_owned()))
        } else {
            None
        };
        if let Some(hit) = &file_hit {
            let ni = match hit {
                FileHit::Single(_, _, ni) | FileHit::Multi(_, _, ni) => *ni,
            };
            if ni > 0
                && let Some((section, key)) = entry.deprecated.get(ni - 1)
            {
                let (cur_g, cur_n) = (group_label(group), opt.name.to_string());
                self.warn_once(format!("dep:{section}:{key}"), || {
                    format!(
                        "Option \"{key}\" from group \"{section}\" is deprecated. Use option \"{cur_n}\" from group \"{cur_g}\"."
                    )
                });
            }
        }
        let chosen: Option<(Raw<'a>, Origin<'a>)> = match cli {
            Some(cv) => {
                let from_cli = match cv {
                    CliValue::Single(_, l) => matches!(l, Location::CommandLine { .. }),
                    CliValue::Multi(v) => v
                        .iter()
                        .any(|(_, l)| matches!(l, Location::CommandLine { .. })),
                };
                let origin = match cv {
                    CliValue::Single(_, l) => Origin::Borrowed(l),
                    CliValue::Multi(v) => v
                        .iter()
                        .find(|(_, l)| matches!(l, Location::CommandLine { .. }))
                        .or(v.first())
                        .map_or(Origin::OptDefault, |(_, l)| Origin::Borrowed(l)),
                };
                if from_cli {
                    Some((Raw::Value(raw_of_cli(cv)), origin))
                } else if let Some((e, l)) = env {
                    Some((Raw::Value(Value::String(e)), Origin::Owned(l)))
                } else {
                    Some((Raw::Value(raw_of_cli(cv)), origin))
                }
            }
            None => match (env, file_hit) {
                (Some((e, l)), _) => Some((Raw::Value(Value::String(e)), Origin::Owned(l))),
                // A single file value is converted from the file's text: only the result is allocated.
                (None, Some(FileHit::Single(s, at, _))) => Some((Raw::Text(s), Origin::File(at))),
                (None, Some(FileHit::Multi(v, at, _))) => Some((
                    Raw::Value(Value::List(
                        v.into_iter()
                            .map(|(s, _)| Value::String(s.to_owned()))
                            .collect(),
                    )),
                    Origin::File(at),
                )),
                (None, None) => self
                    .toml_value(group, opt, ns)
                    .map(|(v, l)| (Raw::Value(v), Origin::Owned(l))),
            },
        };
        if let Some((raw, origin)) = chosen {
            if let Some(reason) = opt.deprecation() {
                let g = group_label(group);
                self.warn_once(format!("removal:{g}:{}", opt.name), || {
                    let reason = reason.map(|r| format!(" ({r})")).unwrap_or_default();
                    format!(
                        "Option \"{}\" from group \"{g}\" is deprecated for removal{reason}.  Its value may be silently ignored in the future.",
                        opt.name
                    )
                });
            }
            let value = match raw {
                Raw::Text(text) => self.convert_text_at(opt, group, text, &origin, ns, depth)?,
                Raw::Value(raw) => self.convert_owned_at(opt, group, raw, &origin, ns, depth)?,
            };
            return Ok((value, Some(origin)));
        }
        if let Some(d) = &entry.default_value {
            let v = self.substitute_value(d, group, ns, depth)?;
            return Ok((Some(v), Some(Origin::SetDefault)));
        }
        if let Some(d) = &opt.core.default {
            let value = self.convert_at(opt, group, d, &Origin::OptDefault, ns, depth)?;
            return Ok((value, Some(Origin::OptDefault)));
        }
        Ok((None, None))
    }

    #[cfg(feature = "toml")]
    fn toml_value(
        &self,
        group: Option<&str>,
        opt: &Opt,
        ns: &Namespace,
    ) -> Option<(Value, Location)> {
        let names = file_names(group, opt);
        ns.toml.iter().rev().find_map(|layer| {
            names.iter().find_map(|(section, key)| {
                layer.values.get(&(section.clone(), key.clone())).map(|v| {
                    (
                        v.clone(),
                        Location::Toml {
                            path: layer.path.clone(),
                        },
                    )
                })
            })
        })
    }

    #[cfg(not(feature = "toml"))]
    fn toml_value(
        &self,
        _group: Option<&str>,
        _opt: &Opt,
        _ns: &Namespace,
    ) -> Option<(Value, Location)> {
        None
    }

    /// The error for a value an option's type refused.
    fn refused(
        &self,
        opt: &Opt,
        group: Option<&str>,
        raw: &Value,
        origin: &Origin<'_>,
        reason: crate::types::InvalidValue,
    ) -> Error {
        if matches!(origin, Origin::OptDefault) {
            Error::InvalidDefault {
                name: opt.name.to_string(),
                value: py_str(raw),
                type_name: opt.core.ty.type_name(),
                reason,
            }
        } else {
            invalid_value(opt, group, origin, reason)
        }
    }

    /// Converts text read from a file for an option, without copying it first.
    fn convert_text_at(
        &self,
        opt: &Opt,
        group: Option<&str>,
        text: &str,
        origin: &Origin<'_>,
        ns: &Namespace,
        depth: usize,
    ) -> Result<Option<Value>, Error> {
        if opt.multi || text.contains('$') {
            let raw = Value::String(text.to_owned());
            return self.convert_at(opt, group, &raw, origin, ns, depth);
        }
        opt.core
            .ty
            .parse(text)
            .map_err(|reason| invalid_value(opt, group, origin, reason))
    }

    /// [`Self::convert_at`] of a value the caller owns and gives up (one read from a file, the
    /// environment or the command line), which a string option then keeps without a copy.
    fn convert_owned_at(
        &self,
        opt: &Opt,
        group: Option<&str>,
        raw: Value,
        origin: &Origin<'_>,
        ns: &Namespace,
        depth: usize,
    ) -> Result<Option<Value>, Error> {
        if matches!(origin, Origin::OptDefault) || has_dollar(&raw) {
            return self.convert_at(opt, group, &raw, origin, ns, depth);
        }
        crate::resolve::convert_owned(&opt.core.ty, opt.multi, raw)
            .map_err(|reason| invalid_value(opt, group, origin, reason))
    }

    /// Interpolates then converts a raw value for an option.
    fn convert_at(
        &self,
        opt: &Opt,
        group: Option<&str>,
        raw: &Value,
        origin: &Origin<'_>,
        ns: &Namespace,
        depth: usize,
    ) -> Result<Option<Value>, Error> {
        let substituted;
        let value = if has_dollar(raw) {
            substituted = self.substitute_value(raw, group, ns, depth)?;
            &substituted
        } else {
            raw
        };
        convert(&opt.core.ty, opt.multi, value)
            .map_err(|reason| self.refused(opt, group, raw, origin, reason))
    }

    fn substitute_value(
        &self,
        v: &Value,
        group: Option<&str>,
        ns: &Namespace,
        depth: usize,
    ) -> Result<Value, Error> {
        Ok(match v {
            Value::String(s) => Value::String(self.substitute(s, group, ns, depth)?),
            Value::List(items) => Value::List(
                items
                    .iter()
                    .map(|i| self.substitute_value(i, group, ns, depth))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Dict(m) => {
                let mut out = IndexMap::with_capacity(m.len());
                for (k, v) in m {
                    out.insert(
                        self.substitute(k, group, ns, depth)?,
                        self.substitute_value(v, group, ns, depth)?,
                    );
                }
                Value::Dict(out)
            }
            other => other.clone(),
        })
    }

    fn substitute(
        &self,
        s: &str,
        group: Option<&str>,
        ns: &Namespace,
        depth: usize,
    ) -> Result<String, Error> {
        if !s.contains('$') {
            return Ok(s.to_owned());
        }
        let mut out = String::with_capacity(s.len());
        for piece in scan(s) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Dollar => out.push('$'),
                Piece::Ref(key) => out.push_str(&self.lookup_ref(key, group, ns, depth + 1)?),
            }
        }
        Ok(out)
    }

    /// oslo's `StrSubWrapper.__getitem__`: `group.opt` or `opt` in the current group, then `DEFAULT`.
    fn lookup_ref(
        &self,
        key: &str,
        group: Option<&str>,
        ns: &Namespace,
        depth: usize,
    ) -> Result<String, Error> {
        let (g, option) = match key.split_once('.') {
            Some((g, o)) => (Some(g), o),
            None => (group, key),
        };
        let first = match g {
            Some(g) if !self.groups.contains_key(g) => {
                return Err(Error::NoSuchGroup { name: g.to_owned() });
            }
            None if self.groups.contains_key(option) => {
                return Err(Error::TemplateSubstitution {
                    message: format!("substituting group {key} not supported"),
                });
            }
            _ => self.resolve_ref(option, g, ns, depth),
        };
        let value = match first {
            Err(Error::NoSuchOpt { .. }) => {
                if self.groups.contains_key(key) {
                    return Err(Error::TemplateSubstitution {
                        message: format!("substituting group {key} not supported"),
                    });
                }
                self.resolve_ref(key, None, ns, depth)?
            }
            other => other?,
        };
        Ok(value.as_ref().map(py_str).unwrap_or_default())
    }

    fn resolve_ref(
        &self,
        name: &str,
        group: Option<&str>,
        ns: &Namespace,
        depth: usize,
    ) -> Result<Option<Value>, Error> {
        // A mutable option referenced from anywhere reads the namespace it is read from.
        Ok(self.resolve_in(name, group, ns, depth)?.0)
    }

    fn typed<T>(
        &self,
        name: &str,
        group: Option<&str>,
        expected: &str,
        pick: impl FnOnce(Value) -> Option<T>,
    ) -> Result<Option<T>, Error> {
        match self.get(name, group)? {
            None => Ok(None),
            Some(v) => pick(v).map(Some).ok_or_else(|| Error::WrongType {
                name: name.to_owned(),
                group: group_label(group),
                expected: expected.to_owned(),
            }),
        }
    }

    /// A string option's value (also any other option's value shown as oslo's `str()`).
    pub fn get_str(&self, name: &str, group: Option<&str>) -> Result<Option<String>, Error> {
        Ok(self.get(name, group)?.map(|v| py_str(&v)))
    }

    /// An integer or port option's value.
    pub fn get_int(&self, name: &str, group: Option<&str>) -> Result<Option<i64>, Error> {
        self.typed(name, group, "an integer", |v| match v {
            Value::Integer(i) => Some(i),
            _ => None,
        })
    }

    /// A float option's value.
    pub fn get_float(&self, name: &str, group: Option<&str>) -> Result<Option<f64>, Error> {
        self.typed(name, group, "a float", |v| match v {
            Value::Float(f) => Some(f),
            #[allow(clippy::cast_precision_loss)]
            Value::Integer(i) => Some(i as f64),
            _ => None,
        })
    }

    /// A boolean option's value.
    pub fn get_bool(&self, name: &str, group: Option<&str>) -> Result<Option<bool>, Error> {
        self.typed(name, group, "a boolean", |v| match v {
            Value::Boolean(b) => Some(b),
            _ => None,
        })
    }

    /// A list or multi-valued option's items.
    pub fn get_list(&self, name: &str, group: Option<&str>) -> Result<Option<Vec<Value>>, Error> {
        self.typed(name, group, "a list", |v| match v {
            Value::List(l) => Some(l),
            _ => None,
        })
    }

    /// A list or multi-valued option's items as strings.
    pub fn get_str_list(
        &self,
        name: &str,
        group: Option<&str>,
    ) -> Result<Option<Vec<String>>, Error> {
        Ok(self
            .get_list(name, group)?
            .map(|l| l.iter().map(py_str).collect()))
    }

    /// A dict option's value.
    pub fn get_dict(
        &self,
        name: &str,
        group: Option<&str>,
    ) -> Result<Option<IndexMap<String, Value>>, Error> {
        self.typed(name, group, "a dict", |v| match v {
            Value::Dict(d) => Some(d),
            _ => None,
        })
    }

    /// Where an option's value comes from (oslo's `get_location`).
    pub fn location(&self, name: &str, group: Option<&str>) -> Result<Option<Location>, Error> {
        Ok(self.resolve(name, group)?.location)
    }

    /// Sets an override that beats every other source; the value is checked against the type now.
    pub fn set_override(
        &mut self,
        name: &str,
        value: impl crate::opt::IntoDefault,
        group: Option<&str>,
    ) -> Result<(), Error> {
        let value = value.into_default();
        let entry = self.find_mut(name, group)?;
        let checked = checked_at_set(&entry.opt, group, &value, Location::SetOverride)?;
        entry.override_value = Some(Box::new(checked));
        Ok(())
    }

    /// Removes an override.
    pub fn clear_override(&mut self, name: &str, group: Option<&str>) -> Result<(), Error> {
        self.find_mut(name, group)?.override_value = None;
        Ok(())
    }

    /// Replaces an option's default; the value is checked against the type now.
    pub fn set_default(
        &mut self,
        name: &str,
        value: impl crate::opt::IntoDefault,
        group: Option<&str>,
    ) -> Result<(), Error> {
        let value = value.into_default();
        let entry = self.find_mut(name, group)?;
        let checked = checked_at_set(&entry.opt, group, &value, Location::SetDefault)?;
        entry.default_value = Some(Box::new(checked));
        Ok(())
    }

    /// Removes a default set by [`ConfigOpts::set_default`].
    pub fn clear_default(&mut self, name: &str, group: Option<&str>) -> Result<(), Error> {
        self.find_mut(name, group)?.default_value = None;
        Ok(())
    }

    /// Forgets the parsed command line and files (oslo's `clear()`); overrides and defaults stay.
    pub fn clear(&mut self) {
        self.state = None;
    }

    /// Forgets the parsed sources and every override and set default (oslo's `reset()`).
    pub fn reset(&mut self) {
        self.state = None;
        let forget = |e: &mut OptEntry| {
            e.override_value = None;
            e.default_value = None;
        };
        self.default_opts.for_each_mut(forget);
        for g in self.groups.values_mut() {
            g.opts.for_each_mut(forget);
        }
    }

    /// Whether [`ConfigOpts::parse`] has run.
    pub fn is_parsed(&self) -> bool {
        self.state.is_some()
    }

    /// The config files in effect (from `--config-file`, or the defaults).
    pub fn config_files(&self) -> Vec<PathBuf> {
        self.state()
            .map(|s| s.ns.config_files.clone())
            .unwrap_or_default()
    }

    /// The config directories in effect (from `--config-dir`, or the defaults).
    pub fn config_dirs(&self) -> Vec<PathBuf> {
        self.state()
            .map(|s| s.ns.config_dirs.clone())
            .unwrap_or_default()
    }

    /// Finds a file next to the configuration (oslo's `find_file`, e.g. for `policy.yaml`): in the
    /// `--config-dir` directories, then the directories of the config files (last first), then oslo's
    /// standard directories for the project.
    pub fn find_file(&self, name: &str) -> Result<Option<PathBuf>, Error> {
        let state = self.state().ok_or(Error::NotInitialized)?;
        let mut dirs: Vec<PathBuf> = state.ns.explicit_dirs.clone();
        for f in state.ns.config_files.iter().rev() {
            let fixed = fixpath(&f.to_string_lossy());
            if let Some(parent) = fixed.parent() {
                dirs.push(parent.to_owned());
            }
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        dirs.extend(config_search_dirs(
            home.as_deref(),
            state.args.project.as_deref(),
        ));
        Ok(dirs.into_iter().map(|d| d.join(name)).find(|p| p.exists()))
    }

    /// The files actually read, in the order they were read.
    pub fn parsed_files(&self) -> Vec<PathBuf> {
        self.state()
            .map(|s| s.ns.files.iter().map(|f| f.path.clone()).collect())
            .unwrap_or_default()
    }

    /// The command-line arguments given to [`ConfigOpts::parse`].
    pub fn args(&self) -> &[String] {
        self.state().map(|s| s.args.args.as_slice()).unwrap_or(&[])
    }

    /// The program name.
    pub fn prog(&self) -> Option<&str> {
        self.state().map(|s| s.settings.prog.as_str())
    }

    /// The sub-command chosen on the command line, with its arguments' raw values.
    pub fn sub_command(&self) -> Option<&ChosenSubCommand> {
        self.state()?.sub.as_ref()
    }

    /// Every section name of the parsed files (normalised, sorted), registered or not.
    pub fn list_all_sections(&self) -> Vec<String> {
        let mut s: Vec<String> = self
            .state()
            .map(|st| {
                st.ns
                    .files
                    .iter()
                    .flat_map(|f| f.doc.block_names().map(str::to_owned))
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default();
        s.sort();
        s
    }

    /// The help text of the command line.
    pub fn help_text(&self, args: &ParseArgs) -> String {
        let settings = CliSettings {
            prog: args.prog.clone().unwrap_or_default(),
            version: args.version.clone(),
            usage: args.usage.clone(),
            description: args.description.clone(),
            epilog: args.epilog.clone(),
        };
        let subs: &[SubCommand] = self.subs.as_ref().map(|(_, s)| s.as_slice()).unwrap_or(&[]);
        cli::command(&settings, &self.cli_opts(), subs)
            .render_help()
            .to_string()
    }

    /// Parses the same command line and files again; every option sees the new values.
    ///
    /// On error the previous values stay in effect (oslo logs and returns `False`; we also return the error).
    pub fn reload_config_files(&mut self) -> Result<(), Error> {
        let Some(state) = &self.state else {
            return Err(Error::NotInitialized);
        };
        let (ns, _) = match self.build_namespace(
            &state.args,
            &state.settings,
            &state.default_files,
            &state.default_dirs,
        ) {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(target: "oslo_config", error = %e, "failed to reload the config files");
                return Err(e);
            }
        };
        let ns = Arc::new(ns);
        // Unlike oslo, a reload also drops the snapshot mutable options read since the last mutation.
        let previous = self.state.as_mut().map(|s| {
            s.process_env = process_os_vars();
            (std::mem::replace(&mut s.ns, ns), s.mutable_ns.take())
        });
        if let Err(e) = self.after_parse() {
            if let (Some(s), Some((prev, prev_mut))) = (self.state.as_mut(), previous) {
                s.ns = prev;
                s.mutable_ns = prev_mut;
            }
            tracing::error!(target: "oslo_config", error = %e, "failed to reload the config files");
            return Err(e);
        }
        Ok(())
    }

    /// Registers a function called after each [`ConfigOpts::mutate_config_files`] with the changes.
    pub fn register_mutate_hook(
        &mut self,
        hook: impl Fn(&ConfigOpts, &[Change]) + Send + Sync + 'static,
    ) {
        self.hooks.push(Arc::new(hook));
    }

    /// Re-reads the files for the mutable options; returns what changed for them (raw values, as oslo).
    ///
    /// A change to an immutable option is not applied: it is logged as a warning
    /// (`Ignoring change to immutable option G.O`). The hooks are called, in registration order.
    pub fn mutate_config_files(&mut self) -> Result<Vec<Change>, Error> {
        let Some(state) = &self.state else {
            return Err(Error::NotInitialized);
        };
        let (fresh, _) = self.build_namespace(
            &state.args,
            &state.settings,
            &state.default_files,
            &state.default_dirs,
        )?;
        let fresh = Arc::new(fresh);
        let old_mut = state.mutable_ns.clone().unwrap_or_else(|| state.ns.clone());
        let current = state.ns.clone();
        let mut changes = Vec::new();
        for (group, opt) in self.all_opts() {
            let entry = self.find(opt.dest_name(), group)?;
            let raw = |ns: &Namespace| -> Option<Value> {
                if entry.cli
                    && let Some(cv) = ns
                        .cli
                        .get(&(group.map(str::to_owned), opt.dest_name().to_owned()))
                {
                    return Some(raw_of_cli(cv));
                }
                lookup_files(&ns.files, &file_names(group, opt), opt.multi).map(|h| raw_of(&h))
            };
            if opt.mutable {
                let (old, new) = (raw(&old_mut), raw(&fresh));
                if old != new {
                    changes.push(Change {
                        group: group.map(str::to_owned),
                        name: opt.name.to_string(),
                        old,
                        new,
                    });
                }
            } else if raw(&current) != raw(&fresh) {
                tracing::warn!(
                    target: "oslo_config",
                    "Ignoring change to immutable option {}.{}",
                    group_label(group),
                    opt.name
                );
            }
        }
        if let Some(s) = self.state.as_mut() {
            s.mutable_ns = Some(fresh);
        }
        for c in &changes {
            tracing::info!(
                target: "oslo_config",
                "Option {}.{} changed from [{}] to [{}]",
                c.group.as_deref().unwrap_or("DEFAULT"),
                c.name,
                c.old.as_ref().map(py_str).unwrap_or_else(|| "None".to_owned()),
                c.new.as_ref().map(py_str).unwrap_or_else(|| "None".to_owned()),
            );
        }
        let hooks = self.hooks.clone();
        for h in hooks {
            h(self, &changes);
        }
        Ok(changes)
    }

    /// The lines [`ConfigOpts::log_opt_values`] logs, secrets masked as `****`.
    pub fn opt_value_lines(&self) -> Vec<String> {
        let mut lines = vec![
            "*".repeat(80),
            "Configuration options gathered from:".to_owned(),
            format!("command line args: {}", py_list(self.args())),
            format!(
                "config files: {}",
                py_list(
                    &self
                        .config_files()
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                )
            ),
            "=".repeat(80),
        ];
        let show = |group: Option<&str>, opt: &Opt| -> String {
            if opt.secret {
                return "****".to_owned();
            }
            match self.get(opt.dest_name(), group) {
                Ok(Some(v)) => py_repr_top(&v),
                Ok(None) => "None".to_owned(),
                Err(e) => format!("<error: {e}>"),
            }
        };
        let mut builtin: Vec<(String, String)> = vec![
            (
                "config_dir".to_owned(),
                py_list(
                    &self
                        .config_dirs()
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>(),
                ),
            ),
            (
                "config_file".to_owned(),
                py_list(
                    &self
                        .config_files()
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>(),
                ),
            ),
        ];
        builtin.extend(
            self.default_opts
                .values()
                .map(|e| (e.opt.dest_name().to_owned(), show(None, &e.opt))),
        );
        builtin.sort();
        for (k, v) in builtin {
            lines.push(format!("{k:<30} = {v}"));
        }
        for g in self.groups.values() {
            let mut opts: Vec<&OptEntry> = g.opts.values().collect();
            opts.sort_by(|a, b| a.opt.dest_name().cmp(b.opt.dest_name()));
            for e in opts {
                lines.push(format!(
                    "{:<30} = {}",
                    format!("{}.{}", g.group.name, e.opt.dest_name()),
                    show(Some(&g.group.name), &e.opt)
                ));
            }
        }
        lines.push("*".repeat(80));
        lines
    }

    /// Logs every option's value through `tracing` at `level`, secrets masked (oslo's `log_opt_values`).
    pub fn log_opt_values(&self, level: tracing::Level) {
        for line in self.opt_value_lines() {
            match level {
                tracing::Level::ERROR => tracing::error!(target: "oslo_config", "{line}"),
                tracing::Level::WARN => tracing::warn!(target: "oslo_config", "{line}"),
                tracing::Level::INFO => tracing::info!(target: "oslo_config", "{line}"),
                tracing::Level::DEBUG => tracing::debug!(target: "oslo_config", "{line}"),
                tracing::Level::TRACE => tracing::trace!(target: "oslo_config", "{line}"),
            }
        }
    }
}

/// The process's `OS_*` variables (the only ones options read).
fn process_os_vars() -> FxHashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with("OS_"))
        .collect()
}

/// Whether a value holds a `$` anywhere (else interpolation has nothing to do).
fn has_dollar(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('$'),
        Value::List(items) => items.iter().any(has_dollar),
        Value::Dict(m) => m.iter().any(|(k, v)| k.contains('$') || has_dollar(v)),
        _ => false,
    }
}

fn checked_at_set(
    opt: &Opt,
    group: Option<&str>,
    value: &Value,
    location: Location,
) -> Result<Value, Error> {
    if let Value::String(s) = value
        && crate::opt::is_reference(s)
    {
        return Ok(value.clone());
    }
    let res = if opt.multi {
        convert(&opt.core.ty, true, value)
    } else {
        check_typed(&opt.core.ty, value)
    };
    match res {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Ok(value.clone()),
        Err(reason) => Err(Error::InvalidValue {
            name: opt.name.to_string(),
            group: group_label(group),
            location,
            reason,
        }),
    }
}

fn py_list(items: &[impl AsRef<str>]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|s| crate::ini::py_repr(s.as_ref()))
        .collect();
    format!("[{}]", inner.join(", "))
}

/// How oslo's `%s` shows a value in `log_opt_values`.
fn py_repr_top(v: &Value) -> String {
    py_str(v)
}

const _: () = {
    const fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<ConfigOpts>();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &'static str) -> OptEntry {
        OptEntry {
            opt: Opt::string(name),
            cli: false,
            override_value: None,
            default_value: None,
            file_hash: 0,
            deprecated: Vec::new(),
        }
    }

    #[test]
    fn a_dest_whose_hash_is_taken_is_still_found() {
        let mut m = OptMap::new("DEFAULT".to_owned(), 0);
        assert_eq!(m.replace(entry("a"), hash_str("a")).0, 0);
        // Force the collision: `b`'s hash already points at `a`.
        m.by_hash.insert(hash_str("b"), 0);
        let (i, old) = m.replace(entry("b"), hash_str("b"));
        assert_eq!((i, old.is_none()), (1, true));
        assert_eq!(m.collided, [1]);
        assert_eq!(m.get("b").map(|e| e.opt.name()), Some("b"));
        assert_eq!(m.get("a").map(|e| e.opt.name()), Some("a"));
        assert!(m.get("c").is_none());
        // Replacing `b` keeps its place.
        let (i, old) = m.replace(entry("b"), hash_str("b"));
        assert_eq!(
            (i, old.map(|e| e.opt.name().to_owned())),
            (1, Some("b".into()))
        );
        // Removing `a` keeps the order and re-indexes the rest.
        assert!(m.shift_remove("a").is_some());
        assert_eq!(m.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(m.get("b").map(|e| e.opt.name()), Some("b"));
        assert!(m.get("a").is_none());
        assert!(m.get_mut("b").is_some());
    }
}
