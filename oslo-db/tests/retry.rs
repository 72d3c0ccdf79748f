//! `RetryPolicy`: what is retried, how many times, and how long it sleeps.

use std::time::{Duration, Instant};

use oslo_db::{AsDbError, Error, RetryPolicy};

fn deadlock() -> Error {
    Error::Deadlock {
        message: "deadlock detected".into(),
    }
}

fn lost() -> Error {
    Error::Connection {
        message: "server closed the connection unexpectedly".into(),
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy::new().retry_interval(Duration::ZERO)
}

fn calls_until(
    policy: &RetryPolicy,
    fail: impl Fn(u32) -> Option<Error>,
) -> (Result<u32, Error>, u32) {
    let mut n = 0;
    let r = policy.call(|| {
        n += 1;
        match fail(n) {
            Some(e) => Err(e),
            None => Ok(n),
        }
    });
    (r, n)
}

#[test]
fn total_calls_are_max_retries_plus_one() {
    let p = fast().max_retries(3).retry_on_deadlock(true);
    let (r, n) = calls_until(&p, |_| Some(deadlock()));
    assert!(matches!(r, Err(Error::Deadlock { .. })));
    assert_eq!(n, 4);
    let (r, n) = calls_until(&p, |n| (n < 3).then(deadlock));
    assert_eq!((r.unwrap(), n), (3, 3));
}

#[test]
fn only_the_chosen_kinds_are_retried() {
    // Deadlocks and lost connections are not retried unless asked for.
    let (_, n) = calls_until(&fast(), |_| Some(deadlock()));
    assert_eq!(n, 1);
    let (_, n) = calls_until(&fast().retry_on_deadlock(true), |_| Some(lost()));
    assert_eq!(n, 1);
    let (r, n) = calls_until(&fast().retry_on_disconnect(true), |n| (n < 5).then(lost));
    assert_eq!((r.unwrap(), n), (5, 5));
    // A duplicate entry is never retried.
    let dup = || Error::DuplicateEntry {
        columns: vec!["name".into()],
        value: None,
        message: String::new(),
    };
    let (_, n) = calls_until(
        &fast().retry_on_deadlock(true).retry_on_disconnect(true),
        |_| Some(dup()),
    );
    assert_eq!(n, 1);
}

#[test]
fn retry_requests_and_checks() {
    let (r, n) = calls_until(&fast().max_retries(2), |_| {
        Some(Error::retry_request("not yet"))
    });
    assert_eq!(n, 3);
    let err = r.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(
        std::error::Error::source(&err)
            .map(ToString::to_string)
            .as_deref(),
        Some("not yet")
    );

    let mut n = 0;
    let r: Result<(), Error> = fast().max_retries(5).call_checked(
        |e: &Error| matches!(e, Error::Db { message } if message == "flaky"),
        || {
            n += 1;
            Err(Error::Db {
                message: if n < 3 { "flaky" } else { "fatal" }.into(),
            })
        },
    );
    assert!(matches!(r, Err(Error::Db { message }) if message == "fatal"));
    assert_eq!(n, 3);
}

#[test]
fn zero_or_negative_max_retries_run_once() {
    for max in [0, -1] {
        let (_, n) = calls_until(&fast().max_retries(max).retry_on_deadlock(true), |_| {
            Some(deadlock())
        });
        assert_eq!(n, 1, "max_retries {max}");
    }
}

/// A caller's own error type that wraps database errors.
#[derive(Debug)]
enum AppError {
    Db(Error),
}

impl AsDbError for AppError {
    fn as_db_error(&self) -> Option<&Error> {
        match self {
            AppError::Db(e) => Some(e),
        }
    }
}

#[test]
fn works_on_caller_error_types() {
    let mut n = 0;
    let r: Result<u32, AppError> = fast().retry_on_deadlock(true).call(|| {
        n += 1;
        if n < 2 {
            Err(AppError::Db(deadlock()))
        } else {
            Ok(n)
        }
    });
    assert_eq!(r.unwrap(), 2);
}

#[test]
fn sleeps_double_up_to_the_cap() {
    let p = RetryPolicy::new()
        .retry_interval(Duration::from_millis(10))
        .max_retry_interval(Duration::from_millis(25))
        .max_retries(4);
    assert_eq!(
        p.planned_sleeps(),
        [10, 20, 25, 25].map(Duration::from_millis)
    );
    let start = Instant::now();
    let (_, n) = calls_until(&p, |_| Some(Error::retry_request("again")));
    assert_eq!(n, 5);
    assert!(
        start.elapsed() >= Duration::from_millis(80),
        "{:?}",
        start.elapsed()
    );
    let flat = p.clone().inc_retry_interval(false);
    assert_eq!(
        flat.planned_sleeps(),
        [10, 10, 10, 10].map(Duration::from_millis)
    );

    // Jitter (always on after a deadlock) never sleeps longer than the plain schedule.
    let start = Instant::now();
    let (_, n) = calls_until(&p.clone().retry_on_deadlock(true), |_| Some(deadlock()));
    assert_eq!(n, 5);
    assert!(
        start.elapsed() < Duration::from_millis(80 + 500),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn from_options_uses_the_db_options() {
    let opts = oslo_db::DatabaseOptions::default()
        .db_retry_interval(Duration::from_secs(2))
        .db_max_retries(3)
        .db_max_retry_interval(Duration::from_secs(5))
        .use_db_reconnect(true);
    let p = RetryPolicy::from_options(&opts);
    assert_eq!(p.planned_sleeps(), [2, 4, 5].map(Duration::from_secs));
    assert_eq!(
        p,
        RetryPolicy::new()
            .retry_interval(Duration::from_secs(2))
            .max_retries(3)
            .max_retry_interval(Duration::from_secs(5))
            .retry_on_deadlock(true)
            .retry_on_disconnect(true)
    );
}
