//! A reader of the INI dialect of Python's `configparser.RawConfigParser`, the format of `rootwrap.conf`
//! and of filter files.
//!
//! What it keeps of the original: `name = value` and `name: value` (the first `=` or `:` splits), keys
//! lower-cased, `#` and `;` comments on their own line only (no inline comments), values continued on
//! lines indented deeper than their key (joined with newlines, blank lines inside kept), a header is
//! everything between the first `[` and the last `]` of its line, and `[DEFAULT]` entries inherited by
//! every section. In strict mode (the original's `rootwrap.conf` reader) a repeated section or key is an
//! error; otherwise the last value wins and repeated sections merge. Every entry remembers its line.
//! White space is Python's (U+001C..U+001F included), indentation is counted in characters, and `\r`
//! ends a line as `\n` does (universal newlines), so a line is a key, a continuation or a comment here
//! exactly when it is one in Python.

use std::borrow::Cow;

use indexmap::IndexMap;

/// Whether Python's `str.isspace` (and so `str.strip` and the parser's `\s`) takes `c` for white space:
/// Rust's white space plus the separators U+001C..U+001F.
pub(crate) fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c)
}

/// Whether an ASCII byte is white space to Python (`\t \n \x0b \x0c \r`, U+001C..U+001F, space).
fn ascii_py_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=b' ')
}

/// `s.trim_matches(py_space)`, with ASCII white space cut byte by byte and the full character test
/// only where a non-ASCII character is at an end.
pub(crate) fn py_trim(s: &str) -> &str {
    let bytes = s.as_bytes();
    let start = bytes
        .iter()
        .position(|&b| !ascii_py_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !ascii_py_space(b))
        .map_or(start, |i| i + 1);
    let t = &s[start..end];
    match (t.as_bytes().first(), t.as_bytes().last()) {
        (Some(&f), Some(&l)) if !f.is_ascii() || !l.is_ascii() => t.trim_matches(py_space),
        _ => t,
    }
}

/// The first `byte` in `haystack`. On x86_64 through memchr's SSE2 searcher, which SSE2 being part of the
/// architecture needs no CPU-feature detection: memchr's default searcher looks for AVX2 at its first
/// call, with `cpuid`, which a virtual machine's hypervisor has to answer (about 30 µs measured, much
/// for a binary started for every command).
#[cfg(target_arch = "x86_64")]
fn find_byte(byte: u8, haystack: &[u8]) -> Option<usize> {
    match memchr::arch::x86_64::sse2::memchr::One::new(byte) {
        Some(one) => one.find(haystack),
        None => memchr::memchr(byte, haystack),
    }
}

/// The first `byte` in `haystack`.
#[cfg(not(target_arch = "x86_64"))]
fn find_byte(byte: u8, haystack: &[u8]) -> Option<usize> {
    memchr::memchr(byte, haystack)
}

/// Every position of `byte` in `haystack`, in order.
fn byte_positions(byte: u8, haystack: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        let at = from + find_byte(byte, haystack.get(from..)?)?;
        from = at + 1;
        Some(at)
    })
}

/// `text.split(sep)` for an ASCII `sep`.
pub(crate) fn split_ascii(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    debug_assert!(sep.is_ascii());
    let mut start = 0;
    byte_positions(sep, text.as_bytes())
        .chain(std::iter::once(text.len()))
        .map(move |end| {
            let line = &text[start..end];
            start = end + 1;
            line
        })
}

/// The name of the section whose entries every other section inherits.
pub(crate) const DEFAULT_SECTION: &str = "DEFAULT";

/// The document's key maps hash with FxHash: the keys come from files that only root can write (the
/// trust checks refuse others), and a filter file has at most a few hundred keys, so SipHash's resistance
/// to chosen collisions buys nothing here and costs a third of the parse.
type Map<K, V> = IndexMap<K, V, rustc_hash::FxBuildHasher>;

/// The most entries a section has room for before its first key (it grows past that as needed).
const SECTION_CAPACITY: usize = 256;

/// One value and the line its key is on. The value borrows from the parsed text unless it had to be
/// put together (continuation lines) or the text was rewritten (carriage returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    pub(crate) value: Cow<'a, str>,
    pub(crate) line: usize,
}

/// A parsed INI document, borrowing from its text where it can.
#[derive(Debug, Default)]
pub(crate) struct Ini<'a> {
    defaults: Map<Cow<'a, str>, Entry<'a>>,
    sections: Map<Cow<'a, str>, Map<Cow<'a, str>, Entry<'a>>>,
}

/// A syntax error: the 1-based line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

fn err(line: usize, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        line,
        message: message.into(),
    }
}

/// Python's `str.lower()` of a key, without a copy when it is already lower case ASCII.
fn lower(name: &str) -> Cow<'_, str> {
    if name.is_ascii() && !name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.to_lowercase())
    }
}

/// Where the key being read sits: `None` for `[DEFAULT]`.
type SectionRef<'a> = Option<&'a str>;

impl<'a> Ini<'a> {
    /// Parses `text`; `strict` refuses repeated sections and keys.
    pub(crate) fn parse(text: &'a str, strict: bool) -> Result<Ini<'a>, SyntaxError> {
        // Python reads the file with universal newlines: `\r\n` and a lone `\r` end a line too. Such a
        // text is rewritten, and the document made from it owns its keys and values.
        if text.contains('\r') {
            let unix = text.replace("\r\n", "\n").replace('\r', "\n");
            return Ini::parse_lines(&unix, strict).map(Ini::into_owned);
        }
        Ini::parse_lines(text, strict)
    }

    fn parse_lines(text: &'a str, strict: bool) -> Result<Ini<'a>, SyntaxError> {
        let mut ini = Ini::default();
        // A section is sized for the lines left after its header (at most SECTION_CAPACITY), so that
        // the one section of a filter file is not copied as it grows.
        let lines = byte_positions(b'\n', text.as_bytes()).count() + 1;
        // The section being filled: None before the first header, Some(None) for DEFAULT.
        let mut current: Option<SectionRef<'a>> = None;
        // The key being filled and the indentation of its line.
        let mut key: Option<Cow<'a, str>> = None;
        let mut key_indent = usize::MAX;
        // (section, key) pairs seen (strict mode).
        let mut seen_keys: Vec<(SectionRef<'a>, Cow<'a, str>)> = Vec::new();
        let mut seen_sections: Vec<&'a str> = Vec::new();
        // A value is a list of lines, joined at the end of its key when there is more than one.
        let mut pending: Vec<&'a str> = Vec::new();

        for (index, raw) in split_ascii(text, b'\n').enumerate() {
            let lineno = index + 1;
            let stripped = py_trim(raw);
            let is_comment = stripped.starts_with('#') || stripped.starts_with(';');
            if stripped.is_empty() || is_comment {
                // A blank line inside a value is kept; a comment line is skipped.
                if !is_comment && current.is_some() && key.is_some() {
                    pending.push("");
                }
                continue;
            }
            // In characters, as Python counts them.
            let indent = raw.chars().take_while(|&c| py_space(c)).count();
            if current.is_some() && key.is_some() && indent > key_indent {
                pending.push(stripped);
                continue;
            }
            // Not a continuation: the value of the previous key (if any) is complete.
            if let Some(k) = key.take() {
                ini.finish(current, &k, &mut pending);
            }
            key_indent = indent;
            if let Some(rest) = stripped.strip_prefix('[')
                && let Some(end) = rest.rfind(']')
                && end > 0
            {
                let name = &rest[..end];
                if name == DEFAULT_SECTION {
                    current = Some(None);
                } else {
                    if ini.sections.contains_key(name) {
                        if strict && seen_sections.contains(&name) {
                            return Err(err(lineno, format!("section `{name}` already exists")));
                        }
                    } else {
                        let room = lines.saturating_sub(lineno).min(SECTION_CAPACITY);
                        let map = Map::with_capacity_and_hasher(room, Default::default());
                        ini.sections.insert(Cow::Borrowed(name), map);
                    }
                    seen_sections.push(name);
                    current = Some(Some(name));
                }
                continue;
            }
            let Some(section) = current else {
                return Err(err(lineno, "file contains no section headers"));
            };
            let Some(split) = stripped.find(['=', ':']) else {
                return Err(err(
                    lineno,
                    format!("not a `name = value` line: `{stripped}`"),
                ));
            };
            let name = lower(stripped[..split].trim_end_matches(py_space));
            if name.is_empty() {
                return Err(err(lineno, "an entry has no name"));
            }
            let value = stripped[split + 1..].trim_start_matches(py_space);
            if strict {
                if seen_keys.iter().any(|(s, k)| *s == section && *k == name) {
                    let where_ = section.unwrap_or(DEFAULT_SECTION);
                    return Err(err(
                        lineno,
                        format!("option `{name}` in section `{where_}` already exists"),
                    ));
                }
                seen_keys.push((section, name.clone()));
            }
            let entry = Entry {
                value: Cow::Borrowed(""),
                line: lineno,
            };
            match section {
                None => ini.defaults.insert(name.clone(), entry),
                Some(s) => ini
                    .sections
                    .get_mut(s)
                    .and_then(|m| m.insert(name.clone(), entry)),
            };
            pending.clear();
            pending.push(value);
            key = Some(name);
        }
        if let Some(k) = key.take() {
            ini.finish(current, &k, &mut pending);
        }
        Ok(ini)
    }

    fn finish(&mut self, section: Option<SectionRef<'a>>, key: &str, pending: &mut Vec<&'a str>) {
        let value: Cow<'a, str> = match pending.as_slice() {
            [one] => Cow::Borrowed(one.trim_end_matches(py_space)),
            lines => {
                let mut joined = lines.join("\n");
                joined.truncate(joined.trim_end_matches(py_space).len());
                Cow::Owned(joined)
            }
        };
        pending.clear();
        let map = match section {
            Some(None) => Some(&mut self.defaults),
            Some(Some(s)) => self.sections.get_mut(s),
            None => None,
        };
        if let Some(entry) = map.and_then(|m| m.get_mut(key)) {
            entry.value = value;
        }
    }

    /// The same document owning all its text.
    fn into_owned(self) -> Ini<'static> {
        fn own(map: Map<Cow<'_, str>, Entry<'_>>) -> Map<Cow<'static, str>, Entry<'static>> {
            map.into_iter()
                .map(|(k, e)| {
                    let entry = Entry {
                        value: Cow::Owned(e.value.into_owned()),
                        line: e.line,
                    };
                    (Cow::Owned(k.into_owned()), entry)
                })
                .collect()
        }
        Ini {
            defaults: own(self.defaults),
            sections: self
                .sections
                .into_iter()
                .map(|(name, map)| (Cow::Owned(name.into_owned()), own(map)))
                .collect(),
        }
    }

    /// One key of a section, falling back to `[DEFAULT]`.
    pub(crate) fn get(&self, section: &str, key: &str) -> Option<&Entry<'a>> {
        if section != DEFAULT_SECTION
            && let Some(e) = self.sections.get(section).and_then(|m| m.get(key))
        {
            return Some(e);
        }
        self.defaults.get(key)
    }

    /// Every entry of a section, `[DEFAULT]`'s first (overridden in place), in file order; consumes the
    /// document (the keys and values are moved out, not copied).
    pub(crate) fn into_items(
        self,
        section: &str,
    ) -> Option<impl ExactSizeIterator<Item = (Cow<'a, str>, Entry<'a>)>> {
        let Ini {
            defaults,
            mut sections,
        } = self;
        if section == DEFAULT_SECTION {
            return Some(defaults.into_iter());
        }
        let own = sections.swap_remove(section)?;
        if defaults.is_empty() {
            return Some(own.into_iter());
        }
        let mut merged = defaults;
        for (k, v) in own {
            merged.insert(k, v);
        }
        Some(merged.into_iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_ascii_is_str_split() {
        let long = "a,".repeat(40) + "tail";
        for text in ["", ",", "a", "a,b", ",a,,b,", "é,ü,,", long.as_str()] {
            let ours: Vec<&str> = split_ascii(text, b',').collect();
            let std: Vec<&str> = text.split(',').collect();
            assert_eq!(ours, std, "{text:?}");
        }
    }

    #[test]
    fn continuation_defaults_and_case() {
        let ini = Ini::parse(
            "[DEFAULT]\nA = 1\n[Filters]\nB: x,\n   y\n\n# c\nA=2\n  [not a header]\n",
            false,
        )
        .unwrap();
        let items: Vec<_> = ini.into_items("Filters").unwrap().collect();
        assert_eq!(items[0].0, "a");
        assert_eq!(items[0].1.value, "2\n[not a header]");
        assert_eq!(items[1].1.value, "x,\ny");
        assert_eq!(items[1].1.line, 4);
    }

    #[test]
    fn carriage_returns_end_lines() {
        let ini = Ini::parse("[Filters]\r\nA: x,\r  y\r\nB:z\r", false).unwrap();
        let items: Vec<_> = ini.into_items("Filters").unwrap().collect();
        assert_eq!(items.len(), 2);
        assert_eq!((&*items[0].0, &*items[0].1.value), ("a", "x,\ny"));
        assert_eq!(
            (&*items[1].0, &*items[1].1.value, items[1].1.line),
            ("b", "z", 4)
        );
        assert!(Ini::parse("[a]\r[a]\r", true).is_err());
    }

    #[test]
    fn trims_and_splits_as_python() {
        for s in [
            "",
            " ",
            "a",
            " a b ",
            "\u{1c}x\u{1f}",
            "\u{a0}x\u{2003}",
            "\t\u{a0} x \u{3000}\n",
            "é ",
            " é",
            "x\u{85}",
        ] {
            assert_eq!(py_trim(s), s.trim_matches(py_space), "{s:?}");
        }
        for s in ["", "\n", "a\nb", "a\n", "\n\nb\n\n", "é\nü"] {
            assert_eq!(
                split_ascii(s, b'\n').collect::<Vec<_>>(),
                s.split('\n').collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn strict_refuses_duplicates() {
        assert!(Ini::parse("[DEFAULT]\na=1\na=2\n", true).is_err());
        assert!(Ini::parse("[DEFAULT]\na=1\na=2\n", false).is_ok());
        assert_eq!(Ini::parse("a=1\n", false).unwrap_err().line, 1);
    }
}
