//! Transport URL parsing on arbitrary text: never a panic, and a parsed URL prints without its passwords.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oslo_messaging::TransportUrl;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(u) = TransportUrl::parse(s) {
        let shown = u.to_string();
        for h in &u.hosts {
            if let Some(p) = h
                .password
                .as_deref()
                .filter(|p| p.len() > 3 && !p.contains('*'))
            {
                assert!(
                    !format!("{u:?}").contains(&format!(":{p}@")),
                    "password in Debug"
                );
            }
        }
        let _ = TransportUrl::parse(&u.expose_secret());
        let _ = shown;
    }
});
