//! A small service's data layer on SQLite: records with oslo.db's mixin columns, a writer that retries on
//! deadlocks, soft delete and keyset pages. `cargo run -p oslo-db --example servers [DATABASE_URL]`
//! (default: an in-memory SQLite database).

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sqlite::Sqlite;
use oslo_db::{
    DatabaseOptions, Error, Facade, ModelQuery, ProjectFilter, ReadDeleted, RequestContext,
    RetryPolicy, SoftDelete, SortDir, paginate_query,
};

/// The diesel schema (diesel's `table!` items carry no docs).
#[allow(missing_docs)]
mod schema {
    oslo_db::table_with_mixins! {
        servers (id) {
            id -> Integer,
            name -> Text,
            project_id -> Nullable<Text>,
        }
    }
}
use schema::servers;

/// A row of `servers`.
#[derive(Debug, Clone, Queryable)]
pub struct Server {
    /// Primary key.
    pub id: i32,
    /// Unique among live rows.
    pub name: String,
    /// The owner.
    pub project_id: Option<String>,
    /// `TimestampMixin`.
    pub created_at: oslo_db::chrono::NaiveDateTime,
    /// `TimestampMixin`.
    pub updated_at: Option<oslo_db::chrono::NaiveDateTime>,
    /// `SoftDeleteMixin`.
    pub deleted_at: Option<oslo_db::chrono::NaiveDateTime>,
    /// `SoftDeleteMixin`: 0 when live, the id once deleted.
    pub deleted: i32,
}

oslo_db::soft_delete_model!(servers, id: i32, project_id);
oslo_db::paginated_model!(servers, Server { id, name });

fn main() -> Result<(), Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite://".to_string());
    let facade = Facade::<SqliteConnection>::new(DatabaseOptions::new(url))?;
    let retry = RetryPolicy::from_options(facade.options());
    let mut ctx = RequestContext::new();

    facade.writer().using(&mut ctx, |ctx| {
        ctx.connection()?.batch_execute(
            "CREATE TABLE IF NOT EXISTS servers (id INTEGER PRIMARY KEY AUTOINCREMENT,
             name VARCHAR(64) NOT NULL, project_id VARCHAR(64), created_at TIMESTAMP NOT NULL,
             updated_at TIMESTAMP, deleted_at TIMESTAMP, deleted INTEGER NOT NULL DEFAULT 0,
             CONSTRAINT uniq_servers0name0deleted UNIQUE (name, deleted))",
        )?;
        Ok::<_, Error>(())
    })?;

    for (name, project) in [
        ("web1", "p1"),
        ("web2", "p1"),
        ("db1", "p2"),
        ("cache1", "p1"),
    ] {
        // Each write in its own transaction, run again if the database reports a deadlock.
        let created = retry.call(|| {
            facade.writer().run(|c| {
                oslo_db::insert_stamped!(
                    c,
                    servers,
                    (servers::name.eq(name), servers::project_id.eq(project))
                )
            })
        });
        match created {
            Ok(_) => println!("created {name}"),
            Err(Error::DuplicateEntry { columns, .. }) => {
                println!("{name} exists already ({columns:?})")
            }
            Err(e) => return Err(e),
        }
    }

    let gone = facade
        .writer()
        .run(|c| servers::table.soft_delete_where(c, Box::new(servers::name.like("web%"))))?;
    println!("soft-deleted {gone} web servers");

    let mut marker: Option<Server> = None;
    loop {
        let page: Vec<Server> = facade.reader().using(&mut ctx, |ctx| {
            let q = ModelQuery::<Sqlite>::model_query(
                servers::table,
                ReadDeleted::No,
                ProjectFilter::Is("p1".to_string()),
            )?;
            let q = paginate_query::<servers::table, Sqlite>(
                q,
                Some(1),
                &["name", "id"],
                &[SortDir::ASC],
                marker.as_ref(),
            )?;
            Ok::<_, Error>(q.load(ctx.connection()?)?)
        })?;
        let Some(last) = page.into_iter().last() else {
            break;
        };
        println!(
            "live in p1: {} (id {}, created {})",
            last.name, last.id, last.created_at
        );
        marker = Some(last);
    }
    Ok(())
}
