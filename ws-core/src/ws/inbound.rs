//! Reading from a client: whole messages and control frames.
//!
//! [`reader`](super::reader) reads frames and checks the rules about a single frame; this
//! module checks the rules about sequences of frames and text, so the frames before a bad one
//! are still handled, in order, before the connection fails:
//!
//! - a continuation frame with no message to continue, or a new message before the fragmented
//!   one ended: 1002;
//! - a message over `max_message_size`, also when split into fragments: 1009 (the frame
//!   reader refuses the frame that would overflow it from its header, counting the fragments
//!   gathered here);
//! - text that is not UTF-8: 1007. A fragmented message is checked fragment by fragment, so
//!   it fails at the fragment that breaks it (a character may be cut between fragments).
//!
//! A message that arrives in one frame is handed over without a copy; fragments are gathered
//! into one buffer.

use std::future::poll_fn;
use std::io;

use bytes::{Bytes, BytesMut};
use fastwebsockets::OpCode;
use tokio::io::AsyncRead;

use crate::message::{Message, Utf8Bytes};
use crate::ws::close::CloseCode;
use crate::ws::reader::FrameReader;

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
    /// RFC 6455 §5.2: no extension is negotiated, so the reserved bits must be 0.
    #[error("reserved bits set")]
    ReservedBits,
    /// RFC 6455 §5.2: opcodes 3-7 and 11-15 are reserved.
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// RFC 6455 §5.2: a payload length in the shortest of its three forms, the 64-bit one with
    /// its top bit clear.
    #[error("payload length {0} not in its shortest form, or over 2^63")]
    BadLength(u64),
    /// RFC 6455 §5.5: control frames are not fragmented.
    #[error("fragmented control frame")]
    FragmentedControl,
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
    /// The transport failed (or the connection was killed).
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
    /// The TCP connection ended without a close frame.
    #[error("connection closed without a close frame")]
    Closed,
    /// The client broke a frame rule.
    #[error(transparent)]
    Violation(#[from] Violation),
}

/// Reads messages and control frames from a connection (see the module docs).
pub(crate) struct MessageReader<R> {
    frames: FrameReader<R>,
    /// The fragmented message under way.
    partial: Option<Partial>,
}

/// A fragmented message under way.
#[derive(Debug)]
struct Partial {
    bytes: BytesMut,
    /// For text, how many of the leading bytes are checked UTF-8; `None` for binary.
    checked: Option<usize>,
}

impl Partial {
    /// Checks the text that arrived since the last check, so a message fails at the first
    /// fragment that makes it invalid (not only once it is whole). A character cut at the end
    /// of a fragment is left for the next one to complete.
    fn check_utf8(&mut self) -> Result<(), Violation> {
        let Some(checked) = self.checked.as_mut() else {
            return Ok(());
        };
        match simdutf8::compat::from_utf8(&self.bytes[*checked..]) {
            Ok(_) => *checked = self.bytes.len(),
            Err(e) if e.error_len().is_none() => *checked += e.valid_up_to(),
            Err(_) => return Err(Violation::InvalidUtf8),
        }
        Ok(())
    }
}

impl<R> std::fmt::Debug for MessageReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageReader")
            .field("frames", &self.frames)
            .field("partial", &self.partial.as_ref().map(|p| p.bytes.len()))
            .finish()
    }
}

impl<R: AsyncRead + Unpin> MessageReader<R> {
    /// Reads the messages of `frames`.
    pub(crate) fn new(frames: FrameReader<R>) -> Self {
        Self {
            frames,
            partial: None,
        }
    }

    /// The next message or control frame; `seen` is called for every frame (fragments
    /// included). Cancel-safe: a frame leaves the frame reader only once it is whole, and the
    /// fragments of a message under way are kept here.
    pub(crate) async fn next(&mut self, seen: &impl Fn()) -> Result<Inbound, ReadError> {
        loop {
            let used = self.partial.as_ref().map_or(0, |p| p.bytes.len());
            let frame = poll_fn(|cx| self.frames.poll_frame(cx, used)).await?;
            seen();
            match frame.opcode {
                OpCode::Ping => return Ok(Inbound::Ping(frame.payload.freeze())),
                OpCode::Pong => return Ok(Inbound::Pong),
                OpCode::Close => return Ok(Inbound::Close(frame.payload.freeze())),
                OpCode::Text | OpCode::Binary => {
                    if self.partial.is_some() {
                        return Err(Violation::Interleaved.into());
                    }
                    let text = frame.opcode == OpCode::Text;
                    if frame.fin {
                        return message(text, frame.payload.freeze());
                    }
                    let partial = self.partial.insert(Partial {
                        bytes: frame.payload,
                        checked: text.then_some(0),
                    });
                    partial.check_utf8()?;
                }
                OpCode::Continuation => {
                    let Some(partial) = self.partial.as_mut() else {
                        return Err(Violation::NothingToContinue.into());
                    };
                    partial.bytes.extend_from_slice(&frame.payload);
                    if frame.fin {
                        // The whole text is checked once more as it becomes a message
                        // (also the end: no character may be left cut).
                        let text = partial.checked.is_some();
                        let whole = self.partial.take().map(|p| p.bytes.freeze());
                        return message(text, whole.unwrap_or_default());
                    }
                    partial.check_utf8()?;
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
