//! The frames on the wire, after the old driver's layout: a DEALER sends
//! `['', '1.0', <type>, <message id>, <body>]`; the ROUTER sees the peer's identity in front and answers
//! with the same layout. Bodies are JSON. Every request and notification is answered at once with an
//! ACK (a local consumer took it) or a NACK (why not); a call's replies follow as REPLY frames.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeromq::ZmqMessage;

use crate::{Error, Result};

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

    fn frame(self) -> Vec<u8> {
        (self as u8).to_string().into_bytes()
    }
}

/// Why a receiver refused a message.
pub(crate) const NACK_NO_TARGET: &str = "no-target";
/// The consumers' queues are full.
pub(crate) const NACK_BUSY: &str = "busy";

/// The body of a request or notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RequestBody {
    pub(crate) exchange: String,
    /// The topic (for a notification, `<topic>.<priority>`).
    pub(crate) topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) server: Option<String>,
    /// The notification pool this copy is for (empty: the listeners without a pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pool: Option<String>,
    /// The caller's call-monitor timeout, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout: Option<f64>,
    pub(crate) ctxt: Map<String, Value>,
    pub(crate) message: Map<String, Value>,
}

/// Builds a multipart message from frames (the first frame may be a ROUTER peer identity).
pub(crate) fn message(frames: Vec<Vec<u8>>) -> ZmqMessage {
    let mut out: Option<ZmqMessage> = None;
    for f in frames {
        let part = ZmqMessage::from(f);
        match out.as_mut() {
            None => out = Some(part),
            Some(m) => {
                for b in part.into_vec() {
                    m.push_back(b);
                }
            }
        }
    }
    out.unwrap_or_else(|| ZmqMessage::from(Vec::new()))
}

/// A frame list for `kind`.
pub(crate) fn frames(kind: Kind, msg_id: &str, body: Vec<u8>) -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        VERSION.to_vec(),
        kind.frame(),
        msg_id.as_bytes().to_vec(),
        body,
    ]
}

/// A decoded frame list (without the ROUTER identity).
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) kind: Kind,
    pub(crate) msg_id: String,
    pub(crate) body: Vec<u8>,
}

/// Reads `['', '1.0', type, id, body]`; never panics on what a peer sent.
pub(crate) fn decode<'a>(mut frames: impl Iterator<Item = &'a [u8]>) -> Result<Decoded> {
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
        .ok_or_else(|| bad("no message id"))?
        .to_owned();
    let body = frames.next().map(<[u8]>::to_vec).unwrap_or_default();
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
        let f = frames(Kind::Call, "abc", b"{}".to_vec());
        let d = decode(f.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(
            (d.kind, d.msg_id.as_str(), &d.body[..]),
            (Kind::Call, "abc", &b"{}"[..])
        );
        for bad in [
            vec![],
            vec![b"x".to_vec()],
            vec![b"".to_vec(), b"2.0".to_vec()],
            vec![b"".to_vec(), b"1.0".to_vec(), b"9".to_vec(), b"i".to_vec()],
            vec![b"".to_vec(), b"1.0".to_vec(), b"1".to_vec(), vec![0xff]],
        ] {
            assert!(decode(bad.iter().map(Vec::as_slice)).is_err());
        }
        let m = message(frames(Kind::Ack, "i", Vec::new()));
        assert_eq!(m.len(), 5);
    }
}
