//! Value types of options: how raw text becomes a typed [`Value`], with oslo.config's rules and messages.
//!
//! Each [`OptType`] matches one class of Python's `oslo_config.types`: [`OptType::parse`] is calling the type
//! on a string, [`OptType::check`] is calling it on a value that is already typed (a default or an override
//! given in code), [`OptType::type_name`] is its `type_name` and [`OptType::format_sample`] its formatter for
//! the sample config file. Rejections are [`InvalidValue`]s whose text is oslo's own message.
//!
//! ```
//! use oslo_config::types::{IntegerType, OptType, Value};
//!
//! let workers = OptType::Integer(IntegerType::new().min(1).max(64));
//! assert_eq!(workers.parse(" 8 ").unwrap(), Some(Value::Integer(8)));
//! assert_eq!(workers.parse("").unwrap(), None); // oslo: a blank integer is None
//! let err = workers.parse("0").unwrap_err();
//! assert_eq!(err.to_string(), "Should be greater than or equal to 1");
//!
//! let hosts = OptType::list(OptType::host_address());
//! assert_eq!(
//!     hosts.parse("db1.example.org, 10.0.0.7,").unwrap(),
//!     Some(Value::List(vec![Value::from("db1.example.org"), Value::from("10.0.0.7")])),
//! );
//! ```
//!
//! Where Python's behaviour rests on Python itself, we follow it: `int()` takes surrounding whitespace,
//! `1_000` and non-ASCII decimal digits, `float()` takes `inf` and `nan`, a hostname label may end with
//! one newline (Python's `$`). Where Rust cannot or should not follow, the difference is listed in the
//! crate README.

mod collection;
mod net;
mod python;
mod scalar;
mod unicode;
mod uri;

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

/// A typed option value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string (also IP addresses, hostnames and URIs).
    String(String),
    /// An integer (also ports).
    Integer(i64),
    /// A floating point number.
    Float(f64),
    /// A boolean.
    Boolean(bool),
    /// A list of values.
    List(Vec<Value>),
    /// A dict with string keys, in the order they were given.
    Dict(IndexMap<String, Value>),
}

impl Value {
    /// The text of a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number of a [`Value::Integer`].
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The number of a [`Value::Float`], or of a [`Value::Integer`] as a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::Integer(n) => Some(*n as f64),
            _ => None,
        }
    }

    /// The flag of a [`Value::Boolean`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The items of a [`Value::List`].
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of a [`Value::Dict`].
    pub fn as_dict(&self) -> Option<&IndexMap<String, Value>> {
        match self {
            Value::Dict(map) => Some(map),
            _ => None,
        }
    }

    /// The value as JSON (for the generator's machine-readable output). A NaN or infinite float, which JSON
    /// cannot hold, becomes `null`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Integer(n) => serde_json::Value::from(*n),
            Value::Float(x) => {
                serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into)
            }
            Value::Boolean(b) => serde_json::Value::Bool(*b),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Dict(map) => serde_json::Value::Object(
                map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            ),
        }
    }

    /// Python's `repr()` of the value: strings quoted, the rest as [`Display`](fmt::Display) shows them.
    pub fn python_repr(&self) -> String {
        match self {
            Value::String(s) => python::repr(s),
            other => other.to_string(),
        }
    }
}

/// Python's `str()` of the value, which is how oslo prints values in logs and sample files: `True`,
/// `1.0`, `['a', 'b']`, `{'k': 1}`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => f.write_str(s),
            Value::Integer(n) => write!(f, "{n}"),
            Value::Float(x) => f.write_str(&python::float_repr(*x)),
            Value::Boolean(true) => f.write_str("True"),
            Value::Boolean(false) => f.write_str("False"),
            Value::List(items) => {
                let shown: Vec<String> = items.iter().map(Value::python_repr).collect();
                write!(f, "[{}]", shown.join(", "))
            }
            Value::Dict(map) => {
                let shown: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{}: {}", python::repr(k), v.python_repr()))
                    .collect();
                write!(f, "{{{}}}", shown.join(", "))
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Integer(n)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::List(items)
    }
}

impl From<IndexMap<String, Value>> for Value {
    fn from(map: IndexMap<String, Value>) -> Self {
        Value::Dict(map)
    }
}

/// The IP version an address type accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpVersion {
    /// IPv4 or IPv6 (oslo's `version=None`).
    #[default]
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

/// A value that a type refused; its `Display` is oslo's message, such as
/// `Should be greater than or equal to 1` or `Unexpected boolean value 'maybe'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue {
    message: String,
}

impl InvalidValue {
    /// A refusal with this message (for [`CustomType`] implementations).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InvalidValue {}

/// A string type (oslo's `types.String`).
///
/// The checks run in oslo's order: quotes, then `max_length`, then `regex`, then `choices`.
#[derive(Debug, Clone, Default)]
pub struct StringType {
    /// The allowed values, each with an optional description; empty means any value.
    pub choices: Vec<(String, Option<String>)>,
    /// Strip one pair of matching surrounding quotes (`"` or `'`); an unclosed quote is an error.
    pub quotes: bool,
    /// A pattern the value must contain somewhere (searched, not anchored, like Python's `re.search`;
    /// as there, `$` also matches before a final newline).
    pub regex: Option<regex::Regex>,
    /// Compare with the choices and the pattern ignoring case. The value keeps the case it was written in.
    pub ignore_case: bool,
    /// The longest allowed value in characters; `None` or `Some(0)` means no limit.
    pub max_length: Option<usize>,
}

impl StringType {
    /// A string type without restrictions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restricts the value to these choices.
    pub fn choices<S: Into<String>>(mut self, choices: impl IntoIterator<Item = S>) -> Self {
        self.choices = choices.into_iter().map(|c| (c.into(), None)).collect();
        self
    }

    /// Restricts the value to these choices, each with a description for the docs and the sample file.
    pub fn choices_with_descriptions<S: Into<String>, D: Into<String>>(
        mut self,
        choices: impl IntoIterator<Item = (S, Option<D>)>,
    ) -> Self {
        self.choices = choices
            .into_iter()
            .map(|(c, d)| (c.into(), d.map(Into::into)))
            .collect();
        self
    }

    /// Strips one pair of surrounding quotes.
    pub fn quotes(mut self, quotes: bool) -> Self {
        self.quotes = quotes;
        self
    }

    /// Requires the value to contain a match of `regex`.
    pub fn regex(mut self, regex: regex::Regex) -> Self {
        self.regex = Some(regex);
        self
    }

    /// Requires the value to contain a match of `pattern`, compiled with the `regex` crate.
    ///
    /// # Errors
    /// The pattern does not compile (for example a Python look-around, which the `regex` crate lacks).
    pub fn regex_pattern(self, pattern: &str) -> Result<Self, regex::Error> {
        Ok(self.regex(regex::Regex::new(pattern)?))
    }

    /// Requires the value to contain a match of `pattern` written for Python's `re` (as in oslo option
    /// definitions and the YAML of `oslo-config-generator`): `\Z` is read as the end of the text and `[`,
    /// `&`, `~` inside a class as literals, as in Python; messages quote the pattern as written. The rest of the syntax is the `regex` crate's,
    /// which shares Python's common ground but has no look-around and no backreferences.
    ///
    /// ```
    /// use oslo_config::types::{OptType, StringType};
    ///
    /// let ty = OptType::String(StringType::new().python_regex(r"^[a-z]+\Z").unwrap());
    /// assert!(ty.parse("abc").is_ok());
    /// assert!(ty.parse("abc\n").is_err());
    /// ```
    ///
    /// # Errors
    /// The pattern does not compile.
    pub fn python_regex(self, pattern: &str) -> Result<Self, regex::Error> {
        self.regex_pattern(&python::translate_and_remember(pattern))
    }

    /// Ignores case when comparing with the choices and the pattern.
    pub fn ignore_case(mut self, ignore_case: bool) -> Self {
        self.ignore_case = ignore_case;
        self
    }

    /// Limits the length of the value, in characters.
    pub fn max_length(mut self, max_length: usize) -> Self {
        self.max_length = Some(max_length);
        self
    }
}

/// An integer type (oslo's `types.Integer`), also the settings of a port.
///
/// With choices, oslo checks only the choices (they must lie within the bounds, see
/// [`OptType::check_definition`]).
#[derive(Debug, Clone, Default)]
pub struct IntegerType {
    /// The smallest allowed value (for a port, 0 when unset).
    pub min: Option<i64>,
    /// The largest allowed value (for a port, 65535 when unset).
    pub max: Option<i64>,
    /// The allowed values, each with an optional description; empty means any value within the bounds.
    pub choices: Vec<(i64, Option<String>)>,
}

impl IntegerType {
    /// An integer type without bounds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the smallest allowed value.
    pub fn min(mut self, min: i64) -> Self {
        self.min = Some(min);
        self
    }

    /// Sets the largest allowed value.
    pub fn max(mut self, max: i64) -> Self {
        self.max = Some(max);
        self
    }

    /// Restricts the value to these choices.
    pub fn choices(mut self, choices: impl IntoIterator<Item = i64>) -> Self {
        self.choices = choices.into_iter().map(|c| (c, None)).collect();
        self
    }

    /// Restricts the value to these choices, each with a description.
    pub fn choices_with_descriptions<D: Into<String>>(
        mut self,
        choices: impl IntoIterator<Item = (i64, Option<D>)>,
    ) -> Self {
        self.choices = choices
            .into_iter()
            .map(|(c, d)| (c, d.map(Into::into)))
            .collect();
        self
    }
}

/// A floating point type (oslo's `types.Float`).
#[derive(Debug, Clone, Default)]
pub struct FloatType {
    /// The smallest allowed value.
    pub min: Option<f64>,
    /// The largest allowed value.
    pub max: Option<f64>,
}

impl FloatType {
    /// A float type without bounds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the smallest allowed value.
    pub fn min(mut self, min: f64) -> Self {
        self.min = Some(min);
        self
    }

    /// Sets the largest allowed value.
    pub fn max(mut self, max: f64) -> Self {
        self.max = Some(max);
        self
    }
}

/// A list type (oslo's `types.List`): items separated by `,`, optionally inside `[` `]`.
#[derive(Debug, Clone)]
pub struct ListType {
    /// The type of each item.
    pub item: Box<OptType>,
    /// The value must be enclosed in `[` and `]`.
    pub bounds: bool,
}

impl ListType {
    /// A list of `item`s without brackets.
    pub fn new(item: OptType) -> Self {
        Self {
            item: Box::new(item),
            bounds: false,
        }
    }

    /// Requires `[` `]` around the value.
    pub fn bounds(mut self, bounds: bool) -> Self {
        self.bounds = bounds;
        self
    }
}

impl Default for ListType {
    /// A list of strings, oslo's default item type.
    fn default() -> Self {
        Self::new(OptType::string())
    }
}

/// A dict type (oslo's `types.Dict`): `key:value` pairs separated by `,`, optionally inside `{` `}`.
#[derive(Debug, Clone)]
pub struct DictType {
    /// The type of each value (keys are strings).
    pub value: Box<OptType>,
    /// The value must be enclosed in `{` and `}`.
    pub bounds: bool,
}

impl DictType {
    /// A dict of `value`s without braces.
    pub fn new(value: OptType) -> Self {
        Self {
            value: Box::new(value),
            bounds: false,
        }
    }

    /// Requires `{` `}` around the value.
    pub fn bounds(mut self, bounds: bool) -> Self {
        self.bounds = bounds;
        self
    }
}

impl Default for DictType {
    /// A dict of strings, oslo's default value type.
    fn default() -> Self {
        Self::new(OptType::string())
    }
}

/// A URI type (oslo's `types.URI`): a scheme and a host are required.
#[derive(Debug, Clone, Default)]
pub struct UriType {
    /// The longest allowed value in characters (here `Some(0)` is a limit of zero, as in oslo).
    pub max_length: Option<usize>,
    /// The allowed schemes, compared with the scheme as written (so list them in lower case); empty means
    /// any.
    pub schemes: Vec<String>,
}

impl UriType {
    /// A URI type without restrictions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Limits the length of the value.
    pub fn max_length(mut self, max_length: usize) -> Self {
        self.max_length = Some(max_length);
        self
    }

    /// Restricts the scheme.
    pub fn schemes<S: Into<String>>(mut self, schemes: impl IntoIterator<Item = S>) -> Self {
        self.schemes = schemes.into_iter().map(Into::into).collect();
        self
    }
}

/// A type defined outside this crate, for [`OptType::Custom`].
///
/// ```
/// use oslo_config::types::{CustomType, InvalidValue, OptType, Value};
///
/// /// A size such as `10M`, in bytes.
/// #[derive(Debug)]
/// struct Size;
///
/// impl CustomType for Size {
///     fn type_name(&self) -> String {
///         "size value".into()
///     }
///     fn parse(&self, raw: &str) -> Result<Value, InvalidValue> {
///         let (digits, factor) = match raw.strip_suffix('M') {
///             Some(d) => (d, 1 << 20),
///             None => (raw, 1),
///         };
///         let n: i64 = digits.parse().map_err(|_| InvalidValue::new(format!("Invalid size {raw}")))?;
///         Ok(Value::Integer(n * factor))
///     }
///     fn format(&self, value: &Value) -> String {
///         value.to_string()
///     }
/// }
///
/// let size = OptType::Custom(std::sync::Arc::new(Size));
/// assert_eq!(size.parse("2M").unwrap(), Some(Value::Integer(2 << 20)));
/// assert_eq!(size.type_name(), "size value");
/// ```
pub trait CustomType: Send + Sync + fmt::Debug {
    /// The name shown in docs and sample files, such as `"size value"`.
    fn type_name(&self) -> String;

    /// Parses raw text.
    fn parse(&self, raw: &str) -> Result<Value, InvalidValue>;

    /// Formats a value for the sample file.
    fn format(&self, value: &Value) -> String;

    /// Checks a typed value. By default a string is parsed and any other value is formatted and parsed
    /// back.
    fn check(&self, value: &Value) -> Result<Value, InvalidValue> {
        match value {
            Value::String(s) => self.parse(s),
            other => self.parse(&self.format(other)),
        }
    }
}

/// The type of an option: how its raw text is parsed and checked.
#[derive(Debug, Clone)]
pub enum OptType {
    /// A string (`StrOpt`).
    String(StringType),
    /// An integer (`IntOpt`).
    Integer(IntegerType),
    /// A float (`FloatOpt`).
    Float(FloatType),
    /// A boolean (`BoolOpt`): `true 1 on yes` / `false 0 off no`, in any case.
    Boolean,
    /// A list (`ListOpt`).
    List(ListType),
    /// A dict (`DictOpt`).
    Dict(DictType),
    /// A port number (`PortOpt`): an integer within 0..=65535 unless narrowed.
    Port(IntegerType),
    /// An IP address (`IPOpt`), checked as the C library's `inet_pton` does.
    IpAddress(IpVersion),
    /// A hostname (`HostnameOpt`); the value loses its trailing dot.
    Hostname,
    /// An IP address, else a hostname (`HostAddressOpt`).
    HostAddress(IpVersion),
    /// An IP address, else a hostname whose labels may hold `_` (`HostDomainOpt`).
    HostDomain(IpVersion),
    /// A URI (`URIOpt`).
    Uri(UriType),
    /// A type defined outside this crate.
    Custom(Arc<dyn CustomType>),
}

impl OptType {
    /// A string without restrictions.
    pub fn string() -> Self {
        OptType::String(StringType::new())
    }

    /// An integer without bounds.
    pub fn integer() -> Self {
        OptType::Integer(IntegerType::new())
    }

    /// A float without bounds.
    pub fn float() -> Self {
        OptType::Float(FloatType::new())
    }

    /// A boolean.
    pub fn boolean() -> Self {
        OptType::Boolean
    }

    /// A list of `item`s without brackets.
    pub fn list(item: OptType) -> Self {
        OptType::List(ListType::new(item))
    }

    /// A dict of `value`s without braces.
    pub fn dict(value: OptType) -> Self {
        OptType::Dict(DictType::new(value))
    }

    /// A port within 0..=65535.
    pub fn port() -> Self {
        OptType::Port(IntegerType::new())
    }

    /// An IPv4 or IPv6 address.
    pub fn ip_address() -> Self {
        OptType::IpAddress(IpVersion::Any)
    }

    /// A hostname.
    pub fn hostname() -> Self {
        OptType::Hostname
    }

    /// An IP address or a hostname.
    pub fn host_address() -> Self {
        OptType::HostAddress(IpVersion::Any)
    }

    /// An IP address or a domain name.
    pub fn host_domain() -> Self {
        OptType::HostDomain(IpVersion::Any)
    }

    /// A URI of any scheme.
    pub fn uri() -> Self {
        OptType::Uri(UriType::new())
    }

    /// Parses raw text (from a file, the command line or the environment) as oslo's type does.
    ///
    /// `Ok(None)` is oslo's `None`: blank text (only whitespace) for an integer, float or port.
    ///
    /// # Errors
    /// [`InvalidValue`] with oslo's message when the type refuses the text.
    pub fn parse(&self, raw: &str) -> Result<Option<Value>, InvalidValue> {
        let value = match self {
            OptType::String(t) => Value::String(t.parse_str(raw)?),
            OptType::Integer(t) => return Ok(t.parse_int(raw, false)?.map(Value::Integer)),
            OptType::Port(t) => return Ok(t.parse_int(raw, true)?.map(Value::Integer)),
            OptType::Float(t) => return Ok(t.parse_float(raw)?.map(Value::Float)),
            OptType::Boolean => Value::Boolean(scalar::parse_bool(raw)?),
            OptType::List(t) => Value::List(t.parse_list(raw)?),
            OptType::Dict(t) => Value::Dict(t.parse_dict(raw)?),
            OptType::IpAddress(v) => Value::String(net::ip_address(raw, *v)?),
            OptType::Hostname => Value::String(net::hostname(raw, false)?),
            OptType::HostAddress(v) => Value::String(net::host_address(raw, *v)?),
            OptType::HostDomain(v) => Value::String(net::host_domain(raw, *v)?),
            OptType::Uri(t) => Value::String(t.parse_uri(raw)?),
            OptType::Custom(c) => c.parse(raw)?,
        };
        Ok(Some(value))
    }

    /// Checks a value that is already typed (a default or an override given in code) and returns it as
    /// the type holds it.
    ///
    /// A [`Value::String`] is parsed as [`parse`](Self::parse) does, except that blank text for a number
    /// (oslo's `None`) is refused here: use `parse` to get `None`. Like oslo, a number type converts other
    /// numbers (an integer truncates a float, a float widens an integer, booleans count as 0 and 1) and a
    /// string type takes Python's `str()` of a scalar. A list checks each item. A dict checks each value
    /// (oslo returns a typed dict unchecked).
    ///
    /// # Errors
    /// [`InvalidValue`] when the value does not fit the type.
    pub fn check(&self, value: &Value) -> Result<Value, InvalidValue> {
        let blank =
            || InvalidValue::new(format!("Blank value is not a valid {}", self.type_name()));
        match (self, value) {
            (OptType::Integer(t), v) => t.check_value(v, false)?.ok_or_else(blank),
            (OptType::Port(t), v) => t.check_value(v, true)?.ok_or_else(blank),
            (OptType::Float(t), v) => t.check_value(v)?.ok_or_else(blank),
            (OptType::Boolean, Value::Boolean(b)) => Ok(Value::Boolean(*b)),
            (OptType::String(t), v @ (Value::Integer(_) | Value::Float(_) | Value::Boolean(_))) => {
                Ok(Value::String(t.parse_str(&v.to_string())?))
            }
            (OptType::List(t), Value::List(items)) => Ok(Value::List(t.check_items(items)?)),
            (OptType::Dict(t), Value::Dict(map)) => Ok(Value::Dict(t.check_values(map)?)),
            (OptType::Custom(c), v) => c.check(v),
            (_, Value::String(s)) => self.parse(s)?.ok_or_else(blank),
            (_, v) => Err(scalar::not_a(v, &self.type_name())),
        }
    }

    /// Checks the type's own settings, as oslo does when the type is built: choices together with a regex,
    /// a maximum below the minimum, choices outside the bounds, port bounds outside 0..=65535.
    ///
    /// # Errors
    /// [`InvalidValue`] with oslo's message for the first problem found.
    pub fn check_definition(&self) -> Result<(), InvalidValue> {
        match self {
            OptType::String(t) => t.check_definition(),
            OptType::Integer(t) => t.check_definition(false),
            OptType::Port(t) => t.check_definition(true),
            OptType::Float(t) => t.check_definition(),
            OptType::List(t) => t.item.check_definition(),
            OptType::Dict(t) => t.value.check_definition(),
            OptType::Boolean
            | OptType::IpAddress(_)
            | OptType::Hostname
            | OptType::HostAddress(_)
            | OptType::HostDomain(_)
            | OptType::Uri(_)
            | OptType::Custom(_) => Ok(()),
        }
    }

    /// oslo's `type_name` as the option classes set it (`"integer value"`, `"port value"`, …), shown in the
    /// sample file as `(integer value)`.
    pub fn type_name(&self) -> String {
        let name = match self {
            OptType::String(_) => "string value",
            OptType::Integer(_) => "integer value",
            OptType::Float(_) => "floating point value",
            OptType::Boolean => "boolean value",
            OptType::List(_) => "list value",
            OptType::Dict(_) => "dict value",
            OptType::Port(_) => "port value",
            OptType::IpAddress(_) => "IP address value",
            OptType::Hostname => "hostname value",
            OptType::HostAddress(_) => "host address value",
            OptType::HostDomain(_) => "host domain value",
            OptType::Uri(_) => "uri value",
            OptType::Custom(c) => return c.type_name(),
        };
        name.to_owned()
    }

    /// How `oslo-config-generator` prints a default of this type in the sample file (without the `<None>`
    /// of an unset default, which the caller handles): strings with leading or trailing whitespace are
    /// quoted, booleans are `true`/`false`, lists are joined with `,` (inside `[` `]` with bounds), dicts
    /// are `key:value` pairs sorted by key.
    pub fn format_sample(&self, value: &Value) -> String {
        match self {
            OptType::String(_) => {
                let text = value.to_string();
                if python::strip(&text) == text {
                    text
                } else {
                    format!("\"{text}\"")
                }
            }
            OptType::Boolean => value.to_string().to_lowercase(),
            OptType::List(t) => {
                let body = match value {
                    Value::String(s) => s.clone(),
                    Value::List(items) => items
                        .iter()
                        .map(|v| t.item.format_sample(v))
                        .collect::<Vec<_>>()
                        .join(","),
                    other => t.item.format_sample(other),
                };
                if t.bounds { format!("[{body}]") } else { body }
            }
            OptType::Dict(_) => match value {
                Value::Dict(map) => {
                    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                    entries
                        .iter()
                        .map(|(k, v)| format!("{k}:{v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                }
                other => other.to_string(),
            },
            OptType::Custom(c) => c.format(value),
            OptType::Integer(_)
            | OptType::Float(_)
            | OptType::Port(_)
            | OptType::IpAddress(_)
            | OptType::Hostname
            | OptType::HostAddress(_)
            | OptType::HostDomain(_)
            | OptType::Uri(_) => value.to_string(),
        }
    }
}
