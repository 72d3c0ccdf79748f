//! The frames on the wire, after the old driver's layout: a DEALER sends
//! `['', '1.0', <type>, <message id>, <body>]`; the ROUTER sees the peer's identity in front and answers
//! with the same layout. Bodies are JSON. Every request and notification is answered with an ACK (a
//! local consumer took it) or a NACK (why not); a call's replies follow as REPLY frames, and the first
//! of them stands for the ACK when it comes soon (see the server side).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeromq::ZmqMessage;

use crate::wire::ReplyBody;
use crate::{Error, RemoteError, Result};

/// The protocol version frame.
pub(crate) const VERSION: &[u8] = b"1.0";

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
    fn parse(b: &[u8]) -> Option<Kind> {
        Some(match b {
            b"1" => Kind::Call,
            b"2" => Kind::Cast,
            b"3" => Kind::Fanout,
            b"4" => Kind::Notify,
            b"5" => Kind::Reply,
            b"6" => Kind::Ack,
            b"7" => Kind::Nack,
            _ => return None,
        })
    }

    fn frame(self) -> &'static [u8] {
        match self {
            Kind::Call => b"1",
            Kind::Cast => b"2",
            Kind::Fanout => b"3",
            Kind::Notify => b"4",
            Kind::Reply => b"5",
            Kind::Ack => b"6",
            Kind::Nack => b"7",
        }
    }
}

/// Why a receiver refused a message.
pub(crate) const NACK_NO_TARGET: &str = "no-target";
/// The consumers' queues are full.
pub(crate) const NACK_BUSY: &str = "busy";

/// The body of a request or notification, as received.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RequestBody {
    pub(crate) exchange: String,
    /// The topic (for a notification, `<topic>.<priority>`).
    pub(crate) topic: String,
    #[serde(default)]
    pub(crate) server: Option<String>,
    /// The notification pool this copy is for (empty: the listeners without a pool).
    #[serde(default)]
    pub(crate) pool: Option<String>,
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
    /// The JSON body.
    pub(crate) fn to_vec(&self) -> Result<Vec<u8>> {
        // Room for a typical envelope at once, rather than growing from serde_json's 128 bytes.
        let mut out = Vec::with_capacity(512);
        serde_json::to_writer(&mut out, self).map_err(Error::serialization)?;
        Ok(out)
    }
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

/// Reads a reply body; never panics on what a peer sent.
pub(crate) fn decode_reply(body: &[u8]) -> Result<ReplyBody> {
    let r: ReplyIn = serde_json::from_slice(body).map_err(Error::serialization)?;
    Ok(match (r.ending, r.failure) {
        (false, _) => ReplyBody::Heartbeat,
        (true, Some(f)) if !f.is_null() => ReplyBody::Final(Err(RemoteError::from_wire(&f))),
        (true, _) => ReplyBody::Final(Ok(r.result)),
    })
}

/// Builds the multipart message `[peer,] '', '1.0', type, id, body` (the peer: a ROUTER's identity
/// frame, as the ROUTER received it).
pub(crate) fn message(
    peer: Option<&ZmqMessage>,
    kind: Kind,
    msg_id: &str,
    body: Vec<u8>,
) -> ZmqMessage {
    let mut frames = Vec::with_capacity(6);
    if let Some(p) = peer.and_then(|p| p.get(0)) {
        frames.push(p.clone());
    }
    frames.push(b"".as_slice().into());
    frames.push(VERSION.into());
    frames.push(kind.frame().into());
    frames.push(msg_id.to_owned().into_bytes().into());
    frames.push(body.into());
    // Never empty: the frames above are always there.
    ZmqMessage::try_from(frames).unwrap_or_else(|_| ZmqMessage::from(Vec::new()))
}

/// A decoded frame list (without the ROUTER identity), borrowing the received frames.
#[derive(Debug)]
pub(crate) struct Decoded<'a> {
    pub(crate) kind: Kind,
    pub(crate) msg_id: &'a str,
    pub(crate) body: &'a [u8],
}

/// Reads `['', '1.0', type, id, body]`; never panics on what a peer sent.
pub(crate) fn decode<'a>(mut frames: impl Iterator<Item = &'a [u8]>) -> Result<Decoded<'a>> {
    let bad = |what: &str| Error::Malformed(format!("zmq frame: {what}"));
    if frames.next() != Some(&b""[..]) {
        return Err(bad("no empty delimiter"));
    }
    if frames.next() != Some(VERSION) {
        return Err(bad("unknown protocol version"));
    }
    let kind = frames
        .next()
        .and_then(Kind::parse)
        .ok_or_else(|| bad("unknown message type"))?;
    let msg_id = frames
        .next()
        .and_then(|b| std::str::from_utf8(b).ok())
        .ok_or_else(|| bad("no message id"))?;
    let body = frames.next().unwrap_or_default();
    if frames.next().is_some() {
        return Err(bad("extra frames"));
    }
    Ok(Decoded { kind, msg_id, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(m: &ZmqMessage) -> Vec<&[u8]> {
        m.iter().map(|b| &b[..]).collect()
    }

    #[test]
    fn round_trip_and_garbage() {
        let m = message(None, Kind::Call, "abc", b"{}".to_vec());
        let f = frames_of(&m);
        let d = decode(f.iter().copied()).unwrap();
        assert_eq!((d.kind, d.msg_id, d.body), (Kind::Call, "abc", &b"{}"[..]));
        let bad: [&[&[u8]]; 5] = [
            &[],
            &[b"x"],
            &[b"", b"2.0"],
            &[b"", b"1.0", b"9", b"i"],
            &[b"", b"1.0", b"1", &[0xff]],
        ];
        for frames in bad {
            assert!(decode(frames.iter().copied()).is_err());
        }
        let peer = ZmqMessage::from(b"peer".to_vec());
        let m = message(Some(&peer), Kind::Ack, "i", Vec::new());
        assert_eq!(m.len(), 6);
        assert_eq!(frames_of(&m)[0], b"peer");
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
