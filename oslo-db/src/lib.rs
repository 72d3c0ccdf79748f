#![doc = include_str!("../README.md")]
// Without a backend feature the crate has nothing to connect to; its helpers are then unused.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports, unused_macros)
)]

mod backend;
#[cfg(feature = "oslo-config")]
pub mod config;
mod error;
mod facade;
#[cfg(feature = "migrations")]
pub mod migrations;
mod models;
mod options;
mod paginate;
mod pool;
mod retry;
pub mod testing;
mod url;

pub use backend::DbConnection;
pub use error::Error;
pub use facade::{Facade, Mode, RequestContext, Scope, TransactionContext, TransactionSlot};
pub use models::{Filter, ModelQuery, ProjectFilter, ReadDeleted, SoftDelete, utcnow};
pub use options::DatabaseOptions;
#[doc(hidden)]
pub use paginate::{__Keyset, __directions, __keyset_condition};
pub use paginate::{Condition, MarkerValue, Paginate, SortDir, paginate_query};
pub use retry::{AsDbError, RetryPolicy};
pub use url::{BackendKind, DbUrl, mask_password};

/// Re-exported: the timestamp columns are `chrono::NaiveDateTime`.
pub use chrono;
/// Re-exported so the macros and users name the same diesel.
pub use diesel;
