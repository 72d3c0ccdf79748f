//! Strings, booleans and numbers.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;

use super::python;
use super::{FloatType, IntegerType, InvalidValue, StringType, Value};

/// The case-insensitive form of a pattern, compiled once: the public field holds the pattern as the user
/// wrote it, and oslo applies `ignore_case` to it.
fn case_insensitive(re: &Regex) -> Option<Regex> {
    static CACHE: LazyLock<Mutex<HashMap<String, Regex>>> = LazyLock::new(Default::default);
    let mut cache = CACHE.lock().ok()?;
    if let Some(folded) = cache.get(re.as_str()) {
        return Some(folded.clone());
    }
    let folded = regex::RegexBuilder::new(re.as_str())
        .case_insensitive(true)
        .build()
        .ok()?;
    if cache.len() >= 256 {
        cache.clear();
    }
    cache.insert(re.as_str().to_owned(), folded.clone());
    Some(folded)
}

impl StringType {
    pub(super) fn parse_str(&self, raw: &str) -> Result<String, InvalidValue> {
        self.parse_str_ref(raw).map(str::to_owned)
    }

    /// [`parse_str`](Self::parse_str) without the copy: the accepted text, which is `raw` or `raw` without
    /// its surrounding quotes.
    pub(crate) fn parse_str_ref<'a>(&self, raw: &'a str) -> Result<&'a str, InvalidValue> {
        let mut text = raw;
        if self.quotes
            && let Some(first @ ('"' | '\'')) = text.chars().next()
        {
            match text.get(1..).and_then(|rest| rest.strip_suffix(first)) {
                Some(inner) => text = inner,
                None => return Err(InvalidValue::new(format!("Non-closed quote: {text}"))),
            }
        }
        if let Some(max) = self.max_length.filter(|&m| m > 0)
            && text.chars().count() > max
        {
            return Err(InvalidValue::new(format!(
                "Value {} exceeds maximum length {max}",
                python::repr(text)
            )));
        }
        if let Some(re) = &self.regex {
            let found = if self.ignore_case {
                case_insensitive(re).map_or_else(
                    || python::search(re, text),
                    |folded| python::search(&folded, text),
                )
            } else {
                python::search(re, text)
            };
            if !found {
                return Err(InvalidValue::new(format!(
                    "Value {} doesn't match regex {}",
                    python::repr(text),
                    python::repr(&python::pattern_as_written(re))
                )));
            }
        }
        if self.choices.is_empty() {
            return Ok(text);
        }
        let allowed = if self.ignore_case {
            let lower = text.to_lowercase();
            self.choices.iter().any(|(c, _)| c.to_lowercase() == lower)
        } else {
            self.choices.iter().any(|(c, _)| c == text)
        };
        if allowed {
            Ok(text)
        } else {
            let names: Vec<&str> = self.choices.iter().map(|(c, _)| c.as_str()).collect();
            Err(InvalidValue::new(format!(
                "Valid values are [{}], but found {}",
                names.join(", "),
                python::repr(text)
            )))
        }
    }

    pub(super) fn check_definition(&self) -> Result<(), InvalidValue> {
        if !self.choices.is_empty() && self.regex.is_some() {
            return Err(InvalidValue::new(
                "'choices' and 'regex' cannot both be specified",
            ));
        }
        Ok(())
    }
}

pub(super) fn parse_bool(raw: &str) -> Result<bool, InvalidValue> {
    // Python lower-cases the text; no character outside ASCII lower-cases to one of these spellings (the
    // Kelvin sign becomes `k`, in none of them), so comparing ASCII without case is the same test.
    let is = |word: &str| raw.eq_ignore_ascii_case(word);
    if ["true", "1", "on", "yes"].into_iter().any(is) {
        Ok(true)
    } else if ["false", "0", "off", "no"].into_iter().any(is) {
        Ok(false)
    } else {
        Err(InvalidValue::new(format!(
            "Unexpected boolean value {}",
            python::repr(raw)
        )))
    }
}

fn option_str(v: Option<impl ToString>) -> String {
    v.map_or_else(|| "None".to_owned(), |v| v.to_string())
}

impl IntegerType {
    /// Parses raw text as Python's `int()`; blank text is oslo's `None`.
    pub(super) fn parse_int(&self, raw: &str, port: bool) -> Result<Option<i64>, InvalidValue> {
        if let Some(n) = python::plain_int(raw) {
            return self.check_int(n, port).map(Some);
        }
        if python::strip(raw).is_empty() {
            return Ok(None);
        }
        let n = python::parse_int(raw).map_err(|e| match e {
            python::IntError::Invalid => {
                let shown: String = python::repr(raw).chars().take(200).collect();
                InvalidValue::new(format!("invalid literal for int() with base 10: {shown}"))
            }
            python::IntError::OutOfRange(approx) => self.out_of_range(raw, approx, port),
        })?;
        self.check_int(n, port).map(Some)
    }

    /// A number beyond `i64`: where a bound or the choices refuse it, oslo's message for that; else ours.
    fn out_of_range(&self, raw: &str, approx: f64, port: bool) -> InvalidValue {
        let (min, max) = self.bounds(port);
        if !self.choices.is_empty() {
            return self.not_a_choice(approx);
        }
        match (approx < 0.0, min, max) {
            (true, Some(min), _) => InvalidValue::new(format!(
                "Should be greater than or equal to {}",
                python::format_g(min as f64)
            )),
            (false, _, Some(max)) => InvalidValue::new(format!(
                "Should be less than or equal to {}",
                python::format_g(max as f64)
            )),
            _ => InvalidValue::new(format!(
                "Value {} is outside the 64-bit integer range",
                python::repr(raw)
            )),
        }
    }

    fn not_a_choice(&self, found: f64) -> InvalidValue {
        let names: Vec<String> = self.choices.iter().map(|(c, _)| c.to_string()).collect();
        InvalidValue::new(format!(
            "Valid values are [{}], but found {}",
            names.join(", "),
            python::format_g(found)
        ))
    }

    /// The bounds of the type; a port's unset bounds are 0 and 65535.
    fn bounds(&self, port: bool) -> (Option<i64>, Option<i64>) {
        if port {
            (Some(self.min.unwrap_or(0)), Some(self.max.unwrap_or(65535)))
        } else {
            (self.min, self.max)
        }
    }

    /// Checks bounds, or the choices when there are some (oslo checks only the choices then).
    pub(super) fn check_int(&self, n: i64, port: bool) -> Result<i64, InvalidValue> {
        if self.choices.is_empty() {
            let (min, max) = self.bounds(port);
            if let Some(min) = min.filter(|&m| n < m) {
                return Err(InvalidValue::new(format!(
                    "Should be greater than or equal to {}",
                    python::format_g(min as f64)
                )));
            }
            if let Some(max) = max.filter(|&m| n > m) {
                return Err(InvalidValue::new(format!(
                    "Should be less than or equal to {}",
                    python::format_g(max as f64)
                )));
            }
        } else if !self.choices.iter().any(|(c, _)| *c == n) {
            return Err(self.not_a_choice(n as f64));
        }
        Ok(n)
    }

    pub(super) fn check_definition(&self, port: bool) -> Result<(), InvalidValue> {
        if port {
            if self.min.is_some_and(|m| m < 0) {
                return Err(InvalidValue::new("Min value cannot be less than 0"));
            }
            if self.max.is_some_and(|m| m > 65535) {
                return Err(InvalidValue::new("Max value cannot be more than 65535"));
            }
        }
        let (min, max) = self.bounds(port);
        if let (Some(lo), Some(hi)) = (min, max)
            && hi < lo
        {
            return Err(InvalidValue::new("Max value is less than min value"));
        }
        let outside: Vec<String> = self
            .choices
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| min.is_some_and(|m| m > *c) || max.is_some_and(|m| m < *c))
            .map(|c| c.to_string())
            .collect();
        if !outside.is_empty() {
            return Err(InvalidValue::new(format!(
                "Choices [{}] are out of bounds [{}..{}]",
                outside.join(", "),
                option_str(min),
                option_str(max)
            )));
        }
        Ok(())
    }

    /// oslo's `int(x)` of a typed value: integers as they are, booleans as 0 and 1, finite floats truncated.
    pub(super) fn check_value(
        &self,
        value: &Value,
        port: bool,
    ) -> Result<Option<Value>, InvalidValue> {
        let n = match value {
            Value::Integer(n) => *n,
            Value::Boolean(b) => i64::from(*b),
            Value::Float(f) => {
                let t = f.trunc();
                if t.is_nan() {
                    return Err(InvalidValue::new("cannot convert float NaN to integer"));
                }
                if t.is_infinite() {
                    return Err(InvalidValue::new(
                        "cannot convert float infinity to integer",
                    ));
                }
                // The cast saturates; the range test before it keeps it exact.
                if t < i64::MIN as f64 || t >= i64::MAX as f64 {
                    return Err(self.out_of_range(&python::float_repr(*f), t, port));
                }
                t as i64
            }
            Value::String(s) => return Ok(self.parse_int(s, port)?.map(Value::Integer)),
            other => {
                return Err(not_a(
                    other,
                    if port { "port value" } else { "integer value" },
                ));
            }
        };
        self.check_int(n, port).map(|n| Some(Value::Integer(n)))
    }
}

impl FloatType {
    /// Parses raw text as Python's `float()`; blank text is oslo's `None`.
    pub(super) fn parse_float(&self, raw: &str) -> Result<Option<f64>, InvalidValue> {
        if python::strip(raw).is_empty() {
            return Ok(None);
        }
        let x = python::parse_float(raw).ok_or_else(|| {
            InvalidValue::new(format!(
                "could not convert string to float: {}",
                python::repr(raw)
            ))
        })?;
        self.check_float(x).map(Some)
    }

    /// Checks the bounds (NaN passes them, as in Python, where every comparison with NaN is false).
    pub(super) fn check_float(&self, x: f64) -> Result<f64, InvalidValue> {
        if let Some(min) = self.min.filter(|&m| x < m) {
            return Err(InvalidValue::new(format!(
                "Should be greater than or equal to {}",
                python::format_g(min)
            )));
        }
        if let Some(max) = self.max.filter(|&m| x > m) {
            return Err(InvalidValue::new(format!(
                "Should be less than or equal to {}",
                python::format_g(max)
            )));
        }
        Ok(x)
    }

    pub(super) fn check_definition(&self) -> Result<(), InvalidValue> {
        if let (Some(lo), Some(hi)) = (self.min, self.max)
            && hi < lo
        {
            return Err(InvalidValue::new("Max value is less than min value"));
        }
        Ok(())
    }

    pub(super) fn check_value(&self, value: &Value) -> Result<Option<Value>, InvalidValue> {
        let x = match value {
            Value::Float(x) => *x,
            Value::Integer(n) => *n as f64,
            Value::Boolean(b) => f64::from(u8::from(*b)),
            Value::String(s) => return Ok(self.parse_float(s)?.map(Value::Float)),
            other => return Err(not_a(other, "floating point value")),
        };
        self.check_float(x).map(|x| Some(Value::Float(x)))
    }
}

/// The refusal of a typed value of the wrong kind.
pub(super) fn not_a(value: &Value, type_name: &str) -> InvalidValue {
    InvalidValue::new(format!(
        "Value {} is not a {type_name}",
        value.python_repr()
    ))
}
