//! The frames on the wire: a DEALER sends `[<header>, <body>]`, the header being the protocol version
//! `2.0`, the message type (one digit, the old driver's numbers plus NACK) and the message id, all in one
//! frame; the ROUTER sees the peer's identity in front and answers with the same layout (an ACK has no
//! body frame). Bodies are JSON. Every request and notification is answered with an ACK (a local
//! consumer took it) or a NACK (why not); a call's replies follow as REPLY messages, and the first of
//! them stands for the ACK when it comes soon (see the server side).
//!
//! (Version 1.0 was the old driver's `['', '1.0', <type>, <message id>, <body>]`: five frames where two
//! do.)

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::wire::ReplyBody;
use crate::{Error, RemoteError, Result};

/// The protocol version, at the start of every header frame.
pub(crate) const VERSION: &[u8] = b"2.0";

/// The message types (the old driver's numbers, plus NACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Call = 1,
    Cast = 2,
    Fanout = 3,
    Notify = 4,
    Reply = 5,
    Ack = 6,
    Nack = 7,
}

impl Kind {
    fn parse(b: u8) -> Option<Kind> {
        Some(match b {
            b'1' => Kind::Call,
            b'2' => Kind::Cast,
            b'3' => Kind::Fanout,
            b'4' => Kind::Notify,
            b'5' => Kind::Reply,
            b'6' => Kind::Ack,
            b'7' => Kind::Nack,
            _ => return None,
        })
    }

    fn digit(self) -> u8 {
        b'0' + self as u8
    }
}

/// Writes the header frame's content: version, type, message id.
fn put_header(out: &mut Vec<u8>, kind: Kind, msg_id: &str) {
    out.extend_from_slice(VERSION);
    out.push(kind.digit());
    out.extend_from_slice(msg_id.as_bytes());
}

/// The length of the header frame for `msg_id`.
fn header_len(msg_id: &str) -> usize {
    VERSION.len() + 1 + msg_id.len()
}

/// Why a receiver refused a message.
pub(crate) const NACK_NO_TARGET: &str = "no-target";
/// The consumers' queues are full.
pub(crate) const NACK_BUSY: &str = "busy";

/// The body of a request or notification, as received (the names borrowed from the received frame
/// when they hold no escapes).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RequestBody<'a> {
    #[serde(borrow)]
    pub(crate) exchange: Cow<'a, str>,
    /// The topic (for a notification, `<topic>.<priority>`).
    #[serde(borrow)]
    pub(crate) topic: Cow<'a, str>,
    #[serde(default, borrow)]
    pub(crate) server: Option<Cow<'a, str>>,
    /// The notification pool this copy is for (empty: the listeners without a pool).
    #[serde(default, borrow)]
    pub(crate) pool: Option<Cow<'a, str>>,
    /// The caller's call-monitor timeout, seconds.
    #[serde(default)]
    pub(crate) timeout: Option<f64>,
    pub(crate) ctxt: Map<String, Value>,
    pub(crate) message: Map<String, Value>,
}

/// The body of a request or notification, as sent: the same fields, borrowed, so that sending copies
/// nothing before serialising.
#[derive(Debug, Serialize)]
pub(crate) struct RequestRef<'a> {
    pub(crate) exchange: &'a str,
    pub(crate) topic: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) server: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pool: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timeout: Option<f64>,
    pub(crate) ctxt: &'a Map<String, Value>,
    pub(crate) message: &'a Map<String, Value>,
}

impl RequestRef<'_> {
    /// The request as a DEALER writes it on the wire: the ZMTP frames `[header, body]`,
    /// the JSON body serialised in place (no copy of it afterwards).
    pub(crate) fn to_wire(&self, kind: Kind, msg_id: &str) -> Result<Vec<u8>> {
        // Room for a typical envelope at once, rather than growing from serde_json's 128 bytes.
        let mut out = Vec::with_capacity(512);
        put_frame_header(&mut out, header_len(msg_id), true);
        put_header(&mut out, kind, msg_id);
        // The body frame in the long form, its length written once it is known.
        out.push(FLAG_LONG);
        let at = out.len();
        out.extend_from_slice(&[0; 8]);
        serde_json::to_writer(&mut out, self).map_err(Error::serialization)?;
        let len = (out.len() - at - 8) as u64;
        if let Some(slot) = out.get_mut(at..at + 8) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
        Ok(out)
    }
}

/// ZMTP frame flags: more frames follow, 8-byte length, command.
pub(crate) const FLAG_MORE: u8 = 0x01;
pub(crate) const FLAG_LONG: u8 = 0x02;
pub(crate) const FLAG_COMMAND: u8 = 0x04;

/// The largest message any setting lets either end take from its peer (the ceiling of
/// `max_message_size`): its frames' bodies together (a longer one breaks that connection, as soon as
/// its frame headers announce it).
pub(crate) const MAX_FRAME: usize = 1 << 30;

/// The default `max_message_size`, RabbitMQ 3's default largest message: what a deployment moving from
/// `rabbit://` sends fits.
pub(crate) const DEFAULT_MAX_MESSAGE: usize = 128 << 20;

/// The largest command frame (READY, a PING) either end takes: they carry a few properties.
pub(crate) const MAX_COMMAND: usize = 1 << 16;

/// Writes a ZMTP frame header (flags and length) for a frame of `len` bytes.
pub(crate) fn put_frame_header(out: &mut Vec<u8>, len: usize, more: bool) {
    let more = if more { FLAG_MORE } else { 0 };
    match u8::try_from(len) {
        Ok(short) => out.extend_from_slice(&[more, short]),
        Err(_) => {
            out.push(more | FLAG_LONG);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// The header of the frame at the start of `buf`: its flags, where its body starts and the length it
/// announces (the body may not be all there yet); `None` until the header is. An error for a frame
/// longer than [`MAX_FRAME`], or a command longer than [`MAX_COMMAND`].
pub(crate) fn frame_header(buf: &[u8]) -> Result<Option<(u8, usize, usize)>> {
    let Some(&flags) = buf.first() else {
        return Ok(None);
    };
    let (start, len) = if flags & FLAG_LONG != 0 {
        let Some(b) = buf.get(1..9) else {
            return Ok(None);
        };
        let mut n = [0u8; 8];
        n.copy_from_slice(b);
        let len = u64::from_be_bytes(n);
        (9, usize::try_from(len).unwrap_or(usize::MAX))
    } else {
        let Some(&n) = buf.get(1) else {
            return Ok(None);
        };
        (2, usize::from(n))
    };
    let max = if flags & FLAG_COMMAND != 0 {
        MAX_COMMAND
    } else {
        MAX_FRAME
    };
    if len > max {
        return Err(Error::Malformed(format!(
            "zmq frame of {len} bytes, more than {max}"
        )));
    }
    Ok(Some((flags, start, len)))
}

/// The frame at the start of `buf`: its flags, where its body starts and ends; `None` until it is all
/// there. The errors of [`frame_header`].
pub(crate) fn frame_at(buf: &[u8]) -> Result<Option<(u8, usize, usize)>> {
    let Some((flags, start, len)) = frame_header(buf)? else {
        return Ok(None);
    };
    if buf.len() - start < len {
        return Ok(None);
    }
    Ok(Some((flags, start, start + len)))
}

/// The body of a REPLY: the result, or the failure (the remote error's wire form), and whether it is
/// the final reply (`false`: a call-monitor heartbeat). The message id is in its own frame.
#[derive(Debug, Serialize)]
struct ReplyOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<Value>,
    ending: bool,
}

#[derive(Debug, Deserialize)]
struct ReplyIn {
    #[serde(default)]
    result: Value,
    #[serde(default)]
    failure: Option<Value>,
    #[serde(default)]
    ending: bool,
}

/// Writes a reply body.
pub(crate) fn encode_reply(reply: &ReplyBody) -> Result<Vec<u8>> {
    let out = match reply {
        ReplyBody::Final(Ok(v)) => ReplyOut {
            result: Some(v),
            failure: None,
            ending: true,
        },
        ReplyBody::Final(Err(e)) => ReplyOut {
            result: None,
            failure: Some(e.to_wire()),
            ending: true,
        },
        ReplyBody::Heartbeat => ReplyOut {
            result: None,
            failure: None,
            ending: false,
        },
    };
    serde_json::to_vec(&out).map_err(Error::serialization)
}

impl<'a> RequestBody<'a> {
    /// Reads a request body; never panics on what a peer sent.
    pub(crate) fn decode(body: &'a [u8]) -> Result<Self> {
        // Checked as UTF-8 once, rather than string by string by the JSON reader.
        let text = std::str::from_utf8(body).map_err(Error::serialization)?;
        serde_json::from_str(text).map_err(Error::serialization)
    }
}

/// Reads a reply body; never panics on what a peer sent.
pub(crate) fn decode_reply(body: &[u8]) -> Result<ReplyBody> {
    let text = std::str::from_utf8(body).map_err(Error::serialization)?;
    let r: ReplyIn = serde_json::from_str(text).map_err(Error::serialization)?;
    Ok(match (r.ending, r.failure) {
        (false, _) => ReplyBody::Heartbeat,
        (true, Some(f)) if !f.is_null() => ReplyBody::Final(Err(RemoteError::from_wire(&f))),
        (true, _) => ReplyBody::Final(Ok(r.result)),
    })
}

/// Appends the answer `header, body` to `out` as ZMTP frames, as a ROUTER writes it to the connection
/// of the peer it answers (no body frame when the body is empty).
pub(crate) fn put_answer(out: &mut Vec<u8>, kind: Kind, msg_id: &str, body: &[u8]) {
    put_frame_header(out, header_len(msg_id), !body.is_empty());
    put_header(out, kind, msg_id);
    if !body.is_empty() {
        put_frame_header(out, body.len(), false);
        out.extend_from_slice(body);
    }
}

/// The answer `header, body` as ZMTP frames (see [`put_answer`]).
pub(crate) fn answer(kind: Kind, msg_id: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * 9 + header_len(msg_id) + body.len());
    put_answer(&mut out, kind, msg_id, body);
    out
}

/// A decoded frame list (without the ROUTER identity), borrowing the received frames.
#[derive(Debug)]
pub(crate) struct Decoded<'a> {
    pub(crate) kind: Kind,
    pub(crate) msg_id: &'a str,
    pub(crate) body: &'a [u8],
}

/// Reads `[header, body]` (the body frame may be missing: empty); never panics on what a peer sent.
pub(crate) fn decode<'a>(mut frames: impl Iterator<Item = &'a [u8]>) -> Result<Decoded<'a>> {
    let bad = |what: &str| Error::Malformed(format!("zmq frame: {what}"));
    let header = frames.next().ok_or_else(|| bad("no header"))?;
    let Some(rest) = header.strip_prefix(VERSION) else {
        return Err(bad("unknown protocol version"));
    };
    let (&kind, msg_id) = rest.split_first().ok_or_else(|| bad("no message type"))?;
    let kind = Kind::parse(kind).ok_or_else(|| bad("unknown message type"))?;
    let msg_id = std::str::from_utf8(msg_id).map_err(|_| bad("the message id is not UTF-8"))?;
    if msg_id.is_empty() {
        return Err(bad("no message id"));
    }
    let body = frames.next().unwrap_or_default();
    if frames.next().is_some() {
        return Err(bad("extra frames"));
    }
    Ok(Decoded { kind, msg_id, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let m = answer(Kind::Call, "abc", b"{}");
        let f: Vec<&[u8]> = frames_on_wire(&m).into_iter().map(|f| f.1).collect();
        let d = decode(f.iter().copied()).unwrap();
        assert_eq!((d.kind, d.msg_id, d.body), (Kind::Call, "abc", &b"{}"[..]));
        assert_eq!(f, [&b"2.01abc"[..], b"{}"]);
        let bad: [&[&[u8]]; 8] = [
            &[],
            &[b"x"],
            &[b"2.0"],
            &[b"2.01"],
            &[b"1.01abc", b"{}"],
            &[b"2.09i"],
            &[b"2.01\xff"],
            &[b"2.01i", b"{}", b""],
        ];
        for frames in bad {
            assert!(decode(frames.iter().copied()).is_err(), "{frames:?}");
        }
        let m = answer(Kind::Ack, "i", b"");
        assert_eq!(frames_on_wire(&m), [(0, &b"2.06i"[..])]);
        let d = decode(frames_on_wire(&m).into_iter().map(|f| f.1)).unwrap();
        assert_eq!((d.kind, d.msg_id, d.body), (Kind::Ack, "i", &b""[..]));
    }

    /// The frames of a wire message, as a ROUTER reads them.
    fn frames_on_wire(wire: &[u8]) -> Vec<(u8, &[u8])> {
        let mut out = Vec::new();
        let mut at = 0;
        while let Some((flags, start, end)) = frame_at(&wire[at..]).unwrap() {
            out.push((flags, &wire[at + start..at + end]));
            at += end;
        }
        assert_eq!(at, wire.len(), "trailing bytes");
        out
    }

    #[test]
    fn requests_on_the_wire() {
        let (ctxt, message) = (Map::new(), serde_json::json!({"method": "m"}));
        let body = RequestRef {
            exchange: "ex",
            topic: "t\u{e9}",
            server: Some("s"),
            pool: None,
            timeout: Some(2.5),
            ctxt: &ctxt,
            message: message.as_object().unwrap(),
        };
        let wire = body.to_wire(Kind::Call, "id1").unwrap();
        let frames = frames_on_wire(&wire);
        let flags: Vec<u8> = frames.iter().map(|f| f.0).collect();
        assert_eq!(flags, [FLAG_MORE, FLAG_LONG]);
        assert_eq!(frames[0].1, b"2.01id1");
        let d = decode(frames.iter().map(|f| f.1)).unwrap();
        assert_eq!((d.kind, d.msg_id), (Kind::Call, "id1"));
        let back = RequestBody::decode(d.body).unwrap();
        assert_eq!((&*back.exchange, &*back.topic), ("ex", "t\u{e9}"));
        assert_eq!(
            (back.server.as_deref(), back.timeout),
            (Some("s"), Some(2.5))
        );
        assert_eq!(back.message.get("method"), Some(&Value::from("m")));
        // A message id longer than a short frame takes the long form.
        let long_id = "i".repeat(300);
        let wire = body.to_wire(Kind::Cast, &long_id).unwrap();
        let frames = frames_on_wire(&wire);
        assert_eq!(frames[0].0, FLAG_MORE | FLAG_LONG);
        assert_eq!(frames[0].1, [&b"2.02"[..], long_id.as_bytes()].concat());
        // Every prefix is incomplete, never an error or a panic.
        for n in 0..wire.len() {
            let mut at = 0;
            while let Some((_, _, end)) = frame_at(&wire[at..n]).unwrap() {
                at += end;
            }
        }
        let mut huge = vec![FLAG_LONG];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(frame_at(&huge).is_err());
        assert!(RequestBody::decode(b"{\"exchange\": \"\xff\"}").is_err());
    }

    #[test]
    fn replies_round_trip() {
        for r in [
            ReplyBody::Final(Ok(serde_json::json!({"a": [1, 2]}))),
            ReplyBody::Final(Ok(Value::Null)),
            ReplyBody::Final(Err(RemoteError::new("ValueError", "bad"))),
            ReplyBody::Heartbeat,
        ] {
            let wire = encode_reply(&r).unwrap();
            let back = decode_reply(&wire).unwrap();
            assert_eq!(encode_reply(&back).unwrap(), wire);
            assert_eq!(std::mem::discriminant(&back), std::mem::discriminant(&r));
        }
        assert!(decode_reply(b"\"x\"").is_err());
        assert!(decode_reply(b"{\"ending\": 3}").is_err());
    }
}
