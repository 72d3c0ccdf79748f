//! Keyset pagination (oslo.db's `paginate_query`): ORDER BY the sort keys, then the rows after a
//! marker row through the lexicographic OR-of-ANDs condition, then LIMIT. Never OFFSET.

use std::str::FromStr;

use diesel::Table;
use diesel::backend::Backend;
use diesel::expression::BoxableExpression;
use diesel::sql_types::{Bool, Nullable};

use crate::error::Error;

/// Which way a sort key runs, and where its NULLs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortDir {
    /// Ascending (`asc`) or descending (`desc`).
    pub ascending: bool,
    /// `-nullsfirst` (`Some(true)`), `-nullslast` (`Some(false)`), or the backend's default.
    pub nulls_first: Option<bool>,
}

impl SortDir {
    /// `asc`.
    pub const ASC: SortDir = SortDir {
        ascending: true,
        nulls_first: None,
    };
    /// `desc`.
    pub const DESC: SortDir = SortDir {
        ascending: false,
        nulls_first: None,
    };
}

impl FromStr for SortDir {
    type Err = Error;

    /// `asc`, `desc`, each with an optional `-nullsfirst` or `-nullslast`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let (main, nulls) = s.split_once('-').unwrap_or((s, ""));
        let ascending = match main {
            "asc" => true,
            "desc" => false,
            _ => return Err(Error::InvalidSortDir { dir: s.to_string() }),
        };
        let nulls_first = match nulls {
            "" => None,
            "nullsfirst" => Some(true),
            "nullslast" => Some(false),
            _ => return Err(Error::InvalidSortDir { dir: s.to_string() }),
        };
        Ok(SortDir {
            ascending,
            nulls_first,
        })
    }
}

/// A condition on table `T` that may be NULL, as the marker comparisons are.
pub type Condition<T, DB> = Box<dyn BoxableExpression<T, DB, SqlType = Nullable<Bool>>>;

/// What [`paginate_query`] needs of a table. Implemented by [`paginated_model!`](crate::paginated_model)
/// for the table's boxed query (`<table>::BoxedQuery<'static, DB>`) and its row struct.
pub trait Paginate<DB: Backend>: Table + Sized {
    /// The row type the marker is (what the query loads).
    type Model;
    /// The boxed query type that is paginated.
    type Boxed;

    /// See [`paginate_query`].
    fn paginate(
        query: Self::Boxed,
        limit: Option<i64>,
        sort_keys: &[&str],
        sort_dirs: &[SortDir],
        marker: Option<&Self::Model>,
    ) -> Result<Self::Boxed, Error>;
}

/// Sorts `query` (a boxed query on table `T`) by `sort_keys`, each with its direction in `sort_dirs`
/// (all `asc` when empty; one direction applies to every key), keeps the rows after `marker` and at
/// most `limit` of them.
///
/// The marker condition is oslo.db's: `(k1 > m1) OR (k1 = m1 AND k2 > m2) OR ...`, `<` for descending
/// keys, a term skipped when its marker value is NULL. With an explicit `-nullsfirst`/`-nullslast`,
/// NULL marker values are compared as NULLs (see the crate's differences from the Python library). Include a unique key (the id) last so that pages never overlap. An unknown key is
/// [`Error::InvalidSortKey`].
pub fn paginate_query<T, DB>(
    query: T::Boxed,
    limit: Option<i64>,
    sort_keys: &[&str],
    sort_dirs: &[SortDir],
    marker: Option<&T::Model>,
) -> Result<T::Boxed, Error>
where
    DB: Backend,
    T: Paginate<DB>,
{
    T::paginate(query, limit, sort_keys, sort_dirs, marker)
}

#[doc(hidden)]
/// One direction per key: all `asc` when none, one for all, or exactly one each.
pub fn __directions(sort_keys: &[&str], sort_dirs: &[SortDir]) -> Result<Vec<SortDir>, Error> {
    if sort_dirs.is_empty() {
        Ok(vec![SortDir::ASC; sort_keys.len()])
    } else if sort_dirs.len() == 1 {
        Ok(vec![sort_dirs[0]; sort_keys.len()])
    } else if sort_dirs.len() == sort_keys.len() {
        Ok(sort_dirs.to_vec())
    } else {
        Err(Error::Config(
            "sort_dirs and sort_keys must have the same length".to_string(),
        ))
    }
}

/// The comparisons the keyset condition is made of, for one table and backend.
#[doc(hidden)]
pub trait __Keyset {
    type Cond;
    /// `key > marker.key` (`greater`) or `<`; `None` when the marker's value is NULL.
    fn after(&self, key: &str, greater: bool) -> Result<Option<Self::Cond>, Error>;
    /// `key = marker.key`; `None` when the marker's value is NULL.
    fn equal(&self, key: &str) -> Result<Option<Self::Cond>, Error>;
    /// `key IS NULL`, or `key IS NOT NULL` when `not`.
    fn is_null(&self, key: &str, not: bool) -> Result<Self::Cond, Error>;
    fn and(&self, a: Self::Cond, b: Self::Cond) -> Self::Cond;
    fn or(&self, a: Self::Cond, b: Self::Cond) -> Self::Cond;
}

/// The OR-of-ANDs marker condition, or `None` when no term applies.
///
/// With the NULL placement left to the backend, this is oslo.db's condition: a NULL marker value
/// drops its term and its equality. With `-nullsfirst`/`-nullslast` the placement is known, and NULLs
/// are compared as what they are: `k IS NULL` for equality, `k IS NOT NULL` for "after" a NULL that
/// sorts first, nothing after a NULL that sorts last, and `OR k IS NULL` after a value when NULLs sort
/// last. (oslo.db adds that last term for `asc-nullslast` and `desc-nullsfirst` and drops NULL
/// markers in every case, so its pages repeat or lose rows whenever a marker value is NULL.)
#[doc(hidden)]
pub fn __keyset_condition<K: __Keyset>(
    k: &K,
    sort_keys: &[&str],
    dirs: &[SortDir],
) -> Result<Option<K::Cond>, Error> {
    let mut any: Option<K::Cond> = None;
    for (i, (key, dir)) in sort_keys.iter().zip(dirs).enumerate() {
        let term = match (k.after(key, dir.ascending)?, dir.nulls_first) {
            (Some(after), Some(false)) => Some(k.or(after, k.is_null(key, false)?)),
            (Some(after), _) => Some(after),
            (None, Some(true)) => Some(k.is_null(key, true)?),
            (None, _) => None,
        };
        let Some(mut term) = term else {
            continue;
        };
        let mut prefix: Option<K::Cond> = None;
        for (prev, prev_dir) in sort_keys[..i].iter().zip(dirs) {
            let eq = match (k.equal(prev)?, prev_dir.nulls_first) {
                (Some(eq), _) => Some(eq),
                (None, Some(_)) => Some(k.is_null(prev, false)?),
                (None, None) => None,
            };
            if let Some(eq) = eq {
                prefix = Some(match prefix {
                    None => eq,
                    Some(p) => k.and(p, eq),
                });
            }
        }
        if let Some(p) = prefix {
            term = k.and(p, term);
        }
        any = Some(match any {
            None => term,
            Some(a) => k.or(a, term),
        });
    }
    Ok(any)
}

/// A marker field's value, or `None` when it is NULL (`Option` fields).
pub trait MarkerValue {
    /// The value without the `Option`.
    type Value: Clone;
    /// The value, unless NULL.
    fn marker_value(&self) -> Option<&Self::Value>;
}

impl<T: Clone> MarkerValue for Option<T> {
    type Value = T;
    fn marker_value(&self) -> Option<&T> {
        self.as_ref()
    }
}

macro_rules! plain_marker {
    ($($t:ty),*) => {$(
        impl MarkerValue for $t {
            type Value = $t;
            fn marker_value(&self) -> Option<&$t> {
                Some(self)
            }
        }
    )*};
}
plain_marker!(
    i16,
    i32,
    i64,
    f32,
    f64,
    bool,
    String,
    Vec<u8>,
    chrono::NaiveDateTime,
    chrono::NaiveDate
);

/// Implements [`Paginate`] for a table and its row struct, on every backend this crate was built
/// with: `paginated_model!(instances, Instance { id, name, created_at })` lists the sort keys, each a
/// column of the table and a field of the struct with the same name.
#[macro_export]
macro_rules! paginated_model {
    ($t:ident, $model:ty { $($key:ident),+ $(,)? }) => {
        $crate::__for_each_backend!(__paginate_impl; $t, $model, $($key),+);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __paginate_impl {
    ($conn:ty, $db:ty; $t:ident, $model:ty, $($key:ident),+) => {
        impl $crate::Paginate<$db> for $t::table {
            type Model = $model;
            type Boxed = $t::BoxedQuery<'static, $db>;

            fn paginate(
                query: Self::Boxed,
                limit: ::std::option::Option<i64>,
                sort_keys: &[&str],
                sort_dirs: &[$crate::SortDir],
                marker: ::std::option::Option<&$model>,
            ) -> ::std::result::Result<Self::Boxed, $crate::Error> {
                use $crate::diesel::prelude::*;
                use $crate::MarkerValue as _;
                type Cond = $crate::Condition<$t::table, $db>;
                struct Keys<'m>(::std::option::Option<&'m $model>);
                impl $crate::__Keyset for Keys<'_> {
                    type Cond = Cond;
                    fn after(&self, key: &str, greater: bool) -> ::std::result::Result<::std::option::Option<Cond>, $crate::Error> {
                        let ::std::option::Option::Some(m) = self.0 else { return Ok(None) };
                        match key {
                            $(::std::stringify!($key) => Ok(m.$key.marker_value().map(|v| {
                                let v = v.clone();
                                if greater {
                                    ::std::boxed::Box::new($t::$key.gt(v).nullable()) as Cond
                                } else {
                                    ::std::boxed::Box::new($t::$key.lt(v).nullable()) as Cond
                                }
                            })),)+
                            other => Err($crate::Error::InvalidSortKey { key: other.to_string() }),
                        }
                    }
                    fn equal(&self, key: &str) -> ::std::result::Result<::std::option::Option<Cond>, $crate::Error> {
                        let ::std::option::Option::Some(m) = self.0 else { return Ok(None) };
                        match key {
                            $(::std::stringify!($key) => Ok(m.$key.marker_value().map(|v| {
                                ::std::boxed::Box::new($t::$key.eq(v.clone()).nullable()) as Cond
                            })),)+
                            other => Err($crate::Error::InvalidSortKey { key: other.to_string() }),
                        }
                    }
                    fn is_null(&self, key: &str, not: bool) -> ::std::result::Result<Cond, $crate::Error> {
                        match key {
                            $(::std::stringify!($key) => Ok(if not {
                                ::std::boxed::Box::new($t::$key.is_not_null().nullable()) as Cond
                            } else {
                                ::std::boxed::Box::new($t::$key.is_null().nullable()) as Cond
                            }),)+
                            other => Err($crate::Error::InvalidSortKey { key: other.to_string() }),
                        }
                    }
                    fn and(&self, a: Cond, b: Cond) -> Cond {
                        ::std::boxed::Box::new(a.and(b))
                    }
                    fn or(&self, a: Cond, b: Cond) -> Cond {
                        ::std::boxed::Box::new(a.or(b))
                    }
                }

                let dirs = $crate::__directions(sort_keys, sort_dirs)?;
                let mut query = query;
                for (key, dir) in sort_keys.iter().zip(&dirs) {
                    query = match *key {
                        $(::std::stringify!($key) => {
                            let query = match dir.nulls_first {
                                Some(true) => query.then_order_by($t::$key.is_null().desc()),
                                Some(false) => query.then_order_by($t::$key.is_not_null().desc()),
                                None => query,
                            };
                            if dir.ascending {
                                query.then_order_by($t::$key.asc())
                            } else {
                                query.then_order_by($t::$key.desc())
                            }
                        })+
                        other => return Err($crate::Error::InvalidSortKey { key: other.to_string() }),
                    };
                }
                if marker.is_some() {
                    if let ::std::option::Option::Some(cond) =
                        $crate::__keyset_condition(&Keys(marker), sort_keys, &dirs)?
                    {
                        query = query.filter(cond);
                    }
                }
                Ok(match limit {
                    ::std::option::Option::Some(n) => query.limit(n),
                    ::std::option::Option::None => query,
                })
            }
        }
    };
}
