//! Python regular expressions on top of `fancy-regex`.
//!
//! Filter files are written for Python's `re`. [`translate`] rewrites the spellings where the two engines
//! disagree (`\0` and other octal escapes, `\Z`, a `{` that is not a repetition, `[`/`&`/`-`/`~` inside a
//! class, `(?#...)`), and refuses what it cannot carry over faithfully (`(?a)`, `(?L)`, `\N{...}`, unknown
//! escapes), so that a pattern either means the same thing or never matches. [`Pattern`] anchors the whole
//! pattern at both ends (`\A(?:...)\z`): stricter than the original's `re.match(pattern + "$")`, which lets
//! the first alternative of `a|b` match a prefix only and lets `$` match before a trailing newline.

use std::sync::OnceLock;

/// How much backtracking one match may do before it counts as a failed match.
const BACKTRACK_LIMIT: usize = 1_000_000;
/// The largest compiled program a pattern may make.
const SIZE_LIMIT: usize = 1 << 20;
/// The longest pattern accepted.
pub(crate) const MAX_PATTERN_LEN: usize = 4096;

/// A pattern of a filter, compiled on first use.
#[derive(Debug)]
pub(crate) struct Pattern {
    source: String,
    compiled: OnceLock<Option<fancy_regex::Regex>>,
}

impl Pattern {
    pub(crate) fn new(source: &str) -> Pattern {
        Pattern {
            source: source.to_string(),
            compiled: OnceLock::new(),
        }
    }

    fn regex(&self) -> Option<&fancy_regex::Regex> {
        self.compiled
            .get_or_init(|| {
                let translated = translate(&self.source).ok()?;
                let anchored = format!(r"\A(?:{translated})\z");
                match fancy_regex::RegexBuilder::new(&anchored)
                    .backtrack_limit(BACKTRACK_LIMIT)
                    .delegate_size_limit(SIZE_LIMIT)
                    .build()
                {
                    Ok(re) => Some(re),
                    Err(e) => {
                        tracing::warn!(pattern = %self.source, error = %e, "rootwrap.bad_pattern");
                        None
                    }
                }
            })
            .as_ref()
    }

    /// Whether the pattern compiles (a pattern that does not never matches).
    pub(crate) fn is_usable(&self) -> bool {
        self.regex().is_some()
    }

    /// The pattern as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `text` matches. A pattern that does not compile, or a match that runs out
    /// of its backtracking budget, never matches.
    pub(crate) fn is_full_match(&self, text: &str) -> bool {
        match self.regex() {
            Some(re) => re.is_match(text).unwrap_or(false),
            None => false,
        }
    }
}

/// Why a Python pattern cannot be carried over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Untranslatable(pub(crate) String);

fn hex(c: char) -> String {
    format!("\\x{{{:X}}}", c as u32)
}

/// Rewrites a Python `re` pattern into `fancy-regex` syntax with the same meaning.
pub(crate) fn translate(pattern: &str) -> Result<String, Untranslatable> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(Untranslatable("pattern too long".into()));
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let (text, next) = escape(&chars, i, false)?;
                out.push_str(&text);
                i = next;
            }
            '[' => {
                let (text, next) = class(&chars, i)?;
                out.push_str(&text);
                i = next;
            }
            '{' => match repetition(&chars, i) {
                Some((text, next)) => {
                    out.push_str(&text);
                    i = next;
                }
                None => {
                    out.push_str(r"\{");
                    i += 1;
                }
            },
            '}' => {
                out.push_str(r"\}");
                i += 1;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                let (text, next) = group_start(&chars, i)?;
                out.push_str(&text);
                i = next;
            }
            ' ' | '#' => {
                // Literal in Python unless (?x), which `group_start` refuses.
                out.push_str(&hex(c));
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// `{m}`, `{m,}`, `{,n}`, `{m,n}` (then an optional `?` or `+` follows as usual); anything else is a
/// literal `{` in Python.
fn repetition(chars: &[char], start: usize) -> Option<(String, usize)> {
    let end = chars[start..].iter().position(|&c| c == '}')? + start;
    let inner: String = chars[start + 1..end].iter().collect();
    let (lo, hi) = match inner.split_once(',') {
        Some((lo, hi)) => (lo, Some(hi)),
        None => (inner.as_str(), None),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(lo) || !hi.is_none_or(digits) || (lo.is_empty() && hi.is_none()) {
        return None;
    }
    let lo_n: u32 = if lo.is_empty() { 0 } else { lo.parse().ok()? };
    let text = match hi {
        None => format!("{{{lo_n}}}"),
        Some("") => format!("{{{lo_n},}}"),
        Some(h) => {
            let hi_n: u32 = h.parse().ok()?;
            if hi_n < lo_n {
                return None;
            }
            format!("{{{lo_n},{hi_n}}}")
        }
    };
    Some((text, end + 1))
}

fn group_start(chars: &[char], start: usize) -> Result<(String, usize), Untranslatable> {
    let rest: String = chars[start..chars.len().min(start + 4)].iter().collect();
    if rest.starts_with("(?#") {
        // A comment: skip to the closing parenthesis.
        let end = chars[start..]
            .iter()
            .position(|&c| c == ')')
            .ok_or_else(|| Untranslatable("unterminated comment".into()))?;
        return Ok((String::new(), start + end + 1));
    }
    if rest.starts_with("(?P<") || rest.starts_with("(?P=") {
        return Ok((rest[..4].to_string(), start + 4));
    }
    for prefix in ["(?:", "(?=", "(?!", "(?<=", "(?<!", "(?>", "(?("] {
        if rest.starts_with(prefix) {
            return Ok((prefix.to_string(), start + prefix.chars().count()));
        }
    }
    // Inline flags: (?flags) or (?flags-flags:...)
    let mut i = start + 2;
    let mut text = String::from("(?");
    while let Some(&c) = chars.get(i) {
        match c {
            'i' | 'm' | 's' | '-' => text.push(c),
            'u' => {}
            ')' | ':' => {
                text.push(c);
                if text == "(?)" {
                    return Ok((String::new(), i + 1));
                }
                if text == "(?:" {
                    return Ok((text, i + 1));
                }
                return Ok((text, i + 1));
            }
            _ => return Err(Untranslatable(format!("unsupported group flag `{c}`"))),
        }
        i += 1;
    }
    Err(Untranslatable("unterminated group".into()))
}

/// An escape outside (`in_class == false`) or inside a character class.
fn escape(chars: &[char], start: usize, in_class: bool) -> Result<(String, usize), Untranslatable> {
    let Some(&c) = chars.get(start + 1) else {
        return Err(Untranslatable("pattern ends with a backslash".into()));
    };
    let next = start + 2;
    let octal = |c: char| ('0'..='7').contains(&c);
    Ok(match c {
        '0' => {
            // \0, \0o, \0oo: an octal escape.
            let mut value = 0u32;
            let mut j = next;
            while j < chars.len() && j < next + 2 && octal(chars[j]) {
                value = value * 8 + chars[j].to_digit(8).unwrap_or(0);
                j += 1;
            }
            (hex(char::from_u32(value).unwrap_or('\0')), j)
        }
        '1'..='9' => {
            let d2 = chars.get(next).copied();
            let d3 = chars.get(next + 1).copied();
            if octal(c) && d2.is_some_and(octal) && d3.is_some_and(octal) {
                let value = c.to_digit(8).unwrap_or(0) * 64
                    + d2.and_then(|d| d.to_digit(8)).unwrap_or(0) * 8
                    + d3.and_then(|d| d.to_digit(8)).unwrap_or(0);
                let ch = char::from_u32(value)
                    .ok_or_else(|| Untranslatable("octal escape out of range".into()))?;
                (hex(ch), next + 2)
            } else if in_class {
                return Err(Untranslatable("back reference inside a class".into()));
            } else {
                // A group reference of one or two digits.
                let mut j = next;
                let mut digits = String::from(c);
                if let Some(d) = d2.filter(char::is_ascii_digit) {
                    digits.push(d);
                    j += 1;
                }
                (format!("\\{digits}"), j)
            }
        }
        'Z' if !in_class => (r"\z".into(), next),
        'A' if !in_class => (r"\A".into(), next),
        'b' if in_class => (hex('\u{8}'), next),
        'b' | 'B' if !in_class => (format!("\\{c}"), next),
        'd' | 'D' | 's' | 'S' | 'w' | 'W' => (format!("\\{c}"), next),
        'a' => (hex('\u{7}'), next),
        'f' => (hex('\u{c}'), next),
        'n' => (hex('\n'), next),
        'r' => (hex('\r'), next),
        't' => (hex('\t'), next),
        'v' => (hex('\u{b}'), next),
        'x' | 'u' | 'U' => {
            let width = match c {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let digits: String = chars
                .get(next..next + width)
                .unwrap_or(&[])
                .iter()
                .collect();
            if digits.chars().count() != width || !digits.chars().all(|d| d.is_ascii_hexdigit()) {
                return Err(Untranslatable(format!("bad `\\{c}` escape")));
            }
            let value = u32::from_str_radix(&digits, 16)
                .map_err(|_| Untranslatable(format!("bad `\\{c}` escape")))?;
            let ch = char::from_u32(value)
                .ok_or_else(|| Untranslatable(format!("bad `\\{c}` escape")))?;
            (hex(ch), next + width)
        }
        c if c.is_ascii_alphanumeric() => {
            return Err(Untranslatable(format!("bad escape `\\{c}`")));
        }
        c => (hex(c), next),
    })
}

/// A character class `[...]`, rewritten item by item so that nothing in it has a meaning in the target
/// syntax that it lacks in Python (nested classes, `&&`, `--`, `~~`).
fn class(chars: &[char], start: usize) -> Result<(String, usize), Untranslatable> {
    let mut i = start + 1;
    let mut out = String::from("[");
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    // The previous item, when it was a single character that may start a range.
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(Untranslatable("unterminated character class".into()));
        };
        if c == ']' && !first {
            out.push(']');
            return Ok((out, i + 1));
        }
        first = false;
        // One item: a literal character or a class escape.
        let (item, literal, next) = class_item(chars, i)?;
        i = next;
        if let Some(lo) = literal
            && chars.get(i) == Some(&'-')
            && chars.get(i + 1).is_some_and(|&c| c != ']')
        {
            let (_, hi, after) = class_item(chars, i + 1)?;
            let Some(hi) = hi else {
                return Err(Untranslatable("bad character range".into()));
            };
            if hi < lo {
                return Err(Untranslatable("bad character range".into()));
            }
            out.push_str(&format!("{}-{}", hex(lo), hex(hi)));
            i = after;
            continue;
        }
        out.push_str(&item);
    }
}

/// One item of a class: its text, the character when it is a single literal, and where the next starts.
fn class_item(chars: &[char], i: usize) -> Result<(String, Option<char>, usize), Untranslatable> {
    let Some(&c) = chars.get(i) else {
        return Err(Untranslatable("unterminated character class".into()));
    };
    if c != '\\' {
        return Ok((hex(c), Some(c), i + 1));
    }
    let (text, next) = escape(chars, i, true)?;
    let literal = match chars.get(i + 1) {
        Some('d' | 'D' | 's' | 'S' | 'w' | 'W') => None,
        _ => text
            .strip_prefix("\\x{")
            .and_then(|t| t.strip_suffix('}'))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32),
    };
    Ok((text, literal, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Pattern::new(p).is_full_match(t)
    }

    #[test]
    fn python_only_syntax() {
        assert!(m(r"/etc/(?!\.\.).*", "/etc/nova/nova.conf"));
        assert!(!m(r"/etc/(?!\.\.).*", "/etc/../shadow"));
        assert!(m(r"^[/]*([^/\0]+(/+)?)*$", "a/b/c"));
        assert!(m(r"a{", "a{"));
        assert!(m(r"x{2}", "xx"));
        assert!(m(r"[a-c-]+", "ab-c"));
        assert!(m(r"[[]", "["));
        assert!(m(r"abc\Z", "abc"));
        assert!(m(r"-c[0-3]", "-c2"));
        assert!(m(r"blkio:\S+", "blkio:x"));
        assert!(!m(r"foo|bar", "fooZZ"));
        assert!(!m(r"\d+", "12\n"));
        assert!(m(r"\d+", "١٢"));
        assert!(m(r"(?P<n>a)(?P=n)", "aa"));
        assert!(m(r"a(?#comment)b", "ab"));
        assert!(!m(r"(?a)\d", "1"));
        assert!(!m(r"\q", "q"));
    }
}
