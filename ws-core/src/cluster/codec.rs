//! The wire format between nodes: one [`Packet`] per broker message, encoded once however
//! many nodes receive it.
//!
//! ```text
//! header   'W' | version (1) | kind (1) | origin node (u16) | sequence (u64)
//! Deliver  ack id (u64, 0: none) | target | action
//! Ack      request id (u64) | queued (u32) | failed (u32)
//! Query    request id (u64) | query
//! Reply    request id (u64) | value (u64)
//!
//! target   0 conn: id (u64)
//!          1 filter: flags (1: server, 2: path, 4: except) | [server str] | [path str] | [except u64]
//!          2 room: flags (4: except) | name str | [except u64]
//! action   0 text | 1 binary: the payload, to the end of the packet, as it is
//!          2 disconnect: code (u16) | reason str
//! query    0 count: a filter as above | 1 established: id (u64)
//! str      length (u16) | UTF-8 bytes
//! ```
//!
//! Integers are big-endian. A payload is the rest of the packet: decoding slices it out of
//! the received buffer without a copy. Every malformed packet is a [`DecodeError`] naming what
//! was wrong, never a panic.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::id::ConnId;
use crate::message::{Message, Utf8Bytes};
use crate::protocol::close::CloseCode;
use crate::push::{Action, Delivery, Envelope, Filter, Target};

const MAGIC: u8 = b'W';
const VERSION: u8 = 1;

/// What a node asks another about its connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Query {
    /// How many of its connections match.
    Count(Filter),
    /// Whether this connection is open there (1) or not (0).
    Established(ConnId),
}

/// One message between nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    /// Deliver to the target connections; with `ack`, answer with an [`Body::Ack`] of that id.
    Deliver { envelope: Envelope, ack: u64 },
    /// What a delivery with an ack id did on the node that answers.
    Ack { request: u64, delivery: Delivery },
    /// A question about the receiver's connections.
    Query { request: u64, query: Query },
    /// The answer to a query.
    Reply { request: u64, value: u64 },
}

/// A [`Body`] with the node that sent it and that node's sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Packet {
    pub(crate) origin: u16,
    pub(crate) seq: u64,
    pub(crate) body: Body,
}

/// Why bytes from the broker are not a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// The packet ends before a field.
    #[error("packet truncated: {0} missing")]
    Truncated(&'static str),
    /// Not a packet of this framework (first byte).
    #[error("not a cluster packet (first byte {0:#04x})")]
    Magic(u8),
    /// A packet of another version of the format.
    #[error("cluster packet version {0}, this node speaks {VERSION}")]
    Version(u8),
    /// An unknown kind, target, action or query tag.
    #[error("unknown {what} tag {tag}")]
    Tag {
        /// Which field.
        what: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A string or text payload is not UTF-8.
    #[error("{0} is not UTF-8")]
    Utf8(&'static str),
    /// Bytes after the end of a packet that has a fixed end.
    #[error("{0} bytes after the end of the packet")]
    Trailing(usize),
}

const KIND_DELIVER: u8 = 1;
const KIND_ACK: u8 = 2;
const KIND_QUERY: u8 = 3;
const KIND_REPLY: u8 = 4;

const TARGET_CONN: u8 = 0;
const TARGET_FILTER: u8 = 1;
const TARGET_ROOM: u8 = 2;

const ACTION_TEXT: u8 = 0;
const ACTION_BINARY: u8 = 1;
const ACTION_DISCONNECT: u8 = 2;

const QUERY_COUNT: u8 = 0;
const QUERY_ESTABLISHED: u8 = 1;

const HAS_SERVER: u8 = 1;
const HAS_PATH: u8 = 2;
const HAS_EXCEPT: u8 = 4;

impl Packet {
    /// The packet as bytes. A pushed payload is copied once, into this buffer.
    pub(crate) fn encode(&self) -> Bytes {
        let payload = match &self.body {
            Body::Deliver {
                envelope:
                    Envelope {
                        action: Action::Push(msg),
                        ..
                    },
                ..
            } => msg.len(),
            _ => 0,
        };
        let mut out = BytesMut::with_capacity(64 + payload);
        out.put_u8(MAGIC);
        out.put_u8(VERSION);
        out.put_u8(match self.body {
            Body::Deliver { .. } => KIND_DELIVER,
            Body::Ack { .. } => KIND_ACK,
            Body::Query { .. } => KIND_QUERY,
            Body::Reply { .. } => KIND_REPLY,
        });
        out.put_u16(self.origin);
        out.put_u64(self.seq);
        match &self.body {
            Body::Deliver { envelope, ack } => {
                out.put_u64(*ack);
                put_target(&mut out, &envelope.target);
                put_action(&mut out, &envelope.action);
            }
            Body::Ack { request, delivery } => {
                out.put_u64(*request);
                out.put_u32(u32::try_from(delivery.queued).unwrap_or(u32::MAX));
                out.put_u32(u32::try_from(delivery.failed).unwrap_or(u32::MAX));
            }
            Body::Query { request, query } => {
                out.put_u64(*request);
                match query {
                    Query::Count(filter) => {
                        out.put_u8(QUERY_COUNT);
                        put_filter(&mut out, filter);
                    }
                    Query::Established(id) => {
                        out.put_u8(QUERY_ESTABLISHED);
                        out.put_u64(id.as_u64());
                    }
                }
            }
            Body::Reply { request, value } => {
                out.put_u64(*request);
                out.put_u64(*value);
            }
        }
        out.freeze()
    }

    /// Reads a packet; a pushed payload is a slice of `bytes`, not a copy.
    pub(crate) fn decode(bytes: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader(bytes);
        let magic = r.u8("magic")?;
        if magic != MAGIC {
            return Err(DecodeError::Magic(magic));
        }
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let kind = r.u8("kind")?;
        let origin = r.u16("origin")?;
        let seq = r.u64("sequence")?;
        let body = match kind {
            KIND_DELIVER => {
                let ack = r.u64("ack id")?;
                let target = r.target()?;
                let action = r.action()?;
                Body::Deliver {
                    envelope: Envelope {
                        origin,
                        target,
                        action,
                    },
                    ack,
                }
            }
            KIND_ACK => {
                let request = r.u64("request id")?;
                let queued = r.u32("queued")? as usize;
                let failed = r.u32("failed")? as usize;
                r.end()?;
                Body::Ack {
                    request,
                    delivery: Delivery { queued, failed },
                }
            }
            KIND_QUERY => {
                let request = r.u64("request id")?;
                let query = match r.u8("query")? {
                    QUERY_COUNT => Query::Count(r.filter()?),
                    QUERY_ESTABLISHED => Query::Established(ConnId::from_u64(r.u64("id")?)),
                    tag => return Err(DecodeError::Tag { what: "query", tag }),
                };
                r.end()?;
                Body::Query { request, query }
            }
            KIND_REPLY => {
                let request = r.u64("request id")?;
                let value = r.u64("value")?;
                r.end()?;
                Body::Reply { request, value }
            }
            tag => return Err(DecodeError::Tag { what: "kind", tag }),
        };
        Ok(Self { origin, seq, body })
    }
}

fn put_str(out: &mut BytesMut, s: &str) {
    // Names and reasons are short; a longer one is cut at a character boundary.
    let mut end = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.put_u16(end as u16);
    out.put_slice(&s.as_bytes()[..end]);
}

fn put_filter(out: &mut BytesMut, filter: &Filter) {
    let (server, path, except) = filter.parts();
    let mut flags = 0;
    if server.is_some() {
        flags |= HAS_SERVER;
    }
    if path.is_some() {
        flags |= HAS_PATH;
    }
    if except.is_some() {
        flags |= HAS_EXCEPT;
    }
    out.put_u8(flags);
    if let Some(server) = server {
        put_str(out, server);
    }
    if let Some(path) = path {
        put_str(out, path);
    }
    if let Some(except) = except {
        out.put_u64(except.as_u64());
    }
}

fn put_target(out: &mut BytesMut, target: &Target) {
    match target {
        Target::Conn(id) => {
            out.put_u8(TARGET_CONN);
            out.put_u64(id.as_u64());
        }
        Target::Filter(filter) => {
            out.put_u8(TARGET_FILTER);
            put_filter(out, filter);
        }
        Target::Room { name, except } => {
            out.put_u8(TARGET_ROOM);
            out.put_u8(if except.is_some() { HAS_EXCEPT } else { 0 });
            put_str(out, name);
            if let Some(except) = except {
                out.put_u64(except.as_u64());
            }
        }
    }
}

fn put_action(out: &mut BytesMut, action: &Action) {
    match action {
        Action::Push(Message::Text(text)) => {
            out.put_u8(ACTION_TEXT);
            out.put_slice(text.as_bytes());
        }
        Action::Push(Message::Binary(bytes)) => {
            out.put_u8(ACTION_BINARY);
            out.put_slice(bytes);
        }
        Action::Disconnect { code, reason } => {
            out.put_u8(ACTION_DISCONNECT);
            out.put_u16(code.as_u16());
            put_str(out, reason);
        }
    }
}

/// Reads fields off the front of a packet.
struct Reader(Bytes);

impl Reader {
    fn need(&self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        if self.0.remaining() < n {
            Err(DecodeError::Truncated(what))
        } else {
            Ok(())
        }
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        self.need(1, what)?;
        Ok(self.0.get_u8())
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.need(2, what)?;
        Ok(self.0.get_u16())
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.need(4, what)?;
        Ok(self.0.get_u32())
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        self.need(8, what)?;
        Ok(self.0.get_u64())
    }

    fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let len = usize::from(self.u16(what)?);
        self.need(len, what)?;
        let bytes = self.0.split_to(len);
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Utf8(what))
    }

    fn end(&self) -> Result<(), DecodeError> {
        match self.0.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }

    fn filter(&mut self) -> Result<Filter, DecodeError> {
        let flags = self.u8("filter flags")?;
        let server = (flags & HAS_SERVER != 0)
            .then(|| self.string("server"))
            .transpose()?;
        let path = (flags & HAS_PATH != 0)
            .then(|| self.string("path"))
            .transpose()?;
        let except = (flags & HAS_EXCEPT != 0)
            .then(|| self.u64("except"))
            .transpose()?
            .map(ConnId::from_u64);
        Ok(Filter::from_parts(server, path, except))
    }

    fn target(&mut self) -> Result<Target, DecodeError> {
        Ok(match self.u8("target")? {
            TARGET_CONN => Target::Conn(ConnId::from_u64(self.u64("id")?)),
            TARGET_FILTER => Target::Filter(self.filter()?),
            TARGET_ROOM => {
                let flags = self.u8("room flags")?;
                let name = self.string("room")?;
                let except = (flags & HAS_EXCEPT != 0)
                    .then(|| self.u64("except"))
                    .transpose()?
                    .map(ConnId::from_u64);
                Target::Room { name, except }
            }
            tag => {
                return Err(DecodeError::Tag {
                    what: "target",
                    tag,
                })
            }
        })
    }

    fn action(&mut self) -> Result<Action, DecodeError> {
        Ok(match self.u8("action")? {
            ACTION_TEXT => {
                let payload = std::mem::take(&mut self.0);
                let text = Utf8Bytes::try_from_bytes(payload)
                    .map_err(|_| DecodeError::Utf8("text payload"))?;
                Action::Push(Message::Text(text))
            }
            ACTION_BINARY => Action::Push(Message::Binary(std::mem::take(&mut self.0))),
            ACTION_DISCONNECT => {
                let code = CloseCode::new(self.u16("close code")?);
                let reason = self.string("reason")?;
                self.end()?;
                Action::Disconnect { code, reason }
            }
            tag => {
                return Err(DecodeError::Tag {
                    what: "action",
                    tag,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(body: Body) {
        let packet = Packet {
            origin: 7,
            seq: 42,
            body,
        };
        let bytes = packet.encode();
        assert_eq!(Packet::decode(bytes.clone()), Ok(packet));
        // Every strict prefix is an error, never a panic.
        for n in 0..bytes.len() {
            let cut = Packet::decode(bytes.slice(..n));
            if let Ok(p) = cut {
                // Only a push may end anywhere: its payload is the rest of the packet.
                assert!(
                    matches!(
                        p.body,
                        Body::Deliver {
                            envelope: Envelope {
                                action: Action::Push(_),
                                ..
                            },
                            ..
                        }
                    ),
                    "prefix of {n} bytes decoded: {p:?}"
                );
            }
        }
    }

    fn envelope(target: Target, action: Action) -> Envelope {
        Envelope {
            origin: 7,
            target,
            action,
        }
    }

    #[test]
    fn every_body_round_trips() {
        let id = ConnId::new(3, 99);
        let targets = [
            Target::Conn(id),
            Target::Filter(Filter::all()),
            Target::Filter(Filter::route("ws", "/chat").except(id)),
            Target::Filter(Filter::server("ws")),
            Target::Room {
                name: "lobby".into(),
                except: Some(id),
            },
            Target::Room {
                name: "ünïcode".into(),
                except: None,
            },
        ];
        let actions = [
            Action::Push(Message::text("hello")),
            Action::Push(Message::binary(vec![0u8, 255, 1])),
            Action::Push(Message::text("")),
            Action::Disconnect {
                code: CloseCode::POLICY,
                reason: "bye".into(),
            },
        ];
        for target in &targets {
            for action in &actions {
                round_trip(Body::Deliver {
                    envelope: envelope(target.clone(), action.clone()),
                    ack: 5,
                });
            }
        }
        round_trip(Body::Ack {
            request: 1,
            delivery: Delivery {
                queued: 3,
                failed: 1,
            },
        });
        round_trip(Body::Query {
            request: 2,
            query: Query::Count(Filter::route("ws", "/chat")),
        });
        round_trip(Body::Query {
            request: 3,
            query: Query::Established(id),
        });
        round_trip(Body::Reply {
            request: 4,
            value: 10,
        });
    }

    #[test]
    fn the_payload_is_not_copied_on_decode() {
        let packet = Packet {
            origin: 1,
            seq: 1,
            body: Body::Deliver {
                envelope: envelope(
                    Target::Filter(Filter::all()),
                    Action::Push(Message::binary(vec![9u8; 1000])),
                ),
                ack: 0,
            },
        };
        let bytes = packet.encode();
        let Body::Deliver { envelope, .. } = Packet::decode(bytes.clone()).unwrap().body else {
            panic!("not a delivery");
        };
        let Action::Push(Message::Binary(payload)) = envelope.action else {
            panic!("not a binary push");
        };
        let start = bytes.len() - 1000;
        assert_eq!(payload.as_ptr(), bytes[start..].as_ptr());
    }

    #[test]
    fn bad_packets_are_named_errors() {
        assert_eq!(
            Packet::decode(Bytes::from_static(b"X")),
            Err(DecodeError::Magic(b'X'))
        );
        assert_eq!(
            Packet::decode(Bytes::from_static(b"W\x09")),
            Err(DecodeError::Version(9))
        );
        let mut bad_kind = BytesMut::new();
        bad_kind.put_slice(b"W\x01\x63");
        bad_kind.put_u16(1);
        bad_kind.put_u64(1);
        assert_eq!(
            Packet::decode(bad_kind.freeze()),
            Err(DecodeError::Tag {
                what: "kind",
                tag: 0x63
            })
        );
        let text = Packet {
            origin: 1,
            seq: 1,
            body: Body::Deliver {
                envelope: envelope(
                    Target::Conn(ConnId::new(1, 1)),
                    Action::Push(Message::text("é")),
                ),
                ack: 0,
            },
        }
        .encode();
        // Cut inside the two-byte character: not UTF-8.
        assert_eq!(
            Packet::decode(text.slice(..text.len() - 1)),
            Err(DecodeError::Utf8("text payload"))
        );
        let reply = Packet {
            origin: 1,
            seq: 1,
            body: Body::Reply {
                request: 1,
                value: 1,
            },
        }
        .encode();
        let mut long = BytesMut::from(&reply[..]);
        long.put_u8(0);
        assert_eq!(Packet::decode(long.freeze()), Err(DecodeError::Trailing(1)));
    }
}
