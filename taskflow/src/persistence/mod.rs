//! Persistence: logbooks, flow details and atom details, and the backends that keep them.
//!
//! The engine writes every atom state change through a [`Backend`], so a new engine given the same
//! [`FlowDetail`] resumes a suspended or killed flow where it stopped. Backends here: [`MemoryBackend`] and
//! [`DirBackend`] (a directory of JSON files), and with the `sql` feature `SqlBackend` (SQL tables
//! through oslo-db).

mod dir;
mod memory;
#[cfg(feature = "sql")]
mod sql;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::failure::Failure;
use crate::states::{Intention, State};

pub use dir::DirBackend;
pub use memory::MemoryBackend;
#[cfg(feature = "sql")]
pub use sql::{SqlBackend, SqlConnection};

/// What kind of atom a detail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AtomType {
    /// A task (`TaskDetail`).
    Task,
    /// A retry controller (`RetryDetail`); its `results` are the history.
    Retry,
}

/// The persisted record of one atom (TaskFlow's `TaskDetail` / `RetryDetail`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtomDetail {
    /// Unique id.
    pub uuid: String,
    /// The atom's name.
    pub name: String,
    /// Task or retry.
    pub atom_type: AtomType,
    /// Current state.
    pub state: State,
    /// What the engine means to do next.
    pub intention: Intention,
    /// The execute result (a retry: its history, a list of `{value, failures}`).
    pub results: Value,
    /// The execute failure.
    pub failure: Option<Failure>,
    /// The revert result.
    pub revert_results: Value,
    /// The revert failure.
    pub revert_failure: Option<Failure>,
    /// The atom's version, `major.minor`.
    pub version: String,
    /// Free-form metadata (`progress`, timings...).
    pub meta: BTreeMap<String, Value>,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl AtomDetail {
    /// A fresh PENDING detail.
    pub fn new(name: impl Into<String>, atom_type: AtomType) -> Self {
        let now = Utc::now();
        AtomDetail {
            uuid: uuid::Uuid::new_v4().to_string(),
            name: name.into(),
            atom_type,
            state: State::Pending,
            intention: Intention::Execute,
            results: match atom_type {
                AtomType::Task => Value::Null,
                AtomType::Retry => Value::Array(Vec::new()),
            },
            failure: None,
            revert_results: Value::Null,
            revert_failure: None,
            version: "1.0".to_owned(),
            meta: BTreeMap::new(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// The persisted record of one flow run (TaskFlow's `FlowDetail`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowDetail {
    /// Unique id.
    pub uuid: String,
    /// The flow's name.
    pub name: String,
    /// The flow's state (`None` before the first run).
    pub state: Option<State>,
    /// Free-form metadata (the persisted store lives under `store`).
    pub meta: BTreeMap<String, Value>,
    /// The atoms' records.
    pub atoms: Vec<AtomDetail>,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl FlowDetail {
    /// An empty detail.
    pub fn new(name: impl Into<String>) -> Self {
        let now = Utc::now();
        FlowDetail {
            uuid: uuid::Uuid::new_v4().to_string(),
            name: name.into(),
            state: None,
            meta: BTreeMap::new(),
            atoms: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The record of the atom named `name`.
    pub fn atom(&self, name: &str) -> Option<&AtomDetail> {
        self.atoms.iter().find(|a| a.name == name)
    }
}

/// A named collection of flow details (TaskFlow's `LogBook`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogBook {
    /// Unique id.
    pub uuid: String,
    /// The book's name.
    pub name: String,
    /// Free-form metadata.
    pub meta: BTreeMap<String, Value>,
    /// The flows.
    pub flows: Vec<FlowDetail>,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl LogBook {
    /// An empty book.
    pub fn new(name: impl Into<String>) -> Self {
        let now = Utc::now();
        LogBook {
            uuid: uuid::Uuid::new_v4().to_string(),
            name: name.into(),
            meta: BTreeMap::new(),
            flows: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The flow detail named `name` (the first, if several share it).
    pub fn flow(&self, name: &str) -> Option<&FlowDetail> {
        self.flows.iter().find(|f| f.name == name)
    }
}

/// Where logbooks, flow details and atom details are kept (TaskFlow's backend `Connection`).
///
/// Every method takes `&self` and must be safe to call from several threads. Writes are upserts.
pub trait Backend: Send + Sync + fmt::Debug {
    /// Creates or updates a book and every flow and atom detail in it.
    fn save_logbook(&self, book: &LogBook) -> Result<()>;
    /// Reads a whole book.
    fn get_logbook(&self, uuid: &str) -> Result<LogBook>;
    /// Reads every book.
    fn get_logbooks(&self) -> Result<Vec<LogBook>>;
    /// Deletes a book with its flows and atoms.
    fn destroy_logbook(&self, uuid: &str) -> Result<()>;
    /// Creates or updates a flow detail and its atoms (add it to a book with [`Backend::save_logbook`]).
    fn update_flow_details(&self, flow: &FlowDetail) -> Result<()>;
    /// Creates or updates one atom detail of flow `flow_uuid`.
    fn update_atom_details(&self, flow_uuid: &str, atom: &AtomDetail) -> Result<()>;
    /// Reads one flow detail with its atoms.
    fn get_flow_details(&self, uuid: &str) -> Result<FlowDetail>;
    /// Reads one atom detail.
    fn get_atom_details(&self, uuid: &str) -> Result<AtomDetail>;
    /// Deletes everything.
    fn clear_all(&self) -> Result<()>;
}

/// The three record kinds a simple backend keeps by uuid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Book,
    Flow,
    Atom,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BookRecord {
    uuid: String,
    name: String,
    meta: BTreeMap<String, Value>,
    flows: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FlowRecord {
    uuid: String,
    name: String,
    state: Option<State>,
    meta: BTreeMap<String, Value>,
    atoms: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Key-value storage of JSON records; both backends implement [`Backend`] on top of it.
pub(crate) trait RecordStore: Send + Sync {
    fn get(&self, kind: Kind, uuid: &str) -> Result<Option<Value>>;
    fn put(&self, kind: Kind, uuid: &str, value: &Value) -> Result<()>;
    fn delete(&self, kind: Kind, uuid: &str) -> Result<()>;
    fn list(&self, kind: Kind) -> Result<Vec<String>>;
    fn clear(&self) -> Result<()>;
}

fn decode<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T> {
    serde_json::from_value(v).map_err(|e| Error::Persistence(format!("invalid {what} record: {e}")))
}

fn encode<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::Persistence(e.to_string()))
}

fn not_found(what: &str, uuid: &str) -> Error {
    Error::NotFound(format!("no {what} with uuid `{uuid}`"))
}

pub(crate) fn load_flow(s: &dyn RecordStore, uuid: &str) -> Result<FlowDetail> {
    let rec: FlowRecord = decode(
        s.get(Kind::Flow, uuid)?
            .ok_or_else(|| not_found("flow detail", uuid))?,
        "flow",
    )?;
    let mut atoms = Vec::with_capacity(rec.atoms.len());
    for a in &rec.atoms {
        if let Some(v) = s.get(Kind::Atom, a)? {
            atoms.push(decode(v, "atom")?);
        }
    }
    Ok(FlowDetail {
        uuid: rec.uuid,
        name: rec.name,
        state: rec.state,
        meta: rec.meta,
        atoms,
        created_at: rec.created_at,
        updated_at: rec.updated_at,
    })
}

pub(crate) fn save_flow(s: &dyn RecordStore, fd: &FlowDetail) -> Result<()> {
    let mut atoms: Vec<String> = match s.get(Kind::Flow, &fd.uuid)? {
        Some(v) => decode::<FlowRecord>(v, "flow")?.atoms,
        None => Vec::new(),
    };
    for a in &fd.atoms {
        s.put(Kind::Atom, &a.uuid, &encode(a)?)?;
        if !atoms.contains(&a.uuid) {
            atoms.push(a.uuid.clone());
        }
    }
    let rec = FlowRecord {
        uuid: fd.uuid.clone(),
        name: fd.name.clone(),
        state: fd.state,
        meta: fd.meta.clone(),
        atoms,
        created_at: fd.created_at,
        updated_at: Utc::now(),
    };
    s.put(Kind::Flow, &fd.uuid, &encode(&rec)?)
}

pub(crate) fn save_atom(s: &dyn RecordStore, flow_uuid: &str, ad: &AtomDetail) -> Result<()> {
    s.put(Kind::Atom, &ad.uuid, &encode(ad)?)?;
    let Some(v) = s.get(Kind::Flow, flow_uuid)? else {
        return Err(not_found("flow detail", flow_uuid));
    };
    let mut rec: FlowRecord = decode(v, "flow")?;
    if !rec.atoms.contains(&ad.uuid) {
        rec.atoms.push(ad.uuid.clone());
        s.put(Kind::Flow, flow_uuid, &encode(&rec)?)?;
    }
    Ok(())
}

pub(crate) fn save_book(s: &dyn RecordStore, book: &LogBook) -> Result<()> {
    let mut flows: Vec<String> = match s.get(Kind::Book, &book.uuid)? {
        Some(v) => decode::<BookRecord>(v, "book")?.flows,
        None => Vec::new(),
    };
    for f in &book.flows {
        save_flow(s, f)?;
        if !flows.contains(&f.uuid) {
            flows.push(f.uuid.clone());
        }
    }
    let rec = BookRecord {
        uuid: book.uuid.clone(),
        name: book.name.clone(),
        meta: book.meta.clone(),
        flows,
        created_at: book.created_at,
        updated_at: Utc::now(),
    };
    s.put(Kind::Book, &book.uuid, &encode(&rec)?)
}

pub(crate) fn load_book(s: &dyn RecordStore, uuid: &str) -> Result<LogBook> {
    let rec: BookRecord = decode(
        s.get(Kind::Book, uuid)?
            .ok_or_else(|| not_found("logbook", uuid))?,
        "book",
    )?;
    let mut flows = Vec::with_capacity(rec.flows.len());
    for f in &rec.flows {
        flows.push(load_flow(s, f)?);
    }
    Ok(LogBook {
        uuid: rec.uuid,
        name: rec.name,
        meta: rec.meta,
        flows,
        created_at: rec.created_at,
        updated_at: rec.updated_at,
    })
}

pub(crate) fn destroy_book(s: &dyn RecordStore, uuid: &str) -> Result<()> {
    let rec: BookRecord = decode(
        s.get(Kind::Book, uuid)?
            .ok_or_else(|| not_found("logbook", uuid))?,
        "book",
    )?;
    for f in &rec.flows {
        if let Some(v) = s.get(Kind::Flow, f)? {
            let fr: FlowRecord = decode(v, "flow")?;
            for a in &fr.atoms {
                s.delete(Kind::Atom, a)?;
            }
        }
        s.delete(Kind::Flow, f)?;
    }
    s.delete(Kind::Book, uuid)
}

macro_rules! backend_via_records {
    ($t:ty) => {
        impl $crate::persistence::Backend for $t {
            fn save_logbook(
                &self,
                book: &$crate::persistence::LogBook,
            ) -> $crate::error::Result<()> {
                $crate::persistence::save_book(self, book)
            }
            fn get_logbook(
                &self,
                uuid: &str,
            ) -> $crate::error::Result<$crate::persistence::LogBook> {
                $crate::persistence::load_book(self, uuid)
            }
            fn get_logbooks(&self) -> $crate::error::Result<Vec<$crate::persistence::LogBook>> {
                let mut out = Vec::new();
                for u in
                    $crate::persistence::RecordStore::list(self, $crate::persistence::Kind::Book)?
                {
                    out.push($crate::persistence::load_book(self, &u)?);
                }
                Ok(out)
            }
            fn destroy_logbook(&self, uuid: &str) -> $crate::error::Result<()> {
                $crate::persistence::destroy_book(self, uuid)
            }
            fn update_flow_details(
                &self,
                flow: &$crate::persistence::FlowDetail,
            ) -> $crate::error::Result<()> {
                $crate::persistence::save_flow(self, flow)
            }
            fn update_atom_details(
                &self,
                flow_uuid: &str,
                atom: &$crate::persistence::AtomDetail,
            ) -> $crate::error::Result<()> {
                $crate::persistence::save_atom(self, flow_uuid, atom)
            }
            fn get_flow_details(
                &self,
                uuid: &str,
            ) -> $crate::error::Result<$crate::persistence::FlowDetail> {
                $crate::persistence::load_flow(self, uuid)
            }
            fn get_atom_details(
                &self,
                uuid: &str,
            ) -> $crate::error::Result<$crate::persistence::AtomDetail> {
                let v = $crate::persistence::RecordStore::get(
                    self,
                    $crate::persistence::Kind::Atom,
                    uuid,
                )?
                .ok_or_else(|| {
                    $crate::error::Error::NotFound(format!("no atom detail with uuid `{uuid}`"))
                })?;
                serde_json::from_value(v)
                    .map_err(|e| $crate::error::Error::Persistence(e.to_string()))
            }
            fn clear_all(&self) -> $crate::error::Result<()> {
                $crate::persistence::RecordStore::clear(self)
            }
        }
    };
}
pub(crate) use backend_via_records;
