//! URIs as oslo checks them with the `rfc3986` package: a scheme and a host are required, the host and the
//! path must be valid (RFC 3986 section 3), the scheme may be limited to a list, and the length to a
//! maximum.

use std::sync::LazyLock;

use regex::Regex;

use super::python;
use super::{InvalidValue, UriType};

// RFC 3986 appendix A, written as regular expressions.
const UNRESERVED: &str = r"A-Za-z0-9._~\-";
const SUB_DELIMS: &str = r"!$&'()*+,;=";
const PCT: &str = "%[0-9A-Fa-f]{2}";
const IPV4: &str = r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}";

fn ipv6() -> String {
    let h = "[0-9A-Fa-f]{1,4}";
    let ls32 = format!("(?:{h}:{h}|{IPV4})");
    let forms = [
        format!("(?:{h}:){{6}}{ls32}"),
        format!("::(?:{h}:){{5}}{ls32}"),
        format!("(?:{h})?::(?:{h}:){{4}}{ls32}"),
        format!("(?:(?:{h}:)?{h})?::(?:{h}:){{3}}{ls32}"),
        format!("(?:(?:{h}:){{0,2}}{h})?::(?:{h}:){{2}}{ls32}"),
        format!("(?:(?:{h}:){{0,3}}{h})?::{h}:{ls32}"),
        format!("(?:(?:{h}:){{0,4}}{h})?::{ls32}"),
        format!("(?:(?:{h}:){{0,5}}{h})?::{h}"),
        format!("(?:(?:{h}:){{0,6}}{h})?::"),
    ];
    format!("(?:{})", forms.join("|"))
}

fn zone_id() -> String {
    format!("(?:[{UNRESERVED}]|{PCT})+")
}

/// An IPv6 literal's address with a zone written as RFC 6874 wants (`%25eth0`) or as RFC 4007 has it
/// (`%eth0`); `rfc3986` parses both and then refuses the second.
fn ipv6_with_any_zone() -> String {
    format!("{}(?:(?:%25|%){})?", ipv6(), zone_id())
}

fn host_pattern() -> String {
    let reg_name = format!("(?:{PCT}|[{SUB_DELIMS}{UNRESERVED}])*");
    let future = format!(r"v[0-9A-Fa-f]+\.[{UNRESERVED}{SUB_DELIMS}:]+");
    let literal = format!(r"\[(?:{}|{future})\]", ipv6_with_any_zone());
    format!("(?:{reg_name}|{IPV4}|{literal})")
}

/// `userinfo@host:port` of an authority. Python's `$` also matches before a final newline, hence `\n?\z`.
static SUBAUTHORITY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let userinfo = format!("(?:[{UNRESERVED}{SUB_DELIMS}:]|{PCT})+");
    Regex::new(&format!(
        r"\A(?:{userinfo}@)?(?P<host>{}):?(?:[0-9]{{1,5}})?\n?\z",
        host_pattern()
    ))
    .ok()
});

static IPV4_HOST: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!(r"\A{IPV4}\z")).ok());

static IPV6_ANY_ZONE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!(r"\A\[{}\]\z", ipv6_with_any_zone())).ok());

static IPV6_RFC6874: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!(r"\A\[{}(?:%25{})?\]\z", ipv6(), zone_id())).ok());

fn matches(re: &LazyLock<Option<Regex>>, text: &str) -> bool {
    re.as_ref().is_some_and(|re| re.is_match(text))
}

/// The parts of a URI reference that the check needs, split as RFC 3986 appendix B does.
struct Parts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
}

fn split(uri: &str) -> Parts<'_> {
    let mut rest = uri;
    let mut scheme = None;
    if let Some(colon) = rest.find(':') {
        let candidate = rest.get(..colon).unwrap_or("");
        let mut chars = candidate.chars();
        let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
        if well_formed {
            scheme = Some(candidate);
            rest = rest.get(colon + 1..).unwrap_or("");
        }
    }
    let mut authority = None;
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['\\', '/', '?', '#']).unwrap_or(after.len());
        authority = Some(after.get(..end).unwrap_or("")).filter(|a| !a.is_empty());
        rest = after.get(end..).unwrap_or("");
    }
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    Parts {
        scheme,
        authority,
        path: rest.get(..end).unwrap_or(""),
    }
}

/// The host of an authority, `None` when the authority does not parse or names an IPv4 address with an
/// octet above 255 (what `rfc3986` then reports as a missing host).
fn host_of(authority: &str) -> Option<&str> {
    let caps = SUBAUTHORITY.as_ref()?.captures(authority)?;
    let host = caps.name("host")?.as_str();
    if matches(&IPV4_HOST, host)
        && host
            .split('.')
            .any(|octet| octet.parse::<u32>().map_or(true, |o| o > 255))
    {
        return None;
    }
    Some(host)
}

fn components_message(names: &[&str], what: &str) -> String {
    let verb = if names.len() > 1 { "were" } else { "was" };
    format!("{} {verb} {what}", names.join(", "))
}

impl UriType {
    pub(super) fn parse_uri(&self, value: &str) -> Result<String, InvalidValue> {
        let parts = split(value);
        let host = parts.authority.and_then(host_of);

        let mut missing = Vec::new();
        if host.is_none() {
            missing.push("host");
        }
        if parts.scheme.is_none() {
            missing.push("scheme");
        }
        if !missing.is_empty() {
            return Err(InvalidValue::new(components_message(
                &missing,
                "required but missing",
            )));
        }

        let mut invalid = Vec::new();
        if host.is_some_and(|h| matches(&IPV6_ANY_ZONE, h) && !matches(&IPV6_RFC6874, h)) {
            invalid.push("host");
        }
        // Once percent-encoded, every path character is valid except the brackets.
        if parts.path.contains(['[', ']']) {
            invalid.push("path");
        }
        if !invalid.is_empty() {
            return Err(InvalidValue::new(components_message(
                &invalid,
                "found to be invalid",
            )));
        }

        if let Some(scheme) = parts.scheme.filter(|_| !self.schemes.is_empty()) {
            let mut allowed: Vec<String> = self.schemes.iter().map(|s| s.to_lowercase()).collect();
            allowed.sort();
            allowed.dedup();
            if !allowed.iter().any(|a| a == scheme) {
                let shown: Vec<String> = allowed.iter().map(|a| python::repr(a)).collect();
                return Err(InvalidValue::new(format!(
                    "scheme was required to be one of [{}] but was {}",
                    shown.join(", "),
                    python::repr(scheme)
                )));
            }
        }

        if let Some(max) = self.max_length
            && value.chars().count() > max
        {
            return Err(InvalidValue::new(format!(
                "Value {} exceeds maximum length {max}",
                python::repr(value)
            )));
        }
        Ok(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile() {
        assert!(SUBAUTHORITY.is_some());
        assert!(IPV4_HOST.is_some());
        assert!(IPV6_ANY_ZONE.is_some());
        assert!(IPV6_RFC6874.is_some());
    }
}
