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

/// What a hostile peer sends the server cannot take the process down, through the public API.
mod hostile_peers {
    use std::time::Duration;

    use oslo_messaging::{Context, RpcClient, Target};
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::suite;

    /// A ZMTP 3.0 greeting (NULL mechanism) and the READY of a socket of type `kind`.
    fn hello(kind: &[u8]) -> Vec<u8> {
        let mut g = vec![0u8; 64];
        g[0] = 0xff;
        g[9] = 0x7f;
        g[10] = 3;
        g[12..16].copy_from_slice(b"NULL");
        let mut body = b"\x05READY\x0bSocket-Type".to_vec();
        body.extend_from_slice(&(kind.len() as u32).to_be_bytes());
        body.extend_from_slice(kind);
        g.extend_from_slice(&[0x04, body.len() as u8]);
        g.extend_from_slice(&body);
        g
    }

    /// Connects, writes `bytes`, and reads until the server closes the connection.
    async fn send_and_wait_for_close(port: u16, bytes: &[u8]) {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(bytes).await.unwrap();
        let mut sink = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut sink))
            .await
            .expect("the server closes the connection")
            .unwrap();
    }

    /// The remote crash of the `zeromq` crate's ROUTER (it reserved whatever a frame header announced,
    /// and 1 TiB aborted the process): the connection is closed, and the server takes calls after.
    #[tokio::test]
    async fn a_frame_announcing_a_tebibyte_does_not_take_the_server_down() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = suite::transport(&format!("zmq://?bind_address=127.0.0.1&bind_port={port}"));
        let topic = suite::unique("zmq_hostile");
        let server = suite::server(&t, &topic, "s", suite::basic_endpoint("s")).await;

        let mut attack = hello(b"DEALER");
        attack.push(0x02 | 0x01);
        attack.extend_from_slice(&(1u64 << 40).to_be_bytes());
        attack.extend_from_slice(&[0; 1024]);
        send_and_wait_for_close(port, &attack).await;
        // Not a DEALER, garbage, three frames: closed too.
        let mut three = hello(b"DEALER");
        three.extend_from_slice(b"\x01\x052.02x\x01\x02{}\x00\x02{}");
        for bad in [hello(b"ROUTER"), b"GET / HTTP/1.1\r\n\r\n".to_vec(), three] {
            send_and_wait_for_close(port, &bad).await;
        }

        let client = RpcClient::builder(t.clone(), Target::topic(&topic))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let sum: i64 = client
            .call(&Context::new(), "add", json!({"a": 2, "b": 3}))
            .await
            .unwrap();
        assert_eq!(sum, 5);
        suite::shutdown(&server).await;
        t.cleanup().await;
    }
}
