//! oslo-db at work on an in-memory SQLite database: a few records, one soft-deleted and its name
//! created again (the unique `(name, deleted)` constraint allows it), a duplicate refused, and keyset
//! pages through the live rows.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use oslo_db::{
    DatabaseOptions, Error, Facade, ModelQuery, ProjectFilter, ReadDeleted, RequestContext,
    SoftDelete, SortDir, paginate_query,
};

#[allow(missing_docs, unreachable_pub)]
mod schema {
    oslo_db::table_with_mixins! {
        servers (id) {
            id -> Integer,
            name -> Text,
        }
    }
}
use schema::servers;

/// A row of `servers`.
#[derive(Debug, Clone, Queryable)]
pub struct Server {
    id: i32,
    name: String,
    created_at: oslo_db::chrono::NaiveDateTime,
    updated_at: Option<oslo_db::chrono::NaiveDateTime>,
    deleted_at: Option<oslo_db::chrono::NaiveDateTime>,
    deleted: i32,
}

oslo_db::soft_delete_model!(servers, id: i32);
oslo_db::paginated_model!(servers, Server { id, name });

const SCHEMA: &str = "CREATE TABLE servers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(64) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP,
    deleted_at TIMESTAMP,
    deleted INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT uniq_servers0name0deleted UNIQUE (name, deleted)
)";

fn add(ctx: &mut RequestContext<SqliteConnection>, name: &str) -> Result<(), Error> {
    // created_at = now, as oslo.db's TimestampMixin does.
    oslo_db::insert_stamped!(ctx.connection()?, servers, servers::name.eq(name))?;
    Ok(())
}

fn run_db() -> Result<(), Error> {
    let facade = Facade::<SqliteConnection>::new(DatabaseOptions::new("sqlite://"))?;
    println!("facade on {}", facade.url());
    let mut ctx = RequestContext::new();
    facade.writer().using(&mut ctx, |ctx| {
        ctx.connection()?.batch_execute(SCHEMA)?;
        for name in ["alpha", "bravo", "charlie", "delta", "echo"] {
            add(ctx, name)?;
        }
        Ok::<_, Error>(())
    })?;
    println!("created alpha, bravo, charlie, delta, echo");

    let deleted = facade.writer().using(&mut ctx, |ctx| {
        let bravo: i32 = servers::table
            .filter(servers::name.eq("bravo"))
            .select(servers::id)
            .first(ctx.connection()?)?;
        servers::table.soft_delete(ctx.connection()?, bravo)?;
        Ok::<_, Error>(bravo)
    })?;
    println!("soft-deleted bravo: its row now has deleted = {deleted} (its id)");
    facade.writer().using(&mut ctx, |ctx| add(ctx, "bravo"))?;
    println!("created bravo again: the unique (name, deleted) constraint allows one live bravo");
    match facade.writer().using(&mut ctx, |ctx| add(ctx, "bravo")) {
        Err(e @ Error::DuplicateEntry { .. }) => println!("a second live bravo is refused: {e}"),
        other => {
            return Err(Error::Db {
                message: format!("expected a duplicate entry, got {other:?}"),
            });
        }
    }

    let dirs: [SortDir; 2] = ["asc".parse()?, "asc".parse()?];
    let mut marker: Option<Server> = None;
    let mut page_no = 0;
    loop {
        let page: Vec<Server> = facade.reader().using(&mut ctx, |ctx| {
            let q = ModelQuery::<diesel::sqlite::Sqlite>::model_query(
                servers::table,
                ReadDeleted::No,
                ProjectFilter::Any,
            )?;
            let q = paginate_query::<servers::table, diesel::sqlite::Sqlite>(
                q,
                Some(2),
                &["name", "id"],
                &dirs,
                marker.as_ref(),
            )?;
            Ok::<_, Error>(q.load(ctx.connection()?)?)
        })?;
        let Some(last) = page.last().cloned() else {
            break;
        };
        page_no += 1;
        let names: Vec<String> = page
            .iter()
            .map(|s| format!("{} (id {})", s.name, s.id))
            .collect();
        println!("page {page_no}: {}", names.join(", "));
        marker = Some(last);
    }
    let all: Vec<Server> = facade.reader().run(|c| {
        servers::table
            .order(servers::id)
            .load(c)
            .map_err(Error::from)
    })?;
    for s in all.iter().filter(|s| s.deleted != 0) {
        println!(
            "still in the table, soft-deleted: {} (id {}, deleted_at {:?}, updated_at {:?}, created_at {})",
            s.name,
            s.id,
            s.deleted_at.map(|t| t.to_string()),
            s.updated_at.map(|t| t.to_string()),
            s.created_at
        );
    }
    Ok(())
}

/// Runs the part.
pub fn run() -> Result<(), String> {
    run_db().map_err(|e| e.to_string())
}
