//! Not part of the API: the zmq transport's parsing of what a peer sends, run on arbitrary bytes by
//! the fuzz targets `messaging_zmq_frames` (a server's bytes, as a client reads them) and
//! `messaging_zmq_server` (a client's bytes, as the server reads them) in `fuzz/`, through the hidden `oslo_messaging::fuzzing`
//! module. Built only with the `fuzzing` feature (off by default); it may change at any time.
//!
//! The functions run the transport's own code ([`Inbound`], `dispatch`, `decode`, the request and
//! reply readers) without a socket: a copy would let the real one go unfuzzed.

use std::sync::Arc;

use super::client::{Waiter, Waiters, dispatch};
use super::protocol::{self, Kind, RequestBody, RequestRef};
use super::server::{Parsed, parse};
use super::zmtp::{Inbound, SocketType};
use crate::wire::ReplyBody;

/// The message id of the call a fuzzed client waits on (it wants replies).
pub const CALL_ID: &str = "c";
/// The message id of the cast a fuzzed client waits on (an ACK or a NACK).
pub const CAST_ID: &str = "k";

/// What a client made of a server's bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientRead {
    /// The greeting and READY were taken.
    pub handshake: bool,
    /// The connection broke on what came (else it waits for more).
    pub failed: bool,
    /// The messages handed out, as their frames.
    pub messages: Vec<Vec<Vec<u8>>>,
    /// What the waiters of [`CALL_ID`] and [`CAST_ID`] hold afterwards.
    pub waiters: [String; 2],
    /// The largest the read buffer's capacity was (bytes).
    pub max_capacity: usize,
}

/// Reads `reads` (a server's bytes, as the successive reads of a socket) as a client connection does:
/// the greeting and READY, then the messages, each handed to the waiters of a call [`CALL_ID`] and a
/// cast [`CAST_ID`]; stops at the first error, as the connection does.
pub fn client_reads<'a>(reads: impl IntoIterator<Item = &'a [u8]>) -> ClientRead {
    let waiters: Waiters = Arc::default();
    let call = Arc::new(Waiter::new(true));
    let cast = Arc::new(Waiter::new(false));
    {
        let mut w = waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        w.insert(CALL_ID.to_owned(), call.clone());
        w.insert(CAST_ID.to_owned(), cast.clone());
    }
    let mut messages = Vec::new();
    let fed = feed(SocketType::Router, reads, |frames| {
        messages.push(frames.iter().map(|f| f.to_vec()).collect());
        dispatch(&waiters, frames);
    });
    ClientRead {
        handshake: fed.handshake,
        failed: fed.failed,
        messages,
        waiters: [call.describe(), cast.describe()],
        max_capacity: fed.max_capacity,
    }
}

/// What the server side made of a message's frames (after the ROUTER's identity frame).
#[derive(Debug, PartialEq, Eq)]
pub struct ServerRead {
    /// The header frame was read: a message type and id.
    pub header: bool,
    /// It is a request or notification whose body was read.
    pub request: bool,
    /// The request, written again as a client does and read back, has the same fields.
    pub same_again: bool,
}

/// Reads `frames` as the server's connections do (its `parse`): the header, then a request's body; a
/// request read is written again and read back.
pub fn server_reads(frames: &[&[u8]]) -> ServerRead {
    let mut out = ServerRead {
        header: false,
        request: false,
        same_again: false,
    };
    match parse(frames) {
        Parsed::Request(kind, msg_id, body) => {
            out.header = true;
            out.request = true;
            out.same_again = write_and_read_again(kind, msg_id, &body);
        }
        Parsed::Malformed(..) | Parsed::Ignored(None) => out.header = true,
        Parsed::Ignored(Some(_)) => {}
    }
    out
}

/// What the server made of a client's bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct ServerStream {
    /// The greeting and READY (of a DEALER) were taken.
    pub handshake: bool,
    /// The connection was closed on what came (else it waits for more).
    pub failed: bool,
    /// The messages split out, as their frames, with what the server made of each.
    pub messages: Vec<(Vec<Vec<u8>>, ServerRead)>,
    /// The largest the read buffer's capacity was (bytes).
    pub max_capacity: usize,
}

/// Reads `reads` (a client's bytes, as the successive reads of a socket) as a server connection does:
/// the greeting and a DEALER's READY, then the messages, each read as the server reads a request;
/// stops at the first error, as the connection does (it is closed).
pub fn server_stream<'a>(reads: impl IntoIterator<Item = &'a [u8]>) -> ServerStream {
    let mut messages = Vec::new();
    let fed = feed(SocketType::Dealer, reads, |frames| {
        messages.push((
            frames.iter().map(|f| f.to_vec()).collect(),
            server_reads(frames),
        ));
    });
    ServerStream {
        handshake: fed.handshake,
        failed: fed.failed,
        messages,
        max_capacity: fed.max_capacity,
    }
}

/// How a connection's reading of a stream ended.
struct Fed {
    handshake: bool,
    failed: bool,
    max_capacity: usize,
}

/// Feeds `reads` (the successive reads of a socket) to an [`Inbound`] expecting a `peer`, as a
/// connection does: the greeting and READY, then each complete message to `each`; stops at the first
/// error (the connection is closed).
fn feed<'a>(
    peer: SocketType,
    reads: impl IntoIterator<Item = &'a [u8]>,
    mut each: impl FnMut(&[&[u8]]),
) -> Fed {
    let mut inbound = Inbound::new(peer, protocol::MAX_FRAME);
    let mut fed = Fed {
        handshake: false,
        failed: false,
        max_capacity: inbound.capacity(),
    };
    for read in reads {
        inbound.buf().extend_from_slice(read);
        fed.max_capacity = fed.max_capacity.max(inbound.capacity());
        let step = inbound.handshake().and_then(|done| {
            fed.handshake = done;
            inbound.messages(&mut each)
        });
        if step.is_err() {
            fed.failed = true;
            break;
        }
    }
    fed
}

fn write_and_read_again(kind: Kind, msg_id: &str, body: &RequestBody<'_>) -> bool {
    let again = RequestRef {
        exchange: &body.exchange,
        topic: &body.topic,
        server: body.server.as_deref(),
        pool: body.pool.as_deref(),
        timeout: body.timeout,
        ctxt: &body.ctxt,
        message: &body.message,
    };
    let Ok(wire) = again.to_wire(kind, msg_id) else {
        return false;
    };
    let mut frames = Vec::new();
    let mut at = 0;
    while let Ok(Some((_, start, end))) = protocol::frame_at(wire.get(at..).unwrap_or_default()) {
        frames.push(wire.get(at + start..at + end).unwrap_or_default());
        at += end;
    }
    let Ok(d) = protocol::decode(frames.into_iter()) else {
        return false;
    };
    let Ok(b) = RequestBody::decode(d.body) else {
        return false;
    };
    at == wire.len()
        && (d.kind, d.msg_id) == (kind, msg_id)
        && (b.exchange, b.topic, b.server, b.pool)
            == (
                body.exchange.clone(),
                body.topic.clone(),
                body.server.clone(),
                body.pool.clone(),
            )
        && b.timeout.map(f64::to_bits) == body.timeout.map(f64::to_bits)
        && (b.ctxt, b.message) == (body.ctxt.clone(), body.message.clone())
}

/// Reads a reply body as a client does: `None` when it is none; else whether it reads back the same
/// once written again (the first reading normalises what a peer may write in several ways).
pub fn reply_reads(body: &[u8]) -> Option<bool> {
    let first: ReplyBody = protocol::decode_reply(body).ok()?;
    let Ok(wire) = protocol::encode_reply(&first) else {
        return Some(false);
    };
    let Ok(second) = protocol::decode_reply(&wire) else {
        return Some(false);
    };
    Some(protocol::encode_reply(&second).is_ok_and(|again| again == wire))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz target's checks are reached: a handshake, messages handed to the waiters, a request
    /// and a reply read back the same.
    #[test]
    fn the_checks_are_reached_on_real_bytes() {
        let mut stream = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0];
        stream.extend_from_slice(b"NULL");
        stream.resize(64, 0);
        let ready = b"\x05READY\x0bSocket-Type\x00\x00\x00\x06ROUTER";
        protocol::put_frame_header(&mut stream, ready.len(), false);
        stream[64] |= super::super::protocol::FLAG_COMMAND;
        stream.extend_from_slice(ready);
        let reply = protocol::encode_reply(&ReplyBody::Final(Ok(serde_json::json!([1])))).unwrap();
        for (frame, more) in [(&b"2.06k"[..], false), (b"2.05c", true), (&reply, false)] {
            protocol::put_frame_header(&mut stream, frame.len(), more);
            stream.extend_from_slice(frame);
        }
        let whole = client_reads([&stream[..]]);
        assert!(whole.handshake && !whole.failed);
        assert_eq!(whole.messages.len(), 2);
        assert!(
            whole.waiters[0].contains("Final(Ok(Array [Number(1)]))"),
            "{:?}",
            whole.waiters
        );
        assert!(
            whole.waiters[1].contains("answer: Some(Ack)"),
            "{:?}",
            whole.waiters
        );
        // The same read three bytes at a time (the buffer's growth aside).
        let pieces = client_reads(stream.chunks(3));
        assert_eq!(
            ClientRead {
                max_capacity: 0,
                ..pieces
            },
            ClientRead {
                max_capacity: 0,
                ..whole
            }
        );
        assert_eq!(reply_reads(&reply), Some(true));

        let (ctxt, message) = (serde_json::Map::new(), serde_json::json!({"method": "m"}));
        let wire = RequestRef {
            exchange: "ex",
            topic: "t",
            server: None,
            pool: Some("p"),
            timeout: Some(0.1),
            ctxt: &ctxt,
            message: message.as_object().unwrap(),
        }
        .to_wire(Kind::Notify, "n")
        .unwrap();
        let mut frames = Vec::new();
        let mut at = 0;
        while let Some((_, start, end)) = protocol::frame_at(&wire[at..]).unwrap() {
            frames.push(&wire[at + start..at + end]);
            at += end;
        }
        let read = server_reads(&frames);
        assert_eq!(
            (read.header, read.request, read.same_again),
            (true, true, true)
        );
        assert!(!server_reads(&[b"2.06n"]).request);
        assert!(!server_reads(&[b"1.01n", b"{}"]).header);
    }
}
