//! Python's text rules that oslo's types inherit: `str.strip()` whitespace, `repr()` of a string, `int()` and
//! `float()` of a string, and the `%g` / `repr()` forms of numbers that oslo puts in its messages.
//!
//! Written from the Python language reference and the Unicode data Python 3.11 ships (Unicode 14.0).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{LazyLock, Mutex};

use super::unicode::NON_PRINTABLE;

/// Python's `str.isspace()`: Rust's `char::is_whitespace` plus the four ASCII separators U+001C..U+001F.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` without arguments.
pub(crate) fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// The first code point of each run of ten Unicode decimal digits (category Nd, zero to nine) in Unicode
/// 14.0, the version of Python 3.11. `int()` and `float()` read these digits like ASCII ones.
const DECIMAL_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// The value of a Unicode decimal digit, as Python's `int()` reads it.
fn decimal_value(c: char) -> Option<u8> {
    let cp = c as u32;
    let idx = DECIMAL_ZEROS.partition_point(|&zero| zero <= cp);
    let zero = *DECIMAL_ZEROS.get(idx.checked_sub(1)?)?;
    let digit = cp - zero;
    if digit < 10 {
        u8::try_from(digit).ok()
    } else {
        None
    }
}

/// What CPython does before it parses a number: every Unicode space becomes `' '`, every Unicode decimal
/// digit its ASCII digit; any other non-ASCII character makes the text invalid (`None`).
fn to_ascii_number(raw: &str) -> Option<Cow<'_, str>> {
    if raw.is_ascii() {
        return Some(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii() {
            out.push(c);
        } else if is_space(c) {
            out.push(' ');
        } else {
            out.push(char::from(b'0' + decimal_value(c)?));
        }
    }
    Some(Cow::Owned(out))
}

/// CPython's number parsers strip only ASCII whitespace (U+001C..U+001F stay and make the text invalid).
fn strip_ascii(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r'])
}

/// Removes single underscores between ASCII digits (Python's `1_000`); `None` when an underscore is
/// doubled, leads, trails or is not between two digits.
fn digits_without_underscores(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('_') {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            let before = i
                .checked_sub(1)
                .and_then(|j| bytes.get(j))
                .is_some_and(u8::is_ascii_digit);
            let after = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(before && after) {
                return None;
            }
        } else {
            out.push(char::from(b));
        }
    }
    Some(Cow::Owned(out))
}

/// Why Python's `int()` refused a string, or why we could not hold its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum IntError {
    /// Not a base-10 integer literal: Python's `ValueError`.
    Invalid,
    /// A valid literal outside `i64` (Python's integers are unbounded), with its value as a float.
    OutOfRange(f64),
}

/// Python's `int(s)` in base 10: surrounding whitespace, a sign, Unicode decimal digits and single
/// underscores between digits, leading zeros allowed.
/// The common case of [`parse_int`]: an optional sign and up to 18 ASCII digits, nothing else (so the
/// number fits an `i64`); `None` for anything else.
pub(crate) fn plain_int(raw: &str) -> Option<i64> {
    let bytes = raw.as_bytes();
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, bytes.get(1..)?),
        b'+' => (false, bytes.get(1..)?),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
    Some(if negative { -n } else { n })
}

pub(crate) fn parse_int(raw: &str) -> Result<i64, IntError> {
    let ascii = to_ascii_number(raw).ok_or(IntError::Invalid)?;
    let text = strip_ascii(&ascii);
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..).unwrap_or("")),
        Some(b'+') => (false, text.get(1..).unwrap_or("")),
        _ => (false, text),
    };
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return Err(IntError::Invalid);
    }
    let digits = digits_without_underscores(body).ok_or(IntError::Invalid)?;
    let out_of_range = || {
        let magnitude: f64 = digits.parse().unwrap_or(f64::INFINITY);
        IntError::OutOfRange(if negative { -magnitude } else { magnitude })
    };
    // Accumulate negatively so that i64::MIN fits.
    let mut acc: i64 = 0;
    for b in digits.bytes() {
        let d = i64::from(b - b'0');
        acc = acc
            .checked_mul(10)
            .and_then(|a| a.checked_sub(d))
            .ok_or_else(out_of_range)?;
    }
    if negative {
        Ok(acc)
    } else {
        acc.checked_neg().ok_or_else(out_of_range)
    }
}

/// Python's `float(s)`: surrounding whitespace, a sign, `inf`/`infinity`/`nan` in any case, decimal digits
/// with single underscores between digits, an optional fraction and exponent.
pub(crate) fn parse_float(raw: &str) -> Option<f64> {
    let ascii = to_ascii_number(raw)?;
    let text = strip_ascii(&ascii);
    let (sign, body) = match text.as_bytes().first() {
        Some(b'-') => ("-", text.get(1..)?),
        Some(b'+') => ("", text.get(1..)?),
        _ => ("", text),
    };
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return format!("{sign}{lower}").parse().ok();
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (body.get(..at)?, Some(body.get(at + 1..)?)),
        None => (body, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digit_part = |s: &str| -> Option<String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            return None;
        }
        digits_without_underscores(s).map(Cow::into_owned)
    };
    let int_digits = if int_part.is_empty() {
        String::new()
    } else {
        digit_part(int_part)?
    };
    let frac_digits = match frac_part {
        Some("") | None => String::new(),
        Some(f) => digit_part(f)?,
    };
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut clean = format!("{sign}{int_digits}.{frac_digits}");
    if int_digits.is_empty() {
        clean = format!("{sign}0.{frac_digits}");
    }
    if let Some(exp) = exponent {
        let (exp_sign, exp_body) = match exp.as_bytes().first() {
            Some(b'-') => ("-", exp.get(1..)?),
            Some(b'+') => ("", exp.get(1..)?),
            _ => ("", exp),
        };
        let exp_digits = digit_part(exp_body)?;
        // Clamp absurd exponents: the value is 0 or infinite either way, and Rust's parser wants them short.
        let trimmed = exp_digits.trim_start_matches('0');
        let exp_digits = if trimmed.len() > 6 {
            "999999"
        } else if trimmed.is_empty() {
            "0"
        } else {
            trimmed
        };
        clean = format!("{clean}e{exp_sign}{exp_digits}");
    }
    clean.parse().ok()
}

/// Whether Python's `str.isprintable()` holds for a non-ASCII character.
fn is_printable_non_ascii(c: char) -> bool {
    let cp = c as u32;
    let idx = NON_PRINTABLE.partition_point(|&(lo, _)| lo <= cp);
    !idx.checked_sub(1)
        .and_then(|i| NON_PRINTABLE.get(i))
        .is_some_and(|&(lo, hi)| (lo..=hi).contains(&cp))
}

/// Python's `repr()` of a string: single quotes unless the text holds a `'` and no `"`, backslash escapes
/// for controls and unprintable characters.
pub(crate) fn repr(s: &str) -> String {
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
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii() => {
                if c.is_ascii_control() {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                } else {
                    out.push(c);
                }
            }
            c if is_printable_non_ascii(c) => out.push(c),
            c => {
                let cp = c as u32;
                let _ = if cp < 0x100 {
                    write!(out, "\\x{cp:02x}")
                } else if cp < 0x10000 {
                    write!(out, "\\u{cp:04x}")
                } else {
                    write!(out, "\\U{cp:08x}")
                };
            }
        }
    }
    out.push(quote);
    out
}

/// Rewrites what Python's `re` and the `regex` crate spell differently: `\Z` (Python's end of text) becomes
/// `\z`, and inside a character class `[`, `&` and `~` are escaped, being literal there in Python while the
/// `regex` crate nests classes and reads `&&` and `~~` as set operations. (`$` needs no rewrite: see
/// [`search`].)
pub(crate) fn translate_regex(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('Z') if !in_class => out.push_str("\\z"),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push(c);
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                continue;
            }
            ']' if in_class && !class_start => {
                in_class = false;
                out.push(c);
            }
            '[' | '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        class_start = false;
    }
    out
}

/// The Python spelling of patterns that [`translate_regex`] changed, keyed by the compiled spelling, so
/// that messages quote the pattern as the user wrote it (as oslo does). Bounded: past the limit, messages
/// quote the compiled spelling.
static PYTHON_SPELLING: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(Default::default);

/// Translates a Python pattern and remembers its Python spelling for messages.
pub(crate) fn translate_and_remember(pattern: &str) -> String {
    let translated = translate_regex(pattern);
    if translated != pattern
        && let Ok(mut spellings) = PYTHON_SPELLING.lock()
        && spellings.len() < 4096
    {
        spellings.insert(translated.clone(), pattern.to_owned());
    }
    translated
}

/// The pattern as the user wrote it: the Python spelling when it came through [`translate_and_remember`].
pub(crate) fn pattern_as_written(re: &regex::Regex) -> String {
    PYTHON_SPELLING
        .lock()
        .ok()
        .and_then(|spellings| spellings.get(re.as_str()).cloned())
        .unwrap_or_else(|| re.as_str().to_owned())
}

/// Python's `re.search(pattern, text)` for a pattern compiled by the `regex` crate. Python's `$` (outside
/// multi-line mode) also matches just before a final newline; searching the text without that newline as
/// well gives the same answer, except for patterns that insist on the very end (`\z`), which are searched
/// once.
pub(crate) fn search(re: &regex::Regex, text: &str) -> bool {
    if re.is_match(text) {
        return true;
    }
    match text.strip_suffix('\n') {
        Some(shorter) if !re.as_str().contains("\\z") => re.is_match(shorter),
        _ => false,
    }
}

/// Splits Rust's `{:e}` output (`-1.5e-7`) into mantissa and exponent.
fn split_exp(s: &str) -> (&str, i32) {
    match s.split_once('e') {
        Some((m, e)) => (m, e.parse().unwrap_or(0)),
        None => (s, 0),
    }
}

fn trim_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn python_exponent(exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{sign}{:02}", exp.unsigned_abs())
}

/// Python's `format(x, 'g')`: six significant digits, scientific below 1e-4 and from 1e6.
pub(crate) fn format_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = split_exp(&sci);
    if !(-4..6).contains(&exp) {
        format!("{}e{}", trim_fraction_zeros(mantissa), python_exponent(exp))
    } else {
        let decimals = usize::try_from(5 - exp).unwrap_or(0);
        trim_fraction_zeros(&format!("{x:.decimals$}")).to_owned()
    }
}

/// Python's `repr(x)` (and `str(x)`) of a float: the shortest text that reads back to `x`, scientific
/// below 1e-4 and from 1e16, always with a `.` or an exponent.
pub(crate) fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = split_exp(&sci);
    if (-4..16).contains(&exp) {
        let fixed = format!("{x}");
        if fixed.contains('.') {
            fixed
        } else {
            format!("{fixed}.0")
        }
    } else {
        format!("{mantissa}e{}", python_exponent(exp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_integers_take_the_short_way_with_the_same_answer() {
        for text in [
            "0",
            "7",
            "-12",
            "+5",
            "007",
            "999999999999999999",
            "-999999999999999999",
        ] {
            assert_eq!(plain_int(text), parse_int(text).ok(), "{text}");
        }
        // Everything else goes the long way.
        for text in [
            "",
            "-",
            "+",
            " 1",
            "1 ",
            "1_000",
            "٣",
            "9999999999999999999",
            "1.0",
            "--1",
        ] {
            assert_eq!(plain_int(text), None, "{text}");
        }
    }

    #[test]
    fn decimal_digits_of_other_scripts() {
        assert_eq!(decimal_value('٣'), Some(3));
        assert_eq!(decimal_value('9'), Some(9));
        assert_eq!(decimal_value('a'), None);
        assert_eq!(decimal_value('\u{2f}'), None);
    }

    #[test]
    fn g_and_repr_forms() {
        assert_eq!(format_g(1234567.0), "1.23457e+06");
        assert_eq!(format_g(0.0001), "0.0001");
        assert_eq!(format_g(0.00001), "1e-05");
        assert_eq!(format_g(100.0), "100");
        assert_eq!(format_g(-2.5), "-2.5");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
        assert_eq!(float_repr(0.1), "0.1");
        assert_eq!(float_repr(1.5e-7), "1.5e-07");
        assert_eq!(float_repr(-0.0), "-0.0");
    }

    #[test]
    fn regex_translation() {
        assert_eq!(translate_regex("^a$"), "^a$");
        assert_eq!(translate_regex("a\\Z"), "a\\z");
        assert_eq!(translate_regex("[\\Z]"), "[\\Z]");
        assert_eq!(translate_regex("[]&]&&"), "[]\\&]&&");
        assert_eq!(translate_regex("[[a&&b~~]"), "[\\[a\\&\\&b\\~\\~]");
    }

    #[test]
    fn search_like_python() {
        let re = |p: &str| regex::Regex::new(p).unwrap();
        assert!(search(&re("^a$"), "a\n"));
        assert!(search(&re("^$"), "\n"));
        assert!(!search(&re("^a$"), "a\n\n"));
        assert!(!search(&re("^a\\z"), "a\n"));
        assert!(search(&re("(?m)^a$"), "a\nb"));
    }

    #[test]
    fn repr_quotes() {
        assert_eq!(repr("a"), "'a'");
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("'\""), "'\\'\"'");
        assert_eq!(repr("\u{0}\n\u{a0}é"), "'\\x00\\n\\xa0é'");
    }
}
