//! The matchmaker: the name service of the brokerless transport.
//!
//! It maps a key (`rpc:<exchange>:<topic>`, `rpc:<exchange>:<topic>.<server>`,
//! `notify:<exchange>:<topic>.<priority>`) to the members that serve it: `host:port` for RPC servers,
//! `host:port|<pool>` for notification listeners (an empty pool is the listeners without a pool).
//!
//! Three implementations:
//! - [`LocalMatchmaker`]: one registry per process (plain `zmq://`), for programs whose clients and
//!   servers live in one process, and for tests;
//! - [`FileMatchmaker`]: a static JSON file, for fixed deployments (servers do not register);
//! - [`RedisMatchmaker`]: Redis sorted sets whose scores are expiry times, refreshed by live servers, so
//!   a server that dies drops out when its entries expire.

use std::collections::HashMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::transport::BoxFuture;
use crate::{Error, Result};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A name service mapping keys to the addresses that serve them.
pub(crate) trait Matchmaker: Send + Sync + Debug {
    /// Adds (or refreshes) `member` under `key` for `ttl`.
    fn register<'a>(
        &'a self,
        key: &'a str,
        member: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<()>>;
    /// Removes `member` from `key`.
    fn unregister<'a>(&'a self, key: &'a str, member: &'a str) -> BoxFuture<'a, Result<()>>;
    /// The live members of `key`.
    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<String>>>;
    /// Whether servers announce themselves (false for a static file).
    fn dynamic(&self) -> bool {
        true
    }
}

/// The in-process registry behind plain `zmq://`: every transport of the process shares it.
#[derive(Debug, Default)]
pub(crate) struct LocalMatchmaker {
    entries: Mutex<HashMap<String, HashMap<String, Instant>>>,
}

impl LocalMatchmaker {
    /// The registry of this process.
    pub(crate) fn shared() -> &'static LocalMatchmaker {
        static SHARED: OnceLock<LocalMatchmaker> = OnceLock::new();
        SHARED.get_or_init(LocalMatchmaker::default)
    }
}

impl Matchmaker for LocalMatchmaker {
    fn register<'a>(
        &'a self,
        key: &'a str,
        member: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<()>> {
        lock(&self.entries)
            .entry(key.to_owned())
            .or_default()
            .insert(member.to_owned(), Instant::now() + ttl);
        Box::pin(async { Ok(()) })
    }

    fn unregister<'a>(&'a self, key: &'a str, member: &'a str) -> BoxFuture<'a, Result<()>> {
        let mut entries = lock(&self.entries);
        if let Some(m) = entries.get_mut(key) {
            m.remove(member);
            if m.is_empty() {
                entries.remove(key);
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
        let now = Instant::now();
        let mut found: Vec<String> = lock(&self.entries)
            .get(key)
            .map(|m| {
                m.iter()
                    .filter(|(_, exp)| **exp > now)
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        Box::pin(async move { Ok(found) })
    }
}

/// Names to addresses, as a static file lists them.
type Table = HashMap<String, Vec<String>>;

/// A static file of targets, read again when it changes.
///
/// The file is a JSON object from names to lists of `host:port`: `"<topic>"` (every server of the topic),
/// `"<topic>.<server>"` (one server), `"<topic>.<priority>"` (the notification listeners without a pool)
/// and `"<topic>.<priority>@<pool>"` (the listeners of a pool). The exchange is not part of the name.
#[derive(Debug)]
pub(crate) struct FileMatchmaker {
    path: PathBuf,
    cache: Mutex<Option<(SystemTime, Table)>>,
}

impl FileMatchmaker {
    /// A matchmaker reading `path`; the file is read (and checked) now.
    pub(crate) fn new(path: PathBuf) -> Result<Self> {
        let m = FileMatchmaker {
            path,
            cache: Mutex::new(None),
        };
        m.table()?;
        Ok(m)
    }

    fn table(&self) -> Result<Table> {
        let io = |e: std::io::Error| {
            Error::Configuration(format!(
                "cannot read the matchmaker file `{}`: {e}",
                self.path.display()
            ))
        };
        let mtime = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .map_err(io)?;
        let mut cache = lock(&self.cache);
        if let Some((t, table)) = cache.as_ref()
            && *t == mtime
        {
            return Ok(table.clone());
        }
        let text = std::fs::read_to_string(&self.path).map_err(io)?;
        let table: Table = serde_json::from_str(&text).map_err(|e| {
            Error::Configuration(format!(
                "the matchmaker file `{}` is not a JSON object of address lists: {e}",
                self.path.display()
            ))
        })?;
        for addr in table.values().flatten() {
            check_addr(addr)?;
        }
        *cache = Some((mtime, table.clone()));
        Ok(table)
    }
}

/// Checks a `host:port` address.
pub(crate) fn check_addr(addr: &str) -> Result<()> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(())
        }
        _ => Err(Error::Configuration(format!(
            "`{addr}` is not a `host:port` address"
        ))),
    }
}

impl Matchmaker for FileMatchmaker {
    fn register<'a>(
        &'a self,
        _key: &'a str,
        _member: &'a str,
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn unregister<'a>(&'a self, _key: &'a str, _member: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(async move {
            let table = self.table()?;
            let mut parts = key.splitn(3, ':');
            let (kind, name) = match (parts.next(), parts.next(), parts.next()) {
                (Some(kind), Some(_exchange), Some(name)) => (kind, name),
                _ => return Ok(Vec::new()),
            };
            let mut found = Vec::new();
            if kind == "notify" {
                for (k, addrs) in &table {
                    let pool = if k == name {
                        ""
                    } else if let Some(pool) =
                        k.strip_prefix(name).and_then(|rest| rest.strip_prefix('@'))
                    {
                        pool
                    } else {
                        continue;
                    };
                    found.extend(addrs.iter().map(|a| format!("{a}|{pool}")));
                }
            } else if let Some(addrs) = table.get(name) {
                found.extend(addrs.iter().cloned());
            }
            found.sort();
            found.dedup();
            Ok(found)
        })
    }

    fn dynamic(&self) -> bool {
        false
    }
}

/// Redis: one sorted set per key (`oslo.zmq:<key>`), members scored by their expiry time in
/// milliseconds since the epoch. A lookup returns the members not yet expired; a registration also
/// removes the expired ones and sets the whole key to expire, so a topic whose servers all died
/// disappears.
pub(crate) struct RedisMatchmaker {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    timeout: Duration,
}

/// Without the client, whose address may hold the Redis password.
impl Debug for RedisMatchmaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisMatchmaker")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn redis_err(e: redis::RedisError) -> Error {
    Error::Connection {
        reason: format!("matchmaker redis: {e}"),
    }
}

impl RedisMatchmaker {
    /// A matchmaker on the Redis at `url` (`redis://[:password@]host:port[/db]`); it connects lazily.
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| Error::Configuration(format!("invalid matchmaker redis address: {e}")))?;
        Ok(RedisMatchmaker {
            client,
            conn: tokio::sync::Mutex::new(None),
            timeout,
        })
    }

    async fn run<T: redis::FromRedisValue + Send>(&self, cmd: redis::Pipeline) -> Result<T> {
        let mut guard = self.conn.lock().await;
        let conn = match guard.as_mut() {
            Some(c) => c,
            None => {
                let c = tokio::time::timeout(
                    self.timeout,
                    self.client.get_multiplexed_async_connection(),
                )
                .await
                .map_err(|_| Error::Connection {
                    reason: "matchmaker redis: connection timed out".into(),
                })?
                .map_err(redis_err)?;
                guard.insert(c)
            }
        };
        let out = tokio::time::timeout(self.timeout, cmd.query_async::<T>(conn)).await;
        match out {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                *guard = None;
                Err(redis_err(e))
            }
            Err(_) => {
                *guard = None;
                Err(Error::Connection {
                    reason: "matchmaker redis: command timed out".into(),
                })
            }
        }
    }
}

fn redis_key(key: &str) -> String {
    format!("oslo.zmq:{key}")
}

impl Matchmaker for RedisMatchmaker {
    fn register<'a>(
        &'a self,
        key: &'a str,
        member: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let k = redis_key(key);
            let now = now_ms();
            let mut p = redis::pipe();
            p.cmd("ZREMRANGEBYSCORE")
                .arg(&k)
                .arg("-inf")
                .arg(now)
                .ignore()
                .cmd("ZADD")
                .arg(&k)
                .arg(now + ttl.as_secs_f64() * 1000.0)
                .arg(member)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&k)
                .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
                .ignore();
            self.run::<()>(p).await
        })
    }

    fn unregister<'a>(&'a self, key: &'a str, member: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut p = redis::pipe();
            p.cmd("ZREM").arg(redis_key(key)).arg(member).ignore();
            self.run::<()>(p).await
        })
    }

    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(async move {
            let mut p = redis::pipe();
            p.cmd("ZRANGEBYSCORE")
                .arg(redis_key(key))
                .arg(format!("({}", now_ms()))
                .arg("+inf");
            let (mut found,): (Vec<String>,) = self.run(p).await?;
            found.sort();
            Ok(found)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_password_stays_out_of_debug() {
        let m = RedisMatchmaker::new("redis://:s3cret@127.0.0.1:6379/0", Duration::from_secs(1))
            .unwrap();
        assert!(!format!("{m:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn local_entries_expire_unless_refreshed() {
        let m = LocalMatchmaker::default();
        m.register("rpc:x:t", "127.0.0.1:1", Duration::from_millis(100))
            .await
            .unwrap();
        m.register("rpc:x:t", "127.0.0.1:2", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            m.lookup("rpc:x:t").await.unwrap(),
            ["127.0.0.1:1", "127.0.0.1:2"]
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(m.lookup("rpc:x:t").await.unwrap(), ["127.0.0.1:2"]);
        m.unregister("rpc:x:t", "127.0.0.1:2").await.unwrap();
        assert!(m.lookup("rpc:x:t").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn file_names_topics_servers_and_pools() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        std::fs::write(
            &path,
            r#"{"compute": ["h1:1", "h2:2"], "compute.h1": ["h1:1"],
                "notifications.info": ["h3:3"], "notifications.info@audit": ["h4:4"],
                "notifications.infox": ["h5:5"]}"#,
        )
        .unwrap();
        let m = FileMatchmaker::new(path.clone()).unwrap();
        assert_eq!(
            m.lookup("rpc:openstack:compute").await.unwrap(),
            ["h1:1", "h2:2"]
        );
        assert_eq!(m.lookup("rpc:nova:compute.h1").await.unwrap(), ["h1:1"]);
        assert!(m.lookup("rpc:nova:compute.h9").await.unwrap().is_empty());
        assert_eq!(
            m.lookup("notify:openstack:notifications.info")
                .await
                .unwrap(),
            ["h3:3|", "h4:4|audit"]
        );
        assert!(!m.dynamic());
        for bad in [
            r#"{"a": "h:1"}"#,
            r#"{"a": ["nohost"]}"#,
            r#"{"a": [":1"]}"#,
            "[]",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(FileMatchmaker::new(path.clone()).is_err(), "{bad}");
        }
    }
}
