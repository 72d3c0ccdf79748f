//! The few pieces of Python semantics that policy checks depend on: `str()` and `repr()` of JSON values,
//! truthiness, and `%`-formatting of a check's match string with the target as the mapping.
//!
//! The templates are parsed once, when a rule is parsed; rendering does no parsing.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Python truthiness of a JSON value (`None`, `False`, `0`, `""`, `[]`, `{}` are false).
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python `str()` of a JSON value as `json.loads` gives it (`True`, `None`, `1.0`, `['a', 1]`).
pub(crate) fn str_of(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        Value::Bool(true) => Cow::Borrowed("True"),
        Value::Bool(false) => Cow::Borrowed("False"),
        Value::Null => Cow::Borrowed("None"),
        other => Cow::Owned(repr_of(other)),
    }
}

/// Python `repr()` of a JSON value.
pub(crate) fn repr_of(v: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, v);
    out
}

fn write_repr(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                out.push_str(&float_repr(n.as_f64().unwrap_or(f64::NAN)));
            }
        }
        Value::String(s) => out.push_str(&str_repr(s)),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, item)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&str_repr(k));
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

/// Python `repr()` of a `str`: single quotes unless the text has a `'` and no `"`.
pub(crate) fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !printable(c) => escape_char(&mut out, c),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// An approximation of Python's `str.isprintable()` for one character.
fn printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
        || ('\u{e000}'..='\u{f8ff}').contains(&c))
}

fn escape_char(out: &mut String, c: char) {
    let n = c as u32;
    let _ = if n < 0x100 {
        write!(out, "\\x{n:02x}")
    } else if n < 0x10000 {
        write!(out, "\\u{n:04x}")
    } else {
        write!(out, "\\U{n:08x}")
    };
}

/// Python `ascii()`: `repr()` with every non-ASCII character escaped.
fn ascii_of(repr: &str) -> String {
    let mut out = String::with_capacity(repr.len());
    for c in repr.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            escape_char(&mut out, c);
        }
    }
    out
}

/// Python `repr()` of a `float`: the shortest round-trip digits, fixed notation for exponents -4..16.
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = usize::try_from(exp).unwrap_or(0) + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    out
}

/// `json.dumps(value)` as Python writes it: `", "` and `": "` separators, non-ASCII escaped.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn json_dumps(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v);
    out
}

#[cfg_attr(not(feature = "http"), allow(dead_code))]
fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_f64() => out.push_str(&float_repr(n.as_f64().unwrap_or(0.0))),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    c if (c as u32) < 0x20 || !c.is_ascii() => {
                        let mut buf = [0u16; 2];
                        for unit in c.encode_utf16(&mut buf) {
                            let _ = write!(out, "\\u{unit:04x}");
                        }
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(out, &Value::String(k.clone()));
                out.push_str(": ");
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

/// Python's name of the type of a JSON value, as its error messages use it.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// One conversion of a `%`-format: `%(key)-10.3s`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    /// `None` for a conversion without a key, which takes the whole mapping.
    key: Option<String>,
    left: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
    conv: char,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Conv(Spec),
    /// The format is broken here; Python raises this when it reaches it, after looking up the key of
    /// the broken conversion (a missing key is a `KeyError` first).
    Fail(String, Option<String>),
}

/// A check's match string, parsed as a Python `%`-format applied to the target mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`; a broken format is kept as a failure at the place Python would raise it.
    pub(crate) fn parse(text: &str) -> Template {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars.get(i).copied().unwrap_or('%');
            if c != '%' {
                lit.push(c);
                i += 1;
                continue;
            }
            i += 1;
            let mut spec = Spec {
                key: None,
                left: false,
                plus: false,
                space: false,
                alt: false,
                zero: false,
                width: 0,
                precision: None,
                conv: 's',
            };
            if chars.get(i) == Some(&'(') {
                let mut depth = 1;
                let start = i + 1;
                i += 1;
                while i < chars.len() && depth > 0 {
                    match chars.get(i) {
                        Some('(') => depth += 1,
                        Some(')') => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                }
                if depth > 0 {
                    push_fail(&mut pieces, &mut lit, "incomplete format key".into(), None);
                    return Template { pieces };
                }
                spec.key = Some(chars.get(start..i - 1).unwrap_or(&[]).iter().collect());
            }
            while let Some(&f) = chars.get(i) {
                match f {
                    '-' => spec.left = true,
                    '+' => spec.plus = true,
                    ' ' => spec.space = true,
                    '#' => spec.alt = true,
                    '0' => spec.zero = true,
                    _ => break,
                }
                i += 1;
            }
            if chars.get(i) == Some(&'*') {
                push_fail(&mut pieces, &mut lit, "* wants int".into(), spec.key);
                return Template { pieces };
            }
            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                spec.width = spec.width.saturating_mul(10).saturating_add(d as usize);
                i += 1;
            }
            if chars.get(i) == Some(&'.') {
                i += 1;
                if chars.get(i) == Some(&'*') {
                    push_fail(&mut pieces, &mut lit, "* wants int".into(), spec.key);
                    return Template { pieces };
                }
                let mut p = 0usize;
                while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                    p = p.saturating_mul(10).saturating_add(d as usize);
                    i += 1;
                }
                spec.precision = Some(p);
            }
            while matches!(chars.get(i), Some('h' | 'l' | 'L')) {
                i += 1;
            }
            let Some(&conv) = chars.get(i) else {
                push_fail(&mut pieces, &mut lit, "incomplete format".into(), spec.key);
                return Template { pieces };
            };
            i += 1;
            if spec.width > 10_000 || spec.precision.is_some_and(|p| p > 10_000) {
                push_fail(
                    &mut pieces,
                    &mut lit,
                    "width or precision too big".into(),
                    spec.key,
                );
                return Template { pieces };
            }
            match conv {
                '%' => lit.push('%'),
                's' | 'r' | 'a' | 'd' | 'i' | 'u' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'F'
                | 'g' | 'G' | 'c' => {
                    spec.conv = conv;
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::Conv(spec));
                }
                other => {
                    let msg = format!(
                        "unsupported format character '{other}' (0x{:x}) at index {}",
                        other as u32,
                        i - 1
                    );
                    push_fail(&mut pieces, &mut lit, msg, spec.key);
                    return Template { pieces };
                }
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Template { pieces }
    }

    /// The text when the template has no conversion at all.
    pub(crate) fn literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [] => Some(""),
            [Piece::Lit(s)] => Some(s),
            _ => None,
        }
    }

    /// `match % target`: `Ok(None)` when a key is missing (Python's `KeyError`), `Err` for the other
    /// errors Python raises.
    pub(crate) fn render<'a>(
        &'a self,
        target: &'a Map<String, Value>,
    ) -> Result<Option<Cow<'a, str>>, String> {
        if let Some(lit) = self.literal() {
            return Ok(Some(Cow::Borrowed(lit)));
        }
        // The common case, `%(key)s` alone, without a copy of a string value.
        if let [Piece::Conv(spec)] = self.pieces.as_slice()
            && spec.conv == 's'
            && spec.width == 0
            && spec.precision.is_none()
            && let Some(key) = &spec.key
        {
            return Ok(target.get(key).map(str_of));
        }
        let mut out = String::new();
        let mut whole_used = false;
        for piece in &self.pieces {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                Piece::Fail(msg, key) => {
                    if key.as_ref().is_some_and(|k| !target.contains_key(k)) {
                        return Ok(None);
                    }
                    return Err(msg.clone());
                }
                Piece::Conv(spec) => {
                    let owned;
                    let value = match &spec.key {
                        Some(key) => match target.get(key) {
                            Some(v) => v,
                            None => return Ok(None),
                        },
                        None => {
                            if whole_used {
                                return Err("not enough arguments for format string".into());
                            }
                            whole_used = true;
                            owned = Value::Object(target.clone());
                            &owned
                        }
                    };
                    convert(&mut out, spec, value)?;
                }
            }
        }
        Ok(Some(Cow::Owned(out)))
    }
}

fn push_fail(pieces: &mut Vec<Piece>, lit: &mut String, msg: String, key: Option<String>) {
    if !lit.is_empty() {
        pieces.push(Piece::Lit(std::mem::take(lit)));
    }
    pieces.push(Piece::Fail(msg, key));
}

fn pad(out: &mut String, spec: &Spec, body: &str, numeric_sign_len: Option<usize>) {
    let len = body.chars().count();
    if len >= spec.width {
        out.push_str(body);
        return;
    }
    let fill = spec.width - len;
    if spec.left {
        out.push_str(body);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if let (true, Some(sign_len)) = (spec.zero, numeric_sign_len) {
        out.push_str(body.get(..sign_len).unwrap_or(""));
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(body.get(sign_len..).unwrap_or(""));
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(body);
    }
}

fn convert(out: &mut String, spec: &Spec, v: &Value) -> Result<(), String> {
    match spec.conv {
        's' | 'r' | 'a' => {
            let text: Cow<'_, str> = match spec.conv {
                's' => str_of(v),
                'r' => Cow::Owned(repr_of(v)),
                _ => Cow::Owned(ascii_of(&repr_of(v))),
            };
            let text: Cow<'_, str> = match spec.precision {
                Some(p) if text.chars().count() > p => Cow::Owned(text.chars().take(p).collect()),
                _ => text,
            };
            pad(out, spec, &text, None);
            Ok(())
        }
        'd' | 'i' | 'u' | 'o' | 'x' | 'X' => {
            let n: i128 = match v {
                Value::Bool(b) => i128::from(*b),
                Value::Number(n) => {
                    if let Some(i) = n.as_i64() {
                        i128::from(i)
                    } else if let Some(u) = n.as_u64() {
                        i128::from(u)
                    } else {
                        let f = n.as_f64().unwrap_or(0.0);
                        if matches!(spec.conv, 'o' | 'x' | 'X') {
                            return Err(format!(
                                "%{} format: an integer is required, not float",
                                spec.conv
                            ));
                        }
                        if f.is_nan() {
                            return Err("cannot convert float NaN to integer".into());
                        }
                        if f.is_infinite() || f.abs() > 1e38 {
                            return Err("cannot convert float infinity to integer".into());
                        }
                        // Truncation toward zero, as Python's int(); the range is checked above.
                        #[allow(clippy::cast_possible_truncation)]
                        let t = f.trunc() as i128;
                        t
                    }
                }
                other => {
                    let what = if matches!(spec.conv, 'o' | 'x' | 'X') {
                        "an integer is required"
                    } else {
                        "a real number is required"
                    };
                    return Err(format!(
                        "%{} format: {what}, not {}",
                        spec.conv,
                        type_name(other)
                    ));
                }
            };
            let mut digits = match spec.conv {
                'o' => format!("{:o}", n.unsigned_abs()),
                'x' => format!("{:x}", n.unsigned_abs()),
                'X' => format!("{:X}", n.unsigned_abs()),
                _ => n.unsigned_abs().to_string(),
            };
            if let Some(p) = spec.precision
                && digits.len() < p
            {
                digits = format!("{}{digits}", "0".repeat(p - digits.len()));
            }
            let mut prefix = String::new();
            if n < 0 {
                prefix.push('-');
            } else if spec.plus {
                prefix.push('+');
            } else if spec.space {
                prefix.push(' ');
            }
            if spec.alt {
                match spec.conv {
                    'o' => prefix.push_str("0o"),
                    'x' => prefix.push_str("0x"),
                    'X' => prefix.push_str("0X"),
                    _ => {}
                }
            }
            let body = format!("{prefix}{digits}");
            pad(out, spec, &body, Some(prefix.len()));
            Ok(())
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let f = match v {
                Value::Bool(b) => f64::from(u8::from(*b)),
                Value::Number(n) => n.as_f64().unwrap_or(0.0),
                other => return Err(format!("must be real number, not {}", type_name(other))),
            };
            let body = format_float(f, spec);
            let sign_len = usize::from(body.starts_with(['-', '+', ' ']));
            pad(out, spec, &body, Some(sign_len));
            Ok(())
        }
        'c' => {
            let c = match v {
                Value::Number(n) => match n.as_i64().and_then(|i| u32::try_from(i).ok()) {
                    Some(i) => char::from_u32(i).ok_or("%c arg not in range(0x110000)")?,
                    None if n.is_f64() => return Err("%c requires int or char".into()),
                    None => return Err("%c arg not in range(0x110000)".into()),
                },
                Value::Bool(b) => char::from(u8::from(*b)),
                Value::String(s) if s.chars().count() == 1 => s.chars().next().unwrap_or('\0'),
                _ => return Err("%c requires int or char".into()),
            };
            pad(out, spec, &c.to_string(), None);
            Ok(())
        }
        other => Err(format!("unsupported format character '{other}'")),
    }
}

fn format_float(f: f64, spec: &Spec) -> String {
    let upper = spec.conv.is_ascii_uppercase();
    let mut sign = String::new();
    if f.is_sign_negative() && !f.is_nan() {
        sign.push('-');
    } else if spec.plus {
        sign.push('+');
    } else if spec.space {
        sign.push(' ');
    }
    let a = f.abs();
    if !a.is_finite() {
        let s = if a.is_nan() { "nan" } else { "inf" };
        return format!("{sign}{}", if upper { s.to_uppercase() } else { s.into() });
    }
    let prec = spec.precision.unwrap_or(6);
    let body = match spec.conv.to_ascii_lowercase() {
        'f' => {
            let mut s = format!("{a:.prec$}");
            if spec.alt && prec == 0 {
                s.push('.');
            }
            s
        }
        'e' => sci(a, prec, spec.alt),
        _ => {
            let p = if prec == 0 { 1 } else { prec };
            let probe = sci(a, p - 1, false);
            let exp: i64 = probe
                .rsplit_once('e')
                .and_then(|(_, e)| e.parse().ok())
                .unwrap_or(0);
            let mut s = if -4 <= exp && exp < i64::try_from(p).unwrap_or(i64::MAX) {
                let decimals =
                    usize::try_from(i64::try_from(p).unwrap_or(0) - 1 - exp).unwrap_or(0);
                format!("{a:.decimals$}")
            } else {
                sci(a, p - 1, false)
            };
            if !spec.alt {
                let (mant, exp_part) = match s.find('e') {
                    Some(i) => (s[..i].to_string(), s[i..].to_string()),
                    None => (s.clone(), String::new()),
                };
                let mant = if mant.contains('.') {
                    mant.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    mant
                };
                s = format!("{mant}{exp_part}");
            } else if !s.contains('.') {
                match s.find('e') {
                    Some(i) => s.insert(i, '.'),
                    None => s.push('.'),
                }
            }
            s
        }
    };
    let body = if upper { body.to_uppercase() } else { body };
    format!("{sign}{body}")
}

/// `%.{prec}e` as Python writes it: `1.500000e+02`.
fn sci(a: f64, prec: usize, alt: bool) -> String {
    let s = format!("{a:.prec$e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut mant = mant.to_string();
    if alt && prec == 0 {
        mant.push('.');
    }
    format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(0.1), "0.1");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1.5e16), "1.5e+16");
        assert_eq!(float_repr(123456789012345.6), "123456789012345.6");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(0.00001), "1e-05");
        assert_eq!(float_repr(-2.5), "-2.5");
        assert_eq!(float_repr(100.0), "100.0");
    }

    #[test]
    fn repr_of_containers() {
        assert_eq!(
            repr_of(&json!(["a", 1, null, true, {"k": "it's"}])),
            "['a', 1, None, True, {'k': \"it's\"}]"
        );
    }

    #[test]
    fn json_dumps_as_python() {
        assert_eq!(
            json_dumps(&json!({"a": [1, 1.5, "\u{e9}\n", null]})),
            "{\"a\": [1, 1.5, \"\\u00e9\\n\", null]}"
        );
    }

    #[test]
    fn templates() {
        let t = json!({"a": "x", "n": 5, "f": 1.5});
        let t = t.as_object().unwrap();
        let r = |s: &str| {
            Template::parse(s)
                .render(t)
                .map(|o| o.map(|c| c.into_owned()))
        };
        assert_eq!(r("%(a)s-%(n)s").unwrap().unwrap(), "x-5");
        assert_eq!(r("%(missing)s").unwrap(), None);
        assert_eq!(
            r("%(n)05d|%(n)-3d|%(n)x|%(f).2f|%(f)g").unwrap().unwrap(),
            "00005|5  |5|1.50|1.5"
        );
        assert_eq!(r("%(a)r%%").unwrap().unwrap(), "'x'%");
        assert!(r("100%").is_err());
        assert!(r("%(a)d").is_err());
        assert!(r("%(a)q").unwrap_err().contains("0x71"));
    }
}
