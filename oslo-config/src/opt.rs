//! Options declared as data: one [`Opt`] gives the INI key, the command-line flag, the environment
//! variable, the sample-file entry and the documentation.

use std::borrow::Cow;

use indexmap::IndexMap;

use crate::error::Error;
use crate::types::{
    DictType, FloatType, IntegerType, IpVersion, ListType, OptType, StringType, UriType, Value,
};

/// An older name or group an option is still read under (oslo's `DeprecatedOpt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeprecatedOpt {
    /// The old name (`None`: the option's current name).
    pub name: Option<String>,
    /// The old group (`None`: the option's current group).
    pub group: Option<String>,
}

impl DeprecatedOpt {
    /// An old name and/or group.
    pub fn new(name: Option<&str>, group: Option<&str>) -> Self {
        DeprecatedOpt {
            name: name.map(str::to_owned),
            group: group.map(str::to_owned),
        }
    }
}

/// Something that can be an option's default value.
pub trait IntoDefault {
    /// The value.
    fn into_default(self) -> Value;
}

impl IntoDefault for Value {
    fn into_default(self) -> Value {
        self
    }
}
impl IntoDefault for &str {
    fn into_default(self) -> Value {
        Value::String(self.to_owned())
    }
}
impl IntoDefault for String {
    fn into_default(self) -> Value {
        Value::String(self)
    }
}
impl IntoDefault for i64 {
    fn into_default(self) -> Value {
        Value::Integer(self)
    }
}
impl IntoDefault for i32 {
    fn into_default(self) -> Value {
        Value::Integer(i64::from(self))
    }
}
impl IntoDefault for u16 {
    fn into_default(self) -> Value {
        Value::Integer(i64::from(self))
    }
}
impl IntoDefault for f64 {
    fn into_default(self) -> Value {
        Value::Float(self)
    }
}
impl IntoDefault for bool {
    fn into_default(self) -> Value {
        Value::Boolean(self)
    }
}
impl<T: IntoDefault> IntoDefault for Vec<T> {
    fn into_default(self) -> Value {
        Value::List(self.into_iter().map(IntoDefault::into_default).collect())
    }
}
impl<T: IntoDefault, const N: usize> IntoDefault for [T; N] {
    fn into_default(self) -> Value {
        Value::List(self.into_iter().map(IntoDefault::into_default).collect())
    }
}
impl<T: IntoDefault> IntoDefault for IndexMap<String, T> {
    fn into_default(self) -> Value {
        Value::Dict(
            self.into_iter()
                .map(|(k, v)| (k, v.into_default()))
                .collect(),
        )
    }
}

/// A configuration option, declared as data.
///
/// One definition gives the INI key (`dest`), the command-line flag (`--name`, or `--group-name` in a
/// group, when registered as a CLI option), the environment variable (`OS_<GROUP>__<DEST>`), the entry of
/// the sample file and the documentation.
///
/// ```
/// use oslo_config::Opt;
///
/// let opt = Opt::integer("workers")
///     .min(1)
///     .default(4)
///     .help("Number of worker processes")
///     .short('w')
///     .deprecated_name("num_workers");
/// assert_eq!(opt.name(), "workers");
/// assert_eq!(opt.type_name(), "integer value");
/// ```
#[derive(Debug, Clone)]
pub struct Opt {
    /// Borrowed when given as a literal, so declaring an option in code copies no text.
    pub(crate) name: Cow<'static, str>,
    /// The type, the default and the INI key, out of line: an option is moved several times between
    /// its builder and its group, and a small one moves cheaply.
    pub(crate) core: Box<Core>,
    pub(crate) multi: bool,
    pub(crate) help: Cow<'static, str>,
    pub(crate) secret: bool,
    pub(crate) required: Option<bool>,
    pub(crate) mutable: bool,
    pub(crate) advanced: bool,
    pub(crate) positional: bool,
    pub(crate) short: Option<char>,
    pub(crate) deprecated_for_removal: bool,
    /// The attributes most options leave unset, kept out of line so options stay small to move.
    pub(crate) rare: Option<Box<Rare>>,
}

impl Opt {
    /// An option of any type.
    ///
    /// The name (like the help text) is a `&'static str` or a `String`: a literal is kept without a copy;
    /// a borrowed string that is not `'static` is given as `name.to_owned()`.
    pub fn new(name: impl Into<Cow<'static, str>>, ty: OptType) -> Self {
        let name = name.into();
        Opt {
            core: Box::new(Core {
                dest: name.contains('-').then(|| name.replace('-', "_")),
                ty,
                default: None,
            }),
            name,
            multi: false,
            help: Cow::Borrowed(""),
            secret: false,
            required: None,
            mutable: false,
            advanced: false,
            positional: false,
            short: None,
            deprecated_for_removal: false,
            rare: None,
        }
    }

    /// A string option (`StrOpt`).
    pub fn string(name: impl Into<Cow<'static, str>>) -> Self {
        Opt::new(name, OptType::String(StringType::default()))
    }

    /// An integer option (`IntOpt`).
    pub fn integer(name: impl Into<Cow<'static, str>>) -> Self {
        Opt::new(name, OptType::Integer(IntegerType::default()))
    }

    /// A floating point option (`FloatOpt`).
    pub fn float(name: impl Into<Cow<'static, str>>) -> Self {
        Opt::new(name, OptType::Float(FloatType::default()))
    }

    /// A boolean option (`BoolOpt`): `--name`/`--noname` on the command line.
    pub fn boolean(name: impl Into<Cow<'static, str>>) -> Self {
        Opt::new(name, OptType::Boolean)
    }

    /// A port option (`PortOpt`, 0..=65535).
    pub fn port(name: impl Into<Cow<'static, str>>) -> Self {
        Opt::new(name, OptType::Port(IntegerType::default()))
    }

    /// A list-of-strings option (`ListOpt`).
    pub fn list(name: impl Into<Cow<'static, str>>) -> Self {
        Opt::list_of(name, OptType::String(StringType::default()))
    }

    /// A list option with items of `item` type.
    pub fn list_of(name: impl Into<Cow<'static, str>>, item: OptType) -> Self {
        Opt::new(
            name,
            OptType::List(ListType {
                item: Box::new(item),
                bounds: false,
            }),
        )
    }

    /// A dict-of-strings option (`DictOpt`).
    pub fn dict(name: impl Into<Cow<'static, str>>) -> Self {
        Opt::new(
            name,
            OptType::Dict(DictType {
                value: Box::new(OptType::String(StringType::default())),
                bounds: false,
            }),
        )
    }

    /// A multi-valued string option (`MultiStrOpt`): every occurrence, in every file and on the command
    /// line, adds a value.
    pub fn multi_string(name: impl Into<Cow<'static, str>>) -> Self {
        Opt::string(name).multi()
    }

    /// An IP address option (`IPOpt`).
    pub fn ip_address(name: impl Into<Cow<'static, str>>, version: IpVersion) -> Self {
        Opt::new(name, OptType::IpAddress(version))
    }

    /// A hostname option (`HostnameOpt`).
    pub fn hostname(name: impl Into<Cow<'static, str>>) -> Self {
        Opt::new(name, OptType::Hostname)
    }

    /// A host address option (`HostAddressOpt`): an IP address or a hostname.
    pub fn host_address(name: impl Into<Cow<'static, str>>) -> Self {
        Opt::new(name, OptType::HostAddress(IpVersion::Any))
    }

    /// A host domain option (`HostDomainOpt`): like a host address, `_` allowed.
    pub fn host_domain(name: impl Into<Cow<'static, str>>) -> Self {
        Opt::new(name, OptType::HostDomain(IpVersion::Any))
    }

    /// A URI option (`URIOpt`).
    pub fn uri(name: impl Into<Cow<'static, str>>) -> Self {
        Opt::new(name, OptType::Uri(UriType::default()))
    }

    /// Makes the option multi-valued (`MultiOpt`): its value is a list of every occurrence.
    pub fn multi(mut self) -> Self {
        self.multi = true;
        self
    }

    /// The default value (checked against the type at registration unless it is a string with `$`).
    pub fn default(mut self, value: impl IntoDefault) -> Self {
        self.core.default = Some(value.into_default());
        self
    }

    /// The default as the sample file shows it, instead of the real default.
    pub fn sample_default(mut self, text: impl Into<String>) -> Self {
        self.rare_mut().sample_default = Some(text.into());
        self
    }

    /// The help text (a literal is kept without a copy).
    pub fn help(mut self, text: impl Into<Cow<'static, str>>) -> Self {
        self.help = text.into();
        self
    }

    /// Masks the value in logs (`secret=True`).
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Makes a value mandatory (checked when the command line is parsed).
    pub fn required(mut self, yes: bool) -> Self {
        self.required = Some(yes);
        self
    }

    /// Lets [`ConfigOpts::mutate_config_files`](crate::ConfigOpts::mutate_config_files) change the value
    /// at runtime.
    pub fn mutable(mut self) -> Self {
        self.mutable = true;
        self
    }

    /// Marks the option as advanced (shown last, with a note, in the sample file).
    pub fn advanced(mut self) -> Self {
        self.advanced = true;
        self
    }

    /// A positional command-line argument (required unless `.required(false)`).
    pub fn positional(mut self) -> Self {
        self.positional = true;
        self
    }

    /// A one-letter command-line alias (`-v`).
    pub fn short(mut self, letter: char) -> Self {
        self.short = Some(letter);
        self
    }

    /// The placeholder shown in `--help`.
    pub fn metavar(mut self, text: impl Into<String>) -> Self {
        self.rare_mut().metavar = Some(text.into());
        self
    }

    /// The INI key and attribute name (defaults to the name with `-` replaced by `_`).
    pub fn dest(mut self, dest: impl Into<String>) -> Self {
        let dest = dest.into();
        self.core.dest = (dest != self.name).then_some(dest);
        self
    }

    /// An old name the option is still read under (with a deprecation warning).
    pub fn deprecated_name(mut self, name: impl Into<String>) -> Self {
        self.rare_mut().deprecated_name = Some(name.into());
        self
    }

    /// An old group the option is still read under (with a deprecation warning).
    pub fn deprecated_group(mut self, group: impl Into<String>) -> Self {
        self.rare_mut().deprecated_group = Some(group.into());
        self
    }

    /// Another old name and/or group the option is still read under.
    pub fn deprecated_opt(mut self, name: Option<&str>, group: Option<&str>) -> Self {
        self.rare_mut()
            .deprecated_opts
            .push(DeprecatedOpt::new(name, group));
        self
    }

    /// Marks the option as deprecated for removal: a warning is logged once when a value is set.
    pub fn deprecated_for_removal(mut self, reason: Option<&str>) -> Self {
        self.deprecated_for_removal = true;
        self.rare_mut().deprecated_reason = reason.map(str::to_owned);
        self
    }

    /// The release the option was deprecated in.
    pub fn deprecated_since(mut self, release: impl Into<String>) -> Self {
        self.rare_mut().deprecated_since = Some(release.into());
        self
    }

    /// Allowed string values, each with an optional description (string options only; ignored otherwise).
    pub fn choices<S: Into<String>>(mut self, choices: impl IntoIterator<Item = S>) -> Self {
        if let OptType::String(t) = &mut self.core.ty {
            t.choices = choices.into_iter().map(|c| (c.into(), None)).collect();
        }
        self
    }

    /// Allowed string values with descriptions (string options only; ignored otherwise).
    pub fn choices_described<S: Into<String>, D: Into<String>>(
        mut self,
        choices: impl IntoIterator<Item = (S, D)>,
    ) -> Self {
        if let OptType::String(t) = &mut self.core.ty {
            t.choices = choices
                .into_iter()
                .map(|(c, d)| (c.into(), Some(d.into())))
                .collect();
        }
        self
    }

    /// The smallest allowed value (integer, port and float options; ignored otherwise).
    pub fn min(mut self, min: i64) -> Self {
        match &mut self.core.ty {
            OptType::Integer(t) | OptType::Port(t) => t.min = Some(min),
            #[allow(clippy::cast_precision_loss)]
            OptType::Float(t) => t.min = Some(min as f64),
            _ => {}
        }
        self
    }

    /// The largest allowed value (integer, port and float options; ignored otherwise).
    pub fn max(mut self, max: i64) -> Self {
        match &mut self.core.ty {
            OptType::Integer(t) | OptType::Port(t) => t.max = Some(max),
            #[allow(clippy::cast_precision_loss)]
            OptType::Float(t) => t.max = Some(max as f64),
            _ => {}
        }
        self
    }

    /// The option's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The INI key and attribute name.
    pub fn dest_name(&self) -> &str {
        self.core.dest.as_deref().unwrap_or(&self.name)
    }

    /// The option's type.
    pub fn opt_type(&self) -> &OptType {
        &self.core.ty
    }

    /// oslo's name of the type (`"integer value"`), `"multi valued"` for multi-valued options.
    pub fn type_name(&self) -> String {
        if self.multi {
            "multi valued".to_owned()
        } else {
            self.core.ty.type_name()
        }
    }

    /// Whether every occurrence adds a value.
    pub fn is_multi(&self) -> bool {
        self.multi
    }

    /// The declared default.
    pub fn default_value(&self) -> Option<&Value> {
        self.core.default.as_ref()
    }

    /// The sample-file default, if one replaces the real default.
    pub fn sample_default_text(&self) -> Option<&str> {
        self.rare().sample_default.as_deref()
    }

    /// The help text.
    pub fn help_text(&self) -> &str {
        &self.help
    }

    /// Whether the value is masked in logs.
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// Whether a value is mandatory (positional options are, unless told otherwise).
    pub fn is_required(&self) -> bool {
        self.required.unwrap_or(self.positional)
    }

    /// Whether the option can change at runtime.
    pub fn is_mutable(&self) -> bool {
        self.mutable
    }

    /// Whether the option is advanced.
    pub fn is_advanced(&self) -> bool {
        self.advanced
    }

    /// Whether the option is a positional command-line argument.
    pub fn is_positional(&self) -> bool {
        self.positional
    }

    /// The one-letter alias.
    pub fn short_flag(&self) -> Option<char> {
        self.short
    }

    /// The `--help` placeholder.
    pub fn metavar_text(&self) -> Option<&str> {
        self.rare().metavar.as_deref()
    }

    /// Whether the option is deprecated for removal, and why.
    pub fn deprecation(&self) -> Option<Option<&str>> {
        self.deprecated_for_removal
            .then_some(self.rare().deprecated_reason.as_deref())
    }

    /// The release the option was deprecated in.
    pub fn deprecated_since_release(&self) -> Option<&str> {
        self.rare().deprecated_since.as_deref()
    }

    /// Every old name/group the option is read under, in oslo's lookup order: the `deprecated_opt`s (each
    /// dashed name followed by its underscore form), then `deprecated_name`/`deprecated_group`.
    pub fn all_deprecated(&self) -> Vec<DeprecatedOpt> {
        if self.rare().deprecated_opts.is_empty()
            && self.rare().deprecated_name.is_none()
            && self.rare().deprecated_group.is_none()
        {
            return Vec::new();
        }
        let mut out = self.rare().deprecated_opts.clone();
        for o in &self.rare().deprecated_opts {
            if let Some(n) = &o.name
                && n.contains('-')
            {
                out.push(DeprecatedOpt {
                    name: Some(n.replace('-', "_")),
                    group: o.group.clone(),
                });
            }
        }
        if self.rare().deprecated_name.is_some() || self.rare().deprecated_group.is_some() {
            out.push(DeprecatedOpt {
                name: self.rare().deprecated_name.clone(),
                group: self.rare().deprecated_group.clone(),
            });
            if let Some(n) = &self.rare().deprecated_name
                && n.contains('-')
            {
                out.push(DeprecatedOpt {
                    name: Some(n.replace('-', "_")),
                    group: self.rare().deprecated_group.clone(),
                });
            }
        }
        out
    }

    /// Whether two definitions are the same option (registering the same one twice is allowed).
    pub(crate) fn same_as(&self, other: &Opt) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }

    /// Checks the rules oslo enforces on a definition, and the default against the type.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.name.starts_with('_') {
            return Err(Error::InvalidOpt {
                name: self.name.to_string(),
                reason: format!("illegal name {} with prefix _", self.name),
            });
        }
        if self.name.is_empty() {
            return Err(Error::InvalidOpt {
                name: String::new(),
                reason: "empty name".to_owned(),
            });
        }
        if let OptType::String(t) = &self.core.ty
            && !t.choices.is_empty()
            && t.regex.is_some()
        {
            return Err(Error::InvalidOpt {
                name: self.name.to_string(),
                reason: "'choices' and 'regex' cannot both be specified".to_owned(),
            });
        }
        if self.positional && matches!(self.core.ty, OptType::Boolean) {
            return Err(Error::InvalidOpt {
                name: self.name.to_string(),
                reason: "positional boolean options are not supported".to_owned(),
            });
        }
        let Some(default) = &self.core.default else {
            return Ok(());
        };
        if let Value::String(s) = default
            && is_reference(s)
        {
            return Ok(());
        }
        let items: &[Value] = match (self.multi, default) {
            (true, Value::List(items)) => items,
            _ => std::slice::from_ref(default),
        };
        for item in items {
            if let Err(reason) = crate::resolve::check_valid(&self.core.ty, item) {
                return Err(Error::InvalidDefault {
                    name: self.name.to_string(),
                    value: crate::resolve::py_str(default),
                    type_name: self.core.ty.type_name(),
                    reason,
                });
            }
        }
        Ok(())
    }
}

/// The type, default and INI key of an option.
#[derive(Debug, Clone)]
pub(crate) struct Core {
    pub(crate) ty: OptType,
    pub(crate) default: Option<Value>,
    /// The INI key when it is not the name (set, or the name has `-`); `None` keeps equal definitions
    /// equal and saves a copy of the name for most options.
    pub(crate) dest: Option<String>,
}

/// The option attributes most options leave unset.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rare {
    pub(crate) sample_default: Option<String>,
    pub(crate) metavar: Option<String>,
    pub(crate) deprecated_name: Option<String>,
    pub(crate) deprecated_group: Option<String>,
    pub(crate) deprecated_opts: Vec<DeprecatedOpt>,
    pub(crate) deprecated_reason: Option<String>,
    pub(crate) deprecated_since: Option<String>,
}

static NO_RARE: Rare = Rare {
    sample_default: None,
    metavar: None,
    deprecated_name: None,
    deprecated_group: None,
    deprecated_opts: Vec::new(),
    deprecated_reason: None,
    deprecated_since: None,
};

impl Opt {
    /// The rarely set attributes (all unset when none was given).
    pub(crate) fn rare(&self) -> &Rare {
        self.rare.as_deref().unwrap_or(&NO_RARE)
    }

    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }
}

/// Whether a string default refers to another option (`$x`, not `$$` or `\$`).
pub(crate) fn is_reference(s: &str) -> bool {
    s.contains('$') && s.replace("\\$", "").replace("$$", "").contains('$')
}

/// A group of options, with its help (oslo's `OptGroup`).
///
/// ```
/// use oslo_config::OptGroup;
///
/// let g = OptGroup::new("database").title("Database options").help("Where the data lives");
/// assert_eq!(g.name(), "database");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptGroup {
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) help: Option<String>,
}

impl OptGroup {
    /// A group.
    pub fn new(name: impl Into<String>) -> Self {
        OptGroup {
            name: name.into(),
            title: None,
            help: None,
        }
    }

    /// The group's title (shown in `--help`).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The group's help (shown in the sample file).
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The group's help.
    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The group's title.
    pub fn title_text(&self) -> Option<&str> {
        self.title.as_deref()
    }
}
