//! TOML layers (feature `toml`), read through the `config` crate: tables are groups, keys are option
//! dests, top-level keys belong to `DEFAULT`. Values keep their TOML types; strings are interpolated and
//! converted like INI values. The INI dialect never goes through `config` (it collapses repeated keys).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::ini::normalize_section;
use crate::types::Value;

/// One TOML file's values by (normalised group, key).
#[derive(Debug)]
pub(crate) struct TomlLayer {
    pub(crate) path: PathBuf,
    pub(crate) values: HashMap<(String, String), Value>,
}

fn convert(v: config::Value) -> Value {
    use config::ValueKind as K;
    match v.kind {
        K::Nil => Value::String(String::new()),
        K::Boolean(b) => Value::Boolean(b),
        K::I64(i) => Value::Integer(i),
        K::I128(i) => i64::try_from(i)
            .map(Value::Integer)
            .unwrap_or_else(|_| Value::String(i.to_string())),
        K::U64(i) => i64::try_from(i)
            .map(Value::Integer)
            .unwrap_or_else(|_| Value::String(i.to_string())),
        K::U128(i) => i64::try_from(i)
            .map(Value::Integer)
            .unwrap_or_else(|_| Value::String(i.to_string())),
        K::Float(f) => Value::Float(f),
        K::String(s) => Value::String(s),
        K::Array(a) => Value::List(a.into_iter().map(convert).collect()),
        K::Table(t) => {
            let mut entries: Vec<(String, config::Value)> = t.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Dict(entries.into_iter().map(|(k, v)| (k, convert(v))).collect())
        }
    }
}

/// Reads one TOML file.
pub(crate) fn load(path: &Path) -> Result<TomlLayer, Error> {
    let err = |reason: String| Error::Toml {
        path: path.to_owned(),
        reason,
    };
    let built = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .build()
        .map_err(|e| err(e.to_string()))?;
    let top: HashMap<String, config::Value> =
        built.try_deserialize().map_err(|e| err(e.to_string()))?;
    let mut values = HashMap::new();
    for (key, value) in top {
        match value.kind {
            config::ValueKind::Table(table) => {
                let group = normalize_section(&key);
                for (k, v) in table {
                    values.insert((group.clone(), k), convert(v));
                }
            }
            _ => {
                values.insert(("DEFAULT".to_owned(), key), convert(value));
            }
        }
    }
    Ok(TomlLayer {
        path: path.to_owned(),
        values,
    })
}
