//! The SQL backend (feature `sql`): logbooks, flow details and atom details in the tables of TaskFlow's
//! SQLAlchemy backend (`logbooks`, `flowdetails`, `atomdetails`), through an oslo-db [`Facade`], on
//! SQLite, PostgreSQL (feature `sql-postgres`) and MySQL/MariaDB (feature `sql-mysql`).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use oslo_db::migrations::{EmbeddedMigrations, MigrationHarness};
use oslo_db::{DbConnection, Facade};
use serde_json::Value;

use super::{AtomDetail, AtomType, Backend, FlowDetail, LogBook};
use crate::error::{Error, Result};
use crate::failure::Failure;
use crate::states::{Intention, State};

/// A JSON column, as TaskFlow's `JSONType`: the native `JSON` type on PostgreSQL, text elsewhere
/// (`TEXT` on SQLite, `LONGTEXT` on MySQL). Values are JSON documents as strings either way.
#[derive(Debug, Clone, Copy, diesel::sql_types::SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 114, array_oid = 199))]
#[diesel(sqlite_type(name = "Text"))]
#[diesel(mysql_type(name = "String"))]
pub struct JsonText;

/// A JSON document as text, the Rust side of a [`JsonText`] column.
#[derive(
    Debug, Clone, PartialEq, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = JsonText)]
pub(crate) struct JsonStr(String);

impl std::ops::Deref for JsonStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

macro_rules! json_text_io {
    ($backend:ty) => {
        impl diesel::serialize::ToSql<JsonText, $backend> for JsonStr {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, $backend>,
            ) -> diesel::serialize::Result {
                <String as diesel::serialize::ToSql<diesel::sql_types::Text, $backend>>::to_sql(
                    &self.0, out,
                )
            }
        }

        impl diesel::deserialize::FromSql<JsonText, $backend> for JsonStr {
            fn from_sql(
                bytes: <$backend as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<Self> {
                <String as diesel::deserialize::FromSql<diesel::sql_types::Text, $backend>>::from_sql(
                    bytes,
                )
                .map(JsonStr)
            }
        }
    };
}

json_text_io!(diesel::sqlite::Sqlite);
#[cfg(feature = "sql-postgres")]
json_text_io!(diesel::pg::Pg);
#[cfg(feature = "sql-mysql")]
json_text_io!(diesel::mysql::Mysql);

/// The diesel declarations of the tables (the migrations under `migrations/<backend>/` create them).
pub(crate) mod schema {
    diesel::table! {
        use diesel::sql_types::*;
        use crate::persistence::sql::JsonText;

        logbooks (uuid) {
            created_at -> Nullable<Timestamp>,
            updated_at -> Nullable<Timestamp>,
            meta -> Nullable<JsonText>,
            name -> Nullable<Text>,
            uuid -> Text,
        }
    }

    diesel::table! {
        use diesel::sql_types::*;
        use crate::persistence::sql::JsonText;

        flowdetails (uuid) {
            created_at -> Nullable<Timestamp>,
            updated_at -> Nullable<Timestamp>,
            parent_uuid -> Nullable<Text>,
            meta -> Nullable<JsonText>,
            name -> Nullable<Text>,
            state -> Nullable<Text>,
            uuid -> Text,
        }
    }

    diesel::table! {
        use diesel::sql_types::*;
        use crate::persistence::sql::JsonText;

        atomdetails (uuid) {
            created_at -> Nullable<Timestamp>,
            updated_at -> Nullable<Timestamp>,
            meta -> Nullable<JsonText>,
            parent_uuid -> Nullable<Text>,
            name -> Nullable<Text>,
            version -> Nullable<Text>,
            state -> Nullable<Text>,
            uuid -> Text,
            failure -> Nullable<JsonText>,
            results -> Nullable<JsonText>,
            revert_results -> Nullable<JsonText>,
            revert_failure -> Nullable<JsonText>,
            atom_type -> Nullable<Text>,
            intention -> Nullable<Text>,
        }
    }

    diesel::table! {
        jobs (uuid) {
            uuid -> Text,
            board -> Text,
            name -> Text,
            details -> Text,
            book_uuid -> Nullable<Text>,
            priority -> Integer,
            owner -> Nullable<Text>,
            claim_expires_at -> Nullable<Timestamp>,
            created_at -> Timestamp,
            updated_at -> Nullable<Timestamp>,
        }
    }
}

use schema::{atomdetails, flowdetails, logbooks};

#[derive(Queryable, Selectable)]
#[diesel(table_name = logbooks)]
struct BookRow {
    created_at: Option<NaiveDateTime>,
    updated_at: Option<NaiveDateTime>,
    meta: Option<JsonStr>,
    name: Option<String>,
    uuid: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = flowdetails)]
struct FlowRow {
    created_at: Option<NaiveDateTime>,
    updated_at: Option<NaiveDateTime>,
    meta: Option<JsonStr>,
    name: Option<String>,
    state: Option<String>,
    uuid: String,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = atomdetails, primary_key(uuid), treat_none_as_null = true)]
struct AtomRow {
    created_at: Option<NaiveDateTime>,
    updated_at: Option<NaiveDateTime>,
    meta: Option<JsonStr>,
    parent_uuid: Option<String>,
    name: Option<String>,
    version: Option<String>,
    state: Option<String>,
    uuid: String,
    failure: Option<JsonStr>,
    results: Option<JsonStr>,
    revert_results: Option<JsonStr>,
    revert_failure: Option<JsonStr>,
    atom_type: Option<String>,
    intention: Option<String>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = schema::jobs)]
struct JobRow {
    uuid: String,
    board: String,
    name: String,
    details: String,
    book_uuid: Option<String>,
    priority: i32,
    owner: Option<String>,
    claim_expires_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: Option<NaiveDateTime>,
}

fn job_row(j: &crate::jobs::Job) -> Result<JobRow> {
    Ok(JobRow {
        uuid: j.uuid.clone(),
        board: j.board.clone(),
        name: j.name.clone(),
        details: serde_json::to_string(&j.details)
            .map_err(|e| Error::Persistence(e.to_string()))?,
        book_uuid: j.book_uuid.clone(),
        priority: j.priority,
        owner: j.owner.clone(),
        claim_expires_at: j.claim_expires_at.map(naive),
        created_at: naive(j.created_at),
        updated_at: None,
    })
}

fn job_of(r: JobRow) -> Result<crate::jobs::Job> {
    let details = parse_json(Some(&r.details), "details", &r.uuid)?;
    Ok(crate::jobs::Job {
        name: r.name,
        board: r.board,
        details,
        book_uuid: r.book_uuid,
        priority: r.priority,
        owner: r.owner,
        claim_expires_at: r.claim_expires_at.map(|t| utc(Some(t))),
        created_at: utc(Some(r.created_at)),
        uuid: r.uuid,
    })
}

/// A database error, as the crate's error.
pub(crate) fn db<T>(r: QueryResult<T>) -> Result<T> {
    r.map_err(|e| Error::Database(oslo_db::Error::from(e)))
}

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

fn utc(t: Option<NaiveDateTime>) -> DateTime<Utc> {
    t.map_or(DateTime::<Utc>::UNIX_EPOCH, |n| {
        DateTime::from_naive_utc_and_offset(n, Utc)
    })
}

/// JSON as the text of a JSON column; `null` is SQL NULL, as TaskFlow writes `None`.
fn json_text<T: serde::Serialize>(v: &T) -> Result<Option<JsonStr>> {
    let v = serde_json::to_value(v).map_err(|e| Error::Persistence(e.to_string()))?;
    if v.is_null() {
        return Ok(None);
    }
    serde_json::to_string(&v)
        .map(|t| Some(JsonStr(t)))
        .map_err(|e| Error::Persistence(e.to_string()))
}

fn parse_json<T: serde::de::DeserializeOwned>(
    text: Option<&str>,
    what: &str,
    uuid: &str,
) -> Result<T> {
    let v: Value = match text {
        Some(t) => serde_json::from_str(t).map_err(|e| {
            Error::Persistence(format!("invalid {what} in the record `{uuid}`: {e}"))
        })?,
        None => Value::Null,
    };
    serde_json::from_value(v)
        .map_err(|e| Error::Persistence(format!("invalid {what} in the record `{uuid}`: {e}")))
}

fn meta_of(text: Option<&str>, uuid: &str) -> Result<BTreeMap<String, Value>> {
    let v: Option<BTreeMap<String, Value>> = parse_json(text, "meta", uuid)?;
    Ok(v.unwrap_or_default())
}

fn parse_name<T: serde::de::DeserializeOwned>(s: &str, what: &str, uuid: &str) -> Result<T> {
    serde_json::from_value(Value::String(s.to_owned()))
        .map_err(|_| Error::Persistence(format!("invalid {what} `{s}` in the record `{uuid}`")))
}

/// TaskFlow's `atom_type` column values.
fn atom_type_name(t: AtomType) -> &'static str {
    match t {
        AtomType::Task => "TASK_DETAIL",
        AtomType::Retry => "RETRY_DETAIL",
    }
}

/// A failure in TaskFlow's dict form (`Failure.to_dict()`, version 1), so TaskFlow can read it.
fn failure_to_py(f: &Failure) -> Value {
    serde_json::json!({
        "version": 1,
        "exception_str": f.message,
        "traceback_str": "",
        "exc_type_names": [f.kind],
        "exc_args": [f.message],
        "causes": f.causes.iter().map(failure_to_py).collect::<Vec<_>>(),
    })
}

/// A stored failure: TaskFlow's dict form (the first exception type name is the kind), or ours.
fn failure_from_stored(v: Value, uuid: &str) -> Result<Failure> {
    let bad = || Error::Persistence(format!("invalid failure in the record `{uuid}`"));
    if let Some(names) = v.get("exc_type_names") {
        let kind = names
            .get(0)
            .and_then(Value::as_str)
            .ok_or_else(bad)?
            .to_owned();
        let message = v
            .get("exception_str")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let causes = match v.get("causes") {
            Some(Value::Array(cs)) => cs
                .iter()
                .map(|c| failure_from_stored(c.clone(), uuid))
                .collect::<Result<Vec<_>>>()?,
            _ => Vec::new(),
        };
        let mut f = Failure::new(kind, message);
        f.causes = causes;
        return Ok(f);
    }
    serde_json::from_value(v).map_err(|_| bad())
}

fn failure_text(f: Option<&Failure>) -> Result<Option<JsonStr>> {
    f.map(|f| {
        serde_json::to_string(&failure_to_py(f))
            .map(JsonStr)
            .map_err(|e| Error::Persistence(e.to_string()))
    })
    .transpose()
}

fn parse_failure(text: Option<&str>, uuid: &str) -> Result<Option<Failure>> {
    let v: Value = parse_json(text, "failure", uuid)?;
    if v.is_null() {
        return Ok(None);
    }
    failure_from_stored(v, uuid).map(Some)
}

/// A retry's history in TaskFlow's form: a list of `[value, {atom name: failure dict}]`.
fn history_to_py(results: &Value) -> Value {
    let Value::Array(entries) = results else {
        return results.clone();
    };
    let converted = entries.iter().map(|e| {
        let failures: serde_json::Map<String, Value> = e
            .get("failures")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, f)| {
                        let py = serde_json::from_value::<Failure>(f.clone())
                            .map_or_else(|_| f.clone(), |f| failure_to_py(&f));
                        (k.clone(), py)
                    })
                    .collect()
            })
            .unwrap_or_default();
        serde_json::json!([e.get("value").cloned().unwrap_or(Value::Null), failures])
    });
    Value::Array(converted.collect())
}

/// A stored retry history (TaskFlow's form or ours) in ours: a list of `{value, failures}`.
fn history_from_stored(results: Value, uuid: &str) -> Result<Value> {
    let Value::Array(entries) = results else {
        return Ok(results);
    };
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        match e {
            Value::Array(pair) if pair.len() == 2 => {
                let mut it = pair.into_iter();
                let value = it.next().unwrap_or(Value::Null);
                let mut failures = serde_json::Map::new();
                if let Some(Value::Object(m)) = it.next() {
                    for (k, f) in m {
                        let f = failure_from_stored(f, uuid)?;
                        let f = serde_json::to_value(f)
                            .map_err(|e| Error::Persistence(e.to_string()))?;
                        failures.insert(k, f);
                    }
                }
                out.push(serde_json::json!({"value": value, "failures": failures}));
            }
            other => out.push(other),
        }
    }
    Ok(Value::Array(out))
}

fn atom_row(parent: &str, ad: &AtomDetail) -> Result<AtomRow> {
    let results = match ad.atom_type {
        AtomType::Task => json_text(&ad.results)?,
        AtomType::Retry => json_text(&history_to_py(&ad.results))?,
    };
    Ok(AtomRow {
        created_at: Some(naive(ad.created_at)),
        updated_at: Some(naive(ad.updated_at)),
        meta: json_text(&ad.meta)?,
        parent_uuid: Some(parent.to_owned()),
        name: Some(ad.name.clone()),
        version: Some(ad.version.clone()),
        state: Some(ad.state.as_str().to_owned()),
        uuid: ad.uuid.clone(),
        failure: failure_text(ad.failure.as_ref())?,
        results,
        revert_results: json_text(&ad.revert_results)?,
        revert_failure: failure_text(ad.revert_failure.as_ref())?,
        atom_type: Some(atom_type_name(ad.atom_type).to_owned()),
        intention: Some(ad.intention.as_str().to_owned()),
    })
}

fn atom_of(r: AtomRow) -> Result<AtomDetail> {
    let u = r.uuid.as_str();
    let atom_type = match r.atom_type.as_deref() {
        Some("RETRY_DETAIL") => AtomType::Retry,
        Some("TASK_DETAIL") | None => AtomType::Task,
        Some(other) => {
            return Err(Error::Persistence(format!(
                "invalid atom type `{other}` in the record `{u}`"
            )));
        }
    };
    let state: State = match r.state.as_deref() {
        Some(s) => parse_name(s, "state", u)?,
        None => State::Pending,
    };
    let intention: Intention = match r.intention.as_deref() {
        Some(s) => parse_name(s, "intention", u)?,
        None => Intention::Execute,
    };
    let results: Value = parse_json(r.results.as_deref(), "results", u)?;
    let results = match (atom_type, results) {
        (AtomType::Retry, Value::Null) => Value::Array(Vec::new()),
        (AtomType::Retry, v) => history_from_stored(v, u)?,
        (AtomType::Task, v) => v,
    };
    Ok(AtomDetail {
        name: r.name.clone().unwrap_or_default(),
        atom_type,
        state,
        intention,
        results,
        failure: parse_failure(r.failure.as_deref(), u)?,
        revert_results: parse_json(r.revert_results.as_deref(), "revert results", u)?,
        revert_failure: parse_failure(r.revert_failure.as_deref(), u)?,
        version: r.version.clone().unwrap_or_else(|| "1.0".to_owned()),
        meta: meta_of(r.meta.as_deref(), u)?,
        created_at: utc(r.created_at),
        updated_at: utc(r.updated_at),
        uuid: r.uuid,
    })
}

mod sealed {
    pub trait Sealed {}
}

/// A diesel connection type the SQL backend runs on: `diesel::SqliteConnection` (feature `sql`),
/// `diesel::PgConnection` (`sql-postgres`), `diesel::MysqlConnection` (`sql-mysql`).
///
/// The statements are the same on every backend; only the migrations (column types) differ.
pub trait SqlConnection:
    DbConnection + MigrationHarness<<Self as diesel::Connection>::Backend> + sealed::Sealed
{
    /// The embedded migrations that create the tables on this backend.
    #[doc(hidden)]
    const MIGRATIONS: EmbeddedMigrations;

    #[doc(hidden)]
    fn save_book(&mut self, book: &LogBook) -> Result<()>;
    #[doc(hidden)]
    fn load_book(&mut self, uuid: &str) -> Result<LogBook>;
    #[doc(hidden)]
    fn book_uuids(&mut self) -> Result<Vec<String>>;
    #[doc(hidden)]
    fn destroy_book(&mut self, uuid: &str) -> Result<()>;
    #[doc(hidden)]
    fn save_flow(&mut self, fd: &FlowDetail) -> Result<()>;
    #[doc(hidden)]
    fn save_atom(&mut self, flow_uuid: &str, ad: &AtomDetail) -> Result<()>;
    #[doc(hidden)]
    fn load_flow(&mut self, uuid: &str) -> Result<FlowDetail>;
    #[doc(hidden)]
    fn load_atom(&mut self, uuid: &str) -> Result<AtomDetail>;
    #[doc(hidden)]
    fn clear(&mut self) -> Result<()>;
    #[doc(hidden)]
    fn insert_job(&mut self, job: &crate::jobs::Job) -> Result<()>;
    #[doc(hidden)]
    fn list_jobs(&mut self, board: &str) -> Result<Vec<crate::jobs::Job>>;
    #[doc(hidden)]
    fn load_job(&mut self, uuid: &str) -> Result<Option<crate::jobs::Job>>;
    #[doc(hidden)]
    fn claim_job(
        &mut self,
        uuid: &str,
        owner: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<bool>;
    #[doc(hidden)]
    fn renew_job(
        &mut self,
        uuid: &str,
        owner: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<bool>;
    #[doc(hidden)]
    fn release_job(&mut self, uuid: &str, owner: &str) -> Result<bool>;
    #[doc(hidden)]
    fn delete_job(&mut self, uuid: &str, owner: Option<&str>) -> Result<bool>;
}

macro_rules! sql_connection {
    ($module:ident, $conn:ty, $dir:literal) => {
        mod $module {
            use super::*;
            use crate::jobs::Job;
            use schema::jobs;

            /// Creates or updates one atom row under flow `parent`.
            fn upsert_atom(conn: &mut $conn, parent: &str, ad: &AtomDetail) -> Result<()> {
                let row = atom_row(parent, ad)?;
                let found = db(atomdetails::table
                    .find(ad.uuid.as_str())
                    .select(atomdetails::uuid)
                    .first::<String>(conn)
                    .optional())?;
                if found.is_some() {
                    db(diesel::update(atomdetails::table.find(ad.uuid.as_str()))
                        .set(&row)
                        .execute(conn))?;
                } else {
                    db(diesel::insert_into(atomdetails::table)
                        .values(&row)
                        .execute(conn))?;
                }
                Ok(())
            }

            impl sealed::Sealed for $conn {}

            impl SqlConnection for $conn {
                const MIGRATIONS: EmbeddedMigrations = oslo_db::embed_migrations!($dir);

                fn save_book(&mut self, book: &LogBook) -> Result<()> {
                    let now = naive(Utc::now());
                    let meta = json_text(&book.meta)?;
                    let found = db(logbooks::table
                        .find(book.uuid.as_str())
                        .select(logbooks::uuid)
                        .first::<String>(self)
                        .optional())?;
                    if found.is_some() {
                        db(diesel::update(logbooks::table.find(book.uuid.as_str()))
                            .set((
                                logbooks::name.eq(book.name.as_str()),
                                logbooks::meta.eq(meta),
                                logbooks::updated_at.eq(now),
                            ))
                            .execute(self))?;
                    } else {
                        db(diesel::insert_into(logbooks::table)
                            .values((
                                logbooks::uuid.eq(book.uuid.as_str()),
                                logbooks::name.eq(book.name.as_str()),
                                logbooks::meta.eq(meta),
                                logbooks::created_at.eq(naive(book.created_at)),
                                logbooks::updated_at.eq(now),
                            ))
                            .execute(self))?;
                    }
                    for f in &book.flows {
                        self.save_flow(f)?;
                        db(diesel::update(flowdetails::table.find(f.uuid.as_str()))
                            .set(flowdetails::parent_uuid.eq(book.uuid.as_str()))
                            .execute(self))?;
                    }
                    Ok(())
                }

                fn load_book(&mut self, uuid: &str) -> Result<LogBook> {
                    let row = db(logbooks::table
                        .find(uuid)
                        .select(BookRow::as_select())
                        .first(self)
                        .optional())?
                    .ok_or_else(|| Error::NotFound(format!("no logbook with uuid `{uuid}`")))?;
                    let flows: Vec<String> = db(flowdetails::table
                        .filter(flowdetails::parent_uuid.eq(uuid))
                        .order((flowdetails::created_at, flowdetails::uuid))
                        .select(flowdetails::uuid)
                        .load(self))?;
                    let mut out = Vec::with_capacity(flows.len());
                    for f in &flows {
                        out.push(self.load_flow(f)?);
                    }
                    Ok(LogBook {
                        name: row.name.unwrap_or_default(),
                        meta: meta_of(row.meta.as_deref(), &row.uuid)?,
                        flows: out,
                        created_at: utc(row.created_at),
                        updated_at: utc(row.updated_at),
                        uuid: row.uuid,
                    })
                }

                fn book_uuids(&mut self) -> Result<Vec<String>> {
                    db(logbooks::table
                        .order((logbooks::created_at, logbooks::uuid))
                        .select(logbooks::uuid)
                        .load(self))
                }

                fn destroy_book(&mut self, uuid: &str) -> Result<()> {
                    let flows: Vec<String> = db(flowdetails::table
                        .filter(flowdetails::parent_uuid.eq(uuid))
                        .select(flowdetails::uuid)
                        .load(self))?;
                    if !flows.is_empty() {
                        db(diesel::delete(
                            atomdetails::table.filter(atomdetails::parent_uuid.eq_any(&flows)),
                        )
                        .execute(self))?;
                        db(diesel::delete(
                            flowdetails::table.filter(flowdetails::uuid.eq_any(&flows)),
                        )
                        .execute(self))?;
                    }
                    let n = db(diesel::delete(logbooks::table.find(uuid)).execute(self))?;
                    if n == 0 {
                        return Err(Error::NotFound(format!("no logbook with uuid `{uuid}`")));
                    }
                    Ok(())
                }

                fn save_flow(&mut self, fd: &FlowDetail) -> Result<()> {
                    let now = naive(Utc::now());
                    let meta = json_text(&fd.meta)?;
                    let state = fd.state.map(|s| s.as_str());
                    let found = db(flowdetails::table
                        .find(fd.uuid.as_str())
                        .select(flowdetails::uuid)
                        .first::<String>(self)
                        .optional())?;
                    if found.is_some() {
                        db(diesel::update(flowdetails::table.find(fd.uuid.as_str()))
                            .set((
                                flowdetails::name.eq(fd.name.as_str()),
                                flowdetails::meta.eq(meta),
                                flowdetails::state.eq(state),
                                flowdetails::updated_at.eq(now),
                            ))
                            .execute(self))?;
                    } else {
                        db(diesel::insert_into(flowdetails::table)
                            .values((
                                flowdetails::uuid.eq(fd.uuid.as_str()),
                                flowdetails::name.eq(fd.name.as_str()),
                                flowdetails::meta.eq(meta),
                                flowdetails::state.eq(state),
                                flowdetails::created_at.eq(naive(fd.created_at)),
                                flowdetails::updated_at.eq(now),
                            ))
                            .execute(self))?;
                    }
                    for a in &fd.atoms {
                        upsert_atom(self, &fd.uuid, a)?;
                    }
                    Ok(())
                }

                fn save_atom(&mut self, flow_uuid: &str, ad: &AtomDetail) -> Result<()> {
                    let found = db(flowdetails::table
                        .find(flow_uuid)
                        .select(flowdetails::uuid)
                        .first::<String>(self)
                        .optional())?;
                    if found.is_none() {
                        return Err(Error::NotFound(format!(
                            "no flow detail with uuid `{flow_uuid}`"
                        )));
                    }
                    upsert_atom(self, flow_uuid, ad)
                }

                fn load_flow(&mut self, uuid: &str) -> Result<FlowDetail> {
                    let row = db(flowdetails::table
                        .find(uuid)
                        .select(FlowRow::as_select())
                        .first(self)
                        .optional())?
                    .ok_or_else(|| Error::NotFound(format!("no flow detail with uuid `{uuid}`")))?;
                    let rows: Vec<AtomRow> = db(atomdetails::table
                        .filter(atomdetails::parent_uuid.eq(uuid))
                        .order((atomdetails::created_at, atomdetails::uuid))
                        .select(AtomRow::as_select())
                        .load(self))?;
                    let atoms = rows.into_iter().map(atom_of).collect::<Result<Vec<_>>>()?;
                    let state = match row.state.as_deref() {
                        Some(s) => Some(parse_name(s, "state", &row.uuid)?),
                        None => None,
                    };
                    Ok(FlowDetail {
                        name: row.name.unwrap_or_default(),
                        state,
                        meta: meta_of(row.meta.as_deref(), &row.uuid)?,
                        atoms,
                        created_at: utc(row.created_at),
                        updated_at: utc(row.updated_at),
                        uuid: row.uuid,
                    })
                }

                fn load_atom(&mut self, uuid: &str) -> Result<AtomDetail> {
                    let row = db(atomdetails::table
                        .find(uuid)
                        .select(AtomRow::as_select())
                        .first(self)
                        .optional())?
                    .ok_or_else(|| Error::NotFound(format!("no atom detail with uuid `{uuid}`")))?;
                    atom_of(row)
                }

                fn clear(&mut self) -> Result<()> {
                    db(diesel::delete(atomdetails::table).execute(self))?;
                    db(diesel::delete(flowdetails::table).execute(self))?;
                    db(diesel::delete(logbooks::table).execute(self))?;
                    Ok(())
                }

                fn insert_job(&mut self, job: &Job) -> Result<()> {
                    db(diesel::insert_into(jobs::table)
                        .values(job_row(job)?)
                        .execute(self))?;
                    Ok(())
                }

                fn list_jobs(&mut self, board: &str) -> Result<Vec<Job>> {
                    let rows: Vec<JobRow> = db(jobs::table
                        .filter(jobs::board.eq(board))
                        .order((jobs::priority.desc(), jobs::created_at, jobs::uuid))
                        .select(JobRow::as_select())
                        .load(self))?;
                    rows.into_iter().map(job_of).collect()
                }

                fn load_job(&mut self, uuid: &str) -> Result<Option<Job>> {
                    let row: Option<JobRow> = db(jobs::table
                        .find(uuid)
                        .select(JobRow::as_select())
                        .first(self)
                        .optional())?;
                    row.map(job_of).transpose()
                }

                fn claim_job(
                    &mut self,
                    uuid: &str,
                    owner: &str,
                    now: DateTime<Utc>,
                    expires: DateTime<Utc>,
                ) -> Result<bool> {
                    // One statement, so two claimers cannot both win: the row changes only while it is
                    // unowned or its claim has lapsed.
                    let n = db(diesel::update(
                        jobs::table.find(uuid).filter(
                            jobs::owner
                                .is_null()
                                .or(jobs::claim_expires_at.lt(naive(now))),
                        ),
                    )
                    .set((
                        jobs::owner.eq(owner),
                        jobs::claim_expires_at.eq(naive(expires)),
                        jobs::updated_at.eq(naive(now)),
                    ))
                    .execute(self))?;
                    Ok(n == 1)
                }

                fn renew_job(
                    &mut self,
                    uuid: &str,
                    owner: &str,
                    now: DateTime<Utc>,
                    expires: DateTime<Utc>,
                ) -> Result<bool> {
                    let n = db(diesel::update(
                        jobs::table
                            .find(uuid)
                            .filter(jobs::owner.eq(owner))
                            .filter(jobs::claim_expires_at.ge(naive(now))),
                    )
                    .set((
                        jobs::claim_expires_at.eq(naive(expires)),
                        jobs::updated_at.eq(naive(now)),
                    ))
                    .execute(self))?;
                    Ok(n == 1)
                }

                fn release_job(&mut self, uuid: &str, owner: &str) -> Result<bool> {
                    let n = db(diesel::update(
                        jobs::table.find(uuid).filter(jobs::owner.eq(owner)),
                    )
                    .set((
                        jobs::owner.eq(None::<String>),
                        jobs::claim_expires_at.eq(None::<NaiveDateTime>),
                        jobs::updated_at.eq(naive(Utc::now())),
                    ))
                    .execute(self))?;
                    Ok(n == 1)
                }

                fn delete_job(&mut self, uuid: &str, owner: Option<&str>) -> Result<bool> {
                    let n = match owner {
                        Some(o) => db(diesel::delete(
                            jobs::table.find(uuid).filter(jobs::owner.eq(o)),
                        )
                        .execute(self))?,
                        None => db(diesel::delete(jobs::table.find(uuid)).execute(self))?,
                    };
                    Ok(n == 1)
                }
            }
        }
    };
}

sql_connection!(sqlite_impl, diesel::SqliteConnection, "migrations/sqlite");
#[cfg(feature = "sql-postgres")]
sql_connection!(postgres_impl, diesel::PgConnection, "migrations/postgres");
#[cfg(feature = "sql-mysql")]
sql_connection!(mysql_impl, diesel::MysqlConnection, "migrations/mysql");

/// Keeps logbooks, flow details and atom details in SQL tables (TaskFlow's `SQLAlchemyBackend`), through
/// an oslo-db [`Facade`]. Every call is one writer (or reader) transaction, so several processes may share
/// the database; one engine per flow detail at a time.
///
/// ```
/// use std::sync::Arc;
/// use taskflow::persistence::{Backend, SqlBackend};
/// use taskflow::{Engine, Flow, fn_task, json};
///
/// let db = oslo_db::testing::TestDatabase::<diesel::SqliteConnection>::sqlite(|o| o)?;
/// let backend = Arc::new(SqlBackend::new(db.facade().clone())?);
/// let mut flow = Flow::linear("f");
/// flow.add(fn_task("t", |_| Ok(json!(1))).provides("x"))?;
/// let mut engine = Engine::builder(flow).backend(backend.clone()).build()?;
/// engine.run()?;
/// let fd = backend.get_flow_details(&engine.flow_detail().uuid)?;
/// assert_eq!(fd.atom("t").unwrap().results, json!(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqlBackend<C: SqlConnection> {
    facade: Facade<C>,
}

impl<C: SqlConnection> Clone for SqlBackend<C> {
    fn clone(&self) -> Self {
        SqlBackend {
            facade: self.facade.clone(),
        }
    }
}

impl<C: SqlConnection> fmt::Debug for SqlBackend<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlBackend")
            .field("url", self.facade.url())
            .finish()
    }
}

impl<C: SqlConnection> SqlBackend<C> {
    /// A backend on `facade`'s database; runs the embedded migrations the database has not had yet
    /// (TaskFlow's `upgrade()`).
    pub fn new(facade: Facade<C>) -> Result<Self> {
        let b = SqlBackend { facade };
        b.upgrade()?;
        Ok(b)
    }

    /// Runs the migrations not applied yet; returns their versions.
    pub fn upgrade(&self) -> Result<Vec<String>> {
        Ok(self.facade.run_migrations(C::MIGRATIONS)?)
    }

    /// The facade the backend runs on.
    pub fn facade(&self) -> &Facade<C> {
        &self.facade
    }

    /// Runs `f` in one writer transaction.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut C) -> Result<T>) -> Result<T> {
        self.facade.writer().run(f)
    }

    /// Runs `f` in one reader transaction.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut C) -> Result<T>) -> Result<T> {
        self.facade.reader().run(f)
    }
}

impl<C: SqlConnection> Backend for SqlBackend<C> {
    fn save_logbook(&self, book: &LogBook) -> Result<()> {
        self.write(|c| c.save_book(book))
    }

    fn get_logbook(&self, uuid: &str) -> Result<LogBook> {
        self.read(|c| c.load_book(uuid))
    }

    fn get_logbooks(&self) -> Result<Vec<LogBook>> {
        self.read(|c| {
            let uuids = c.book_uuids()?;
            uuids.iter().map(|u| c.load_book(u)).collect()
        })
    }

    fn destroy_logbook(&self, uuid: &str) -> Result<()> {
        self.write(|c| c.destroy_book(uuid))
    }

    fn update_flow_details(&self, flow: &FlowDetail) -> Result<()> {
        self.write(|c| c.save_flow(flow))
    }

    fn update_atom_details(&self, flow_uuid: &str, atom: &AtomDetail) -> Result<()> {
        self.write(|c| c.save_atom(flow_uuid, atom))
    }

    fn get_flow_details(&self, uuid: &str) -> Result<FlowDetail> {
        self.read(|c| c.load_flow(uuid))
    }

    fn get_atom_details(&self, uuid: &str) -> Result<AtomDetail> {
        self.read(|c| c.load_atom(uuid))
    }

    fn clear_all(&self) -> Result<()> {
        self.write(|c| c.clear())
    }
}
