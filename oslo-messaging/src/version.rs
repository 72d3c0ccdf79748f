//! RPC API versions (`major.minor[.rev]`) and the original's compatibility rule.

use crate::{Error, Result};

/// A parsed `major.minor[.rev]` version; a missing rev counts as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Version {
    major: u64,
    minor: u64,
    rev: u64,
}

impl Version {
    pub(crate) fn parse(s: &str) -> Result<Version> {
        let bad = || Error::InvalidVersion(s.to_owned());
        let mut parts = s.split('.');
        let num = |p: Option<&str>| -> Result<u64> {
            let p = p.ok_or_else(bad)?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let major = num(parts.next())?;
        let minor = num(parts.next())?;
        let rev = match parts.next() {
            Some(p) => num(Some(p))?,
            None => 0,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Version { major, minor, rev })
    }
}

/// Checks a version string is `major.minor` or `major.minor.rev`.
pub(crate) fn validate(version: &str) -> Result<()> {
    Version::parse(version).map(|_| ())
}

/// The original's rule: can an implementation at version `imp` serve a request for version `req`?
///
/// `imp` absent: yes. `req` absent: no. Otherwise the majors must be equal and `req` must not be newer
/// (minor, then rev when the minors are equal).
pub fn is_compatible(imp: Option<&str>, req: Option<&str>) -> Result<bool> {
    let Some(imp) = imp else { return Ok(true) };
    let Some(req) = req else { return Ok(false) };
    let (i, r) = (Version::parse(imp)?, Version::parse(req)?);
    if i.major != r.major || r.minor > i.minor {
        return Ok(false);
    }
    Ok(r.minor < i.minor || r.rev <= i.rev)
}

#[cfg(test)]
mod tests {
    use super::is_compatible;

    #[test]
    fn rule() {
        let c = |a: Option<&str>, b: Option<&str>| is_compatible(a, b).unwrap();
        assert!(c(None, Some("9.9")));
        assert!(!c(Some("1.0"), None));
        assert!(c(Some("1.2"), Some("1.1")));
        assert!(!c(Some("1.2"), Some("1.3")));
        assert!(!c(Some("1.9"), Some("2.0")));
        assert!(c(Some("1.2.3"), Some("1.2.3")));
        assert!(!c(Some("1.2.3"), Some("1.2.4")));
        assert!(c(Some("1.3"), Some("1.2.9")));
        assert!(is_compatible(Some("1"), Some("1.0")).is_err());
    }
}
