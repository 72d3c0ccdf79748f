//! The shared transport suite on `zmq://` (the in-process matchmaker, loopback sockets) and on
//! `zmq+redis://` against the Redis the test script starts (`OSLO_TEST_REDIS_URL`).
#![cfg(feature = "zmq")]

mod suite;

mod inprocess {
    use super::suite;
    use crate::transport_suite;

    transport_suite!(Some(String::from("zmq://?bind_address=127.0.0.1")));
}

mod redis {
    use super::suite;
    use crate::transport_suite;

    /// `zmq+redis://host:port` from `OSLO_TEST_REDIS_URL`, or `None` (with a note) when it is not set.
    fn redis_url() -> Option<String> {
        match std::env::var("OSLO_TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                Some(format!("zmq+redis://{rest}"))
            }
            _ => {
                assert!(
                    std::env::var("OSLO_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
                    "OSLO_TEST_REDIS_URL is not set but OSLO_TEST_REQUIRE_SERVERS=1"
                );
                eprintln!("skipped: OSLO_TEST_REDIS_URL is not set (run through scripts/test.sh)");
                None
            }
        }
    }

    transport_suite!(redis_url());
}
