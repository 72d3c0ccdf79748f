//! The filter-file and rootwrap.conf readers on arbitrary text, and the daemon's message decoders on
//! arbitrary bytes: errors, never panics.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use oslo_rootwrap::protocol::{Reply, Request};
use oslo_rootwrap::{Filters, RootwrapConfig};

fuzz_target!(|data: &[u8]| {
    let _ = Request::decode(data);
    let _ = Reply::decode(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.filters");
    if let Ok(filters) = Filters::parse_file(text, path) {
        for f in &filters {
            let _ = f.unusable_patterns();
        }
    }
    let _ = RootwrapConfig::parse(text, Path::new("rootwrap.conf"));
});
