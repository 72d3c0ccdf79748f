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

use indexmap::IndexMap;

/// Whether Python's `str.isspace` (and so `str.strip` and the parser's `\s`) takes `c` for white space:
/// Rust's white space plus the separators U+001C..U+001F.
pub(crate) fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c)
}

/// The name of the section whose entries every other section inherits.
pub(crate) const DEFAULT_SECTION: &str = "DEFAULT";

/// One value and the line its key is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) value: String,
    pub(crate) line: usize,
}

/// A parsed INI document.
#[derive(Debug, Default)]
pub(crate) struct Ini {
    defaults: IndexMap<String, Entry>,
    sections: IndexMap<String, IndexMap<String, Entry>>,
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

impl Ini {
    /// Parses `text`; `strict` refuses repeated sections and keys.
    pub(crate) fn parse(text: &str, strict: bool) -> Result<Ini, SyntaxError> {
        let mut ini = Ini::default();
        // The section being filled: None before the first header, Some(None) for DEFAULT.
        let mut current: Option<Option<String>> = None;
        // The key being filled and the indentation of its line.
        let mut key: Option<String> = None;
        let mut key_indent = usize::MAX;
        // (section, key) pairs seen (strict mode).
        let mut seen_keys: Vec<(Option<String>, String)> = Vec::new();
        let mut seen_sections: Vec<String> = Vec::new();
        // Values are built as lists of lines and joined at the end of each key.
        let mut pending: Vec<String> = Vec::new();

        // Python reads the file with universal newlines: `\r\n` and a lone `\r` end a line too.
        let text: std::borrow::Cow<'_, str> = if text.contains('\r') {
            text.replace("\r\n", "\n").replace('\r', "\n").into()
        } else {
            text.into()
        };
        for (index, raw) in text.split('\n').enumerate() {
            let lineno = index + 1;
            let stripped = raw.trim_matches(py_space);
            let is_comment = stripped.starts_with('#') || stripped.starts_with(';');
            if stripped.is_empty() || is_comment {
                // A blank line inside a value is kept; a comment line is skipped.
                if !is_comment && current.is_some() && key.is_some() {
                    pending.push(String::new());
                }
                continue;
            }
            // In characters, as Python counts them.
            let indent = raw.chars().take_while(|&c| py_space(c)).count();
            if current.is_some() && key.is_some() && indent > key_indent {
                pending.push(stripped.to_string());
                continue;
            }
            // Not a continuation: the value of the previous key (if any) is complete.
            if let Some(k) = key.take() {
                ini.finish(&current, &k, &mut pending);
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
                        if strict && seen_sections.iter().any(|s| s == name) {
                            return Err(err(lineno, format!("section `{name}` already exists")));
                        }
                    } else {
                        ini.sections.insert(name.to_string(), IndexMap::new());
                    }
                    seen_sections.push(name.to_string());
                    current = Some(Some(name.to_string()));
                }
                continue;
            }
            let Some(section) = &current else {
                return Err(err(lineno, "file contains no section headers"));
            };
            let Some(split) = stripped.find(['=', ':']) else {
                return Err(err(
                    lineno,
                    format!("not a `name = value` line: `{stripped}`"),
                ));
            };
            let name = stripped[..split].trim_end_matches(py_space).to_lowercase();
            if name.is_empty() {
                return Err(err(lineno, "an entry has no name"));
            }
            let value = stripped[split + 1..].trim_start_matches(py_space);
            if strict {
                let pair = (section.clone(), name.clone());
                if seen_keys.contains(&pair) {
                    let where_ = section.as_deref().unwrap_or(DEFAULT_SECTION);
                    return Err(err(
                        lineno,
                        format!("option `{name}` in section `{where_}` already exists"),
                    ));
                }
                seen_keys.push(pair);
            }
            let entry = Entry {
                value: String::new(),
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
            pending.push(value.to_string());
            key = Some(name);
        }
        if let Some(k) = key.take() {
            ini.finish(&current, &k, &mut pending);
        }
        Ok(ini)
    }

    fn finish(&mut self, section: &Option<Option<String>>, key: &str, pending: &mut Vec<String>) {
        let mut value = if pending.len() == 1 {
            pending.pop().unwrap_or_default()
        } else {
            pending.join("\n")
        };
        value.truncate(value.trim_end_matches(py_space).len());
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

    /// One key of a section, falling back to `[DEFAULT]`.
    pub(crate) fn get(&self, section: &str, key: &str) -> Option<&Entry> {
        if section != DEFAULT_SECTION
            && let Some(e) = self.sections.get(section).and_then(|m| m.get(key))
        {
            return Some(e);
        }
        self.defaults.get(key)
    }

    /// Every entry of a section, `[DEFAULT]`'s first (overridden in place), in file order; consumes the
    /// document (the keys and values are moved out, not copied).
    pub(crate) fn into_items(self, section: &str) -> Option<Vec<(String, Entry)>> {
        let Ini {
            defaults,
            mut sections,
        } = self;
        if section == DEFAULT_SECTION {
            return Some(defaults.into_iter().collect());
        }
        let own = sections.swap_remove(section)?;
        if defaults.is_empty() {
            return Some(own.into_iter().collect());
        }
        let mut merged = defaults;
        for (k, v) in own {
            merged.insert(k, v);
        }
        Some(merged.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_defaults_and_case() {
        let ini = Ini::parse(
            "[DEFAULT]\nA = 1\n[Filters]\nB: x,\n   y\n\n# c\nA=2\n  [not a header]\n",
            false,
        )
        .unwrap();
        let items = ini.into_items("Filters").unwrap();
        assert_eq!(items[0].0, "a");
        assert_eq!(items[0].1.value, "2\n[not a header]");
        assert_eq!(items[1].1.value, "x,\ny");
        assert_eq!(items[1].1.line, 4);
    }

    #[test]
    fn strict_refuses_duplicates() {
        assert!(Ini::parse("[DEFAULT]\na=1\na=2\n", true).is_err());
        assert!(Ini::parse("[DEFAULT]\na=1\na=2\n", false).is_ok());
        assert_eq!(Ini::parse("a=1\n", false).unwrap_err().line, 1);
    }
}
