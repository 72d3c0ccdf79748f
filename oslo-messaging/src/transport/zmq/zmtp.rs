//! ZMTP 3.0 with the NULL mechanism, as both ends of the transport speak it on a tokio TCP stream:
//! the greeting, the READY command, and the reading of messages out of the bytes a peer sends, with
//! the size limits checked at each frame header. The client (a DEALER) and the server (a ROUTER) share
//! this code, and the fuzz targets run it on arbitrary bytes.
//!
//! Nothing is allocated from a length a peer announces: [`Inbound`] holds the bytes that came, at most
//! one incomplete message (of at most [`MAX_FRAME`](protocol::MAX_FRAME) bytes, refused as soon as its
//! frame headers announce more) behind the complete ones of the last read.

use super::protocol::{self, FLAG_COMMAND, FLAG_MORE};
use crate::{Error, Result};

/// The ZeroMQ socket types the transport speaks: a client is a DEALER, a server a ROUTER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SocketType {
    Dealer,
    Router,
}

impl SocketType {
    fn name(self) -> &'static [u8] {
        match self {
            SocketType::Dealer => b"DEALER",
            SocketType::Router => b"ROUTER",
        }
    }

    fn display(self) -> &'static str {
        match self {
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
        }
    }
}

/// Our ZMTP 3.0 greeting: the signature, version 3.0, the NULL mechanism, not a server.
pub(crate) fn greeting() -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = 3;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// The READY command of a socket of type `ours` (`Socket-Type` only: a ROUTER gives the connection an
/// identity, a DEALER needs none).
pub(crate) fn ready(ours: SocketType) -> Vec<u8> {
    let name = ours.name();
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&(name.len() as u32).to_be_bytes());
    body.extend_from_slice(name);
    let mut out = vec![FLAG_COMMAND, body.len() as u8];
    out.extend_from_slice(&body);
    out
}

/// Our greeting followed by our READY: what a connection writes first.
pub(crate) fn hello(ours: SocketType) -> Vec<u8> {
    let mut out = greeting().to_vec();
    out.extend_from_slice(&ready(ours));
    out
}

/// Whether a READY command body comes from a socket of type `want`.
pub(crate) fn ready_from(body: &[u8], want: SocketType) -> bool {
    let Some(rest) = body.strip_prefix(b"\x05READY") else {
        return false;
    };
    let mut rest = rest;
    while let Some((&n, r)) = rest.split_first() {
        let Some((name, r)) = r.split_at_checked(usize::from(n)) else {
            return false;
        };
        let Some((len, r)) = r.split_at_checked(4) else {
            return false;
        };
        let mut l = [0u8; 4];
        l.copy_from_slice(len);
        let Some((value, r)) = r.split_at_checked(u32::from_be_bytes(l) as usize) else {
            return false;
        };
        if name.eq_ignore_ascii_case(b"Socket-Type") {
            return value == want.name();
        }
        rest = r;
    }
    false
}

/// Whether the first bytes of `buf` are a ZMTP 3 greeting with the NULL mechanism: `Ok(true)` once its
/// 64 bytes are there, `Ok(false)` while they may still be; an error as soon as they cannot be (a peer
/// speaking something else is refused at its first bytes, not at the time limit).
pub(crate) fn check_greeting(buf: &[u8], peer: SocketType) -> Result<bool> {
    if buf.first().is_some_and(|b| *b != 0xff) || buf.get(9).is_some_and(|b| *b != 0x7f) {
        return Err(not_a(peer, "no ZMTP greeting"));
    }
    let Some(g) = buf.get(..64) else {
        return Ok(false);
    };
    if g.get(10).is_none_or(|v| *v < 3) {
        return Err(not_a(peer, "no ZMTP 3 greeting"));
    }
    if g.get(12..32)
        .is_none_or(|m| !m.starts_with(b"NULL") || m.iter().skip(4).any(|b| *b != 0))
    {
        return Err(not_a(peer, "a security mechanism other than NULL"));
    }
    Ok(true)
}

/// The error for a peer that does not speak ZMTP 3 as a `peer` socket.
pub(crate) fn not_a(peer: SocketType, what: &str) -> Error {
    Error::Connection {
        reason: format!("not a ZeroMQ {}: {what}", peer.display()),
    }
}

/// Room made for each read from the socket.
pub(crate) const READ_CHUNK: usize = 8192;

/// A buffer this large with little in it is given back (after a large message).
const SHRINK_ABOVE: usize = 1 << 20;

/// How far a connection's handshake came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Greeting,
    Ready,
    Messages,
}

/// What one end makes of the bytes its peer sends, apart from the socket: the ZMTP greeting, the
/// READY command (of the socket type expected), then messages of one or two frames. The connection
/// reads into [`Inbound::buf`] and calls [`Inbound::handshake`], then [`Inbound::messages`]; the fuzz
/// targets do the same with arbitrary bytes.
#[derive(Debug)]
pub(crate) struct Inbound {
    buf: Vec<u8>,
    stage: Stage,
    peer: SocketType,
    /// The largest message taken (its frames' bodies together), at most
    /// [`MAX_FRAME`](protocol::MAX_FRAME).
    max_message: usize,
}

impl Inbound {
    /// Reads what a peer of type `peer` sends, in messages of at most `max_message` bytes (and never
    /// more than [`MAX_FRAME`](protocol::MAX_FRAME)).
    pub(crate) fn new(peer: SocketType, max_message: usize) -> Inbound {
        Inbound {
            buf: Vec::with_capacity(READ_CHUNK),
            stage: Stage::Greeting,
            peer,
            max_message: max_message.min(protocol::MAX_FRAME),
        }
    }

    /// The buffer to append the next read to, with room for one.
    pub(crate) fn buf(&mut self) -> &mut Vec<u8> {
        self.buf.reserve(READ_CHUNK);
        &mut self.buf
    }

    /// The buffer's capacity (what it holds in memory).
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether the greeting and READY came.
    #[cfg(test)]
    pub(crate) fn greeted(&self) -> bool {
        self.stage == Stage::Messages
    }

    /// What the handshake waits for.
    pub(crate) fn waiting_for(&self) -> &'static str {
        match self.stage {
            Stage::Greeting => "the greeting",
            Stage::Ready => "READY",
            Stage::Messages => "a message",
        }
    }

    /// Takes the greeting and the READY command as far as the bytes buffered go: `true` once both
    /// came (what follows them stays buffered), `false` while more bytes are needed. An error for a
    /// peer that is not a ZMTP 3 socket of the type expected with the NULL mechanism.
    pub(crate) fn handshake(&mut self) -> Result<bool> {
        if self.stage == Stage::Greeting {
            if !check_greeting(&self.buf, self.peer)? {
                return Ok(false);
            }
            self.buf.drain(..64);
            self.stage = Stage::Ready;
        }
        if self.stage == Stage::Ready {
            let Some((flags, start, end)) = protocol::frame_at(&self.buf)? else {
                return Ok(false);
            };
            if flags & FLAG_COMMAND == 0
                || !ready_from(self.buf.get(start..end).unwrap_or_default(), self.peer)
            {
                return Err(not_a(
                    self.peer,
                    &format!("no READY from a {}", self.peer.display()),
                ));
            }
            self.buf.drain(..end);
            self.stage = Stage::Messages;
        }
        Ok(true)
    }

    /// Hands each complete message buffered (its frames) to `each`, keeping what follows them; nothing
    /// before the handshake is done. An error, after which the connection cannot go on, for a frame
    /// or a message larger than the reader's largest, a command larger than
    /// [`MAX_COMMAND`](protocol::MAX_COMMAND) or a message of more than two frames.
    pub(crate) fn messages(&mut self, mut each: impl FnMut(&[&[u8]])) -> Result<()> {
        if self.stage != Stage::Messages {
            return Ok(());
        }
        let used = split_messages(&self.buf, self.max_message, &mut each)?;
        self.buf.drain(..used);
        // A large message gone, its room is given back rather than kept for the connection's life.
        if self.buf.capacity() > SHRINK_ABOVE && self.buf.len() < self.buf.capacity() / 4 {
            self.buf.shrink_to(self.buf.len().max(READ_CHUNK));
        }
        Ok(())
    }
}

fn split_messages(buf: &[u8], max: usize, each: &mut impl FnMut(&[&[u8]])) -> Result<usize> {
    let malformed = |what: String| Error::Malformed(format!("zmq message: {what}"));
    // The end of the last complete message, where the next one starts.
    let mut used = 0;
    let mut at = 0;
    let mut frames: [&[u8]; 2] = [&[], &[]];
    let mut count = 0;
    // The bodies of the message's frames so far, announced.
    let mut size = 0usize;
    loop {
        let rest = buf.get(at..).unwrap_or_default();
        let Some((flags, start, len)) = protocol::frame_header(rest)? else {
            return Ok(used);
        };
        if flags & FLAG_COMMAND == 0 {
            if count + 1 >= frames.len() && flags & FLAG_MORE != 0 {
                return Err(malformed("more than two frames".into()));
            }
            size = size.saturating_add(len);
            if size > max {
                return Err(malformed(format!(
                    "{size} bytes or more, more than the largest taken ({max}, `max_message_size`)"
                )));
            }
        }
        let Some(body) = rest.get(start..start + len) else {
            return Ok(used);
        };
        at += start + len;
        if flags & FLAG_COMMAND != 0 {
            // Commands carry nothing for us.
            if count == 0 {
                used = at;
            }
            continue;
        }
        if let Some(slot) = frames.get_mut(count) {
            *slot = body;
        }
        count += 1;
        if flags & FLAG_MORE == 0 {
            each(frames.get(..count).unwrap_or_default());
            count = 0;
            size = 0;
            used = at;
        }
    }
}
