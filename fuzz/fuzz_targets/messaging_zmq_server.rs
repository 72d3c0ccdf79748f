//! The `zmq://` server's reading of what a client sends, on arbitrary bytes: never a panic, the same
//! outcome however the bytes are cut into reads, no memory sized from a length a peer announces.
//!
//! Input: one byte (the size of each read, less one), then a client's bytes as a server connection
//! reads them (the ZMTP greeting, a DEALER's READY, then messages; see `seeds/messaging_zmq_server`,
//! written by the test `fuzz_seeds` of oslo-messaging's zmq server). Each message split out is read as
//! the server reads a request (its `parse`), and a request read is written again and read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oslo_messaging::fuzzing::server_stream;

/// The room a connection makes for each read (its `READ_CHUNK`).
const READ_CHUNK: usize = 8192;

fuzz_target!(|data: &[u8]| {
    let Some((&read, stream)) = data.split_first() else {
        return;
    };
    let whole = server_stream([stream]);
    let pieces = server_stream(stream.chunks(usize::from(read) + 1));
    assert_eq!(
        (&whole.messages, whole.handshake, whole.failed),
        (&pieces.messages, pieces.handshake, pieces.failed),
        "the reads' boundaries changed the outcome"
    );
    for r in [&whole, &pieces] {
        assert!(
            r.max_capacity <= 2 * stream.len() + 4 * READ_CHUNK,
            "{} bytes held for {} bytes read",
            r.max_capacity,
            stream.len()
        );
        for (_, s) in &r.messages {
            assert!(
                !s.request || s.same_again,
                "a request read differently once written again"
            );
        }
    }
});
