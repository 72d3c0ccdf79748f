//! The shared transport suite on `rabbit://`, against the RabbitMQ the test script starts
//! (`OSLO_TEST_RABBIT_URL`).
#![cfg(feature = "rabbit")]

mod suite;

/// The broker's URL, holding a shared lock that the broker-restarting fault tests take exclusively (so
/// they never restart the broker under these tests).
struct Rabbit {
    url: String,
    _lock: std::fs::File,
}

impl std::ops::Deref for Rabbit {
    type Target = str;
    fn deref(&self) -> &str {
        &self.url
    }
}

/// The broker's URL, or `None` (with a note) when it is not set; a failure when the test script requires
/// the servers.
fn rabbit_url() -> Option<Rabbit> {
    match std::env::var("OSLO_TEST_RABBIT_URL") {
        Ok(url) if !url.is_empty() => {
            let path = std::env::temp_dir().join("oslo-rs-rabbit-tests.lock");
            let lock = std::fs::File::create(path).expect("create the broker lock file");
            lock.lock_shared().expect("take the broker lock");
            Some(Rabbit { url, _lock: lock })
        }
        _ => {
            assert!(
                std::env::var("OSLO_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
                "OSLO_TEST_RABBIT_URL is not set but OSLO_TEST_REQUIRE_SERVERS=1"
            );
            eprintln!("skipped: OSLO_TEST_RABBIT_URL is not set (run through scripts/test.sh)");
            None
        }
    }
}

transport_suite!(rabbit_url());
