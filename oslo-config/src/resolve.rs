//! Value helpers shared by resolution: type conversion of raw and typed values, Python's `str()` of a
//! value (used by interpolation), and the `$name` template scanner.

use crate::types::{InvalidValue, OptType, Value};

/// Converts a typed value (a default or an override) through the type, as oslo calls `type(value)`:
/// strings are parsed, other values checked.
pub(crate) fn check_typed(ty: &OptType, v: &Value) -> Result<Option<Value>, InvalidValue> {
    match v {
        Value::String(s) => ty.parse(s),
        other => ty.check(other).map(Some),
    }
}

/// Whether a value fits a type, as [`check_typed`] decides, without building the converted value of a
/// string option.
pub(crate) fn check_valid(ty: &OptType, v: &Value) -> Result<(), InvalidValue> {
    if fits_as_is(ty, v) {
        return Ok(());
    }
    match (ty, v) {
        (OptType::String(t), Value::String(s)) => t.parse_str_ref(s).map(|_| ()),
        _ => check_typed(ty, v).map(|_| ()),
    }
}

/// Whether a typed value certainly fits a type unchanged, seen without running the type's checks: the
/// common defaults (a string for an unrestricted string type, a boolean, an integer within the bounds, a
/// list of such items). `false` means "check it".
fn fits_as_is(ty: &OptType, v: &Value) -> bool {
    match (ty, v) {
        (OptType::Boolean, Value::Boolean(_)) => true,
        (OptType::String(t), Value::String(_)) => {
            t.choices.is_empty()
                && t.regex.is_none()
                && !t.quotes
                && t.max_length.is_none_or(|m| m == 0)
        }
        (OptType::Integer(t), Value::Integer(n)) => {
            t.choices.is_empty() && t.min.is_none_or(|m| *n >= m) && t.max.is_none_or(|m| *n <= m)
        }
        (OptType::List(t), Value::List(items)) => items.iter().all(|i| fits_as_is(&t.item, i)),
        _ => false,
    }
}

/// [`convert`] of a value the caller owns: a single string for a string option is kept, not copied,
/// when the type accepts it unchanged.
pub(crate) fn convert_owned(
    ty: &OptType,
    multi: bool,
    v: Value,
) -> Result<Option<Value>, InvalidValue> {
    match (ty, multi, v) {
        (OptType::String(t), false, Value::String(s)) => {
            let kept = t.parse_str_ref(&s)?.len();
            if kept == s.len() {
                Ok(Some(Value::String(s)))
            } else {
                Ok(Some(Value::String(t.parse_str_ref(&s)?.to_owned())))
            }
        }
        (ty, multi, v) => convert(ty, multi, &v),
    }
}

/// Converts a value for an option: each item of a multi-valued option, or the whole value.
pub(crate) fn convert(ty: &OptType, multi: bool, v: &Value) -> Result<Option<Value>, InvalidValue> {
    if multi {
        let items: Vec<Value> = match v {
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(x) = check_typed(ty, item)? {
                        out.push(x);
                    }
                }
                out
            }
            single => check_typed(ty, single)?.into_iter().collect(),
        };
        Ok(Some(Value::List(items)))
    } else {
        check_typed(ty, v)
    }
}

/// Python's `str()` of a value, as interpolation and error messages show it (the value's `Display`).
pub(crate) fn py_str(v: &Value) -> String {
    v.to_string()
}

/// Python's `repr()` of a float: the shortest round-tripping digits, scientific below 1e-4 and from 1e16.
pub(crate) fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    }
}

/// One piece of a template string.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Literal text.
    Text(&'a str),
    /// A literal `$` (from `$$` or `\$`).
    Dollar,
    /// A reference to an option (`$name`, `${name}`, `${group.name}`).
    Ref(&'a str),
}

/// Non-ASCII letters that Python's case-insensitive `[a-z]` also matches (they fold to ASCII letters).
fn folds_to_ascii(c: char) -> bool {
    matches!(c, '\u{17f}' | '\u{212a}' | '\u{131}' | '\u{130}')
}

fn id_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic() || folds_to_ascii(c)
}

fn id_continue(c: char) -> bool {
    c == '_' || c == '.' || c.is_ascii_alphanumeric() || folds_to_ascii(c)
}

/// Splits a string the way Python's `string.Template` (with oslo's identifier pattern
/// `[_a-z][._a-z0-9]*`, case-insensitive, so `ſ`, `K`, `ı` and `İ` count as letters) sees it; `\$` counts as `$$`, and malformed placeholders stay
/// literal (`safe_substitute`).
pub(crate) fn scan(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut lit_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' && bytes.get(i + 1) == Some(&b'$') {
            if lit_start < i {
                out.push(Piece::Text(&s[lit_start..i]));
            }
            out.push(Piece::Dollar);
            i += 2;
            lit_start = i;
            continue;
        }
        if b != b'$' {
            i += 1;
            continue;
        }
        let rest = &s[i + 1..];
        if rest.starts_with('$') {
            if lit_start < i {
                out.push(Piece::Text(&s[lit_start..i]));
            }
            out.push(Piece::Dollar);
            i += 2;
            lit_start = i;
            continue;
        }
        if rest.starts_with(id_start) {
            let len = rest.find(|c: char| !id_continue(c)).unwrap_or(rest.len());
            if lit_start < i {
                out.push(Piece::Text(&s[lit_start..i]));
            }
            out.push(Piece::Ref(&rest[..len]));
            i += 1 + len;
            lit_start = i;
            continue;
        }
        if let Some(inner) = rest.strip_prefix('{')
            && inner.starts_with(id_start)
        {
            let len = inner.find(|c: char| !id_continue(c)).unwrap_or(inner.len());
            if inner[len..].starts_with('}') {
                if lit_start < i {
                    out.push(Piece::Text(&s[lit_start..i]));
                }
                out.push(Piece::Ref(&inner[..len]));
                i += 2 + len + 1;
                lit_start = i;
                continue;
            }
        }
        // A lone `$`: kept literally.
        i += 1;
    }
    if lit_start < s.len() {
        out.push(Piece::Text(&s[lit_start..]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.1), "0.1");
        assert_eq!(py_float(1e-7), "1e-07");
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(123456.5), "123456.5");
    }

    #[test]
    fn templates_scan_like_python() {
        assert_eq!(
            scan("a $b ${c.d} $$ \\$ ${x $"),
            vec![
                Piece::Text("a "),
                Piece::Ref("b"),
                Piece::Text(" "),
                Piece::Ref("c.d"),
                Piece::Text(" "),
                Piece::Dollar,
                Piece::Text(" "),
                Piece::Dollar,
                Piece::Text(" ${x $"),
            ]
        );
        assert_eq!(scan("$9"), vec![Piece::Text("$9")]);
        assert_eq!(scan("$ſx-"), vec![Piece::Ref("ſx"), Piece::Text("-")]);
    }
}
