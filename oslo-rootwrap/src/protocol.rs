//! The wire protocol between [`Client`](crate::Client) and `oslo-rootwrap-daemon`.
//!
//! Over a Unix stream socket, each message is one frame: a 4-byte big-endian length, then that many bytes
//! (at most [`MAX_FRAME`]). A connection carries any number of request/reply pairs, in order. All integers
//! are big-endian.
//!
//! Request payload:
//!
//! | bytes | meaning |
//! |---|---|
//! | 1 | version, `1` |
//! | 1 | kind: `1` run a command, `2` shut the daemon down |
//! | 4 | word count N (run only) |
//! | N × (4 + len) | each word: length, then UTF-8 bytes |
//! | 1 | `1` when standard input follows, else `0` |
//! | 4 + len | standard input: length, then bytes (only when present) |
//!
//! Reply payload: version `1` (1 byte), exit status (4 bytes, signed: the command's status, minus the
//! signal number when a signal killed it, 99 when no filter allows the command, 96 when its executable is
//! missing), then standard output and standard error, each as a 4-byte length and the bytes.

use std::io::{self, Read, Write};

/// The largest frame either side accepts.
pub const MAX_FRAME: usize = 64 << 20;
/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;

/// What a client asks of the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// Decide and run a command line, feeding it `stdin` when given.
    Run {
        /// The command line (what follows `rootwrap.conf` on the binary's command line).
        args: Vec<String>,
        /// Bytes for the command's standard input (none: it reads end of file at once).
        stdin: Option<Vec<u8>>,
    },
    /// Stop serving and remove the socket.
    Shutdown,
}

/// The daemon's answer to [`Request::Run`] (and to [`Request::Shutdown`], with status 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The exit status.
    pub code: i32,
    /// The command's standard output.
    pub stdout: Vec<u8>,
    /// The command's standard error.
    pub stderr: Vec<u8>,
}

/// Why a payload cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed rootwrap daemon message: {0}")]
pub struct DecodeError(&'static str);

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.data.len() < n {
            return Err(DecodeError("truncated"));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn end(&self) -> Result<(), DecodeError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(DecodeError("trailing bytes"))
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

impl Request {
    /// The payload of the request.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        match self {
            Request::Run { args, stdin } => {
                out.push(1);
                out.extend_from_slice(&(args.len() as u32).to_be_bytes());
                for a in args {
                    put_bytes(&mut out, a.as_bytes());
                }
                match stdin {
                    Some(s) => {
                        out.push(1);
                        put_bytes(&mut out, s);
                    }
                    None => out.push(0),
                }
            }
            Request::Shutdown => out.push(2),
        }
        out
    }

    /// Decodes a request payload.
    pub fn decode(data: &[u8]) -> Result<Request, DecodeError> {
        let mut r = Reader { data };
        if r.u8()? != VERSION {
            return Err(DecodeError("unknown version"));
        }
        let request = match r.u8()? {
            1 => {
                let n = r.u32()? as usize;
                if n > crate::MAX_ARGS {
                    return Err(DecodeError("too many words"));
                }
                let mut args = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    let w = std::str::from_utf8(r.bytes()?)
                        .map_err(|_| DecodeError("a word is not UTF-8"))?;
                    args.push(w.to_string());
                }
                let stdin = match r.u8()? {
                    0 => None,
                    1 => Some(r.bytes()?.to_vec()),
                    _ => return Err(DecodeError("bad stdin flag")),
                };
                Request::Run { args, stdin }
            }
            2 => Request::Shutdown,
            _ => return Err(DecodeError("unknown request kind")),
        };
        r.end()?;
        Ok(request)
    }
}

impl Reply {
    /// The payload of the reply.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        out.extend_from_slice(&self.code.to_be_bytes());
        put_bytes(&mut out, &self.stdout);
        put_bytes(&mut out, &self.stderr);
        out
    }

    /// Decodes a reply payload.
    pub fn decode(data: &[u8]) -> Result<Reply, DecodeError> {
        let mut r = Reader { data };
        if r.u8()? != VERSION {
            return Err(DecodeError("unknown version"));
        }
        let code = i32::from_be_bytes(r.u32()?.to_be_bytes());
        let stdout = r.bytes()?.to_vec();
        let stderr = r.bytes()?.to_vec();
        r.end()?;
        Ok(Reply {
            code,
            stdout,
            stderr,
        })
    }
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    if payload.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "frame over the size limit",
        ));
    }
    let mut buf = Vec::with_capacity(payload.len() + 4);
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)?;
    w.flush()
}

/// Reads one frame; `Ok(None)` at a clean end of stream before a frame starts.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame over the size limit",
        ));
    }
    // Grown as the bytes arrive: a length alone does not make the reader allocate a whole frame.
    let mut payload = Vec::with_capacity(n.min(64 << 10));
    r.take(n as u64).read_to_end(&mut payload)?;
    if payload.len() != n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let req = Request::Run {
            args: vec!["ls".into(), "-l".into()],
            stdin: Some(b"x".to_vec()),
        };
        assert_eq!(Request::decode(&req.encode()), Ok(req));
        assert_eq!(
            Request::decode(&Request::Shutdown.encode()),
            Ok(Request::Shutdown)
        );
        let reply = Reply {
            code: -9,
            stdout: b"o".to_vec(),
            stderr: vec![],
        };
        assert_eq!(Reply::decode(&reply.encode()), Ok(reply));
        assert!(Request::decode(&[1, 1, 0, 0, 0, 9]).is_err());
        let mut buf = Vec::new();
        write_frame(&mut buf, b"abc").unwrap();
        assert_eq!(
            read_frame(&mut buf.as_slice()).unwrap(),
            Some(b"abc".to_vec())
        );
        assert_eq!(read_frame(&mut &[][..]).unwrap(), None);
    }
}
