//! Policy files: a YAML mapping of rule name to rule (JSON files are read as YAML, as oslo does since
//! 5.0), duplicate names resolved last-wins as PyYAML does.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// The rules of one file, in file order: name → raw value (a string, or a legacy list).
pub type RawRules = IndexMap<String, Value>;

struct Top(Option<RawRules>);

impl<'de> de::Deserialize<'de> for Top {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Top, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of rule names to rules")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut out = RawRules::new();
        while let Some((k, v)) = map.next_entry::<Value, Value>()? {
            // Non-string keys can never be enforced or referenced by name; they are dropped.
            if let Value::String(k) = k {
                // As a Python dict: a repeated key keeps its first place and takes the last value.
                out.insert(k, v);
            }
        }
        Ok(Top(Some(out)))
    }

    fn visit_unit<E>(self) -> Result<Top, E> {
        Ok(Top(None))
    }

    fn visit_none<E>(self) -> Result<Top, E> {
        Ok(Top(None))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Top, E> {
        if v {
            Err(E::custom("'bool' object has no attribute 'items'"))
        } else {
            Ok(Top(None))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Top, E> {
        if v != 0 {
            Err(E::custom("'int' object has no attribute 'items'"))
        } else {
            Ok(Top(None))
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Top, E> {
        if v != 0 {
            Err(E::custom("'int' object has no attribute 'items'"))
        } else {
            Ok(Top(None))
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Top, E> {
        if v != 0.0 {
            Err(E::custom("'float' object has no attribute 'items'"))
        } else {
            Ok(Top(None))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Top, E> {
        if v.is_empty() {
            Ok(Top(None))
        } else {
            Err(E::custom("'str' object has no attribute 'items'"))
        }
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("'list' object has no attribute 'items'"));
        }
        Ok(Top(None))
    }
}

/// Parses the contents of a policy file (oslo's `parse_file_contents`): an empty document is no rules.
pub fn parse_file_contents(data: &str) -> Result<RawRules, String> {
    if data.trim().is_empty() {
        return Ok(RawRules::new());
    }
    let top: Top = serde_norway::from_str(data).map_err(|e| e.to_string())?;
    Ok(top.0.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_duplicate_wins_and_order_is_kept() {
        let r = parse_file_contents("b: x\na: y\nb: z\n").unwrap();
        assert_eq!(r.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(r["b"], "z");
        assert!(parse_file_contents("").unwrap().is_empty());
        assert!(parse_file_contents("~").unwrap().is_empty());
        assert!(parse_file_contents("[1]").is_err());
        assert!(
            parse_file_contents("{\"a\": \"role:x\"}")
                .unwrap()
                .contains_key("a")
        );
    }
}
