//! The in-memory backend.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;

use super::{Kind, RecordStore, backend_via_records};
use crate::error::{Error, Result};

/// Keeps everything in memory (TaskFlow's `MemoryBackend`): shared by engines of one process.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    records: Mutex<BTreeMap<(Kind, String), Value>>,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        MemoryBackend::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<(Kind, String), Value>>> {
        self.records
            .lock()
            .map_err(|_| Error::Persistence("memory backend lock poisoned".to_owned()))
    }
}

impl RecordStore for MemoryBackend {
    fn get(&self, kind: Kind, uuid: &str) -> Result<Option<Value>> {
        Ok(self.lock()?.get(&(kind, uuid.to_owned())).cloned())
    }

    fn put(&self, kind: Kind, uuid: &str, value: &Value) -> Result<()> {
        self.lock()?.insert((kind, uuid.to_owned()), value.clone());
        Ok(())
    }

    fn delete(&self, kind: Kind, uuid: &str) -> Result<()> {
        self.lock()?.remove(&(kind, uuid.to_owned()));
        Ok(())
    }

    fn list(&self, kind: Kind) -> Result<Vec<String>> {
        Ok(self
            .lock()?
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, u)| u.clone())
            .collect())
    }

    fn clear(&self) -> Result<()> {
        self.lock()?.clear();
        Ok(())
    }
}

backend_via_records!(MemoryBackend);
