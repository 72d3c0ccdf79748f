//! The sending side: one DEALER connection per remote server address, kept while it lives.
//!
//! Senders write the socket directly; each connection has one task that reads the answers: ACK or NACK
//! for each request, then the replies of calls, handed to the waiter registered under the message id (a
//! call's first reply, when it comes before the ACK, stands for it). When the peer goes away every
//! waiter is released at once (a waiting call fails instead of hanging) and the connection is dropped;
//! the next send opens a new one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use zeromq::prelude::*;
use zeromq::{DealerSendHalf, DealerSocket, SocketEvent, SocketOptions, ZmqMessage};

use super::protocol::{self, Kind};
use crate::wire::ReplyBody;
use crate::{Error, Result};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the receiver said about a request.
#[derive(Debug)]
pub(crate) enum Answer {
    Ack,
    Nack(String),
}

#[derive(Debug, Default)]
struct Waiter {
    answer: Option<oneshot::Sender<Answer>>,
    replies: Option<mpsc::UnboundedSender<ReplyBody>>,
}

type Waiters = Arc<Mutex<HashMap<String, Waiter>>>;

/// A connection to one server address.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) addr: String,
    /// Senders write the socket themselves (one task hop less than a writer task); zeromq bounds the
    /// peer's queue, so a slow peer makes them wait rather than memory grow.
    send: tokio::sync::Mutex<Sender>,
    limit: Duration,
    waiters: Waiters,
    dead: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Conn {
    /// Connects to `addr` (`host:port`) within `limit`.
    pub(crate) async fn open(addr: &str, limit: Duration) -> Result<Conn> {
        let mut opts = SocketOptions::default();
        opts.connect_timeout(limit);
        let mut socket = DealerSocket::with_options(opts);
        let mut monitor = socket.monitor();
        let fail = |reason: String| Error::Connection {
            reason: format!("cannot connect to `{addr}`: {reason}"),
        };
        // zeromq's connect retries a refused connection until its timeout; a plain TCP connect first
        // makes a server that is not there an error at once.
        match tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(probe)) => drop(probe),
            Ok(Err(e)) => return Err(fail(e.to_string())),
            Err(_) => return Err(fail("timed out".into())),
        }
        match tokio::time::timeout(limit, socket.connect(&format!("tcp://{addr}"))).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(fail(e.to_string())),
            Err(_) => return Err(fail("timed out".into())),
        }
        let (send, mut recv) = socket.split();
        let waiters: Waiters = Arc::default();
        let dead = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (waiters, dead, addr) = (waiters.clone(), dead.clone(), addr.to_owned());
            async move {
                loop {
                    tokio::select! {
                        r = recv.recv() => match r {
                            Ok(m) => dispatch(&waiters, &m),
                            Err(e) => {
                                tracing::info!(%addr, error = %e, "zmq connection failed");
                                break;
                            }
                        },
                        ev = monitor.next() => match ev {
                            Some(SocketEvent::Disconnected(_)) | None => {
                                tracing::info!(%addr, "zmq peer disconnected");
                                break;
                            }
                            Some(_) => {}
                        },
                    }
                }
                dead.store(true, Ordering::SeqCst);
                // Releases every waiter: answers fail, reply channels close.
                lock(&waiters).clear();
            }
        });
        Ok(Conn {
            addr: addr.to_owned(),
            send: tokio::sync::Mutex::new(Sender(send)),
            limit,
            waiters,
            dead,
            task,
        })
    }

    /// Whether the connection broke.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst) || self.task.is_finished()
    }

    /// Sends a request (a [`protocol::message`] for `msg_id`); the answer (ACK or NACK) comes on the
    /// returned channel, the replies (if any) on `replies`. A call's first reply stands for its ACK: it
    /// is put on `replies` first, then the answer channel says ACK.
    pub(crate) async fn request(
        &self,
        msg_id: &str,
        m: ZmqMessage,
        replies: Option<mpsc::UnboundedSender<ReplyBody>>,
    ) -> Result<oneshot::Receiver<Answer>> {
        if self.is_dead() {
            return Err(Error::Connection {
                reason: format!("the connection to `{}` is closed", self.addr),
            });
        }
        let (tx, rx) = oneshot::channel();
        lock(&self.waiters).insert(
            msg_id.to_owned(),
            Waiter {
                answer: Some(tx),
                replies,
            },
        );
        let sent =
            tokio::time::timeout(self.limit, async { self.send.lock().await.0.send(m).await })
                .await;
        match sent {
            Ok(Ok(())) => Ok(rx),
            Ok(Err(e)) => {
                self.forget(msg_id);
                self.dead.store(true, Ordering::SeqCst);
                Err(Error::Connection {
                    reason: format!("sending to `{}` failed: {e}", self.addr),
                })
            }
            Err(_) => {
                self.forget(msg_id);
                Err(Error::Connection {
                    reason: format!(
                        "`{}` takes no more messages (its queue stayed full)",
                        self.addr
                    ),
                })
            }
        }
    }

    /// Stops waiting for anything about `msg_id`.
    pub(crate) fn forget(&self, msg_id: &str) {
        lock(&self.waiters).remove(msg_id);
    }
}

/// The send half of the DEALER.
struct Sender(DealerSendHalf);

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DealerSendHalf")
    }
}

fn dispatch(waiters: &Waiters, m: &ZmqMessage) {
    let d = match protocol::decode(m.iter().map(|b| &b[..])) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "malformed zmq answer ignored");
            return;
        }
    };
    match d.kind {
        Kind::Ack | Kind::Nack => {
            let mut w = lock(waiters);
            let Some(waiter) = w.get_mut(d.msg_id) else {
                return;
            };
            let answer = if d.kind == Kind::Ack {
                Answer::Ack
            } else {
                Answer::Nack(String::from_utf8_lossy(d.body).into_owned())
            };
            if let Some(tx) = waiter.answer.take() {
                let _ = tx.send(answer);
            }
            if d.kind == Kind::Nack || waiter.replies.is_none() {
                w.remove(d.msg_id);
            }
        }
        Kind::Reply => {
            // Decoded before taking the lock, which the senders share.
            let reply = match protocol::decode_reply(d.body) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "malformed zmq reply ignored");
                    return;
                }
            };
            let mut w = lock(waiters);
            let Some(waiter) = w.get_mut(d.msg_id) else {
                tracing::debug!(msg_id = %d.msg_id, "reply for no waiting call dropped");
                return;
            };
            let Some(tx) = waiter.replies.as_ref() else {
                return;
            };
            let last = matches!(reply, ReplyBody::Final(_));
            let _ = tx.send(reply);
            // A reply before any ACK confirms the delivery: the server took the call and answered.
            if let Some(answer) = waiter.answer.take() {
                let _ = answer.send(Answer::Ack);
            }
            if last {
                w.remove(d.msg_id);
            }
        }
        Kind::Call | Kind::Cast | Kind::Fanout | Kind::Notify => {
            tracing::warn!("a server sent a request on a client connection, ignored");
        }
    }
}
