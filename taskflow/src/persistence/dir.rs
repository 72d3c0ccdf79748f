//! The directory backend: one JSON file per record.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use super::{Kind, RecordStore, backend_via_records};
use crate::error::{Error, Result};

/// Keeps records as JSON files under a directory (TaskFlow's `DirBackend`): `books/`, `flows/`, `atoms/`,
/// one `<uuid>.json` each. Each file is written to a temporary name and renamed, so a process killed
/// mid-write leaves the previous version intact. Several processes may use one directory, one engine per
/// flow detail at a time.
#[derive(Debug)]
pub struct DirBackend {
    root: PathBuf,
    lock: Mutex<()>,
}

impl DirBackend {
    /// A backend under `root` (created when missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for k in [Kind::Book, Kind::Flow, Kind::Atom] {
            let d = root.join(dir_name(k));
            fs::create_dir_all(&d).map_err(|source| Error::Io {
                path: d.clone(),
                source,
            })?;
        }
        Ok(DirBackend {
            root,
            lock: Mutex::new(()),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    fn file(&self, kind: Kind, uuid: &str) -> Result<PathBuf> {
        if uuid.is_empty()
            || !uuid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::Persistence(format!("invalid record id `{uuid}`")));
        }
        Ok(self.root.join(dir_name(kind)).join(format!("{uuid}.json")))
    }
}

fn dir_name(k: Kind) -> &'static str {
    match k {
        Kind::Book => "books",
        Kind::Flow => "flows",
        Kind::Atom => "atoms",
    }
}

impl RecordStore for DirBackend {
    fn get(&self, kind: Kind, uuid: &str) -> Result<Option<Value>> {
        let path = self.file(kind, uuid)?;
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| Error::Json { path, source }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    fn put(&self, kind: Kind, uuid: &str, value: &Value) -> Result<()> {
        let path = self.file(kind, uuid)?;
        let _g = self
            .lock
            .lock()
            .map_err(|_| Error::Persistence("dir backend lock poisoned".to_owned()))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let bytes = serde_json::to_vec_pretty(value).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        fs::write(&tmp, bytes).map_err(|source| Error::Io {
            path: tmp.clone(),
            source,
        })?;
        fs::rename(&tmp, &path).map_err(|source| Error::Io { path, source })
    }

    fn delete(&self, kind: Kind, uuid: &str) -> Result<()> {
        let path = self.file(kind, uuid)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    fn list(&self, kind: Kind) -> Result<Vec<String>> {
        let d = self.root.join(dir_name(kind));
        let rd = fs::read_dir(&d).map_err(|source| Error::Io {
            path: d.clone(),
            source,
        })?;
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(|source| Error::Io {
                path: d.clone(),
                source,
            })?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(u) = name.strip_suffix(".json") {
                out.push(u.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    fn clear(&self) -> Result<()> {
        for k in [Kind::Book, Kind::Flow, Kind::Atom] {
            for u in self.list(k)? {
                self.delete(k, &u)?;
            }
        }
        Ok(())
    }
}

backend_via_records!(DirBackend);
