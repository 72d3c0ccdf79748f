//! The oslo wire decoders (envelope, request, reply, failure) on arbitrary bytes: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oslo_messaging::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(inner) = wire::decode_body(data) {
        let _ = wire::decode_reply(&inner);
        let _ = wire::decode_request_like(inner.clone());
        if let Ok(req) = wire::decode_request(inner) {
            // What we decode, we can encode again, and read back the same.
            let json = wire::encode_request(&req.message, &req.meta, &req.ctxt).expect("encode");
            let body = wire::envelope(&json).expect("envelope");
            let again = wire::decode_request(wire::decode_body(&body).expect("our own body"))
                .expect("our own request");
            assert_eq!(again.message, req.message);
            assert_eq!(again.ctxt, req.ctxt);
        }
    }
});
