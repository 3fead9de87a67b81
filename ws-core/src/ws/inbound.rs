//! Reading from a client: whole messages and control frames, checked by the frame rules that
//! fastwebsockets leaves to the server.
//!
//! fastwebsockets parses each frame and checks reserved bits, opcodes, fragmented control
//! frames, pings over 125 bytes, its per-frame size limit and the UTF-8 of single-frame text
//! messages. It does not reject unmasked client frames or other control frames over 125 bytes,
//! and (read frame by frame, as here) it leaves fragments to the caller. This module adds those
//! rules, so the frames before a bad one are still handled, in order, before the connection
//! fails:
//!
//! - an unmasked frame, a control frame over 125 bytes, a continuation frame with no message to
//!   continue, or a new message before the fragmented one ended: 1002 (a frame that also breaks
//!   a rule fastwebsockets checks is refused for that rule);
//! - a message over `max_message_size`: 1009. Before each read the per-frame limit is set to
//!   what is left of the limit for the message under way, so a frame that would overflow the
//!   message is refused from its header, before its payload is read;
//! - text that is not UTF-8, also when split across fragments (checked once it is whole): 1007.
//!
//! A message that arrives in one frame is handed over without a copy; fragments are gathered
//! into one buffer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError, WebSocketRead};
use tokio::io::{AsyncRead, ReadBuf};

use crate::message::{Message, Utf8Bytes};
use crate::ws::close::CloseCode;
use crate::ws::kill::killed;
use crate::ws::outbound::Shared;

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
            let mut frame = self.ws.read_frame(&mut no_obligated_sends).await?;
            seen();
            if !is_masked(&mut frame) {
                return Err(Violation::Unmasked.into());
            }
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
/// HTTP request first, then the socket. A read that would wait fails at once (and wakes the
/// connection's task) once the connection is killed, so the task needs no second branch to
/// race against its reads.
pub(crate) struct ClientStream<R> {
    prefix: Bytes,
    inner: R,
    shared: Arc<Shared>,
}

impl<R> std::fmt::Debug for ClientStream<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientStream")
            .field("prefix", &self.prefix.len())
            .finish_non_exhaustive()
    }
}

impl<R> ClientStream<R> {
    /// Reads `prefix`, then `inner`, until `shared`'s connection is killed.
    pub(crate) fn new(prefix: Bytes, inner: R, shared: Arc<Shared>) -> Self {
        Self {
            // An empty slice of hyper's read buffer would keep that whole buffer alive for the
            // life of the connection.
            prefix: if prefix.is_empty() {
                Bytes::new()
            } else {
                prefix
            },
            inner,
            shared,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for ClientStream<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            if this.prefix.is_empty() {
                this.prefix = Bytes::new(); // release hyper's buffer
            }
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending if this.shared.kill.poll_reader(cx).is_ready() => {
                Poll::Ready(Err(killed()))
            }
            other => other,
        }
    }
}

/// Whether a client frame was masked. fastwebsockets unmasks a frame as it reads it but keeps
/// its key, and writes the mask bit into the header it formats from the frame.
fn is_masked(frame: &mut Frame<'_>) -> bool {
    let mut head = [0u8; 14];
    frame.fmt_head(&mut head);
    head[1] & 0x80 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(masked: bool) -> Frame<'static> {
        let mask = masked.then_some([1, 2, 3, 4]);
        Frame::new(true, OpCode::Text, mask, Payload::Owned(vec![0u8; 300]))
    }

    #[test]
    fn the_mask_bit_is_read_from_the_frame() {
        assert!(is_masked(&mut frame(true)));
        assert!(!is_masked(&mut frame(false)));
    }
}
