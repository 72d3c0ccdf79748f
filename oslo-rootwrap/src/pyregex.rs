//! Python regular expressions on top of `fancy-regex`.
//!
//! Filter files are written for Python's `re`. [`translate`] rewrites the spellings where the two engines
//! disagree (`\0` and other octal escapes, `\Z`, a `{` that is not a repetition, `[`/`&`/`-`/`~` inside a
//! class, `(?#...)`, the classes `\d`, `\w`, `\s`), and refuses what it cannot carry over faithfully
//! (`(?a)`, `(?L)`, `\N{...}`, `\b`, `\B`, unknown escapes) or what Python's parser refuses (flags
//! misplaced, bad octal values, ranges from class escapes, bad group names), so that a pattern either
//! means the same thing or never matches. [`Pattern`] anchors the whole
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
    // Python takes global flags `(?i)` only before anything else of the pattern.
    let mut at_start = true;
    // Open groups: a `)` with none open, or one left open, would break out of the anchoring group
    // (`a)|(?:b` would become `\A(?:a)|(?:b)\z`, a prefix match); Python refuses both.
    let mut depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        let was_at_start = at_start;
        at_start = false;
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
                let (text, next, global) = group_start(&chars, i, was_at_start)?;
                // A comment and a global-flags group are complete; every other one opens a group.
                if !global && !text.is_empty() {
                    depth += 1;
                }
                out.push_str(&text);
                at_start = global;
                i = next;
            }
            '(' => {
                depth += 1;
                out.push('(');
                i += 1;
            }
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| Untranslatable("unbalanced parenthesis".into()))?;
                out.push(')');
                i += 1;
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
    if depth != 0 {
        return Err(Untranslatable("missing `)`".into()));
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

/// The start of a `(?...)` group; the flag says whether it was a global-flags group `(?i)`, which
/// Python accepts only at the very start of the pattern (`at_start`).
fn group_start(
    chars: &[char],
    start: usize,
    at_start: bool,
) -> Result<(String, usize, bool), Untranslatable> {
    let rest: String = chars[start..chars.len().min(start + 4)].iter().collect();
    if rest.starts_with("(?#") {
        // A comment: skip to the closing parenthesis.
        let end = chars[start..]
            .iter()
            .position(|&c| c == ')')
            .ok_or_else(|| Untranslatable("unterminated comment".into()))?;
        return Ok((String::new(), start + end + 1, at_start));
    }
    if rest.starts_with("(?P<") {
        // Python wants an identifier; we take the ASCII ones only.
        let name_start = start + 4;
        let len = chars[name_start..]
            .iter()
            .position(|&c| c == '>')
            .ok_or_else(|| Untranslatable("unterminated group name".into()))?;
        let name = &chars[name_start..name_start + len];
        let valid = name
            .first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_')
            && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == '_');
        if !valid {
            return Err(Untranslatable("bad group name".into()));
        }
        return Ok(("(?P<".to_string(), name_start, false));
    }
    if rest.starts_with("(?P=") {
        return Ok(("(?P=".to_string(), start + 4, false));
    }
    if rest.starts_with("(?(") {
        // A conditional: its group number or name and `)` belong to the opening.
        let cond_start = start + 3;
        let len = chars[cond_start..]
            .iter()
            .position(|&c| c == ')')
            .ok_or_else(|| Untranslatable("unterminated condition".into()))?;
        let cond = &chars[cond_start..cond_start + len];
        if cond.is_empty() || !cond.iter().all(|c| c.is_ascii_alphanumeric() || *c == '_') {
            return Err(Untranslatable("bad condition".into()));
        }
        let cond: String = cond.iter().collect();
        return Ok((format!("(?({cond})"), cond_start + len + 1, false));
    }
    for prefix in ["(?:", "(?=", "(?!", "(?<=", "(?<!", "(?>"] {
        if rest.starts_with(prefix) {
            return Ok((prefix.to_string(), start + prefix.chars().count(), false));
        }
    }
    // Inline flags, as Python's parser takes them: `(?flags)` (global: at the start only),
    // `(?flags:...)`, `(?flags-flags:...)`, `(?-flags:...)`.
    let bad = |why: &str| Untranslatable(format!("bad inline flags: {why}"));
    let mut i = start + 2;
    let mut on = String::new();
    let mut saw_unicode = false;
    loop {
        match chars.get(i) {
            Some(&c @ ('i' | 'm' | 's')) => {
                if !on.contains(c) {
                    on.push(c);
                }
            }
            Some('u') => saw_unicode = true,
            Some(')') => {
                if on.is_empty() && !saw_unicode {
                    return Err(bad("empty group `(?)`"));
                }
                if !at_start {
                    return Err(bad("global flags not at the start"));
                }
                let text = if on.is_empty() {
                    String::new()
                } else {
                    format!("(?{on})")
                };
                return Ok((text, i + 1, true));
            }
            Some(':') if on.is_empty() && !saw_unicode => return Err(bad("missing flag")),
            Some(':') => return Ok((format!("(?{on}:"), i + 1, false)),
            Some('-') => break,
            Some(&c) => return Err(bad(&format!("unsupported flag `{c}`"))),
            None => return Err(bad("unterminated group")),
        }
        i += 1;
    }
    // Flags turned off: at least one, never `u`, none also turned on, then `:`.
    i += 1;
    let mut off = String::new();
    loop {
        match chars.get(i) {
            Some(&c @ ('i' | 'm' | 's')) => {
                if on.contains(c) {
                    return Err(bad("flag turned on and off"));
                }
                if !off.contains(c) {
                    off.push(c);
                }
            }
            Some(':') if !off.is_empty() => return Ok((format!("(?{on}-{off}:"), i + 1, false)),
            Some(&c) => return Err(bad(&format!("unexpected `{c}`"))),
            None => return Err(bad("unterminated group")),
        }
        i += 1;
    }
}

/// The characters Python 3.11 (Unicode 14.0) puts in `\d`, `\s`, `\w` and their complements, as a class.
///
/// The engines disagree on these: our `\w` also takes marks and connector punctuation, `\s` lacks the
/// separators U+001C..U+001F that Python's has, and characters assigned after Unicode 14.0 are digits or
/// letters to our tables only. Python's own definitions are: `\d` the decimal digits (Nd), `\w` the
/// letters, numbers and `_`, `\s` the white space plus U+001C..U+001F; we keep to characters Unicode 14.0
/// already had, so a class never takes a character Python's does not.
fn python_category(c: char) -> String {
    const AGE: &str = r"\p{Age=V14_0}";
    let set = match c.to_ascii_lowercase() {
        'd' => format!(r"\p{{Nd}}&&{AGE}"),
        'w' => format!(r"\p{{L}}\p{{N}}_&&{AGE}"),
        _ => r"\s\x{1C}-\x{1F}".to_string(),
    };
    let negate = if c.is_ascii_uppercase() { "^" } else { "" };
    format!("[{negate}{set}]")
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
                if value > 0o377 {
                    return Err(Untranslatable("octal escape out of range".into()));
                }
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
        // Python's boundaries follow its own `\w` and `\B` never matches an empty string; no
        // faithful spelling, so the pattern is refused (no real filter file uses them).
        'b' | 'B' => return Err(Untranslatable(format!("word boundary `\\{c}`"))),
        'd' | 'D' | 's' | 'S' | 'w' | 'W' => (python_category(c), next),
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
        if literal.is_none()
            && chars.get(i) == Some(&'-')
            && chars.get(i + 1).is_some_and(|&c| c != ']')
        {
            // `[\d-z]`: Python refuses a range from a class escape.
            return Err(Untranslatable("bad character range".into()));
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

    /// Each of these pairs: Python's `re.match(pattern + "$", word)` says no (or refuses the pattern);
    /// so must we (each allowed it before the fix).
    #[test]
    fn never_more_than_python() {
        let python_refuses = [
            // Our engine's `\w` takes marks, connector punctuation and join controls.
            (r"\w+", "\u{203F}"),
            (r"\w+", "a\u{301}"),
            (r"\w", "\u{200C}"),
            (r"[\w.-]+", "\u{345}"),
            // Python's `\s` has U+001C..U+001F, so its `\S` lacks them.
            (r"\S+", "\u{1C}"),
            (r"[^\s]+", "\u{1F}"),
            // A character assigned after Unicode 14.0 (Python 3.11's tables): a Kawi digit (15.0).
            (r"\d", "\u{11F50}"),
            (r"\w", "\u{11F50}"),
            // Global flags only at the very start; `(?)`, `(?-i)` and on-and-off are errors.
            (r"a(?i)b", "aB"),
            (r"a(?i)b", "ab"),
            (r"a|(?i)b", "B"),
            (r"x(?)y", "xy"),
            (r"(?-i)x", "x"),
            (r"(?i-i:x)", "x"),
            (r"(?-u:x)", "x"),
            (r"(?-:x)", "x"),
            // Octal escapes stop at 0o377.
            (r"\400", "\u{100}"),
            // A range cannot start or end at a class escape.
            (r"[\d-z]", "-"),
            (r"[\d-z]", "z"),
            (r"[\w--a]", "a"),
            // Group names are identifiers.
            (r"(?P<1>a)", "a"),
            (r"(?P<a-b>a)", "a"),
            // `\B` never matches an empty string in Python; `\b` follows Python's own `\w`.
            (r"\B", ""),
            (r"a\b\u{203F}", "a\u{203F}"),
            // Unbalanced parentheses must not break out of the anchoring group.
            (r"a)|(?:b", "aXYZ"),
            (r"a)|(b", "a-anything"),
            (r"(a", "a"),
            (r"a)", "a)"),
        ];
        for (p, t) in python_refuses {
            assert!(!m(p, t), "{p:?} must not match {t:?}");
        }
    }

    /// The classes keep what Python's have.
    #[test]
    fn python_classes_still_match() {
        assert!(m(r"\s", "\u{1C}"));
        assert!(m(r"[\s]", "\u{1F}"));
        assert!(m(r"[^\S]", "\u{1D}"));
        assert!(m(r"\w+", "\u{B2}\u{AA}\u{2160}_a1"));
        assert!(m(r"[\w-]+", "nova-compute_1"));
        assert!(m(r"\W", "\u{203F}"));
        assert!(m(r"\D", "\u{11F50}"));
        assert!(m(r"[^\d]", "x"));
        assert!(m(r"\d+", "0123456789"));
        assert!(m(r"(?i)ab", "AB"));
        assert!(m(r"(?i)(?s)a.", "A\n"));
        assert!(m(r"(?u)x", "x"));
        assert!(m(r"(?u:x)", "x"));
        assert!(m(r"(?i:a)B", "AB"));
        assert!(m(r"(?i-s:a.)", "Ab"));
        assert!(m(r"\377", "\u{FF}"));
        assert!(m(r"(?P<n_1>a)(?P=n_1)", "aa"));
        assert!(m(r"(a)?(?(1)b|c)", "c"));
        assert!(m(r"(a)?(?(1)b|c)", "ab"));
        assert!(!m(r"(a)?(?(1)b|c)", "ac"));
        assert!(m(r"(?#note)(?i)(a|b)", "B"));
        assert!(m(r"((a)(?:b))", "ab"));
    }
}
