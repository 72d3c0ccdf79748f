//! The enforcer: the rule set built from registered defaults, the policy file and `policy.d`
//! directories, reloaded when a file changes, and the `enforce` / `authorize` entry points.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::check::{Check, EvalCx, RuleLookup};
use crate::custom::{CheckRegistry, CustomCheck};
use crate::defaults::RuleDefault;
use crate::error::Error;
use crate::file::parse_file_contents;
use crate::parser::parse_value;
use crate::python::truthy;
use crate::watch::{Watcher, dirs_to_watch};

/// A rule as a policy file gives it.
#[derive(Debug, Clone)]
pub struct FileRule {
    /// The raw value from the file (a string, or a legacy list).
    pub raw: Value,
    /// The parsed rule.
    pub check: Check,
    /// The file it came from.
    pub path: PathBuf,
}

impl FileRule {
    /// The rule as written, for strings; the JSON of a legacy list.
    pub fn check_str(&self) -> Cow<'_, str> {
        match &self.raw {
            Value::String(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_string()),
        }
    }
}

/// The configuration of an [`Enforcer`]: the `[oslo_policy]` options and a few of our own.
#[derive(Debug, Clone)]
struct Config {
    policy_file: PathBuf,
    policy_dirs: Vec<PathBuf>,
    search_dirs: Vec<PathBuf>,
    default_rule: Option<String>,
    enforce_new_defaults: bool,
    use_conf: bool,
    overwrite: bool,
    reload_interval: Duration,
    watch_files: bool,
    skip_undefined_check: bool,
    suppress_deprecation_warnings: bool,
    suppress_default_change_warnings: bool,
    remote: crate::remote::RemoteConfig,
}

/// Builds an [`Enforcer`]; the defaults are oslo's (`policy.yaml`, `policy.d`, default rule `default`,
/// `enforce_new_defaults = true`).
#[derive(Debug)]
pub struct EnforcerBuilder {
    config: Config,
    registry: CheckRegistry,
    rules: Option<HashMap<String, Check>>,
}

impl EnforcerBuilder {
    /// The policy file (`[oslo_policy] policy_file`); a relative path is looked up in the search dirs.
    pub fn policy_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.policy_file = path.into();
        self
    }

    /// The policy directories (`[oslo_policy] policy_dirs`), applied in order after the file.
    pub fn policy_dirs<I, P>(mut self, dirs: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.config.policy_dirs = dirs.into_iter().map(Into::into).collect();
        self
    }

    /// Where relative paths are looked up (oslo.config's configuration directories). Without any, a
    /// relative path is taken from the current directory, and relative policy dirs from the policy
    /// file's directory.
    pub fn search_dirs<I, P>(mut self, dirs: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.config.search_dirs = dirs.into_iter().map(Into::into).collect();
        self
    }

    /// The rule used for names that have no rule (`[oslo_policy] policy_default_rule`); `None` for none.
    pub fn default_rule(mut self, name: Option<&str>) -> Self {
        self.config.default_rule = name.map(String::from);
        self
    }

    /// `[oslo_policy] enforce_new_defaults`: when false, a rule whose default changed also accepts what
    /// its deprecated default accepted (unless the file overrides it).
    pub fn enforce_new_defaults(mut self, on: bool) -> Self {
        self.config.enforce_new_defaults = on;
        self
    }

    /// Whether to read the policy file and dirs at all (oslo's `use_conf`).
    pub fn use_conf(mut self, on: bool) -> Self {
        self.config.use_conf = on;
        self
    }

    /// Whether a reload replaces the rules (true, the default) or updates them.
    pub fn overwrite(mut self, on: bool) -> Self {
        self.config.overwrite = on;
        self
    }

    /// How often `enforce` looks at the files' modification times. Zero (the default) looks on every
    /// call, as oslo does; a service that enforces many times a second may prefer a second or so.
    pub fn reload_interval(mut self, every: Duration) -> Self {
        self.config.reload_interval = every;
        self
    }

    /// Whether, with a zero `reload_interval`, the files are watched with inotify (true, the
    /// default) instead of having their modification times looked at on every call.
    ///
    /// Watching keeps oslo's meaning ("a change is seen by the next `enforce`") at the cost of an
    /// atomic load and one non-blocking `poll` of the inotify descriptor per call, instead of a
    /// `stat` of the policy file and of each policy directory and its entries. Watched: the parent
    /// directory of the policy file, each policy directory and its parent, and every directory where
    /// a policy file or directory not there yet could appear. So a write in place, a replace by
    /// rename, and a file added to or removed from a `policy.d` directory are seen by every
    /// `enforce` that starts after the writing system call returned (the kernel queues the event
    /// before it returns); such a call then looks at the modification times as oslo does and
    /// reloads what changed. Changes made by another machine on a network file system (which
    /// inotify does not report) are not seen: keep `false` there. When the watch cannot be set up
    /// (no inotify, its limits reached, a directory missing) it is logged and the enforcer looks at
    /// the files on every call, as with `false`. No thread is started; the descriptor is closed
    /// when the enforcer is dropped.
    pub fn watch_files(mut self, on: bool) -> Self {
        self.config.watch_files = on;
        self
    }

    /// Do not warn about rules that refer to undefined rules.
    pub fn skip_undefined_check(mut self, on: bool) -> Self {
        self.config.skip_undefined_check = on;
        self
    }

    /// Do not warn about deprecated rules.
    pub fn suppress_deprecation_warnings(mut self, on: bool) -> Self {
        self.config.suppress_deprecation_warnings = on;
        self
    }

    /// Do not warn about defaults that changed (renames and removals still warn).
    pub fn suppress_default_change_warnings(mut self, on: bool) -> Self {
        self.config.suppress_default_change_warnings = on;
        self
    }

    /// How `http:`/`https:` checks call out (oslo's `remote_*` options); they run with the `http`
    /// feature, and are errors (deny) without it.
    pub fn remote(mut self, remote: crate::remote::RemoteConfig) -> Self {
        self.config.remote = remote;
        self
    }

    /// Registers a custom check kind for this enforcer's rules.
    pub fn register_check(
        mut self,
        kind: impl Into<String>,
        check: impl CustomCheck + 'static,
    ) -> Self {
        self.registry.register(kind, check);
        self
    }

    /// Starts from these rules (oslo's `rules=` argument), parsed with this enforcer's checks.
    pub fn rules<I, K, V>(mut self, rules: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: AsRef<str>,
    {
        let parsed = rules
            .into_iter()
            .map(|(k, v)| {
                (
                    k.into(),
                    crate::parser::parse_rule_with(v.as_ref(), &self.registry).check,
                )
            })
            .collect();
        self.rules = Some(parsed);
        self
    }

    /// Builds the enforcer. Files are read on first use.
    pub fn build(self) -> Enforcer {
        let use_conf = self.config.use_conf;
        Enforcer {
            registry: self.registry,
            registered: RwLock::new(IndexMap::new()),
            state: RwLock::new(State {
                rules: self.rules.unwrap_or_default(),
                use_conf,
                ..State::default()
            }),
            last_look: Mutex::new(None),
            config: self.config,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    rules: HashMap<String, Check>,
    file_rules: IndexMap<String, FileRule>,
    policy_path: Option<PathBuf>,
    file_mtime: Option<SystemTime>,
    dir_mtimes: HashMap<PathBuf, SystemTime>,
    watcher: Option<Watcher>,
    watch_failed: bool,
    informed_missing: bool,
    use_conf: bool,
    need_check: bool,
    merged_registered: usize,
    errors: Vec<String>,
}

/// Loads and enforces policy rules (oslo's `Enforcer`). Shareable between threads.
///
/// ```
/// use oslo_policy::{Enforcer, RuleDefault};
/// use serde_json::json;
///
/// let enforcer = Enforcer::builder().use_conf(false).build();
/// enforcer.register_default(RuleDefault::new("compute:get", "role:reader or project_id:%(project_id)s")).unwrap();
/// enforcer.load_rules(true).unwrap();
/// let creds = json!({"roles": ["member"], "project_id": "p1"});
/// assert!(enforcer.authorize("compute:get", &json!({"project_id": "p1"}), &creds).unwrap());
/// assert!(!enforcer.authorize("compute:get", &json!({"project_id": "p2"}), &creds).unwrap());
/// ```
#[derive(Debug)]
pub struct Enforcer {
    config: Config,
    registry: CheckRegistry,
    registered: RwLock<IndexMap<String, RuleDefault>>,
    state: RwLock<State>,
    last_look: Mutex<Option<Instant>>,
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of a directory and its entries (oslo's `_is_directory_updated`).
fn dir_mtime(path: &Path) -> Option<SystemTime> {
    let mut newest = mtime(path)?;
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            if let Some(t) = mtime(&e.path()) {
                newest = newest.max(t);
            }
        }
    }
    Some(newest)
}

impl Enforcer {
    /// A builder with oslo's defaults.
    pub fn builder() -> EnforcerBuilder {
        EnforcerBuilder {
            config: Config {
                policy_file: PathBuf::from("policy.yaml"),
                policy_dirs: vec![PathBuf::from("policy.d")],
                search_dirs: Vec::new(),
                default_rule: Some("default".into()),
                enforce_new_defaults: true,
                use_conf: true,
                overwrite: true,
                reload_interval: Duration::ZERO,
                watch_files: true,
                skip_undefined_check: false,
                suppress_deprecation_warnings: false,
                suppress_default_change_warnings: false,
                remote: crate::remote::RemoteConfig::default(),
            },
            registry: CheckRegistry::new(),
            rules: None,
        }
    }

    /// Registers a rule default (oslo's `register_default`).
    pub fn register_default(&self, default: RuleDefault) -> Result<(), Error> {
        default.validate()?;
        for e in default.parse_errors() {
            let err = Error::Rule {
                path: None,
                rule: default.name().into(),
                source: e.clone(),
            };
            tracing::error!("registered default: {err}");
        }
        let mut reg = self.registered.write().map_err(|_| poisoned())?;
        if reg.contains_key(default.name()) {
            return Err(Error::Duplicate(default.name().into()));
        }
        reg.insert(default.name().into(), default);
        Ok(())
    }

    /// Registers several rule defaults.
    pub fn register_defaults(
        &self,
        defaults: impl IntoIterator<Item = RuleDefault>,
    ) -> Result<(), Error> {
        defaults
            .into_iter()
            .try_for_each(|d| self.register_default(d))
    }

    /// The registered defaults, in registration order.
    pub fn registered_rules(&self) -> Vec<RuleDefault> {
        self.registered
            .read()
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The rules read from files at the last load, in file order.
    pub fn file_rules(&self) -> IndexMap<String, FileRule> {
        self.state
            .read()
            .map(|s| s.file_rules.clone())
            .unwrap_or_default()
    }

    /// The effective rules (after loading), by name.
    pub fn rules(&self) -> HashMap<String, Check> {
        self.state
            .read()
            .map(|s| s.rules.clone())
            .unwrap_or_default()
    }

    /// The problems found at the last load: rules that did not parse (each with file, rule and
    /// position) and files that could not be read.
    pub fn load_errors(&self) -> Vec<String> {
        self.state
            .read()
            .map(|s| s.errors.clone())
            .unwrap_or_default()
    }

    /// The policy file as configured.
    pub fn policy_file(&self) -> PathBuf {
        self.config.policy_file.clone()
    }

    /// The policy file found, if any.
    pub fn policy_path(&self) -> Option<PathBuf> {
        self.state.read().ok().and_then(|s| s.policy_path.clone())
    }

    /// Replaces (or updates) the rules with `rules`, and stops reading files until a forced reload
    /// (oslo's `set_rules` with `use_conf=False`).
    pub fn set_rules(&self, rules: HashMap<String, Check>, overwrite: bool) -> Result<(), Error> {
        let mut st = self.state.write().map_err(|_| poisoned())?;
        st.use_conf = false;
        st.need_check = true;
        if overwrite {
            st.rules = rules;
        } else {
            st.rules.extend(rules);
        }
        Ok(())
    }

    /// Forgets the rules, the files read and the registered defaults (oslo's `clear`).
    pub fn clear(&self) -> Result<(), Error> {
        let mut st = self.state.write().map_err(|_| poisoned())?;
        *st = State::default();
        self.registered.write().map_err(|_| poisoned())?.clear();
        Ok(())
    }

    fn resolve(&self, path: &Path, relative_to_policy: bool, st: &State) -> Option<PathBuf> {
        if path.is_absolute() {
            return path.exists().then(|| path.to_path_buf());
        }
        if !self.config.search_dirs.is_empty() {
            return self
                .config
                .search_dirs
                .iter()
                .map(|d| d.join(path))
                .find(|p| p.exists());
        }
        if relative_to_policy && let Some(parent) = st.policy_path.as_deref().and_then(Path::parent)
        {
            let p = parent.join(path);
            return p.exists().then_some(p);
        }
        path.exists().then(|| path.to_path_buf())
    }

    /// Loads the rules when a file changed (or always with `force`), then merges the registered
    /// defaults (oslo's `load_rules`).
    pub fn load_rules(&self, force: bool) -> Result<(), Error> {
        let mut st = self.state.write().map_err(|_| poisoned())?;
        self.load_locked(&mut st, force)
    }

    fn load_locked(&self, st: &mut State, force: bool) -> Result<(), Error> {
        if force {
            st.use_conf = true;
        }
        if !st.use_conf {
            return Ok(());
        }
        if let Some(w) = &st.watcher {
            w.take();
        }
        let mut changed = false;
        if st.policy_path.is_none() {
            st.policy_path = self.resolve(&self.config.policy_file, false, st);
            if st.policy_path.is_none() && !st.informed_missing {
                tracing::debug!(file = %self.config.policy_file.display(), "the policy file could not be found");
                st.informed_missing = true;
            }
        }
        if let Some(path) = st.policy_path.clone() {
            changed = self.load_file(st, &path, force, self.config.overwrite)?;
        }
        let mut force_dirs = force || changed;
        let mut dirs = Vec::new();
        for dir in &self.config.policy_dirs {
            let Some(abs) = self.resolve(dir, true, st) else {
                continue;
            };
            if !abs.is_dir() {
                return Err(Error::File {
                    path: abs,
                    message: "is not a directory".into(),
                });
            }
            let t = dir_mtime(&abs);
            if let Some(t) = t
                && st.dir_mtimes.get(&abs).is_none_or(|old| t > *old)
            {
                st.dir_mtimes.insert(abs.clone(), t);
                force_dirs = true;
            }
            dirs.push(abs);
        }
        self.ensure_watch(st, &dirs);
        if force_dirs && !dirs.is_empty() {
            if let Some(path) = st.policy_path.clone() {
                if !changed && self.config.overwrite {
                    self.load_file(st, &path, true, true)?;
                }
            } else if self.config.overwrite {
                st.rules.clear();
                st.file_rules.clear();
            }
            for dir in &dirs {
                let mut names: Vec<String> = std::fs::read_dir(dir)
                    .map_err(|source| Error::Io {
                        path: dir.clone(),
                        source,
                    })?
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect();
                names.sort();
                for n in names {
                    self.load_file(st, &dir.join(n), true, false)?;
                }
            }
            changed = true;
        }
        let registered = self.registered.read().map_err(|_| poisoned())?;
        if changed || st.merged_registered != registered.len() {
            for default in registered.values() {
                if default.is_deprecated_for_removal()
                    && !self.config.suppress_deprecation_warnings
                    && st.file_rules.contains_key(default.name())
                {
                    tracing::warn!(
                        "policy \"{}\":\"{}\" was deprecated for removal in {}. Reason: {}. Its value may be silently ignored in the future",
                        default.name(),
                        default.check_str(),
                        default.deprecated_since().unwrap_or("None"),
                        default.deprecated_reason().unwrap_or("None")
                    );
                }
                if st.rules.contains_key(default.name()) {
                    continue;
                }
                let check = if default.get_deprecated_rule().is_some() {
                    self.handle_deprecated(st, default)
                } else {
                    default.check().clone()
                };
                st.rules.insert(default.name().into(), check);
            }
            st.merged_registered = registered.len();
            st.need_check = true;
        }
        drop(registered);
        if st.need_check {
            let (undefined, cyclic) = self.violations(st);
            if !undefined.is_empty() {
                tracing::warn!("policies {undefined:?} reference a rule that is not defined");
            }
            if !cyclic.is_empty() {
                tracing::warn!("policies {cyclic:?} are part of a cyclical reference");
            }
            st.need_check = false;
        }
        Ok(())
    }

    /// Reads one file if it changed; returns whether the rules changed.
    fn load_file(
        &self,
        st: &mut State,
        path: &Path,
        force: bool,
        overwrite: bool,
    ) -> Result<bool, Error> {
        let is_main = st.policy_path.as_deref() == Some(path);
        let t = mtime(path);
        let reload = match (t, is_main) {
            (None, _) => true,
            (Some(_), false) => true,
            (Some(t), true) => force || st.file_mtime.is_none_or(|old| t > old),
        };
        if !reload && !st.rules.is_empty() {
            return Ok(false);
        }
        let data = match t {
            None => {
                tracing::error!(file = %path.display(), "policy file not found");
                String::new()
            }
            Some(_) => std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.into(),
                source,
            })?,
        };
        if is_main {
            st.file_mtime = t;
        }
        let raw = parse_file_contents(&data).map_err(|message| Error::File {
            path: path.into(),
            message,
        })?;
        let mut rules = HashMap::with_capacity(raw.len());
        let mut file_rules = IndexMap::with_capacity(raw.len());
        if overwrite {
            st.errors.clear();
        }
        for (name, value) in raw {
            let parsed = parse_value(&value, &self.registry).map_err(|message| Error::File {
                path: path.into(),
                message: format!("rule `{name}`: {message}"),
            })?;
            for e in &parsed.errors {
                let err = Error::Rule {
                    path: Some(path.into()),
                    rule: name.clone(),
                    source: e.clone(),
                };
                tracing::error!("{err}");
                st.errors.push(err.to_string());
            }
            rules.insert(name.clone(), parsed.check.clone());
            file_rules.insert(
                name,
                FileRule {
                    raw: value,
                    check: parsed.check,
                    path: path.into(),
                },
            );
        }
        if overwrite {
            st.rules = rules;
            st.file_rules = file_rules;
        } else {
            st.rules.extend(rules);
            st.file_rules.extend(file_rules);
        }
        tracing::debug!(file = %path.display(), "reloaded policy file");
        Ok(true)
    }

    /// oslo's `_handle_deprecated_rule`.
    fn handle_deprecated(&self, st: &State, default: &RuleDefault) -> Check {
        let Some(old) = default.get_deprecated_rule() else {
            return default.check().clone();
        };
        let reason = old
            .reason()
            .or(default.deprecated_reason())
            .unwrap_or("None");
        let since = old.since().or(default.deprecated_since()).unwrap_or("None");
        let msg = format!(
            "Policy \"{}\":\"{}\" was deprecated in {since} in favor of \"{}\":\"{}\". Reason: {reason}. \
             Either ensure your deployment is ready for the new default or copy/paste the deprecated policy \
             into your policy file and maintain it manually.",
            old.name(),
            old.check_str(),
            default.name(),
            default.check_str()
        );
        if old.name() != default.name()
            && let Some(file_rule) = st.file_rules.get(old.name())
        {
            if !self.config.suppress_deprecation_warnings {
                tracing::warn!("{msg}");
            }
            if file_rule.check != *old.check()
                && file_rule.check.to_string() != format!("rule:{}", default.name())
                && !st.file_rules.contains_key(default.name())
            {
                return file_rule.check.clone();
            }
        }
        if !self.config.enforce_new_defaults
            && old.check_str() != default.check_str()
            && !st.file_rules.contains_key(default.name())
        {
            if !(self.config.suppress_deprecation_warnings
                || self.config.suppress_default_change_warnings)
            {
                tracing::warn!("{msg}");
            }
            return Check::Or(vec![default.check().clone(), old.check().clone()]);
        }
        default.check().clone()
    }

    fn violations(&self, st: &State) -> (Vec<String>, Vec<String>) {
        let mut undefined = Vec::new();
        let mut cyclic = Vec::new();
        let mut names: Vec<&String> = st.rules.keys().collect();
        names.sort();
        for name in names {
            let Some(check) = st.rules.get(name) else {
                continue;
            };
            if !self.config.skip_undefined_check && undefined_ref(&st.rules, check) {
                undefined.push(name.clone());
            }
            if cycles(&st.rules, check, &mut Vec::new()) {
                cyclic.push(name.clone());
            }
        }
        (undefined, cyclic)
    }

    /// Looks for rules that refer to undefined rules or to themselves (oslo's `check_rules`); with
    /// `raise_on_violation`, returns them as [`Error::InvalidDefinition`].
    pub fn check_rules(&self, raise_on_violation: bool) -> Result<bool, Error> {
        let mut st = self.state.write().map_err(|_| poisoned())?;
        self.load_locked(&mut st, false)?;
        let (mut undefined, cyclic) = self.violations(&st);
        let ok = undefined.is_empty() && cyclic.is_empty();
        if raise_on_violation && !ok {
            undefined.extend(cyclic);
            return Err(Error::InvalidDefinition(undefined));
        }
        Ok(ok)
    }

    /// Sets up the watcher (again, if a watched directory went away) when the configuration asks
    /// for one and the policy file was found; logs and falls back to looking at the files on every
    /// call when it cannot be set up.
    fn ensure_watch(&self, st: &mut State, dirs: &[PathBuf]) {
        if !self.config.watch_files || !self.config.reload_interval.is_zero() || st.watch_failed {
            return;
        }
        if st.watcher.as_ref().is_some_and(|w| !w.is_stale()) {
            return;
        }
        let Some(path) = st.policy_path.as_deref() else {
            return;
        };
        // Besides the files and directories found, watch every place where one that is not there
        // yet (or one that would shadow it, in an earlier search directory) could appear.
        let mut watch = dirs.to_vec();
        let places = |p: &Path, relative_to_policy: bool| -> Vec<PathBuf> {
            if p.is_absolute() {
                vec![p.to_path_buf()]
            } else if !self.config.search_dirs.is_empty() {
                self.config.search_dirs.iter().map(|d| d.join(p)).collect()
            } else if relative_to_policy && let Some(parent) = path.parent() {
                vec![parent.join(p)]
            } else {
                vec![p.to_path_buf()]
            }
        };
        let mut candidates = places(&self.config.policy_file, false);
        for d in &self.config.policy_dirs {
            candidates.extend(places(d, true));
        }
        for c in candidates {
            match c.parent() {
                Some(parent) if parent.as_os_str().is_empty() => watch.push(PathBuf::from(".")),
                Some(parent) => watch.push(parent.to_path_buf()),
                None => {}
            }
        }
        if let Some(missing) = watch.iter().find(|p| !p.is_dir()) {
            tracing::debug!(dir = %missing.display(), "a directory where a policy file could appear does not exist; looking at the files on every call");
            st.watch_failed = true;
            return;
        }
        st.watcher = None;
        match Watcher::new(&dirs_to_watch(Some(path), &watch)) {
            Ok(w) => {
                tracing::debug!(file = %path.display(), "watching the policy files for changes");
                st.watcher = Some(w);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the policy files; looking at their modification times on every call");
                st.watch_failed = true;
            }
        }
    }

    /// Whether changes to the policy files are noticed through inotify (see
    /// [`EnforcerBuilder::watch_files`]) rather than by looking at the files on every call. False
    /// before the first load, and when the watch could not be set up.
    pub fn watching_files(&self) -> bool {
        self.state
            .read()
            .is_ok_and(|st| st.watcher.as_ref().is_some_and(|w| !w.is_stale()))
    }

    fn maybe_reload(&self) -> Result<(), Error> {
        let interval = self.config.reload_interval;
        if !interval.is_zero() {
            let mut last = self.last_look.lock().map_err(|_| poisoned())?;
            let now = Instant::now();
            if last.is_some_and(|t| now.duration_since(t) < interval) {
                return Ok(());
            }
            *last = Some(now);
        }
        // Look without the write lock first: most calls find nothing changed.
        {
            let st = self.state.read().map_err(|_| poisoned())?;
            if !st.use_conf {
                return Ok(());
            }
            let merged =
                self.registered.read().map(|r| r.len()).unwrap_or(0) == st.merged_registered;
            let mut needs_watch = false;
            if interval.is_zero() && self.config.watch_files && !st.watch_failed {
                match &st.watcher {
                    Some(w) if !w.is_stale() => {
                        if merged && !st.need_check && !st.rules.is_empty() && !w.pending() {
                            return Ok(());
                        }
                        // Something happened: look at the files under the write lock (which clears
                        // the mark), so no caller can see the mark cleared and the old rules.
                        drop(st);
                        return self.load_rules(false);
                    }
                    _ => needs_watch = st.policy_path.is_some(),
                }
            }
            let file_same = match &st.policy_path {
                Some(p) => {
                    mtime(p).is_some_and(|t| st.file_mtime.is_some_and(|old| t <= old))
                        && !st.rules.is_empty()
                }
                None => {
                    st.informed_missing
                        && self.resolve(&self.config.policy_file, false, &st).is_none()
                }
            };
            let dirs_same =
                self.config
                    .policy_dirs
                    .iter()
                    .all(|d| match self.resolve(d, true, &st) {
                        None => true,
                        Some(abs) => match (dir_mtime(&abs), st.dir_mtimes.get(&abs)) {
                            (Some(t), Some(old)) => t <= *old,
                            (None, _) => true,
                            (Some(_), None) => false,
                        },
                    });
            if merged && file_same && dirs_same && !st.need_check && !needs_watch {
                return Ok(());
            }
        }
        self.load_rules(false)
    }

    fn run(
        &self,
        rule: &str,
        target: &Value,
        creds: &Value,
        do_raise: bool,
        must_be_registered: bool,
    ) -> Result<bool, Error> {
        if must_be_registered
            && !self
                .registered
                .read()
                .map_err(|_| poisoned())?
                .contains_key(rule)
        {
            return Err(Error::NotRegistered(rule.into()));
        }
        self.maybe_reload()?;
        let creds = creds_map(creds)?;
        let target = target.as_object().ok_or(Error::InvalidTarget)?;
        let _span = tracing::trace_span!("policy.enforce", rule).entered();
        let st = self.state.read().map_err(|_| poisoned())?;
        if st.rules.is_empty() {
            return deny(rule, do_raise);
        }
        let lookup = RuleLookup {
            rules: &st.rules,
            default_rule: self.config.default_rule.as_deref(),
        };
        let Some((resolved, check)) = lookup.get(rule) else {
            tracing::debug!(rule, "rule does not exist");
            return deny(rule, do_raise);
        };
        if let Some(reg) = self.registered.read().map_err(|_| poisoned())?.get(rule)
            && !scope_ok(&creds, reg.get_scope_types(), rule, do_raise)?
        {
            return Ok(false);
        }
        let mut cx = EvalCx::new(target, &creds, &lookup, Some(rule));
        cx.remote = Some(&self.config.remote);
        cx.enter(resolved);
        let ok = check.eval(&mut cx).map_err(|message| Error::Check {
            rule: rule.into(),
            message,
        })?;
        if ok { Ok(true) } else { deny(rule, do_raise) }
    }

    /// Checks `rule` for `creds` on `target` (oslo's `enforce`): `Ok(false)` when denied (also for an
    /// unknown rule without a default rule, and for a token of a scope the rule does not allow).
    ///
    /// `Err` when the credentials or target are not JSON objects, or a check fails while it runs.
    pub fn enforce(&self, rule: &str, target: &Value, creds: &Value) -> Result<bool, Error> {
        self.run(rule, target, creds, false, false)
    }

    /// As [`enforce`](Self::enforce) with oslo's `do_raise=True`: a denial is
    /// [`Error::NotAuthorized`], a scope mismatch [`Error::InvalidScope`].
    pub fn enforce_or_err(&self, rule: &str, target: &Value, creds: &Value) -> Result<(), Error> {
        self.run(rule, target, creds, true, false).map(|_| ())
    }

    /// As [`enforce`](Self::enforce), but the rule must have been registered
    /// ([`Error::NotRegistered`] otherwise), as oslo's `authorize`.
    pub fn authorize(&self, rule: &str, target: &Value, creds: &Value) -> Result<bool, Error> {
        self.run(rule, target, creds, false, true)
    }

    /// As [`authorize`](Self::authorize) with `do_raise=True`.
    pub fn authorize_or_err(&self, rule: &str, target: &Value, creds: &Value) -> Result<(), Error> {
        self.run(rule, target, creds, true, true).map(|_| ())
    }

    /// Evaluates a check tree that is not a named rule (oslo's `enforce` with a `BaseCheck`); its
    /// `rule:` references use this enforcer's rules.
    pub fn enforce_check(
        &self,
        check: &Check,
        target: &Value,
        creds: &Value,
    ) -> Result<bool, Error> {
        self.maybe_reload()?;
        let creds = creds_map(creds)?;
        let target = target.as_object().ok_or(Error::InvalidTarget)?;
        let st = self.state.read().map_err(|_| poisoned())?;
        let lookup = RuleLookup {
            rules: &st.rules,
            default_rule: self.config.default_rule.as_deref(),
        };
        let mut cx = EvalCx::new(target, &creds, &lookup, None);
        cx.remote = Some(&self.config.remote);
        check.eval(&mut cx).map_err(|message| Error::Check {
            rule: check.to_string(),
            message,
        })
    }
}

fn deny(rule: &str, do_raise: bool) -> Result<bool, Error> {
    if do_raise {
        Err(Error::NotAuthorized { rule: rule.into() })
    } else {
        Ok(false)
    }
}

fn poisoned() -> Error {
    Error::InvalidContext("the enforcer's lock is poisoned".into())
}

/// The credentials as a mapping; `system_scope` is copied to `system` as oslo does.
fn creds_map(creds: &Value) -> Result<Cow<'_, Map<String, Value>>, Error> {
    let map = creds.as_object().ok_or_else(|| {
        Error::InvalidContext(
            "expected a JSON object of credentials (as RequestContext.to_policy_values())".into(),
        )
    })?;
    match map.get("system_scope") {
        Some(s) if truthy(s) && map.get("system") != Some(s) => {
            let mut owned = map.clone();
            owned.insert("system".into(), s.clone());
            Ok(Cow::Owned(owned))
        }
        _ => Ok(Cow::Borrowed(map)),
    }
}

/// oslo's `_enforce_scope`.
fn scope_ok(
    creds: &Map<String, Value>,
    scope_types: &[String],
    rule: &str,
    do_raise: bool,
) -> Result<bool, Error> {
    if scope_types.is_empty() {
        return Ok(true);
    }
    let token_scope = if creds.get("system").is_some_and(truthy) {
        "system"
    } else if creds.get("domain_id").is_some_and(truthy) {
        "domain"
    } else {
        "project"
    };
    if scope_types.iter().any(|s| s == token_scope) {
        return Ok(true);
    }
    if do_raise {
        return Err(Error::InvalidScope {
            rule: rule.into(),
            scope_types: scope_types.to_vec(),
            token_scope: token_scope.into(),
        });
    }
    Ok(false)
}

/// oslo's `_undefined_check`: a `rule:` to a missing rule, at the top or inside `and`/`or` (not `not`).
fn undefined_ref(rules: &HashMap<String, Check>, check: &Check) -> bool {
    match check {
        Check::Rule(name) => !rules.contains_key(name),
        Check::And(cs) | Check::Or(cs) => cs.iter().any(|c| undefined_ref(rules, c)),
        _ => false,
    }
}

/// oslo's `_cycle_check`: a `rule:` reference back to a rule already on the path.
fn cycles<'a>(
    rules: &'a HashMap<String, Check>,
    check: &'a Check,
    seen: &mut Vec<&'a str>,
) -> bool {
    cycles_at(rules, check, seen, 0)
}

fn cycles_at<'a>(
    rules: &'a HashMap<String, Check>,
    check: &'a Check,
    seen: &mut Vec<&'a str>,
    depth: usize,
) -> bool {
    // Too deep to tell is reported as a cycle: evaluation would fail there too.
    if seen.len() > crate::check::MAX_RULE_DEPTH || depth > crate::check::MAX_EVAL_DEPTH {
        return true;
    }
    match check {
        Check::Rule(name) => {
            if seen.contains(&name.as_str()) {
                return true;
            }
            seen.push(name);
            let found = rules
                .get(name)
                .is_some_and(|c| cycles_at(rules, c, seen, depth + 1));
            seen.pop();
            found
        }
        Check::And(cs) | Check::Or(cs) => cs.iter().any(|c| {
            let mut copy = seen.clone();
            cycles_at(rules, c, &mut copy, depth + 1)
        }),
        _ => false,
    }
}
