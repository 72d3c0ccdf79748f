//! The daemon's wire format: every request and reply survives encoding, and no byte string makes the
//! decoders panic.

use oslo_rootwrap::protocol::{self, Reply, Request};
use proptest::prelude::*;

proptest! {
    #[test]
    fn requests_round_trip(args in proptest::collection::vec(".*", 0..8), stdin in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64))) {
        let req = Request::Run { args, stdin };
        prop_assert_eq!(Request::decode(&req.encode()), Ok(req));
    }

    #[test]
    fn replies_round_trip(code in any::<i32>(), stdout in proptest::collection::vec(any::<u8>(), 0..64), stderr in proptest::collection::vec(any::<u8>(), 0..64)) {
        let reply = Reply { code, stdout, stderr };
        prop_assert_eq!(Reply::decode(&reply.encode()), Ok(reply));
    }

    #[test]
    fn frames_round_trip(payload in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut buf = Vec::new();
        protocol::write_frame(&mut buf, &payload).unwrap();
        prop_assert_eq!(protocol::read_frame(&mut buf.as_slice()).unwrap(), Some(payload));
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = Request::decode(&bytes);
        let _ = Reply::decode(&bytes);
        let _ = protocol::read_frame(&mut bytes.as_slice());
    }
}

#[test]
fn oversized_frames_are_refused() {
    let mut header = ((protocol::MAX_FRAME as u32) + 1).to_be_bytes().to_vec();
    header.extend_from_slice(b"x");
    assert!(protocol::read_frame(&mut header.as_slice()).is_err());
}
