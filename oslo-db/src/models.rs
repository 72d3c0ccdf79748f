//! Timestamp and soft-delete mixins for diesel tables, and `model_query`-style filters.
//!
//! oslo.db's models are SQLAlchemy mixin classes; diesel has no inheritance, so here a table gets the
//! mixin columns from [`table_with_mixins!`](crate::table_with_mixins) and the behaviour from
//! [`soft_delete_model!`](crate::soft_delete_model), which implements [`SoftDelete`] and
//! [`ModelQuery`] for it on every backend this crate was built with.

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::backend::Backend;
use diesel::expression::BoxableExpression;
use diesel::sql_types::Bool;

use crate::backend::DbConnection;
use crate::error::Error;

/// The time oslo.db stores: UTC, without a time zone, to the microsecond.
pub fn utcnow() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// A boxed `WHERE` condition on table `T` for backend `DB`, as [`SoftDelete::soft_delete_where`] takes.
pub type Filter<T, DB> = Box<dyn BoxableExpression<T, DB, SqlType = Bool>>;

/// Which rows a [`ModelQuery`] returns, by their `deleted` column (oslo.db's `deleted=` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadDeleted {
    /// Only live rows (`deleted = 0`).
    #[default]
    No,
    /// Only soft-deleted rows (`deleted != 0`).
    Only,
    /// Every row.
    Yes,
}

/// Which rows a [`ModelQuery`] returns, by their `project_id` column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProjectFilter {
    /// No condition.
    #[default]
    Any,
    /// `project_id = ?`.
    Is(String),
    /// `project_id IN (...)`.
    In(Vec<String>),
    /// `project_id IS NULL`.
    IsNull,
}

/// Soft delete (oslo.db's `SoftDeleteMixin.soft_delete` and `Query.soft_delete`): `deleted` takes the
/// row's `id`, so a unique constraint on `(name, deleted)` lets a deleted name be created again.
///
/// Implemented by [`soft_delete_model!`](crate::soft_delete_model).
pub trait SoftDelete<C: DbConnection>: diesel::Table + Sized {
    /// The type of the `id` column.
    type Id;

    /// Soft-deletes one row: `deleted = id`, `deleted_at = now`, `updated_at = now`. Returns the
    /// number of rows changed (0 when there is no live row with this id).
    fn soft_delete(self, conn: &mut C, id: Self::Id) -> Result<usize, Error>;

    /// Soft-deletes every live row `filter` selects, in one UPDATE: `deleted = id`,
    /// `deleted_at = now`, `updated_at` unchanged (as `Query.soft_delete`). Returns the row count.
    fn soft_delete_where(
        self,
        conn: &mut C,
        filter: Filter<Self, <C as diesel::Connection>::Backend>,
    ) -> Result<usize, Error>;
}

/// `TimestampMixin` on insert: inserts one row of values (an `Insertable` struct or a tuple of
/// `column.eq(value)`) into a table with the mixin columns, adding `created_at = now`. Returns the
/// number of rows inserted as `Result<usize, oslo_db::Error>`.
///
/// `oslo_db::insert_stamped!(conn, servers, NewServer { name: "a" })`
#[macro_export]
macro_rules! insert_stamped {
    ($conn:expr, $t:ident, $values:expr) => {{
        use $crate::diesel::{ExpressionMethods as _, RunQueryDsl as _};
        $crate::diesel::insert_into($t::table)
            .values(($values, $t::created_at.eq($crate::utcnow())))
            .execute($conn)
            .map_err($crate::Error::from)
    }};
}

/// `TimestampMixin`'s `onupdate`: applies `changes` (any `AsChangeset`) to the row `id`, adding
/// `updated_at = now`. Returns the number of rows changed as `Result<usize, oslo_db::Error>`.
///
/// `oslo_db::update_stamped!(conn, servers, 7, servers::name.eq("b"))`
#[macro_export]
macro_rules! update_stamped {
    ($conn:expr, $t:ident, $id:expr, $changes:expr) => {{
        use $crate::diesel::{ExpressionMethods as _, QueryDsl as _, RunQueryDsl as _};
        $crate::diesel::update($t::table.filter($t::id.eq($id)))
            .set((
                $changes,
                $t::updated_at.eq(::std::option::Option::Some($crate::utcnow())),
            ))
            .execute($conn)
            .map_err($crate::Error::from)
    }};
}

/// `model_query`: the table's boxed query filtered by `deleted` and, when the table has one,
/// `project_id`. Implemented by [`soft_delete_model!`](crate::soft_delete_model).
pub trait ModelQuery<DB: Backend>: diesel::Table + Sized {
    /// `<table>::BoxedQuery<'static, DB>`.
    type Boxed;

    /// The rows of the table that `read_deleted` and `project` select.
    fn model_query(
        self,
        read_deleted: ReadDeleted,
        project: ProjectFilter,
    ) -> Result<Self::Boxed, Error>;
}

/// Declares a diesel table with oslo.db's mixin columns appended: `created_at -> Timestamp`,
/// `updated_at -> Nullable<Timestamp>` (`TimestampMixin`), `deleted_at -> Nullable<Timestamp>` and
/// `deleted -> Integer` (`SoftDeleteMixin`, for an `Integer` id). The table's SQL must have them too.
///
/// ```
/// oslo_db::table_with_mixins! {
///     instances (id) {
///         id -> Integer,
///         name -> Text,
///     }
/// }
/// let _ = (instances::created_at, instances::updated_at, instances::deleted_at, instances::deleted);
/// ```
#[macro_export]
macro_rules! table_with_mixins {
    ($name:ident ($($pk:ident),+) { $($col:ident -> $ty:ty,)* }) => {
        $crate::diesel::table! {
            $name ($($pk),+) {
                $($col -> $ty,)*
                created_at -> Timestamp,
                updated_at -> Nullable<Timestamp>,
                deleted_at -> Nullable<Timestamp>,
                deleted -> Integer,
            }
        }
    };
}

/// Implements [`SoftDelete`] and [`ModelQuery`] for a diesel table with the soft-delete columns
/// (`id`, `deleted`, `deleted_at`, `updated_at`), on every backend this crate was built with.
///
/// `soft_delete_model!(instances, id: i32)`; add `, project_id` when the table has a `project_id`
/// text column that [`ProjectFilter`] should work on.
#[macro_export]
macro_rules! soft_delete_model {
    ($t:ident, id: $id:ty $(, $project:ident)?) => {
        $crate::__for_each_backend!(__soft_delete_impl; $t, $id $(, $project)?);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __soft_delete_impl {
    ($conn:ty, $db:ty; $t:ident, $id:ty $(, $project:ident)?) => {
        impl $crate::SoftDelete<$conn> for $t::table {
            type Id = $id;

            fn soft_delete(self, conn: &mut $conn, id: $id) -> ::std::result::Result<usize, $crate::Error> {
                use $crate::diesel::prelude::*;
                let now = $crate::utcnow();
                let target = $t::table.filter($t::id.eq(id)).filter($t::deleted.eq(0));
                Ok($crate::diesel::update(target)
                    .set((
                        $t::deleted.eq($t::id),
                        $t::deleted_at.eq(::std::option::Option::Some(now)),
                        $t::updated_at.eq(::std::option::Option::Some(now)),
                    ))
                    .execute(conn)?)
            }

            fn soft_delete_where(
                self,
                conn: &mut $conn,
                filter: $crate::Filter<$t::table, $db>,
            ) -> ::std::result::Result<usize, $crate::Error> {
                use $crate::diesel::prelude::*;
                let now = $crate::utcnow();
                let target = $t::table.filter($t::deleted.eq(0)).filter(filter);
                Ok($crate::diesel::update(target)
                    .set((
                        $t::deleted.eq($t::id),
                        $t::deleted_at.eq(::std::option::Option::Some(now)),
                        $t::updated_at.eq($t::updated_at),
                    ))
                    .execute(conn)?)
            }
        }

        impl $crate::ModelQuery<$db> for $t::table {
            type Boxed = $t::BoxedQuery<'static, $db>;

            fn model_query(
                self,
                read_deleted: $crate::ReadDeleted,
                project: $crate::ProjectFilter,
            ) -> ::std::result::Result<Self::Boxed, $crate::Error> {
                use $crate::diesel::prelude::*;
                let mut q = $t::table.into_boxed::<$db>();
                q = match read_deleted {
                    $crate::ReadDeleted::No => q.filter($t::deleted.eq(0)),
                    $crate::ReadDeleted::Only => q.filter($t::deleted.ne(0)),
                    $crate::ReadDeleted::Yes => q,
                };
                $crate::__project_filter!(q, project, $t $(, $project)?)
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __project_filter {
    ($q:ident, $p:ident, $t:ident) => {
        match $p {
            $crate::ProjectFilter::Any => Ok($q),
            _ => Err($crate::Error::Config(::std::format!(
                "there is no `project_id` column in `{}`",
                ::std::stringify!($t)
            ))),
        }
    };
    ($q:ident, $p:ident, $t:ident, $project:ident) => {
        Ok(match $p {
            $crate::ProjectFilter::Any => $q,
            $crate::ProjectFilter::Is(p) => $q.filter($t::$project.eq(p)),
            $crate::ProjectFilter::In(ps) => $q.filter($t::$project.eq_any(ps)),
            $crate::ProjectFilter::IsNull => $q.filter($t::$project.is_null()),
        })
    };
}

/// Expands `$m!(Connection, Backend; args)` once per backend this crate was built with.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_backend {
    ($m:ident; $($args:tt)*) => {
        $crate::__with_sqlite!($m; $($args)*);
        $crate::__with_postgres!($m; $($args)*);
        $crate::__with_mysql!($m; $($args)*);
    };
}

#[cfg(feature = "sqlite")]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_sqlite {
    ($m:ident; $($args:tt)*) => {
        $crate::$m!($crate::diesel::SqliteConnection, $crate::diesel::sqlite::Sqlite; $($args)*);
    };
}
#[cfg(not(feature = "sqlite"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_sqlite {
    ($($args:tt)*) => {};
}

#[cfg(feature = "postgres")]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_postgres {
    ($m:ident; $($args:tt)*) => {
        $crate::$m!($crate::diesel::PgConnection, $crate::diesel::pg::Pg; $($args)*);
    };
}
#[cfg(not(feature = "postgres"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_postgres {
    ($($args:tt)*) => {};
}

#[cfg(feature = "mysql")]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_mysql {
    ($m:ident; $($args:tt)*) => {
        $crate::$m!($crate::diesel::MysqlConnection, $crate::diesel::mysql::Mysql; $($args)*);
    };
}
#[cfg(not(feature = "mysql"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_mysql {
    ($($args:tt)*) => {};
}
