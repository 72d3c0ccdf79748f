//! Lists and dicts, with oslo's rule for items that hold the separator: an item that its type refuses is
//! joined with the next piece (and the next…) until the type accepts it.

use indexmap::IndexMap;

use super::python;
use super::{DictType, InvalidValue, ListType, OptType, Value};

/// What oslo reads as `None` inside a list or dict (a blank number) has no [`Value`]: refuse it.
fn blank_item(item: &OptType, place: &str, container: &str) -> InvalidValue {
    InvalidValue::new(format!(
        "Blank {place} is not allowed in a {container} of {}s",
        item.type_name()
    ))
}

/// Parses `pieces[*next..]` joined by commas until `accept` takes it; the error is that of the last try,
/// as in oslo.
fn take_item<T>(
    pieces: &[&str],
    next: &mut usize,
    mut accept: impl FnMut(&str) -> Result<T, InvalidValue>,
) -> Result<T, InvalidValue> {
    let first = pieces.get(*next).copied().unwrap_or("");
    *next += 1;
    // Most items are one piece: try it without copying it.
    let error = match accept(first) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let Some(piece) = pieces.get(*next) else {
        return Err(error);
    };
    let mut candidate = String::with_capacity(first.len() + 1 + piece.len());
    candidate.push_str(first);
    candidate.push(',');
    candidate.push_str(piece);
    *next += 1;
    loop {
        match accept(&candidate) {
            Ok(v) => return Ok(v),
            Err(e) => {
                let Some(piece) = pieces.get(*next) else {
                    return Err(e);
                };
                candidate.push(',');
                candidate.push_str(piece);
                *next += 1;
            }
        }
    }
}

impl ListType {
    pub(super) fn parse_list(&self, raw: &str) -> Result<Vec<Value>, InvalidValue> {
        let mut text = python::strip(raw).trim_end_matches(',');
        if self.bounds {
            text = text
                .strip_prefix('[')
                .ok_or_else(|| InvalidValue::new("Value should start with \"[\""))?;
            text = text
                .strip_suffix(']')
                .ok_or_else(|| InvalidValue::new("Value should end with \"]\""))?;
        }
        if text.is_empty() {
            return Ok(Vec::new());
        }
        // Most lists have items their type accepts one piece at a time: take them as they come, and only
        // when a piece is refused (or blank) start over with the joining rule below.
        let mut items = Vec::with_capacity(text.bytes().filter(|&b| b == b',').count() + 1);
        for piece in text.split(',') {
            match self.item.parse(python::strip(piece)) {
                Ok(Some(item)) => items.push(item),
                Ok(None) | Err(_) => return self.parse_list_joining(text),
            }
        }
        Ok(items)
    }

    /// [`ListType::parse_list`] of the text between the brackets, joining pieces that are not items alone.
    fn parse_list_joining(&self, text: &str) -> Result<Vec<Value>, InvalidValue> {
        let pieces: Vec<&str> = text.split(',').collect();
        let mut next = 0;
        let mut items = Vec::new();
        while next < pieces.len() {
            let item = take_item(&pieces, &mut next, |candidate| {
                self.item.parse(python::strip(candidate))
            })?;
            items.push(item);
        }
        // oslo keeps going past a blank number (its `None`), so a later error wins over ours.
        items
            .into_iter()
            .map(|item| item.ok_or_else(|| blank_item(&self.item, "item", "list")))
            .collect()
    }

    pub(super) fn check_items(&self, items: &[Value]) -> Result<Vec<Value>, InvalidValue> {
        items.iter().map(|v| self.item.check(v)).collect()
    }
}

impl DictType {
    pub(super) fn parse_dict(&self, raw: &str) -> Result<IndexMap<String, Value>, InvalidValue> {
        let mut text = python::strip(raw);
        if self.bounds {
            text = text
                .strip_prefix('{')
                .ok_or_else(|| InvalidValue::new("Value should start with \"{\""))?;
            text = text
                .strip_suffix('}')
                .ok_or_else(|| InvalidValue::new("Value should end with \"}\""))?;
        }
        let mut result: IndexMap<String, Option<Value>> = IndexMap::new();
        if text.is_empty() {
            return Ok(IndexMap::new());
        }
        let pieces: Vec<&str> = text.split(',').collect();
        let mut next = 0;
        while next < pieces.len() {
            let (key, value) = take_item(&pieces, &mut next, |candidate| {
                let (key, value) = candidate.split_once(':').ok_or_else(|| {
                    InvalidValue::new("Value should be NAME:VALUE pairs separated by \",\"")
                })?;
                let value = self.value.parse(python::strip(value))?;
                Ok((python::strip(key).to_owned(), value))
            })?;
            if key.is_empty() {
                return Err(InvalidValue::new("Key name should not be empty"));
            }
            if result.contains_key(&key) {
                return Err(InvalidValue::new(format!("Duplicate key {key}")));
            }
            result.insert(key, value);
        }
        result
            .into_iter()
            .map(|(k, v)| {
                Ok((
                    k,
                    v.ok_or_else(|| blank_item(&self.value, "value", "dict"))?,
                ))
            })
            .collect()
    }

    pub(super) fn check_values(
        &self,
        map: &IndexMap<String, Value>,
    ) -> Result<IndexMap<String, Value>, InvalidValue> {
        map.iter()
            .map(|(k, v)| Ok((k.clone(), self.value.check(v)?)))
            .collect()
    }
}
