//! The shared transport suite on `rabbit://`, against the RabbitMQ the test script starts
//! (`OSLO_TEST_RABBIT_URL`).
#![cfg(feature = "rabbit")]

mod suite;

/// The broker's URL, or `None` (with a note) when it is not set; a failure when the test script requires
/// the servers.
fn rabbit_url() -> Option<String> {
    match std::env::var("OSLO_TEST_RABBIT_URL") {
        Ok(u) if !u.is_empty() => Some(u),
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
