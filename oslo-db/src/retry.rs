//! `wrap_db_retry`: run a closure again on deadlocks, lost connections, explicit retry requests or
//! whatever a caller's check accepts, with oslo.db's interval, doubling, cap and jitter.

use std::time::Duration;

use rand::RngExt;

use crate::error::Error;
use crate::options::DatabaseOptions;

/// Lets [`RetryPolicy`] see the database error inside a caller's own error type.
pub trait AsDbError {
    /// The database error this error is or wraps, if any.
    fn as_db_error(&self) -> Option<&Error>;
}

impl AsDbError for Error {
    fn as_db_error(&self) -> Option<&Error> {
        Some(self)
    }
}

/// How to retry (oslo.db's `wrap_db_retry` arguments, same defaults).
///
/// The closure runs at most `max_retries + 1` times. The first sleep is `retry_interval`; with
/// `inc_retry_interval` the next interval doubles each time and the sleep is capped at
/// `max_retry_interval`; with jitter (always for deadlocks) a sleep is uniform in `[0, interval]`.
///
/// ```
/// use std::time::Duration;
/// use oslo_db::{Error, RetryPolicy};
///
/// let mut calls = 0;
/// let out = RetryPolicy::new()
///     .retry_interval(Duration::ZERO)
///     .retry_on_deadlock(true)
///     .call(|| {
///         calls += 1;
///         if calls < 3 { Err(Error::Deadlock { message: "deadlock detected".into() }) } else { Ok(calls) }
///     });
/// assert_eq!(out.unwrap(), 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    retry_interval: Duration,
    max_retries: i32,
    inc_retry_interval: bool,
    max_retry_interval: Duration,
    retry_on_disconnect: bool,
    retry_on_deadlock: bool,
    jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retry_interval: Duration::from_secs(1),
            max_retries: 20,
            inc_retry_interval: true,
            max_retry_interval: Duration::from_secs(10),
            retry_on_disconnect: false,
            retry_on_deadlock: false,
            jitter: false,
        }
    }
}

impl RetryPolicy {
    /// `wrap_db_retry()`'s defaults: 1 s, 20 retries, doubling, capped at 10 s, only retry requests.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `db_*` options, retrying on deadlocks, and on lost connections when `use_db_reconnect`
    /// (as oslo.db's `DBAPI` does for functions marked for it).
    pub fn from_options(options: &DatabaseOptions) -> Self {
        RetryPolicy {
            retry_interval: options.db_retry_interval,
            max_retries: options.db_max_retries,
            inc_retry_interval: options.db_inc_retry_interval,
            max_retry_interval: options.db_max_retry_interval,
            retry_on_disconnect: options.use_db_reconnect,
            retry_on_deadlock: true,
            jitter: false,
        }
    }

    /// Seconds before the first retry.
    #[must_use]
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// Retries after the first call; 0 or less: no retry (what oslo.db does, whatever its help says).
    #[must_use]
    pub fn max_retries(mut self, n: i32) -> Self {
        self.max_retries = n;
        self
    }

    /// Double the interval after each retry.
    #[must_use]
    pub fn inc_retry_interval(mut self, on: bool) -> Self {
        self.inc_retry_interval = on;
        self
    }

    /// The longest sleep.
    #[must_use]
    pub fn max_retry_interval(mut self, max: Duration) -> Self {
        self.max_retry_interval = max;
        self
    }

    /// Retry on [`Error::Connection`].
    #[must_use]
    pub fn retry_on_disconnect(mut self, on: bool) -> Self {
        self.retry_on_disconnect = on;
        self
    }

    /// Retry on [`Error::Deadlock`] and [`Error::Consistency`].
    #[must_use]
    pub fn retry_on_deadlock(mut self, on: bool) -> Self {
        self.retry_on_deadlock = on;
        self
    }

    /// Random sleeps in `[0, interval]` (always on after a deadlock).
    #[must_use]
    pub fn jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// The sleeps before each retry when nothing adds jitter: `retry_interval`, then doubling and
    /// capped at `max_retry_interval` when `inc_retry_interval`.
    pub fn planned_sleeps(&self) -> Vec<Duration> {
        let mut sleep = self.retry_interval;
        let mut next = self.retry_interval;
        let mut out = Vec::new();
        for _ in 0..self.max_retries.max(0) {
            out.push(sleep);
            sleep = self.next_sleep(sleep, &mut next, false);
        }
        out
    }

    /// The sleep after `sleep`: the next interval doubles (uncapped, as in oslo.db), the sleep is it,
    /// or uniform in `[0, it]` with jitter, capped at `max_retry_interval`.
    fn next_sleep(&self, sleep: Duration, next: &mut Duration, jitter: bool) -> Duration {
        if !self.inc_retry_interval {
            return sleep;
        }
        *next = next.saturating_mul(2);
        let s = if jitter {
            next.mul_f64(rand::rng().random_range(0.0..=1.0))
        } else {
            *next
        };
        s.min(self.max_retry_interval)
    }

    /// Runs `f` until it succeeds, fails with an error this policy does not retry, or the retries run out.
    pub fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: AsDbError,
    {
        self.call_checked(|_| false, f)
    }

    /// As [`call`](Self::call), also retrying any error `check` accepts (`exception_checker`).
    pub fn call_checked<T, E, F, K>(&self, check: K, mut f: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: AsDbError,
        K: Fn(&E) -> bool,
    {
        let mut sleep = self.retry_interval;
        let mut next = self.retry_interval;
        let mut remaining = self.max_retries;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let err = match f() {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let db = err.as_db_error();
            let expected = match db {
                Some(Error::RetryRequest(_)) => true,
                Some(e) if self.retry_on_deadlock && e.is_deadlock() => true,
                Some(e) if self.retry_on_disconnect && e.is_connection_error() => true,
                _ => check(&err),
            };
            if !expected {
                return Err(err);
            }
            if remaining <= 0 {
                tracing::error!(attempts = attempt, "db.retry: DB exceeded retry limit");
                return Err(err);
            }
            let deadlock = db.is_some_and(Error::is_deadlock);
            tracing::debug!(attempt, sleep = ?sleep, error = ?db.map(ToString::to_string), "db.retry");
            std::thread::sleep(sleep);
            sleep = self.next_sleep(sleep, &mut next, deadlock || self.jitter);
            remaining -= 1;
        }
    }
}
