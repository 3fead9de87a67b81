//! Reading from a client: whole messages and control frames, checked by the frame rules that
//! fastwebsockets leaves to the server.
//!
//! fastwebsockets parses each frame and checks reserved bits, opcodes, fragmented control
//! frames, pings over 125 bytes and the UTF-8 of single-frame text messages. It does not reject
//! unmasked client frames (nor tell whether a frame was masked) or other control frames over
//! 125 bytes, its size limit is per frame, and (read frame by frame, as here) it leaves
//! fragments to the caller. This module adds those rules, so the frames before a bad one are
//! still handled, in order, before the connection fails:
//!
//! - an unmasked frame ([`ClientStream`] follows the frame headers in the byte stream, headers
//!   only, and fails the read at the first unmasked one), a control frame over 125 bytes, a
//!   continuation frame with no message to continue, or a new message before the fragmented
//!   one ended: 1002;
//! - a message over `max_message_size`: 1009. Before each read the per-frame limit is set to
//!   what is left of the limit for the message under way, so a frame that would overflow the
//!   message is refused from its header, before its payload is read;
//! - text that is not UTF-8, also when split across fragments (checked once it is whole): 1007.
//!
//! A message that arrives in one frame is handed over without a copy; fragments are gathered
//! into one buffer.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError, WebSocketRead};
use tokio::io::{AsyncRead, ReadBuf};

use crate::message::{Message, Utf8Bytes};
use crate::ws::close::CloseCode;

/// What the client sent.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A whole text or binary message.
    Message(Message),
    Ping(Bytes),
    Pong,
    /// A close frame's payload (code and reason, unchecked).
    Close(Bytes),
}

/// A frame rule the client broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Violation {
    /// RFC 6455 §5.1: a client must mask every frame.
    #[error("client frame is not masked")]
    Unmasked,
    /// RFC 6455 §5.5: control frames carry at most 125 bytes.
    #[error("control frame payload of {0} bytes (the limit is 125)")]
    ControlTooLarge(usize),
    /// RFC 6455 §5.4: a continuation frame continues a fragmented message.
    #[error("continuation frame with no fragmented message to continue")]
    NothingToContinue,
    /// RFC 6455 §5.4: the fragments of a message are not interleaved with other messages.
    #[error("new message before the fragmented one ended")]
    Interleaved,
    /// The message (all fragments) is larger than `max_message_size`.
    #[error("message exceeds the limit of {0} bytes")]
    TooBig(usize),
    /// A text message that is not UTF-8.
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
}

impl Violation {
    /// The close code the server answers with.
    pub(crate) fn close_code(self) -> CloseCode {
        match self {
            Self::TooBig(_) => CloseCode::TOO_BIG,
            Self::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL,
        }
    }
}

/// Why no message could be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// fastwebsockets refused a frame, or the transport failed.
    #[error(transparent)]
    Frame(#[from] WebSocketError),
    /// A rule checked here.
    #[error(transparent)]
    Violation(#[from] Violation),
}

/// Reads messages and control frames from a connection (see the module docs).
pub(crate) struct MessageReader<R> {
    ws: WebSocketRead<R>,
    max: usize,
    /// The fragmented message under way: whether it is text, and its bytes so far.
    partial: Option<(bool, BytesMut)>,
}

impl<R> std::fmt::Debug for MessageReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageReader")
            .field("max", &self.max)
            .field("partial", &self.partial.as_ref().map(|(t, b)| (t, b.len())))
            .finish_non_exhaustive()
    }
}

/// Largest control frame payload (RFC 6455 §5.5).
const CONTROL_MAX: usize = 125;

impl<R: AsyncRead + Unpin> MessageReader<R> {
    /// Reads from `ws` (with fastwebsockets' automatic pongs and close replies off: the
    /// connection answers those itself), allowing messages of up to `max` bytes.
    pub(crate) fn new(mut ws: WebSocketRead<R>, max: usize) -> Self {
        ws.set_auto_close(false);
        ws.set_auto_pong(false);
        Self {
            ws,
            max,
            partial: None,
        }
    }

    /// The next message or control frame; `seen` is called for every frame (fragments
    /// included). Not cancel-safe: once dropped mid-read, the connection must not be read
    /// again.
    pub(crate) async fn next(&mut self, seen: &impl Fn()) -> Result<Inbound, ReadError> {
        let mut no_obligated_sends = |_: Frame<'_>| async { Ok::<(), io::Error>(()) };
        loop {
            let used = self.partial.as_ref().map_or(0, |(_, b)| b.len());
            let left = self.max.saturating_sub(used);
            // fastwebsockets refuses a frame of `limit` bytes or more; control frames, which
            // may come between fragments, are checked below instead.
            self.ws
                .set_max_message_size(left.max(CONTROL_MAX).saturating_add(1));
            let frame = self.ws.read_frame(&mut no_obligated_sends).await?;
            seen();
            let len = frame.payload.len();
            let fin = frame.fin;
            match frame.opcode {
                OpCode::Ping | OpCode::Pong | OpCode::Close if len > CONTROL_MAX => {
                    return Err(Violation::ControlTooLarge(len).into());
                }
                OpCode::Ping => return Ok(Inbound::Ping(into_bytes(frame.payload))),
                OpCode::Pong => return Ok(Inbound::Pong),
                OpCode::Close => return Ok(Inbound::Close(into_bytes(frame.payload))),
                OpCode::Text | OpCode::Binary => {
                    if self.partial.is_some() {
                        return Err(Violation::Interleaved.into());
                    }
                    if len > self.max {
                        return Err(Violation::TooBig(self.max).into());
                    }
                    let text = frame.opcode == OpCode::Text;
                    if fin {
                        return message(text, into_bytes(frame.payload));
                    }
                    self.partial = Some((text, into_bytes_mut(frame.payload)));
                }
                OpCode::Continuation => {
                    let Some((text, buf)) = self.partial.as_mut() else {
                        return Err(Violation::NothingToContinue.into());
                    };
                    if len > left {
                        return Err(Violation::TooBig(self.max).into());
                    }
                    buf.extend_from_slice(&frame.payload);
                    if fin {
                        let text = *text;
                        let whole = self.partial.take().map(|(_, b)| b.freeze());
                        return message(text, whole.unwrap_or_default());
                    }
                }
            }
        }
    }
}

fn message(text: bool, bytes: Bytes) -> Result<Inbound, ReadError> {
    if text {
        Utf8Bytes::try_from_bytes(bytes)
            .map(|t| Inbound::Message(Message::Text(t)))
            .map_err(|_| Violation::InvalidUtf8.into())
    } else {
        Ok(Inbound::Message(Message::Binary(bytes)))
    }
}

/// The payload as `Bytes`, without a copy when fastwebsockets handed over its buffer.
fn into_bytes(payload: Payload<'_>) -> Bytes {
    match payload {
        Payload::Bytes(b) => b.freeze(),
        Payload::Owned(v) => Bytes::from(v),
        other => Bytes::copy_from_slice(&other),
    }
}

fn into_bytes_mut(payload: Payload<'_>) -> BytesMut {
    match payload {
        Payload::Bytes(b) => b,
        other => BytesMut::from(&other[..]),
    }
}

/// The read half of a connection as fastwebsockets reads it: the bytes hyper read past the
/// HTTP request first, then the socket; each frame header is checked for the mask bit (the
/// payload bytes are skipped, never copied). At an unmasked frame it hands over every byte
/// before it, then fails the next read with [`Violation::Unmasked`].
#[derive(Debug)]
pub(crate) struct ClientStream<R> {
    prefix: Bytes,
    inner: R,
    headers: Headers,
    failed: bool,
}

impl<R> ClientStream<R> {
    pub(crate) fn new(prefix: Bytes, inner: R) -> Self {
        Self {
            // An empty slice of hyper's read buffer would keep that whole buffer alive for the
            // life of the connection.
            prefix: if prefix.is_empty() {
                Bytes::new()
            } else {
                prefix
            },
            inner,
            headers: Headers::default(),
            failed: false,
        }
    }
}

fn unmasked() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, Violation::Unmasked)
}

impl<R: AsyncRead + Unpin> AsyncRead for ClientStream<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(Err(unmasked()));
        }
        let start = buf.filled().len();
        if this.prefix.is_empty() {
            match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
        } else {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            if this.prefix.is_empty() {
                this.prefix = Bytes::new(); // release hyper's buffer
            }
        }
        if let Some(offset) = this.headers.first_unmasked(&buf.filled()[start..]) {
            this.failed = true;
            if offset == 0 {
                return Poll::Ready(Err(unmasked()));
            }
            // Hand over the complete frames before the unmasked one; fail the next read.
            buf.set_filled(start + offset);
        }
        Poll::Ready(Ok(()))
    }
}

/// Follows frame boundaries through the byte stream.
#[derive(Debug, Default)]
struct Headers {
    /// Header bytes collected so far (a header may span reads).
    header: [u8; 14],
    header_len: usize,
    /// Payload bytes of the current frame still to skip.
    skip: u64,
}

impl Headers {
    /// Scans `data`; returns the offset of the first byte of an unmasked frame.
    fn first_unmasked(&mut self, data: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < data.len() {
            if self.skip > 0 {
                let n = self.skip.min((data.len() - i) as u64);
                self.skip -= n;
                i += n as usize;
                continue;
            }
            // Fast path: a whole header in this chunk is read in place.
            if self.header_len == 0 && data.len() - i >= 2 {
                if data[i + 1] & 0x80 == 0 {
                    return Some(i);
                }
                let n = header_len(data[i + 1]);
                if data.len() - i >= n {
                    self.skip = payload_len(&data[i..i + n]);
                    i += n;
                    continue;
                }
            }
            // Slow path: a header split across reads is collected byte by byte.
            let frame_start = i.saturating_sub(self.header_len);
            self.header[self.header_len] = data[i];
            self.header_len += 1;
            i += 1;
            if self.header_len < 2 {
                continue;
            }
            if self.header[1] & 0x80 == 0 {
                return Some(frame_start);
            }
            let n = header_len(self.header[1]);
            if self.header_len == n {
                self.skip = payload_len(&self.header[..n]);
                self.header_len = 0;
            }
        }
        None
    }
}

/// The length of a (masked) frame header from its second byte.
fn header_len(b1: u8) -> usize {
    let ext = match b1 & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    2 + ext + 4
}

/// The payload length announced by a complete header.
fn payload_len(header: &[u8]) -> u64 {
    match header[1] & 0x7f {
        126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
        127 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&header[2..10]);
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame of `len` zero bytes, encoded by fastwebsockets (masked with a fixed key, or not).
    fn frame(fin: bool, opcode: OpCode, masked: bool, len: usize) -> Vec<u8> {
        let mask = masked.then_some([1, 2, 3, 4]);
        let payload = Payload::Owned(vec![0u8; len]);
        let mut buf = Vec::new();
        Frame::new(fin, opcode, mask, payload)
            .write(&mut buf)
            .to_vec()
    }

    #[test]
    fn masked_frames_split_anywhere_pass() {
        let mut data = frame(true, OpCode::Text, true, 5);
        data.extend(frame(false, OpCode::Binary, true, 300));
        data.extend(frame(true, OpCode::Ping, true, 10));
        data.extend(frame(true, OpCode::Continuation, true, 70_000));
        for split in [1, 2, 3, 7, 100, 1000] {
            let mut h = Headers::default();
            for chunk in data.chunks(split) {
                assert_eq!(h.first_unmasked(chunk), None, "split {split}");
            }
        }
    }

    #[test]
    fn the_first_unmasked_frame_is_found_after_valid_ones() {
        let mut data = frame(true, OpCode::Text, true, 5);
        let at = data.len();
        data.extend(frame(true, OpCode::Text, false, 5));
        assert_eq!(Headers::default().first_unmasked(&data), Some(at));
        // Split inside the unmasked header: found in the chunk that completes its second byte.
        let mut h = Headers::default();
        assert_eq!(h.first_unmasked(&data[..at + 1]), None);
        assert_eq!(h.first_unmasked(&data[at + 1..]), Some(0));
    }
}
