//! Transport URLs: `driver://[user:pass@]host:port[,[userN:passN@]hostN:portN]/virtual_host?query`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::{Error, Result};

/// One host of a transport URL, with its own credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct TransportHost {
    /// The host name or address (an IPv6 address without its brackets).
    pub hostname: String,
    /// The port; `None` means the driver's default.
    pub port: Option<u16>,
    /// The user name, percent-decoded.
    pub username: Option<String>,
    /// The password, percent-decoded. Never printed: `Debug` and `Display` mask it.
    pub password: Option<String>,
}

impl fmt::Debug for TransportHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportHost")
            .field("hostname", &self.hostname)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .finish()
    }
}

/// A parsed transport URL, with the original's rules.
///
/// - the scheme names the driver (`memory`, `rabbit`, `kombu`, `zmq`…; `a+b` keeps the whole as
///   [`transport`](Self::transport));
/// - several hosts are separated by `,`, each with optional `user:password@` (the last `@` splits, so a
///   user name may hold one) and `:port`; IPv6 addresses go in brackets; user and password are
///   percent-decoded;
/// - the virtual host is `None` for no path, `""` for `/`, and the percent-decoded path after the first `/`
///   otherwise (`/%2Fvh` gives `/vh`);
/// - query parameters repeated are joined with `,`, blank ones are dropped; they override the driver's
///   options.
///
/// `Display` and `Debug` print `****` in place of passwords.
///
/// ```
/// use oslo_messaging::TransportUrl;
/// let url: TransportUrl = "rabbit://u%40x:p%2Fw@h1:5672,u2:pw2@[::1]:5673/vh?heartbeat_rate=4&x=a&x=b".parse()?;
/// assert_eq!(url.transport, "rabbit");
/// assert_eq!(url.hosts[0].username.as_deref(), Some("u@x"));
/// assert_eq!(url.hosts[0].password.as_deref(), Some("p/w"));
/// assert_eq!(url.hosts[1].hostname, "::1");
/// assert_eq!(url.virtual_host.as_deref(), Some("vh"));
/// assert_eq!(url.query["x"], "a,b");
/// assert_eq!(url.to_string(), "rabbit://u%40x:****@h1:5672,u2:****@[::1]:5673/vh?heartbeat_rate=4&x=a%2Cb");
/// # Ok::<(), oslo_messaging::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TransportUrl {
    /// The scheme, e.g. `rabbit` or `kombu+memory`.
    pub transport: String,
    /// The virtual host.
    pub virtual_host: Option<String>,
    /// The hosts, in URL order.
    pub hosts: Vec<TransportHost>,
    /// The query parameters.
    pub query: BTreeMap<String, String>,
}

impl fmt::Debug for TransportUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransportUrl({self})")
    }
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn decode_query_part(s: &str) -> String {
    decode(&s.replace('+', " "))
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Splits `host[:port]`, `[v6][:port]` or a bare IPv6 address.
fn parse_host_port(s: &str, url: &str) -> Result<(String, Option<u16>)> {
    let bad = |reason: String| Error::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let port = |p: &str| -> Result<Option<u16>> {
        if p.is_empty() {
            return Ok(None);
        }
        p.parse::<u16>()
            .map(Some)
            .map_err(|_| bad(format!("invalid port `{p}`")))
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("unbalanced `[` in host".to_owned()))?;
        return match after {
            "" => Ok((host.to_owned(), None)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((host.to_owned(), port(p)?)),
                None => Err(bad(format!("unexpected `{after}` after `[{host}]`"))),
            },
        };
    }
    if s.contains(']') {
        return Err(bad("unbalanced `]` in host".to_owned()));
    }
    match s.matches(':').count() {
        1 => {
            let (h, p) = s.split_once(':').unwrap_or((s, ""));
            Ok((h.to_owned(), port(p)?))
        }
        _ => Ok((s.to_owned(), None)),
    }
}

impl TransportUrl {
    /// Parses a transport URL.
    pub fn parse(url: &str) -> Result<TransportUrl> {
        let masked = mask_password_in(url);
        let bad = |reason: &str| Error::InvalidUrl {
            url: masked.clone(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = match url.split_once(':') {
            Some((s, r)) if is_scheme(s) => (s.to_ascii_lowercase(), r),
            _ => return Err(bad("no scheme specified")),
        };
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let (rest, query_str) = rest.split_once('?').unwrap_or((rest, ""));
        let (netloc, path) = match rest.strip_prefix("//") {
            Some(r) => match r.find('/') {
                Some(i) => (&r[..i], &r[i..]),
                None => (r, ""),
            },
            None => ("", rest),
        };
        let mut query: BTreeMap<String, String> = BTreeMap::new();
        for pair in query_str.split('&') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            if v.is_empty() {
                continue;
            }
            let (k, v) = (decode_query_part(k), decode_query_part(v));
            query
                .entry(k)
                .and_modify(|old| {
                    old.push(',');
                    old.push_str(&v);
                })
                .or_insert(v);
        }
        let virtual_host = path.strip_prefix('/').map(decode);
        let mut hosts = Vec::new();
        for piece in netloc.split(',').filter(|p| !p.is_empty()) {
            let (creds, hostport) = match piece.rsplit_once('@') {
                Some((c, h)) => (Some(c), h),
                None => (None, piece),
            };
            let (username, password) = match creds {
                Some(c) => match c.split_once(':') {
                    Some((u, p)) => (Some(decode(u)), Some(decode(p))),
                    None => (Some(decode(c)), None),
                },
                None => (None, None),
            };
            let (hostname, port) = parse_host_port(hostport, &masked)?;
            hosts.push(TransportHost {
                hostname,
                port,
                username,
                password,
            });
        }
        let with = hosts.iter().filter(|h| h.password.is_some()).count();
        if with > 0 && with < hosts.len() {
            tracing::warn!(url = %masked, "all hosts should have a user name and password, or none");
        }
        Ok(TransportUrl {
            transport: scheme,
            virtual_host,
            hosts,
            query,
        })
    }

    /// The driver name: the scheme before any `+` (`kombu+memory` gives `kombu`).
    pub fn driver(&self) -> &str {
        self.transport.split('+').next().unwrap_or(&self.transport)
    }

    fn write(&self, f: &mut impl fmt::Write, show_password: bool) -> fmt::Result {
        write!(f, "{}://", self.transport)?;
        for (i, h) in self.hosts.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            if h.username.is_some() || h.password.is_some() {
                if let Some(u) = &h.username {
                    write!(f, "{}", utf8_percent_encode(u, NON_ALPHANUMERIC_KEEP))?;
                }
                if let Some(p) = &h.password {
                    if show_password {
                        write!(f, ":{}", utf8_percent_encode(p, NON_ALPHANUMERIC_KEEP))?;
                    } else {
                        f.write_str(":****")?;
                    }
                }
                f.write_char('@')?;
            }
            if h.hostname.contains(':') {
                write!(f, "[{}]", h.hostname)?;
            } else {
                f.write_str(&h.hostname)?;
            }
            if let Some(p) = h.port {
                write!(f, ":{p}")?;
            }
        }
        f.write_char('/')?;
        if let Some(v) = self.virtual_host.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "{}", utf8_percent_encode(v, PATH_KEEP))?;
        }
        if !self.query.is_empty() {
            f.write_char('?')?;
            for (i, (k, v)) in self.query.iter().enumerate() {
                if i > 0 {
                    f.write_char('&')?;
                }
                write!(
                    f,
                    "{}={}",
                    utf8_percent_encode(k, NON_ALPHANUMERIC_KEEP),
                    utf8_percent_encode(v, NON_ALPHANUMERIC_KEEP)
                )?;
            }
        }
        Ok(())
    }

    /// The URL with its passwords, for handing to a driver. Never log it.
    pub fn expose_secret(&self) -> String {
        let mut s = String::new();
        let _ = self.write(&mut s, true);
        s
    }
}

/// What Python's `quote(s, '')` leaves alone: letters, digits and `_.-~`.
const NON_ALPHANUMERIC_KEEP: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');
/// What Python's `quote(s)` leaves alone: the above and `/`.
const PATH_KEEP: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC_KEEP.remove(b'/');

impl fmt::Display for TransportUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, false)
    }
}

impl FromStr for TransportUrl {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        TransportUrl::parse(s)
    }
}

/// Masks the passwords of a URL that may not parse, for error messages.
pub(crate) fn mask_password_in(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (netloc, tail) = rest.split_at(end);
    let hosts: Vec<String> = netloc
        .split(',')
        .map(|h| match h.rsplit_once('@') {
            Some((creds, host)) => match creds.split_once(':') {
                Some((u, _)) => format!("{u}:****@{host}"),
                None => h.to_owned(),
            },
            None => h.to_owned(),
        })
        .collect();
    format!("{scheme}://{}{tail}", hosts.join(","))
}
