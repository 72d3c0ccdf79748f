//! Migrations (feature `migrations`): diesel's embedded migrations run by the facade, and a check that
//! the database the migrations built has the tables and columns the diesel schema declares (oslo.db's
//! `ModelsMigrationsSync`, on names and nullability).

use std::collections::BTreeMap;
use std::fmt;

use diesel::Column;
use diesel::Expression;
use diesel::sql_types::SqlType;
use diesel::sql_types::is_nullable::{IsNullable, NotNull};
#[doc(hidden)]
pub use diesel_migrations as __diesel_migrations;
pub use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use crate::backend::DbConnection;
use crate::error::Error;
use crate::facade::Facade;

impl<C> Facade<C>
where
    C: DbConnection + MigrationHarness<<C as diesel::Connection>::Backend>,
{
    /// Runs the migrations of `source` that the database has not had yet (outside any transaction
    /// scope, on a writer connection). Returns the versions applied.
    pub fn run_migrations(&self, source: EmbeddedMigrations) -> Result<Vec<String>, Error> {
        self.with_connection(|conn| {
            let applied = conn
                .run_pending_migrations(source)
                .map_err(|e| Error::Migration(e.to_string()))?;
            let versions: Vec<String> = applied.iter().map(ToString::to_string).collect();
            tracing::info!(versions = ?versions, "db.migrate");
            Ok(versions)
        })
    }
}

/// Embeds the migrations of a directory (relative to the crate's `Cargo.toml`), as diesel's
/// `embed_migrations!`, without the caller depending on `diesel_migrations`.
#[macro_export]
macro_rules! embed_migrations {
    ($($path:tt)*) => {{
        #[allow(unused_imports)]
        use $crate::migrations::__diesel_migrations as diesel_migrations;
        diesel_migrations::embed_migrations!($($path)*)
    }};
}

/// One table as the diesel schema declares it: its name and its columns with their nullability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// The table's name.
    pub name: String,
    /// Column name → nullable.
    pub columns: BTreeMap<String, bool>,
}

impl TableSchema {
    /// The declaration of a diesel table: `TableSchema::of::<users::table>("users")` (see
    /// [`declared_schema!`](crate::declared_schema)).
    pub fn of<T>(name: &str) -> TableSchema
    where
        T: diesel::Table,
        T::AllColumns: ColumnList,
    {
        let mut columns = BTreeMap::new();
        T::AllColumns::collect(&mut columns);
        TableSchema {
            name: name.to_string(),
            columns,
        }
    }
}

/// The tables of diesel `table!` modules: `declared_schema![users, posts]`.
#[macro_export]
macro_rules! declared_schema {
    ($($t:ident),* $(,)?) => {
        ::std::vec![$($crate::migrations::TableSchema::of::<$t::table>(::std::stringify!($t))),*]
    };
}

/// Whether an SQL type is nullable.
#[doc(hidden)]
pub trait Nullness {
    const NULLABLE: bool;
}
impl Nullness for NotNull {
    const NULLABLE: bool = false;
}
impl Nullness for IsNullable {
    const NULLABLE: bool = true;
}

/// A tuple of diesel columns (a table's `AllColumns`).
pub trait ColumnList {
    /// Adds each column's name and nullability.
    fn collect(into: &mut BTreeMap<String, bool>);
}

macro_rules! column_tuples {
    ($($name:ident)+) => {
        impl<$($name),+> ColumnList for ($($name,)+)
        where
            $($name: Column + Expression, <$name as Expression>::SqlType: SqlType,
              <<$name as Expression>::SqlType as SqlType>::IsNull: Nullness,)+
        {
            fn collect(into: &mut BTreeMap<String, bool>) {
                $(into.insert(
                    $name::NAME.to_string(),
                    <<<$name as Expression>::SqlType as SqlType>::IsNull as Nullness>::NULLABLE,
                );)+
            }
        }
    };
}
column_tuples!(A);
column_tuples!(A B);
column_tuples!(A B C2);
column_tuples!(A B C2 D);
column_tuples!(A B C2 D E);
column_tuples!(A B C2 D E F);
column_tuples!(A B C2 D E F G);
column_tuples!(A B C2 D E F G H);
column_tuples!(A B C2 D E F G H I);
column_tuples!(A B C2 D E F G H I J);
column_tuples!(A B C2 D E F G H I J K);
column_tuples!(A B C2 D E F G H I J K L);
column_tuples!(A B C2 D E F G H I J K L M);
column_tuples!(A B C2 D E F G H I J K L M N);
column_tuples!(A B C2 D E F G H I J K L M N O);
column_tuples!(A B C2 D E F G H I J K L M N O P);
column_tuples!(A B C2 D E F G H I J K L M N O P Q);
column_tuples!(A B C2 D E F G H I J K L M N O P Q R);
column_tuples!(A B C2 D E F G H I J K L M N O P Q R S);
column_tuples!(A B C2 D E F G H I J K L M N O P Q R S T);
column_tuples!(A B C2 D E F G H I J K L M N O P Q R S T U);
column_tuples!(A B C2 D E F G H I J K L M N O P Q R S T U V);
column_tuples!(A B C2 D E F G H I J K L M N O P Q R S T U V W);
column_tuples!(A B C2 D E F G H I J K L M N O P Q R S T U V W X);

/// What differs between the declared schema and the database.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaDiff {
    /// Declared tables the database lacks.
    pub missing_tables: Vec<String>,
    /// Tables of the database nobody declared (diesel's own migrations table aside).
    pub extra_tables: Vec<String>,
    /// `table.column` declared but not in the database.
    pub missing_columns: Vec<String>,
    /// `table.column` in the database but not declared.
    pub extra_columns: Vec<String>,
    /// `table.column` whose nullability differs.
    pub nullability: Vec<String>,
}

impl SchemaDiff {
    /// No difference.
    pub fn is_empty(&self) -> bool {
        *self == SchemaDiff::default()
    }
}

impl fmt::Display for SchemaDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            ("missing tables", &self.missing_tables),
            ("undeclared tables", &self.extra_tables),
            ("missing columns", &self.missing_columns),
            ("undeclared columns", &self.extra_columns),
            ("nullability differs", &self.nullability),
        ];
        let mut first = true;
        for (what, list) in parts.iter().filter(|(_, l)| !l.is_empty()) {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{what}: {}", list.join(", "))?;
        }
        Ok(())
    }
}

/// Compares the tables of the database with `declared`; [`Error::Migration`] lists the differences.
pub fn check_schema<C: DbConnection>(conn: &mut C, declared: &[TableSchema]) -> Result<(), Error> {
    let diff = schema_diff(conn, declared)?;
    if diff.is_empty() {
        Ok(())
    } else {
        Err(Error::Migration(format!(
            "the database and the declared schema differ: {diff}"
        )))
    }
}

/// The differences between the tables of the database and `declared`.
pub fn schema_diff<C: DbConnection>(
    conn: &mut C,
    declared: &[TableSchema],
) -> Result<SchemaDiff, Error> {
    let mut diff = SchemaDiff::default();
    let tables = C::table_names(conn)?;
    for t in &tables {
        if t != "__diesel_schema_migrations" && !declared.iter().any(|d| &d.name == t) {
            diff.extra_tables.push(t.clone());
        }
    }
    for d in declared {
        if !tables.contains(&d.name) {
            diff.missing_tables.push(d.name.clone());
            continue;
        }
        let actual: BTreeMap<String, bool> = C::table_columns(conn, &d.name)?.into_iter().collect();
        for (col, nullable) in &d.columns {
            match actual.get(col) {
                None => diff.missing_columns.push(format!("{}.{col}", d.name)),
                Some(n) if n != nullable => diff.nullability.push(format!("{}.{col}", d.name)),
                Some(_) => {}
            }
        }
        for col in actual.keys().filter(|c| !d.columns.contains_key(*c)) {
            diff.extra_columns.push(format!("{}.{col}", d.name));
        }
    }
    Ok(diff)
}
