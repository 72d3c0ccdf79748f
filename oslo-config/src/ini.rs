//! The oslo INI dialect: a line-based parser that keeps every section and every key in file order.
//!
//! The dialect, as oslo.config reads it:
//! - each line loses its trailing whitespace; a blank line ends a multi-line value;
//! - a line starting with a space or a tab continues the previous value (joined with `\n`), even when it
//!   looks like a comment; with no value open it is an error;
//! - `[name]` starts a section (repeated sections add up); a line starting with `#` or `;` is a comment,
//!   and there are no inline comments;
//! - `key = value` or `key: value` splits at the first `=` or `:`; key and value are stripped, and one pair of
//!   matching quotes around the value is removed;
//! - every occurrence of a key is kept, in order.
//!
//! The parser never panics, on any input (it is fuzzed).

use crate::fasthash::{FxHashMap, hash_str};
use std::fmt;

/// One `key = value` of a file, with the line it started on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, stripped, case kept.
    pub key: String,
    /// The value: stripped, one pair of quotes removed, continuation lines joined with `\n`.
    pub value: String,
    /// The 1-based line of the key.
    pub line: usize,
}

/// One `[section]` block of a file (a section repeated in the file gives several blocks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The name as written between the brackets.
    pub name: String,
    /// The 1-based line of the header.
    pub line: usize,
    /// The assignments of the block, in order.
    pub entries: Vec<Entry>,
}

/// Why a file is not valid oslo INI; `Display` is oslo's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError {
    /// The 1-based line where oslo reports the error.
    pub line: usize,
    /// The message, without position.
    pub message: &'static str,
    /// The offending line's text (empty where oslo reports none).
    pub text: String,
}

impl fmt::Display for IniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at line {}, {}: {}",
            self.line,
            self.message,
            py_repr(&self.text)
        )
    }
}

impl std::error::Error for IniError {}

/// A parsed oslo INI document.
///
/// ```
/// use oslo_config::IniDocument;
///
/// let doc = IniDocument::parse("[DEFAULT]\nfoo = 1\nfoo = \"2\"\n[Db]\nurl = a\n  b\n").unwrap();
/// assert_eq!(doc.values("DEFAULT", "foo").map(|e| e.value.as_str()).collect::<Vec<_>>(), ["1", "2"]);
/// // Section names other than `DEFAULT` are looked up lower-cased.
/// assert_eq!(doc.last("db", "url").unwrap().value, "a\nb");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IniDocument {
    sections: Vec<Section>,
    /// Normalised section name → key → indices of (section block, entry).
    index: FxHashMap<String, Keys>,
}

/// The keys of one (normalised) section, indexed by the hash of the key so that indexing a line costs no
/// copy of its key; the entries a hash points to are checked against the key looked up. A key whose hash
/// is already taken by another key (a collision) is kept by name in `collided`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Keys {
    by_hash: FxHashMap<u64, Hits>,
    collided: FxHashMap<String, Hits>,
}

impl Keys {
    /// Adds the entry at `at`, whose key is `key`.
    fn add(&mut self, key: &str, at: (usize, usize), sections: &[Section]) {
        match self.by_hash.entry(hash_str(key)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Hits {
                    first: at,
                    rest: Vec::new(),
                });
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                if key_at(sections, o.get().first) == Some(key) {
                    o.get_mut().rest.push(at);
                } else {
                    match self.collided.entry(key.to_owned()) {
                        std::collections::hash_map::Entry::Occupied(mut c) => {
                            c.get_mut().rest.push(at);
                        }
                        std::collections::hash_map::Entry::Vacant(c) => {
                            c.insert(Hits {
                                first: at,
                                rest: Vec::new(),
                            });
                        }
                    }
                }
            }
        }
    }

    /// Where the values of `key` are.
    fn get(&self, key: &str, sections: &[Section]) -> Option<&Hits> {
        let hits = self.by_hash.get(&hash_str(key))?;
        if key_at(sections, hits.first) == Some(key) {
            Some(hits)
        } else {
            self.collided.get(key)
        }
    }
}

/// The key of the entry at (section block, entry).
fn key_at(sections: &[Section], (si, ei): (usize, usize)) -> Option<&str> {
    sections
        .get(si)
        .and_then(|s| s.entries.get(ei))
        .map(|e| e.key.as_str())
}

/// Where the values of one key are: (section block, entry) pairs, the first kept inline.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hits {
    first: (usize, usize),
    rest: Vec<(usize, usize)>,
}

/// Oslo's section-name normalisation: `DEFAULT` stays, every other name is lower-cased.
pub(crate) fn normalize_section(name: &str) -> String {
    if name == "DEFAULT" {
        name.to_owned()
    } else {
        name.to_lowercase()
    }
}

/// Python's `str.isspace` for one character: Unicode white space plus the ASCII separators 0x1c..0x1f.
pub(crate) fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `repr()` of a string, as oslo shows the offending line.
pub(crate) fn py_repr(s: &str) -> String {
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
            c if c.is_control() || (c != ' ' && py_space(c)) || c == '\u{feff}' => {
                let n = c as u32;
                if n < 0x100 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{n:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

struct Pending {
    key: String,
    value: String,
    line: usize,
}

impl IniDocument {
    /// Parses a whole document.
    ///
    /// Lines end at `\n`, `\r\n` or `\r`, as Python's text files do.
    pub fn parse(text: &str) -> Result<Self, IniError> {
        let mut doc = IniDocument::default();
        let mut current: Option<usize> = None;
        let mut pending: Option<Pending> = None;
        let mut lineno = 0usize;

        for raw in split_lines(text) {
            lineno += 1;
            let line = raw.trim_end_matches(py_space);
            if line.is_empty() {
                if let Some(p) = pending.take() {
                    doc.flush(current, p, lineno)?;
                }
                continue;
            }
            if line.starts_with([' ', '\t']) {
                match pending.as_mut() {
                    Some(p) => {
                        p.value.push('\n');
                        p.value.push_str(line.trim_start_matches(py_space));
                    }
                    None => {
                        return Err(IniError {
                            line: lineno,
                            message: "Unexpected continuation line",
                            text: line.to_owned(),
                        });
                    }
                }
                continue;
            }
            if let Some(p) = pending.take() {
                doc.flush(current, p, lineno)?;
            }
            if line.starts_with('[') {
                if !line.ends_with(']') {
                    return Err(IniError {
                        line: lineno,
                        message: "Invalid section (must end with ])",
                        text: line.to_owned(),
                    });
                }
                // `[` and `]` are one byte each; the line ends with `]`.
                let name = line
                    .strip_prefix('[')
                    .and_then(|l| l.strip_suffix(']'))
                    .unwrap_or("");
                if name.is_empty() {
                    return Err(IniError {
                        line: lineno,
                        message: "Empty section name",
                        text: line.to_owned(),
                    });
                }
                doc.sections.push(Section {
                    name: name.to_owned(),
                    line: lineno,
                    entries: Vec::new(),
                });
                doc.index.entry(normalize_section(name)).or_default();
                current = Some(doc.sections.len() - 1);
            } else if line.starts_with(['#', ';']) {
                // A comment.
            } else {
                let (key, value) = split_key_value(line).ok_or_else(|| IniError {
                    line: lineno,
                    message: "No ':' or '=' found in assignment",
                    text: line.to_owned(),
                })?;
                if key.is_empty() {
                    return Err(IniError {
                        line: lineno,
                        message: "Key cannot be empty",
                        text: line.to_owned(),
                    });
                }
                pending = Some(Pending {
                    key: key.to_owned(),
                    value: value.to_owned(),
                    line: lineno,
                });
            }
        }
        if let Some(p) = pending.take() {
            doc.flush(current, p, lineno)?;
        }
        Ok(doc)
    }

    /// Stores a finished assignment; oslo reports a missing section at the line where the value ends.
    fn flush(&mut self, current: Option<usize>, p: Pending, lineno: usize) -> Result<(), IniError> {
        let Some(si) = current else {
            return Err(IniError {
                line: lineno,
                message: "Section must be started before assignment",
                text: String::new(),
            });
        };
        let Some(section) = self.sections.get_mut(si) else {
            return Ok(());
        };
        let ei = section.entries.len();
        section.entries.push(Entry {
            key: p.key,
            value: p.value,
            line: p.line,
        });
        let Some(section) = self.sections.get(si) else {
            return Ok(());
        };
        let keys = match self.index.get_mut(section.name.as_str()) {
            // `DEFAULT` and already lower-case names are their own normal form: no allocation.
            Some(keys)
                if section.name == "DEFAULT" || !section.name.chars().any(char::is_uppercase) =>
            {
                keys
            }
            _ => self
                .index
                .entry(normalize_section(&section.name))
                .or_default(),
        };
        if let Some(key) = key_at(&self.sections, (si, ei)) {
            keys.add(key, (si, ei), &self.sections);
        }
        Ok(())
    }

    /// Every section block, in file order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The normalised names of every section of the file (`DEFAULT` kept, others lower-cased).
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    /// Whether the file has the section (given normalised).
    pub fn has_section(&self, normalized: &str) -> bool {
        self.index.contains_key(normalized)
    }

    /// Every value of `key` in the section (normalised name), in file order, across repeated sections.
    pub fn values<'a>(
        &'a self,
        normalized_section: &str,
        key: &str,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.index
            .get(normalized_section)
            .and_then(|keys| keys.get(key, &self.sections))
            .into_iter()
            .flat_map(|h| std::iter::once(h.first).chain(h.rest.iter().copied()))
            .filter_map(|(si, ei)| self.sections.get(si).and_then(|s| s.entries.get(ei)))
    }

    /// The last value of `key` in the section (normalised name): the one oslo uses for a single-valued option.
    pub fn last(&self, normalized_section: &str, key: &str) -> Option<&Entry> {
        let hits = self
            .index
            .get(normalized_section)?
            .get(key, &self.sections)?;
        let (si, ei) = hits.rest.last().copied().unwrap_or(hits.first);
        self.sections.get(si)?.entries.get(ei)
    }

    /// Whether the section (normalised name) sets `key`.
    pub fn contains(&self, normalized_section: &str, key: &str) -> bool {
        self.index
            .get(normalized_section)
            .is_some_and(|keys| keys.get(key, &self.sections).is_some())
    }
}

/// Splits like Python's universal newlines: `\r\n`, `\r` and `\n` end a line.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\r', '\n']) {
            Some(i) => {
                let line = &rest[..i];
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

/// Splits at the first `=` or `:`, strips both sides and removes one pair of matching quotes.
fn split_key_value(line: &str) -> Option<(&str, &str)> {
    let at = line.find(['=', ':'])?;
    let key = line[..at].trim_matches(py_space);
    let mut value = line[at + 1..].trim_matches(py_space);
    for q in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            value = &value[1..value.len() - 1];
            break;
        }
    }
    // Python strips a lone quote character too: `value[1:-1]` of `"` is empty.
    if value == "\"" || value == "'" {
        value = "";
    }
    Some((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_whose_hash_is_taken_by_another_key_is_kept_apart() {
        let entry = |key: &str, line| Entry {
            key: key.to_owned(),
            value: String::new(),
            line,
        };
        let sections = vec![Section {
            name: "s".to_owned(),
            line: 1,
            entries: vec![entry("a", 2), entry("b", 3), entry("b", 4), entry("a", 5)],
        }];
        // Force the collision: `b`'s hash already points at an entry of `a`.
        let mut keys = Keys::default();
        keys.by_hash.insert(
            hash_str("b"),
            Hits {
                first: (0, 0),
                rest: Vec::new(),
            },
        );
        keys.add("b", (0, 1), &sections);
        keys.add("b", (0, 2), &sections);
        let b = keys.get("b", &sections).expect("b is indexed");
        assert_eq!((b.first, b.rest.as_slice()), ((0, 1), &[(0, 2)][..]));
        assert!(keys.get("a", &sections).is_none(), "a was never added");
        keys.add("a", (0, 3), &sections);
        let a = keys.get("a", &sections).expect("a is indexed");
        assert_eq!(a.first, (0, 3));
    }

    #[test]
    fn lines_split_like_python() {
        let v: Vec<_> = split_lines("a\r\nb\rc\n\nd").collect();
        assert_eq!(v, ["a", "b", "c", "", "d"]);
    }

    #[test]
    fn key_value_split() {
        assert_eq!(split_key_value("a:b=c"), Some(("a", "b=c")));
        assert_eq!(split_key_value("a=b:c"), Some(("a", "b:c")));
        assert_eq!(split_key_value("a = \"x\""), Some(("a", "x")));
        assert_eq!(split_key_value("a = '\"x'"), Some(("a", "\"x")));
        assert_eq!(split_key_value("a = \""), Some(("a", "")));
        assert_eq!(split_key_value("a"), None);
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(py_repr("a'b"), "\"a'b\"");
        assert_eq!(py_repr("a\"b'"), "'a\"b\\''");
        assert_eq!(py_repr("x\ty"), "'x\\ty'");
    }
}
