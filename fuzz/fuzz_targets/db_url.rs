//! The oslo-db URL reader on arbitrary text: errors, never panics; a parsed URL prints and re-targets
//! without panicking, and its printed form never holds the password of a `user:password@` URL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oslo_db::DbUrl;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The URL, then (after the first NUL) the `connection_parameters` option.
    let (raw, params) = text.split_once('\0').unwrap_or((text, ""));
    let masked = oslo_db::mask_password(raw);
    let Ok(url) = DbUrl::parse(raw, params) else {
        return;
    };
    let shown = format!("{url} {url:?}");
    let _ = (
        url.backend(),
        url.is_memory(),
        url.database(),
        url.diesel_url(),
    );
    let _ = url.with_database("fuzz_db");
    // A plain `user:password@host` (no `@ / ? #` in the user or the password, no `:` in the user, where
    // every reader of URLs agrees on what the password is): a password of at least 8 characters that is
    // not also part of the rest of the URL must not show.
    let plain = |s: &str| !s.contains(['@', '/', '?', '#']);
    if let Some((scheme, rest)) = raw.trim().split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, password)) = userinfo.split_once(':')
        && plain(user)
        && plain(password)
        && password.len() >= 8
        && !scheme.contains(password)
        && !user.contains(password)
        && !host.contains(password)
        && !params.contains(password)
    {
        assert!(!shown.contains(password), "password shown: {shown}");
        assert!(!masked.contains(password), "password shown: {masked}");
    }
});
