//! The engine facade: writer and reader pools, and transaction scopes bound to a request context.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use crate::backend::DbConnection;
use crate::error::Error;
use crate::options::DatabaseOptions;
use crate::pool::{Pool, Pooled};
use crate::url::DbUrl;

static NEXT_FACADE: AtomicUsize = AtomicUsize::new(1);

/// What a transaction scope may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reads and writes; commits at the end of the outermost scope.
    Writer,
    /// Reads only, on the writer's database (or the replica when `synchronous_reader` is false);
    /// rolled back at the end.
    Reader,
    /// Reads that may be a little stale: on `slave_connection` when there is one.
    AsyncReader,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Writer => "writer",
            Mode::Reader => "reader",
            Mode::AsyncReader => "async reader",
        }
    }
}

/// The database side of a request context: the transaction in progress, if any.
///
/// Put one in your request context type and implement [`TransactionContext`] for it, or use
/// [`RequestContext`], which is nothing else.
pub struct TransactionSlot<C: DbConnection> {
    active: Option<Active<C>>,
}

struct Active<C: DbConnection> {
    conn: Pooled<C>,
    mode: Mode,
    facade: usize,
}

impl<C: DbConnection> TransactionSlot<C> {
    /// An empty slot: no transaction.
    pub fn new() -> Self {
        TransactionSlot { active: None }
    }

    /// The mode of the transaction in progress, if any.
    pub fn mode(&self) -> Option<Mode> {
        self.active.as_ref().map(|a| a.mode)
    }

    /// The connection of the transaction in progress.
    pub fn connection(&mut self) -> Result<&mut C, Error> {
        self.active
            .as_mut()
            .map(|a| &mut *a.conn)
            .ok_or(Error::NoTransaction)
    }
}

impl<C: DbConnection> Default for TransactionSlot<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: DbConnection> fmt::Debug for TransactionSlot<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransactionSlot")
            .field("mode", &self.mode())
            .finish()
    }
}

/// A request context that can carry a transaction (oslo.db's `transaction_context_provider`).
///
/// ```
/// use oslo_db::{TransactionContext, TransactionSlot};
/// use diesel::SqliteConnection;
///
/// struct MyRequest {
///     project_id: String,
///     db: TransactionSlot<SqliteConnection>,
/// }
///
/// impl TransactionContext<SqliteConnection> for MyRequest {
///     fn transaction_slot(&mut self) -> &mut TransactionSlot<SqliteConnection> {
///         &mut self.db
///     }
/// }
/// ```
pub trait TransactionContext<C: DbConnection> {
    /// Where the context keeps its transaction.
    fn transaction_slot(&mut self) -> &mut TransactionSlot<C>;

    /// The connection of the transaction in progress: use it inside a scope for diesel queries.
    fn connection(&mut self) -> Result<&mut C, Error> {
        self.transaction_slot().connection()
    }
}

impl<C: DbConnection> TransactionContext<C> for TransactionSlot<C> {
    fn transaction_slot(&mut self) -> &mut TransactionSlot<C> {
        self
    }
}

/// The simplest request context: a transaction slot and nothing else.
pub type RequestContext<C> = TransactionSlot<C>;

struct Inner<C: DbConnection> {
    id: usize,
    writer: Arc<Pool<C>>,
    reader: Option<Arc<Pool<C>>>,
    options: DatabaseOptions,
}

/// The engine facade (oslo.db's `enginefacade.transaction_context()`): a writer pool, an optional
/// reader pool on `slave_connection`, and [`writer`](Facade::writer), [`reader`](Facade::reader) and
/// [`async_reader`](Facade::async_reader) scopes. Cheap to clone; clones share the pools.
///
/// ```
/// use diesel::{RunQueryDsl, SqliteConnection};
/// use oslo_db::{DatabaseOptions, Facade, RequestContext, TransactionContext};
///
/// let facade = Facade::<SqliteConnection>::new(DatabaseOptions::new("sqlite://"))?;
/// let mut ctx = RequestContext::new();
/// facade.writer().using(&mut ctx, |ctx| {
///     diesel::sql_query("CREATE TABLE t (x INTEGER)").execute(ctx.connection()?)?;
///     // An inner scope on the same context joins the outer transaction.
///     facade.reader().using(ctx, |ctx| {
///         diesel::sql_query("SELECT x FROM t").execute(ctx.connection()?)?;
///         Ok::<_, oslo_db::Error>(())
///     })
/// })?;
/// # Ok::<(), oslo_db::Error>(())
/// ```
pub struct Facade<C: DbConnection> {
    inner: Arc<Inner<C>>,
}

impl<C: DbConnection> Clone for Facade<C> {
    fn clone(&self) -> Self {
        Facade {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: DbConnection> fmt::Debug for Facade<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Facade")
            .field("writer", self.inner.writer.url())
            .field("reader", &self.inner.reader.as_ref().map(|p| p.url()))
            .finish()
    }
}

impl<C: DbConnection> Facade<C> {
    /// Builds the pools and, unless `max_retries` is 0, tests a connection at start, trying
    /// `max_retries` times (`-1`: forever) `retry_interval` apart, as oslo.db's engine creation does.
    pub fn new(options: DatabaseOptions) -> Result<Facade<C>, Error> {
        let connection = options
            .connection
            .as_deref()
            .ok_or_else(|| Error::Config("`connection` is not set".to_string()))?;
        let url = DbUrl::parse(connection, &options.connection_parameters)?;
        let writer = Arc::new(Pool::new(url, &options));
        let reader = match options.slave_connection.as_deref() {
            Some(s) if !s.is_empty() => {
                let url = DbUrl::parse(s, &options.connection_parameters)?;
                Some(Arc::new(Pool::new(url, &options)))
            }
            _ => None,
        };
        let facade = Facade {
            inner: Arc::new(Inner {
                id: NEXT_FACADE.fetch_add(1, Ordering::Relaxed),
                writer,
                reader,
                options,
            }),
        };
        facade.test_connection()?;
        Ok(facade)
    }

    fn test_connection(&self) -> Result<(), Error> {
        let max = self.inner.options.max_retries;
        if max == 0 {
            return Ok(());
        }
        let mut attempt: i64 = 0;
        loop {
            attempt += 1;
            match self.inner.writer.get() {
                Ok(_) => return Ok(()),
                Err(e) if e.is_connection_error() && (max < 0 || attempt < i64::from(max)) => {
                    tracing::warn!(
                        url = %self.inner.writer.url(),
                        attempt,
                        error = %e,
                        "db.connect: database not reachable, retrying"
                    );
                    std::thread::sleep(self.inner.options.retry_interval);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The options the facade was built with.
    pub fn options(&self) -> &DatabaseOptions {
        &self.inner.options
    }

    /// The writer's URL (password masked when displayed).
    pub fn url(&self) -> &DbUrl {
        self.inner.writer.url()
    }

    /// A writer scope: commits at the end of the outermost writer scope, rolls back on error.
    pub fn writer(&self) -> Scope<'_, C> {
        self.scope(Mode::Writer)
    }

    /// A reader scope: never commits.
    pub fn reader(&self) -> Scope<'_, C> {
        self.scope(Mode::Reader)
    }

    /// An async reader scope (oslo.db's `reader.async_`): on `slave_connection` when configured.
    pub fn async_reader(&self) -> Scope<'_, C> {
        self.scope(Mode::AsyncReader)
    }

    fn scope(&self, mode: Mode) -> Scope<'_, C> {
        Scope {
            facade: self,
            mode,
            independent: false,
            savepoint: false,
            allow_async: false,
        }
    }

    /// Closes every idle pooled connection (oslo.db's `dispose_pool`).
    pub fn dispose_pool(&self) {
        self.inner.writer.dispose();
        if let Some(r) = &self.inner.reader {
            r.dispose();
        }
    }

    /// Runs `f` on a writer connection outside any transaction (migrations manage their own).
    #[cfg_attr(not(feature = "migrations"), allow(dead_code))]
    pub(crate) fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut C) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut conn = self.inner.writer.get()?;
        f(&mut conn)
    }

    fn pool_for(&self, mode: Mode) -> &Arc<Pool<C>> {
        let use_reader = match mode {
            Mode::Writer => false,
            Mode::Reader => !self.inner.options.synchronous_reader,
            Mode::AsyncReader => true,
        };
        match (&self.inner.reader, use_reader) {
            (Some(r), true) => r,
            _ => &self.inner.writer,
        }
    }
}

/// A transaction scope being set up: choose modifiers, then [`using`](Scope::using) a context or
/// [`run`](Scope::run) without one.
#[derive(Debug)]
#[must_use = "a scope does nothing until `using` or `run`"]
pub struct Scope<'f, C: DbConnection> {
    facade: &'f Facade<C>,
    mode: Mode,
    independent: bool,
    savepoint: bool,
    allow_async: bool,
}

impl<C: DbConnection> Scope<'_, C> {
    /// A new transaction on its own connection even inside another one; the outer transaction is
    /// back in the context afterwards. Not possible on an in-memory SQLite database (one connection).
    pub fn independent(mut self) -> Self {
        self.independent = true;
        self
    }

    /// Inside a transaction, run the block in a SAVEPOINT: an error rolls back the block only.
    pub fn savepoint(mut self) -> Self {
        self.savepoint = true;
        self
    }

    /// A reader that may join an async reader transaction.
    pub fn allow_async(mut self) -> Self {
        self.allow_async = true;
        self
    }

    /// Runs `f` in this scope on a fresh context and gives it the connection.
    pub fn run<T, E, F>(self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut C) -> Result<T, E>,
        E: From<Error>,
    {
        let mut ctx = TransactionSlot::<C>::new();
        self.using(&mut ctx, |ctx| f(ctx.connection()?))
    }

    /// Runs `f` in this scope on `ctx`: joins the transaction the context has, or begins one.
    ///
    /// A writer scope commits when the outermost scope returns `Ok`; any `Err` rolls back (a savepoint
    /// scope: to its savepoint) and is returned as it is.
    pub fn using<X, T, E, F>(self, ctx: &mut X, f: F) -> Result<T, E>
    where
        X: TransactionContext<C> + ?Sized,
        F: FnOnce(&mut X) -> Result<T, E>,
        E: From<Error>,
    {
        let facade_id = self.facade.inner.id;
        let joined = match &ctx.transaction_slot().active {
            Some(a) if a.facade == facade_id && !self.independent => Some(a.mode),
            _ => None,
        };
        match joined {
            Some(outer) => {
                self.check_join(outer)?;
                if self.savepoint {
                    self.in_savepoint(ctx, f)
                } else {
                    f(ctx)
                }
            }
            None => self.in_new_transaction(ctx, f),
        }
    }

    fn check_join(&self, outer: Mode) -> Result<(), Error> {
        let ok = match (outer, self.mode) {
            (Mode::Writer, _) => true,
            (Mode::Reader, Mode::Reader | Mode::AsyncReader) => true,
            (Mode::AsyncReader, Mode::AsyncReader) => true,
            (Mode::AsyncReader, Mode::Reader) => self.allow_async,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::CantUpgrade {
                from: outer.name(),
                to: self.mode.name(),
            })
        }
    }

    fn in_savepoint<X, T, E, F>(&self, ctx: &mut X, f: F) -> Result<T, E>
    where
        X: TransactionContext<C> + ?Sized,
        F: FnOnce(&mut X) -> Result<T, E>,
        E: From<Error>,
    {
        // diesel's transaction manager issues SAVEPOINT when a transaction is already open.
        AnsiTransactionManager::begin_transaction(ctx.connection()?).map_err(Error::from)?;
        let result = f(ctx);
        let conn = ctx.connection()?;
        match result {
            Ok(v) => {
                AnsiTransactionManager::commit_transaction(conn).map_err(Error::from)?;
                Ok(v)
            }
            Err(e) => {
                if let Err(rb) = AnsiTransactionManager::rollback_transaction(conn) {
                    tracing::warn!(error = %Error::from(rb), "db.savepoint: rollback failed");
                }
                Err(e)
            }
        }
    }

    fn in_new_transaction<X, T, E, F>(&self, ctx: &mut X, f: F) -> Result<T, E>
    where
        X: TransactionContext<C> + ?Sized,
        F: FnOnce(&mut X) -> Result<T, E>,
        E: From<Error>,
    {
        let pool = self.facade.pool_for(self.mode);
        let outer = ctx.transaction_slot().active.take();
        if outer.is_some() && pool.is_single_connection() {
            let pool_is_outer = outer
                .as_ref()
                .is_some_and(|o| o.facade == self.facade.inner.id);
            if pool_is_outer {
                ctx.transaction_slot().active = outer;
                return Err(Error::NotSupported {
                    message: "an independent transaction on an in-memory SQLite database, which has one connection"
                        .to_string(),
                }
                .into());
            }
        }
        let result = self.begin(pool).map(|conn| {
            ctx.transaction_slot().active = Some(Active {
                conn,
                mode: self.mode,
                facade: self.facade.inner.id,
            });
            let result = f(ctx);
            let active = ctx.transaction_slot().active.take();
            (result, active)
        });
        ctx.transaction_slot().active = outer;
        let (result, active) = result?;
        let Some(active) = active else {
            return result;
        };
        self.finish(active.conn, result)
    }

    fn begin(&self, pool: &Arc<Pool<C>>) -> Result<Pooled<C>, Error> {
        let mut conn = pool.get()?;
        if let Err(e) = AnsiTransactionManager::begin_transaction(&mut *conn) {
            let e = Error::from(e);
            conn.discard();
            return Err(e);
        }
        Ok(conn)
    }

    fn finish<T, E: From<Error>>(&self, mut conn: Pooled<C>, result: Result<T, E>) -> Result<T, E> {
        match (self.mode, result) {
            (Mode::Writer, Ok(v)) => match AnsiTransactionManager::commit_transaction(&mut *conn) {
                Ok(()) => Ok(v),
                Err(e) => {
                    let e = Error::from(e);
                    // diesel rolls back after a failed COMMIT; a connection error leaves it unusable.
                    if e.is_connection_error()
                        || AnsiTransactionManager::rollback_transaction(&mut *conn).is_err()
                    {
                        conn.discard();
                    }
                    Err(e.into())
                }
            },
            (_, result) => {
                if let Err(rb) = AnsiTransactionManager::rollback_transaction(&mut *conn) {
                    let rb = Error::from(rb);
                    tracing::debug!(error = %rb, "db.transaction: rollback failed, dropping the connection");
                    conn.discard();
                }
                result
            }
        }
    }
}
