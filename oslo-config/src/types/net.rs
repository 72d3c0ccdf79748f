//! IP addresses (as netaddr's `valid_ipv4`/`valid_ipv6` with `INET_PTON`, i.e. the C library's
//! `inet_pton`), hostnames and the host address / host domain types built from both.

use super::{InvalidValue, IpVersion};

/// `inet_pton(AF_INET, ..)` as glibc does it: four decimal octets of at most 255, no leading zeros, nothing
/// else.
fn pton4(text: &[u8]) -> bool {
    let mut octets = 0;
    let mut current: u32 = 0;
    let mut in_octet = false;
    for &b in text {
        if b.is_ascii_digit() {
            if in_octet && current == 0 {
                return false; // a leading zero
            }
            current = current * 10 + u32::from(b - b'0');
            if current > 255 {
                return false;
            }
            if !in_octet {
                octets += 1;
                if octets > 4 {
                    return false;
                }
                in_octet = true;
            }
        } else if b == b'.' && in_octet {
            if octets == 4 {
                return false;
            }
            current = 0;
            in_octet = false;
        } else {
            return false;
        }
    }
    octets == 4
}

/// `inet_pton(AF_INET6, ..)` as glibc does it: up to eight groups of one to four hex digits, one `::`, an
/// optional dotted IPv4 tail; no zone, no brackets.
fn pton6(text: &[u8]) -> bool {
    const BYTES: usize = 16;
    let mut rest = text;
    match rest {
        [] => return false,
        [b':', b':', ..] => rest = rest.get(1..).unwrap_or_default(),
        [b':', ..] => return false,
        _ => {}
    }
    let mut filled = 0usize; // bytes written
    let mut gap: Option<usize> = None; // where `::` stands
    let mut digits = 0usize; // hex digits since the last colon
    let mut value: u32 = 0;
    let mut token_start = 0usize; // index in `rest` of the current group
    let mut i = 0usize;
    while let Some(&b) = rest.get(i) {
        i += 1;
        if let Some(d) = char::from(b).to_digit(16) {
            if digits == 4 {
                return false;
            }
            value = (value << 4) | d;
            digits += 1;
            continue;
        }
        if b == b':' {
            token_start = i;
            if digits == 0 {
                if gap.is_some() {
                    return false;
                }
                gap = Some(filled);
                continue;
            } else if i == rest.len() {
                return false; // a trailing single colon
            }
            if filled + 2 > BYTES {
                return false;
            }
            filled += 2;
            digits = 0;
            value = 0;
            continue;
        }
        if b == b'.' && filled + 4 <= BYTES && rest.get(token_start..).is_some_and(pton4) {
            filled += 4;
            digits = 0;
            break;
        }
        return false;
    }
    if digits > 0 {
        if filled + 2 > BYTES {
            return false;
        }
        filled += 2;
    }
    match gap {
        // `::` must stand for at least one zero group.
        Some(_) => filled != BYTES,
        None => filled == BYTES,
    }
}

/// Python hands `inet_pton` a C string: an embedded NUL is a `ValueError` of its own, which oslo passes on.
const EMBEDDED_NUL: &str = "embedded null character";

/// netaddr's `valid_ipv4(addr, INET_PTON)`.
fn valid_ipv4(addr: &str) -> Result<bool, InvalidValue> {
    if addr.contains(':') {
        return Ok(false);
    }
    if addr
        .split('.')
        .any(|part| part.len() > 1 && part.starts_with('0'))
    {
        return Ok(false);
    }
    if addr.contains('\0') {
        return Err(InvalidValue::new(EMBEDDED_NUL));
    }
    Ok(pton4(addr.as_bytes()))
}

/// netaddr's `valid_ipv6(addr, INET_PTON)`.
fn valid_ipv6(addr: &str) -> Result<bool, InvalidValue> {
    if addr.contains('\0') {
        return Err(InvalidValue::new(EMBEDDED_NUL));
    }
    Ok(pton6(addr.as_bytes()))
}

/// oslo's `IPAddress(version)`.
pub(super) fn ip_address(value: &str, version: IpVersion) -> Result<String, InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue::new("IP address cannot be an empty string"));
    }
    let (valid, what) = match version {
        IpVersion::V4 => (valid_ipv4(value)?, "an IPv4 address"),
        IpVersion::V6 => (valid_ipv6(value)?, "an IPv6 address"),
        IpVersion::Any => (
            valid_ipv4(value)? || valid_ipv6(value)?,
            "IPv4 or IPv6 address",
        ),
    };
    if valid {
        Ok(value.to_owned())
    } else {
        Err(InvalidValue::new(format!("{value} is not {what}")))
    }
}

/// A character oslo's label pattern `[A-Z0-9-]` (`[A-Z0-9-_]` for domains) accepts: Python compiles it
/// case-insensitively, and its Unicode case folding lets four non-ASCII letters in.
fn label_char(c: char, underscore: bool) -> bool {
    c.is_ascii_alphanumeric()
        || c == '-'
        || (underscore && c == '_')
        || matches!(c, '\u{130}' | '\u{131}' | '\u{17f}' | '\u{212a}')
}

/// One label: 1 to 63 allowed characters, no `-` at either end. Python's `$` also matches before a final
/// newline, so one trailing `\n` is tolerated, as in oslo.
fn label_ok(label: &str, underscore: bool) -> bool {
    let body = label.strip_suffix('\n').unwrap_or(label);
    let count = body.chars().count();
    (1..=63).contains(&count)
        && body.chars().all(|c| label_char(c, underscore))
        && !body.starts_with('-')
        && !body.ends_with('-')
}

/// oslo's `Hostname()`; `underscore` is the relaxed label pattern of `HostDomain`. Returns the name without
/// its trailing dot.
pub(super) fn hostname(value: &str, underscore: bool) -> Result<String, InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue::new("Cannot have an empty hostname"));
    }
    if value.chars().count() > 253 {
        return Err(InvalidValue::new(format!(
            "hostname is greater than 253 characters: {value}"
        )));
    }
    let name = value.strip_suffix('.').unwrap_or(value);
    let top = name.rsplit('.').next().unwrap_or(name);
    if !top.chars().any(|c| c.is_ascii_alphabetic() || c == '-') {
        return Err(InvalidValue::new(format!(
            "{name} contains no non-numeric characters in the top-level domain part of the host name and \
             is invalid"
        )));
    }
    if !name.split('.').all(|label| label_ok(label, underscore)) {
        return Err(InvalidValue::new(format!("{name} is an invalid hostname")));
    }
    Ok(name.to_owned())
}

/// oslo's `HostAddress(version)`: an IP address of that version, else a hostname.
pub(super) fn host_address(value: &str, version: IpVersion) -> Result<String, InvalidValue> {
    ip_address(value, version)
        .or_else(|_| hostname(value, false))
        .map_err(|_| InvalidValue::new(format!("{value} is not a valid host address")))
}

/// oslo's `HostDomain(version)`: a host address, else a hostname whose labels may hold `_`.
pub(super) fn host_domain(value: &str, version: IpVersion) -> Result<String, InvalidValue> {
    host_address(value, version)
        .or_else(|_| hostname(value, true))
        .map_err(|_| InvalidValue::new(format!("{value} is not a valid host address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pton() {
        assert!(pton4(b"1.2.3.4"));
        assert!(!pton4(b"1.2.3.04"));
        assert!(!pton4(b"1.2.3"));
        assert!(!pton4(b"1.2.3.4."));
        assert!(!pton4(b"256.1.1.1"));
        assert!(pton6(b"::"));
        assert!(pton6(b"::1"));
        assert!(pton6(b"1::"));
        assert!(pton6(b"::ffff:1.2.3.4"));
        assert!(pton6(b"1:2:3:4:5:6:7:8"));
        assert!(!pton6(b"1:2:3:4:5:6:7:8:9"));
        assert!(!pton6(b"1:2:3:4::5:6:7:8"));
        assert!(!pton6(b":1"));
        assert!(!pton6(b"1:"));
        assert!(!pton6(b"1::2::3"));
        assert!(!pton6(b"12345::"));
        assert!(!pton6(b"fe80::1%eth0"));
    }
}
