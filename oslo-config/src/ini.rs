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

use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use crate::fasthash::{FxHashMap, combine, hash_str};

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

/// "No entry": the end of a chain of entries with the same section and key.
const NONE: usize = usize::MAX;

/// Where a key's or a value's text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Text {
    /// A byte range of the document's text.
    Span(usize, usize),
    /// A value joined from continuation lines: its index in `joined`.
    Joined(usize),
}

/// One assignment, pointing into the document's text.
#[derive(Debug, Clone)]
struct RawEntry {
    key: (usize, usize),
    value: Text,
    line: usize,
    /// The section block the entry is in.
    block: usize,
    /// The next entry of the same (normalised) section and key, or [`NONE`].
    next: usize,
}

/// One section block, pointing into the document's text; its entries are those from `first` up to the
/// next block's `first`.
#[derive(Debug, Clone)]
struct RawBlock {
    name: (usize, usize),
    line: usize,
    /// The index of the normalised name in `normalized`.
    norm: usize,
    first: usize,
}

/// The first and the last entry of one (normalised section, key); the others are chained by `next`.
#[derive(Debug, Clone, Copy)]
struct Hits {
    first: usize,
    last: usize,
}

/// A parsed oslo INI document.
///
/// The document keeps the file's text once; keys and values point into it, so parsing a file costs no
/// allocation per line. [`IniDocument::sections`] builds the owned [`Section`]s on first use.
///
/// ```
/// use oslo_config::IniDocument;
///
/// let doc = IniDocument::parse("[DEFAULT]\nfoo = 1\nfoo = \"2\"\n[Db]\nurl = a\n  b\n").unwrap();
/// assert_eq!(doc.values("DEFAULT", "foo").map(|e| e.value.as_str()).collect::<Vec<_>>(), ["1", "2"]);
/// // Section names other than `DEFAULT` are looked up lower-cased.
/// assert_eq!(doc.last("db", "url").unwrap().value, "a\nb");
/// ```
#[derive(Debug, Clone, Default)]
pub struct IniDocument {
    text: String,
    blocks: Vec<RawBlock>,
    entries: Vec<RawEntry>,
    /// Values joined from continuation lines.
    joined: Vec<String>,
    /// Each normalised section name once, with its hash, in order of first appearance.
    normalized: Vec<(String, u64)>,
    /// Hash of a normalised section name → its index in `normalized` (a name whose hash is taken is found
    /// by scanning `normalized`).
    norm_index: FxHashMap<u64, usize>,
    /// `combine(hash of the normalised section, hash of the key)` → where the key's values are. The entry
    /// at `first` is checked against the section and key looked up.
    index: FxHashMap<u64, Hits>,
    /// The (normalised section, key) pairs whose combined hash was taken by another pair.
    collided: Vec<(usize, String, Hits)>,
    /// The owned view, built on first use.
    owned: OnceLock<Vec<Section>>,
}

impl PartialEq for IniDocument {
    fn eq(&self, other: &Self) -> bool {
        self.sections() == other.sections()
    }
}

impl Eq for IniDocument {}

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

/// [`py_space`] for an ASCII byte (false for every byte of a multi-byte character).
fn py_space_byte(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=0x1f | b' ')
}

/// The range of `s[range]` without [`py_space`] characters at either end (ASCII looked at byte by byte).
#[inline]
fn trim_range(s: &str, range: Range<usize>) -> Range<usize> {
    let bytes = s.as_bytes();
    let (mut start, mut end) = (range.start, range.end.min(bytes.len()));
    while start < end && bytes.get(start).is_some_and(|&b| py_space_byte(b)) {
        start += 1;
    }
    while end > start && bytes.get(end - 1).is_some_and(|&b| py_space_byte(b)) {
        end -= 1;
    }
    if end <= start {
        return range.start..range.start;
    }
    let non_ascii = |i: usize| bytes.get(i).is_some_and(|b| !b.is_ascii());
    if non_ascii(start) || non_ascii(end - 1) {
        return trim_unicode(s, start..end, range.start);
    }
    start..end
}

/// [`trim_range`] of a range that starts or ends with a character of several bytes, which may be Unicode
/// white space (`empty_at`: where an empty result points).
#[cold]
fn trim_unicode(s: &str, range: Range<usize>, empty_at: usize) -> Range<usize> {
    let part = s.get(range.clone()).unwrap_or("");
    let trimmed = part.trim_matches(py_space);
    if trimmed.is_empty() {
        return empty_at..empty_at;
    }
    let lead = part.len() - part.trim_start_matches(py_space).len();
    range.start + lead..range.start + lead + trimmed.len()
}

/// `s` without trailing [`py_space`] characters.
fn trim_end_py(s: &str) -> &str {
    let bytes = s.as_bytes();
    match bytes.iter().rposition(|&b| !py_space_byte(b)) {
        None => "",
        Some(last) => {
            let kept = s.get(..last + 1).unwrap_or(s);
            if bytes.get(last).is_some_and(|b| !b.is_ascii()) {
                kept.trim_end_matches(py_space)
            } else {
                kept
            }
        }
    }
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

/// An assignment whose value may still continue on the next lines.
struct Pending {
    key: (usize, usize),
    value: PendingValue,
    line: usize,
}

enum PendingValue {
    Span(usize, usize),
    Owned(String),
}

/// The section block being read: its index, and its normalised name's index and hash.
#[derive(Clone, Copy)]
struct Current {
    block: usize,
    norm: usize,
    hash: u64,
}

impl IniDocument {
    /// Parses a whole document.
    ///
    /// Lines end at `\n`, `\r\n` or `\r`, as Python's text files do.
    pub fn parse(text: &str) -> Result<Self, IniError> {
        IniDocument::parse_owned(text.to_owned())
    }

    /// [`IniDocument::parse`] of text the document keeps (no copy of it).
    pub fn parse_owned(text: String) -> Result<Self, IniError> {
        let body = text.as_str();
        let lines = Lines::new(body);
        // At most one entry per line.
        let mut doc = IniDocument {
            entries: Vec::with_capacity(lines.max_lines()),
            ..IniDocument::default()
        };
        doc.index.reserve(lines.max_lines());
        let mut current: Option<Current> = None;
        let mut pending: Option<Pending> = None;
        let mut lineno = 0usize;

        let bytes = body.as_bytes();
        for (at, raw) in lines {
            lineno += 1;
            let line = trim_end_py(raw);
            let Some(&first) = line.as_bytes().first() else {
                if let Some(p) = pending.take() {
                    doc.flush(body, current, p, lineno)?;
                }
                continue;
            };
            if first == b' ' || first == b'\t' {
                match pending.as_mut() {
                    Some(p) => {
                        let mut joined = match std::mem::replace(
                            &mut p.value,
                            PendingValue::Owned(String::new()),
                        ) {
                            PendingValue::Span(a, b) => body.get(a..b).unwrap_or("").to_owned(),
                            PendingValue::Owned(s) => s,
                        };
                        joined.push('\n');
                        joined.push_str(line.trim_start_matches(py_space));
                        p.value = PendingValue::Owned(joined);
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
                doc.flush(body, current, p, lineno)?;
            }
            match first {
                b'[' => {
                    if !line.ends_with(']') {
                        return Err(IniError {
                            line: lineno,
                            message: "Invalid section (must end with ])",
                            text: line.to_owned(),
                        });
                    }
                    // `[` and `]` are one byte each; the line ends with `]`.
                    if line.len() < 3 {
                        return Err(IniError {
                            line: lineno,
                            message: "Empty section name",
                            text: line.to_owned(),
                        });
                    }
                    let name = (at + 1, at + line.len() - 1);
                    current = Some(doc.open_block(body, name, lineno));
                }
                b'#' | b';' => {
                    // A comment.
                }
                _ => {
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
                    let key = (at + key.start, at + key.end);
                    let value = (at + value.start, at + value.end);
                    // Stored at once unless the next line may continue the value (it starts with a space
                    // or a tab) or there is no section yet (oslo reports that at the next line).
                    let after = at + raw.len();
                    let next = match bytes.get(after) {
                        Some(b'\r') if bytes.get(after + 1) == Some(&b'\n') => after + 2,
                        _ => after + 1,
                    };
                    match current {
                        Some(cur) if !matches!(bytes.get(next), Some(b' ' | b'\t')) => {
                            doc.store(body, cur, key, Text::Span(value.0, value.1), lineno);
                        }
                        _ => {
                            pending = Some(Pending {
                                key,
                                value: PendingValue::Span(value.0, value.1),
                                line: lineno,
                            });
                        }
                    }
                }
            }
        }
        if let Some(p) = pending.take() {
            doc.flush(body, current, p, lineno)?;
        }
        doc.text = text;
        Ok(doc)
    }

    /// Starts a section block; its normalised name is looked up once here, not per entry.
    fn open_block(&mut self, body: &str, name: (usize, usize), line: usize) -> Current {
        let raw = body.get(name.0..name.1).unwrap_or("");
        let lowered;
        let normal =
            if raw == "DEFAULT" || !raw.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
                raw
            } else {
                lowered = normalize_section(raw);
                lowered.as_str()
            };
        let hash = hash_str(normal);
        let norm = match self.find_normalized(normal, hash) {
            Some(i) => i,
            None => {
                let i = self.normalized.len();
                self.normalized.push((normal.to_owned(), hash));
                self.norm_index.entry(hash).or_insert(i);
                i
            }
        };
        let block = self.blocks.len();
        self.blocks.push(RawBlock {
            name,
            line,
            norm,
            first: self.entries.len(),
        });
        Current { block, norm, hash }
    }

    /// The index of a normalised section name.
    fn find_normalized(&self, normal: &str, hash: u64) -> Option<usize> {
        let i = *self.norm_index.get(&hash)?;
        if self.normalized.get(i).is_some_and(|(n, _)| n == normal) {
            return Some(i);
        }
        self.normalized.iter().position(|(n, _)| n == normal)
    }

    /// Stores a finished assignment; oslo reports a missing section at the line where the value ends.
    fn flush(
        &mut self,
        body: &str,
        current: Option<Current>,
        p: Pending,
        lineno: usize,
    ) -> Result<(), IniError> {
        let Some(cur) = current else {
            return Err(IniError {
                line: lineno,
                message: "Section must be started before assignment",
                text: String::new(),
            });
        };
        let value = match p.value {
            PendingValue::Span(a, b) => Text::Span(a, b),
            PendingValue::Owned(s) => {
                self.joined.push(s);
                Text::Joined(self.joined.len() - 1)
            }
        };
        self.store(body, cur, p.key, value, p.line);
        Ok(())
    }

    /// Adds an assignment to the current block and indexes it.
    fn store(&mut self, body: &str, cur: Current, key: (usize, usize), value: Text, line: usize) {
        let at = self.entries.len();
        self.entries.push(RawEntry {
            key,
            value,
            line,
            block: cur.block,
            next: NONE,
        });
        self.add_to_index(body, at, cur);
    }

    /// Indexes the entry at `at` under its section and key.
    fn add_to_index(&mut self, body: &str, at: usize, cur: Current) {
        let Some(e) = self.entries.get(at) else {
            return;
        };
        let key = body.get(e.key.0..e.key.1).unwrap_or("");
        let hash = combine(cur.hash, hash_str(key));
        let hits = match self.index.entry(hash) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Hits {
                    first: at,
                    last: at,
                });
                return;
            }
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
        };
        let same = self.entries.get(hits.first).is_some_and(|e| {
            self.blocks.get(e.block).map(|b| b.norm) == Some(cur.norm)
                && body.get(e.key.0..e.key.1) == Some(key)
        });
        let hits = if same {
            hits
        } else {
            match self
                .collided
                .iter_mut()
                .position(|(n, k, _)| *n == cur.norm && k == key)
                .and_then(|i| self.collided.get_mut(i))
            {
                Some((_, _, hits)) => hits,
                None => {
                    self.collided.push((
                        cur.norm,
                        key.to_owned(),
                        Hits {
                            first: at,
                            last: at,
                        },
                    ));
                    return;
                }
            }
        };
        let last = std::mem::replace(&mut hits.last, at);
        if let Some(prev) = self.entries.get_mut(last) {
            prev.next = at;
        }
    }

    /// The text of a span or joined value.
    fn text_of(&self, t: Text) -> &str {
        match t {
            Text::Span(a, b) => self.text.get(a..b).unwrap_or(""),
            Text::Joined(i) => self.joined.get(i).map_or("", String::as_str),
        }
    }

    fn key_of(&self, e: &RawEntry) -> &str {
        self.text.get(e.key.0..e.key.1).unwrap_or("")
    }

    /// Where the values of `key` in the normalised section are, given `combine(hash_str(section),
    /// hash_str(key))`.
    fn hits(&self, section: &str, key: &str, hash: u64) -> Option<Hits> {
        let hits = self.index.get(&hash)?;
        let e = self.entries.get(hits.first)?;
        let norm = self.blocks.get(e.block)?.norm;
        if self.key_of(e) == key && self.normalized.get(norm).is_some_and(|(n, _)| n == section) {
            return Some(*hits);
        }
        if self.collided.is_empty() {
            return None;
        }
        let norm = self.find_normalized(section, hash_str(section))?;
        self.collided
            .iter()
            .find(|(n, k, _)| *n == norm && k == key)
            .map(|(_, _, h)| *h)
    }

    /// The last value of a key and its line, with the hash of (section, key) computed by the caller
    /// (`combine(hash_str(section), hash_str(key))`).
    pub(crate) fn last_hashed(&self, section: &str, key: &str, hash: u64) -> Option<(&str, usize)> {
        let hits = self.hits(section, key, hash)?;
        let e = self.entries.get(hits.last)?;
        Some((self.text_of(e.value), e.line))
    }

    /// Every value of a key with its line, in file order (hash as for [`IniDocument::last_hashed`]).
    pub(crate) fn values_hashed<'a>(
        &'a self,
        section: &str,
        key: &str,
        hash: u64,
    ) -> impl Iterator<Item = (&'a str, usize)> + 'a {
        let mut at = self.hits(section, key, hash).map_or(NONE, |h| h.first);
        std::iter::from_fn(move || {
            let e = self.entries.get(at)?;
            at = e.next;
            Some((self.text_of(e.value), e.line))
        })
    }

    /// The raw names of the section blocks, in file order.
    pub(crate) fn block_names(&self) -> impl Iterator<Item = &str> {
        self.blocks
            .iter()
            .map(|b| self.text.get(b.name.0..b.name.1).unwrap_or(""))
    }

    /// Every section block, in file order.
    pub fn sections(&self) -> &[Section] {
        self.owned.get_or_init(|| {
            self.blocks
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let end = self
                        .blocks
                        .get(i + 1)
                        .map_or(self.entries.len(), |n| n.first);
                    Section {
                        name: self.text.get(b.name.0..b.name.1).unwrap_or("").to_owned(),
                        line: b.line,
                        entries: self
                            .entries
                            .get(b.first..end)
                            .unwrap_or(&[])
                            .iter()
                            .map(|e| Entry {
                                key: self.key_of(e).to_owned(),
                                value: self.text_of(e.value).to_owned(),
                                line: e.line,
                            })
                            .collect(),
                    }
                })
                .collect()
        })
    }

    /// The owned entry at a global entry index.
    fn owned_entry(&self, at: usize) -> Option<&Entry> {
        let e = self.entries.get(at)?;
        let block = self.blocks.get(e.block)?;
        self.sections()
            .get(e.block)?
            .entries
            .get(at.checked_sub(block.first)?)
    }

    /// The normalised names of every section of the file (`DEFAULT` kept, others lower-cased).
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.normalized.iter().map(|(n, _)| n.as_str())
    }

    /// Whether the file has the section (given normalised).
    pub fn has_section(&self, normalized: &str) -> bool {
        self.find_normalized(normalized, hash_str(normalized))
            .is_some()
    }

    /// Every value of `key` in the section (normalised name), in file order, across repeated sections.
    pub fn values<'a>(
        &'a self,
        normalized_section: &str,
        key: &str,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        let hash = combine(hash_str(normalized_section), hash_str(key));
        let mut at = self
            .hits(normalized_section, key, hash)
            .map_or(NONE, |h| h.first);
        std::iter::from_fn(move || {
            let next = self.entries.get(at)?.next;
            let e = self.owned_entry(at);
            at = next;
            e
        })
    }

    /// The last value of `key` in the section (normalised name): the one oslo uses for a single-valued option.
    pub fn last(&self, normalized_section: &str, key: &str) -> Option<&Entry> {
        let hash = combine(hash_str(normalized_section), hash_str(key));
        self.owned_entry(self.hits(normalized_section, key, hash)?.last)
    }

    /// Whether the section (normalised name) sets `key`.
    pub fn contains(&self, normalized_section: &str, key: &str) -> bool {
        let hash = combine(hash_str(normalized_section), hash_str(key));
        self.hits(normalized_section, key, hash).is_some()
    }
}

/// Bytes of a word that are zero: `0x80` in each zero byte, `0` elsewhere (exact: no false hits).
fn zero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// The offsets of every `\n` of a text without `\r`, eight bytes at a time; `None` when the text has a
/// `\r` (its lines are then split by [`Lines`] the general way).
fn newline_offsets(bytes: &[u8]) -> Option<Vec<usize>> {
    const NL: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    const CR: u64 = 0x0d0d_0d0d_0d0d_0d0d;
    let mut out = Vec::with_capacity(bytes.len() / 24 + 1);
    let mut cr = 0u64;
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        cr |= zero_bytes(x ^ CR);
        let mut nl = zero_bytes(x ^ NL);
        while nl != 0 {
            out.push(base + (nl.trailing_zeros() / 8) as usize);
            nl &= nl - 1;
        }
        base += 8;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        match b {
            b'\n' => out.push(base + i),
            b'\r' => cr = 1,
            _ => {}
        }
    }
    (cr == 0).then_some(out)
}

/// The lines of a text, split like Python's universal newlines (`\r\n`, `\r` and `\n` end a line), each
/// with the byte offset where it starts.
enum Lines<'a> {
    /// A text without `\r`, with the offsets of its `\n`s.
    Lf {
        text: &'a str,
        ends: std::vec::IntoIter<usize>,
        pos: usize,
    },
    /// Any text.
    Any { text: &'a str, pos: usize },
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        match newline_offsets(text.as_bytes()) {
            Some(ends) => Lines::Lf {
                text,
                ends: ends.into_iter(),
                pos: 0,
            },
            None => Lines::Any { text, pos: 0 },
        }
    }

    /// How many lines there are at most (exact without `\r`).
    fn max_lines(&self) -> usize {
        match self {
            Lines::Lf { ends, .. } => ends.len() + 1,
            Lines::Any { text, .. } => text.len() / 24 + 1,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        match self {
            Lines::Lf { text, ends, pos } => {
                let start = *pos;
                match ends.next() {
                    Some(end) => {
                        *pos = end + 1;
                        Some((start, text.get(start..end).unwrap_or("")))
                    }
                    None => {
                        let rest = text.get(start..).filter(|r| !r.is_empty())?;
                        *pos = text.len();
                        Some((start, rest))
                    }
                }
            }
            Lines::Any { text, pos } => {
                let rest = text.get(*pos..).filter(|r| !r.is_empty())?;
                let start = *pos;
                match rest.find(['\r', '\n']) {
                    Some(i) => {
                        let skip = if rest.get(i..).is_some_and(|r| r.starts_with("\r\n")) {
                            2
                        } else {
                            1
                        };
                        *pos += i + skip;
                        Some((start, rest.get(..i).unwrap_or("")))
                    }
                    None => {
                        *pos = text.len();
                        Some((start, rest))
                    }
                }
            }
        }
    }
}

/// Splits at the first `=` or `:`, strips both sides and removes one pair of matching quotes; the key's
/// and the value's ranges within `line`.
fn split_key_value(line: &str) -> Option<(Range<usize>, Range<usize>)> {
    let at = line.bytes().position(|b| b == b'=' || b == b':')?;
    let key = trim_range(line, 0..at);
    let mut value = trim_range(line, at + 1..line.len());
    let bytes = line.as_bytes();
    let (first, last) = (bytes.get(value.start), bytes.get(value.end.wrapping_sub(1)));
    if value.len() >= 2
        && let (Some(&q @ (b'"' | b'\'')), Some(&l)) = (first, last)
        && q == l
    {
        value = value.start + 1..value.end - 1;
    } else if value.len() == 1 && matches!(first, Some(b'"' | b'\'')) {
        // Python strips a lone quote character too: `value[1:-1]` of `"` is empty.
        value = value.start..value.start;
    }
    Some((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_whose_hash_is_taken_by_another_key_is_kept_apart() {
        let text = "[s]\na = 1\nb = 2\nb = 3\na = 4\n";
        let mut doc = IniDocument::parse(text).expect("parses");
        // Index again, with `b`'s hash already taken by the first `a`.
        let cur = Current {
            block: 0,
            norm: 0,
            hash: hash_str("s"),
        };
        doc.index.clear();
        for e in &mut doc.entries {
            e.next = NONE;
        }
        let b_hash = combine(hash_str("s"), hash_str("b"));
        doc.index.insert(b_hash, Hits { first: 0, last: 0 });
        for at in 1..4 {
            doc.add_to_index(text, at, cur);
        }
        let values = |key: &str| -> Vec<&str> {
            let h = combine(hash_str("s"), hash_str(key));
            doc.values_hashed("s", key, h).map(|(v, _)| v).collect()
        };
        assert_eq!(values("b"), ["2", "3"]);
        assert_eq!(values("a"), ["4"], "the first a was never added");
        assert_eq!(doc.last_hashed("s", "b", b_hash), Some(("3", 4)));
        assert!(doc.contains("s", "b"));
        assert!(!doc.contains("s", "c"));
    }

    #[test]
    fn lines_split_like_python() {
        let v: Vec<_> = Lines::new("a\r\nb\rc\n\nd").map(|(_, l)| l).collect();
        assert_eq!(v, ["a", "b", "c", "", "d"]);
        let v: Vec<_> = Lines::new("a\nbc\n\nd\n").collect();
        assert_eq!(v, [(0, "a"), (2, "bc"), (5, ""), (6, "d")]);
        let long = "0123456789\nabcdefghijklmnop\n\nqrstuvwxyz0123456789abcdefg\n\ntail";
        let v: Vec<_> = Lines::new(long).collect();
        let std: Vec<_> = long.split('\n').collect();
        assert_eq!(v.iter().map(|(_, l)| *l).collect::<Vec<_>>(), std);
        assert!(v.iter().all(|(at, l)| &long[*at..*at + l.len()] == *l));
        assert_eq!(newline_offsets(b"abcdefgh\rxyz"), None);
        assert_eq!(newline_offsets(b"abc\rx"), None);
        assert_eq!(newline_offsets(b"\n\x8a\x0b\n"), Some(vec![0, 3]));
    }

    #[test]
    fn key_value_split() {
        let split = |line: &'static str| split_key_value(line).map(|(k, v)| (&line[k], &line[v]));
        assert_eq!(split("a:b=c"), Some(("a", "b=c")));
        assert_eq!(split("a=b:c"), Some(("a", "b:c")));
        assert_eq!(split("a = \"x\""), Some(("a", "x")));
        assert_eq!(split("a = '\"x'"), Some(("a", "\"x")));
        assert_eq!(split("a = \""), Some(("a", "")));
        assert_eq!(split("a"), None);
        assert_eq!(
            split("\u{a0}k\u{3000} =\u{85} v w\u{2003}"),
            Some(("k", "v w"))
        );
        assert_eq!(split("k = \u{a0}"), Some(("k", "")));
        assert_eq!(split("é = ü"), Some(("é", "ü")));
    }

    #[test]
    fn trailing_space_trimmed_like_python() {
        assert_eq!(trim_end_py("ab \t\u{1f}"), "ab");
        assert_eq!(trim_end_py("ab\u{a0} \u{3000}"), "ab");
        assert_eq!(trim_end_py("aé"), "aé");
        assert_eq!(trim_end_py(" \u{85}"), "");
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(py_repr("a'b"), "\"a'b\"");
        assert_eq!(py_repr("a\"b'"), "'a\"b\\''");
        assert_eq!(py_repr("x\ty"), "'x\\ty'");
    }
}
