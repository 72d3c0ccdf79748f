//! The `zmq://` transport's parsing of what a peer sends, on arbitrary bytes: never a panic, the same
//! outcome however the bytes are cut into reads, no memory sized from a length a peer announces.
//!
//! Input: one byte (the size of each read, less one), then a server's bytes as a client reads them
//! (the ZMTP greeting, READY, then messages; see `seeds/messaging_zmq_frames`, written by the test
//! `a_real_routers_bytes_are_read_and_make_the_fuzz_seeds` of oslo-messaging's zmq client). Each
//! message split out is also read as the server side reads a request, and its body as a reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oslo_messaging::fuzzing::{client_reads, reply_reads, server_reads};

/// The room a client makes for each read (its `READ_CHUNK`).
const READ_CHUNK: usize = 8192;

fuzz_target!(|data: &[u8]| {
    let Some((&read, stream)) = data.split_first() else {
        return;
    };
    let whole = client_reads([stream]);
    let pieces = client_reads(stream.chunks(usize::from(read) + 1));
    assert_eq!(
        (
            &whole.messages,
            whole.handshake,
            whole.failed,
            &whole.waiters
        ),
        (
            &pieces.messages,
            pieces.handshake,
            pieces.failed,
            &pieces.waiters
        ),
        "the reads' boundaries changed the outcome"
    );
    for r in [&whole, &pieces] {
        assert!(
            r.max_capacity <= 2 * stream.len() + 4 * READ_CHUNK,
            "{} bytes held for {} bytes read",
            r.max_capacity,
            stream.len()
        );
    }
    for frames in &whole.messages {
        let frames: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let s = server_reads(&frames);
        assert!(
            !s.request || s.same_again,
            "a request read differently once written again"
        );
        if let Some(body) = frames.get(1) {
            assert_ne!(
                reply_reads(body),
                Some(false),
                "a reply read differently once written again"
            );
        }
    }
    // The body readers on the bytes themselves.
    let s = server_reads(&[b"2.01c", stream]);
    assert!(
        !s.request || s.same_again,
        "a request read differently once written again"
    );
    assert_ne!(
        reply_reads(stream),
        Some(false),
        "a reply read differently once written again"
    );
});
