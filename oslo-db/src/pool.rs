//! A small blocking connection pool with SQLAlchemy's QueuePool semantics: `max_pool_size` connections
//! kept, up to `max_overflow` more opened under load and closed on return, `pool_timeout` to wait for
//! one, connections recycled after `connection_recycle_time`, and a ping at checkout of a connection
//! idle for `pool_pre_ping_after` (SQLAlchemy's `pool_pre_ping` pings every time), so a server
//! restarted while the pool was quiet costs a reconnect, not an error.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use crate::backend::DbConnection;
use crate::error::Error;
use crate::options::DatabaseOptions;
use crate::url::DbUrl;

struct Idle<C> {
    conn: C,
    created: Instant,
    returned: Instant,
}

struct State<C> {
    idle: Vec<Idle<C>>,
    /// Connections open, idle or lent out.
    open: usize,
}

pub(crate) struct Pool<C> {
    url: DbUrl,
    options: DatabaseOptions,
    max_open: usize,
    max_idle: usize,
    timeout: Duration,
    recycle: Option<Duration>,
    pre_ping_after: Duration,
    state: Mutex<State<C>>,
    freed: Condvar,
}

impl<C: DbConnection> Pool<C> {
    pub(crate) fn new(url: DbUrl, options: &DatabaseOptions) -> Pool<C> {
        // An in-memory SQLite database lives in its connection: one connection, shared (oslo.db uses
        // SQLAlchemy's StaticPool for the same reason).
        let (max_open, max_idle, recycle) = if url.is_memory() {
            (1, 1, None)
        } else {
            let idle = options.max_pool_size.max(1) as usize;
            (
                idle + options.max_overflow as usize,
                idle,
                Some(options.connection_recycle_time).filter(|d| !d.is_zero()),
            )
        };
        Pool {
            url,
            options: options.clone(),
            max_open,
            max_idle,
            timeout: options.pool_timeout,
            recycle,
            pre_ping_after: options.pool_pre_ping_after,
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    pub(crate) fn url(&self) -> &DbUrl {
        &self.url
    }

    pub(crate) fn is_single_connection(&self) -> bool {
        self.max_open == 1
    }

    fn lock(&self) -> MutexGuard<'_, State<C>> {
        // A panic while holding the lock leaves the counts consistent (no user code runs under it).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expired(&self, created: Instant) -> bool {
        self.recycle.is_some_and(|r| created.elapsed() >= r)
    }

    /// Takes a working connection, opening one if there is room, waiting up to `pool_timeout` if not.
    pub(crate) fn get(self: &Arc<Self>) -> Result<Pooled<C>, Error> {
        let deadline = Instant::now() + self.timeout;
        let mut state = self.lock();
        loop {
            if let Some(idle) = state.idle.pop() {
                drop(state);
                let mut conn = idle.conn;
                let fresh = idle.returned.elapsed() < self.pre_ping_after;
                if !self.expired(idle.created) && (fresh || conn.ping()) {
                    return Ok(Pooled {
                        conn: Some(conn),
                        created: idle.created,
                        pool: Arc::clone(self),
                    });
                }
                tracing::debug!(url = %self.url, "db.pool: dropping a stale or recycled connection");
                drop(conn);
                state = self.lock();
                state.open -= 1;
                continue;
            }
            if state.open < self.max_open {
                state.open += 1;
                drop(state);
                return match C::open(&self.url, &self.options) {
                    Ok(conn) => Ok(Pooled {
                        conn: Some(conn),
                        created: Instant::now(),
                        pool: Arc::clone(self),
                    }),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::PoolTimeout {
                    timeout: self.timeout,
                });
            }
            state = self
                .freed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn put_back(&self, mut conn: C, created: Instant) {
        // A connection left inside a transaction (a panic in a scope) or broken is not reused.
        let clean = AnsiTransactionManager::transaction_manager_status_mut(&mut conn)
            .transaction_depth()
            .is_ok_and(|d| d.is_none());
        let mut state = self.lock();
        if clean && !self.expired(created) && state.idle.len() < self.max_idle {
            state.idle.push(Idle {
                conn,
                created,
                returned: Instant::now(),
            });
        } else {
            state.open -= 1;
            drop(state);
            drop(conn);
        }
        self.freed.notify_one();
    }

    /// Closes the idle connections (oslo.db's `dispose_pool`).
    pub(crate) fn dispose(&self) {
        let mut state = self.lock();
        let n = state.idle.len();
        state.idle.clear();
        state.open -= n;
        drop(state);
        self.freed.notify_all();
    }
}

/// A connection lent by the pool, given back when dropped.
pub(crate) struct Pooled<C: DbConnection> {
    conn: Option<C>,
    created: Instant,
    pool: Arc<Pool<C>>,
}

impl<C: DbConnection> Pooled<C> {
    /// Drops the connection instead of giving it back (it failed in a way that may leave it broken).
    pub(crate) fn discard(mut self) {
        if self.conn.take().is_some() {
            self.pool.lock().open -= 1;
            self.pool.freed.notify_one();
        }
    }
}

impl<C: DbConnection> Deref for Pooled<C> {
    type Target = C;
    fn deref(&self) -> &C {
        // `conn` is only `None` after `discard` consumed `self` or during `drop`.
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("a pooled connection used after release"))
    }
}

impl<C: DbConnection> DerefMut for Pooled<C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("a pooled connection used after release"))
    }
}

impl<C: DbConnection> Drop for Pooled<C> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put_back(conn, self.created);
        }
    }
}
