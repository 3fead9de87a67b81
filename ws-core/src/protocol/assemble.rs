//! Message assembly: whole messages and control frames from the client's frames.
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
//!
//! With permessage-deflate agreed, a message whose first frame has RSV1 set is decompressed
//! frame by frame as it arrives ([`deflate`](super::deflate)): what it decompresses to counts
//! against `max_message_size` (1009 once past it, having allocated no more than the limit),
//! and its text is checked as above on the decompressed bytes. Bytes that do not decompress:
//! 1007.

use std::future::{poll_fn, Future};
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use fastwebsockets::OpCode;
use tokio::io::AsyncRead;

use super::deflate::Inflater;
use super::error::{ReadError, Violation};
use super::head::{compressed_bound, Room};
use super::reader::FrameReader;
use crate::message::{Message, Utf8Bytes};

/// What the client sent.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A whole text or binary message.
    Message(Message),
    /// A control frame.
    Control(Control),
}

/// A control frame from the client.
#[derive(Debug)]
pub(crate) enum Control {
    Ping(Bytes),
    Pong,
    /// A close frame's payload (code and reason, unchecked).
    Close(Bytes),
}

/// Reads messages and control frames from a connection (see the module docs).
pub(crate) struct MessageReader<R> {
    frames: FrameReader<R>,
    /// The fragmented message under way.
    partial: Option<Partial>,
    /// The decompressor, when permessage-deflate is agreed (boxed: a pointer on connections
    /// without it).
    inflater: Option<Box<Inflater>>,
}

/// A fragmented message under way.
#[derive(Debug)]
struct Partial {
    bytes: Gathered,
    /// For text, how many of the leading bytes are checked UTF-8; `None` for binary.
    checked: Option<usize>,
}

/// The bytes of a fragmented message so far.
#[derive(Debug)]
enum Gathered {
    Plain(BytesMut),
    /// A compressed message: what its frames decompressed to, and how many compressed bytes
    /// they had (the frame limit counts those).
    Inflated {
        bytes: Vec<u8>,
        compressed: usize,
    },
}

impl Gathered {
    fn as_slice(&self) -> &[u8] {
        match self {
            Self::Plain(b) => b,
            Self::Inflated { bytes, .. } => bytes,
        }
    }

    fn freeze(self) -> Bytes {
        match self {
            Self::Plain(b) => b.freeze(),
            Self::Inflated { bytes, .. } => Bytes::from(bytes),
        }
    }
}

impl Partial {
    /// Checks the text that arrived since the last check, so a message fails at the first
    /// fragment that makes it invalid (not only once it is whole). A character cut at the end
    /// of a fragment is left for the next one to complete.
    fn check_utf8(&mut self) -> Result<(), Violation> {
        let Some(checked) = self.checked.as_mut() else {
            return Ok(());
        };
        let bytes = self.bytes.as_slice();
        match simdutf8::compat::from_utf8(&bytes[*checked..]) {
            Ok(_) => *checked = bytes.len(),
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
            .field(
                "partial",
                &self.partial.as_ref().map(|p| p.bytes.as_slice().len()),
            )
            .field("inflater", &self.inflater)
            .finish()
    }
}

impl<R: AsyncRead + Unpin> MessageReader<R> {
    /// Reads the messages of `frames`.
    pub(crate) fn new(frames: FrameReader<R>) -> Self {
        Self {
            frames,
            partial: None,
            inflater: None,
        }
    }

    /// Reads compressed messages too (permessage-deflate agreed), with `inflater`.
    pub(crate) fn with_inflater(mut self, inflater: Inflater) -> Self {
        self.frames.allow_compressed();
        self.inflater = Some(Box::new(inflater));
        self
    }

    /// How many payload bytes the next data frame may carry.
    fn room(&self) -> Room {
        let max = self.frames.max();
        match self.partial.as_ref().map(|p| &p.bytes) {
            None => Room::after(max, 0),
            Some(Gathered::Plain(b)) => Room::after(max, b.len()),
            Some(Gathered::Inflated { compressed, .. }) => {
                let left = compressed_bound(max).saturating_sub(*compressed);
                Room {
                    plain: left,
                    compressed: left,
                }
            }
        }
    }

    /// Whether the next frame is here already (see [`FrameReader::frame_ready`]).
    #[inline]
    pub(crate) fn frame_ready(&self) -> bool {
        self.frames.frame_ready()
    }

    /// The next message or control frame; `seen` is called for every frame (fragments
    /// included). Cancel-safe: a frame leaves the frame reader only once it is whole, and the
    /// fragments of a message under way are kept here. (A plain future around
    /// [`poll_next`](Self::poll_next): no state of its own, so it costs a connection's future
    /// two pointers.)
    pub(crate) fn next<'a, F: Fn()>(
        &'a mut self,
        seen: &'a F,
    ) -> impl Future<Output = Result<Inbound, ReadError>> + 'a {
        poll_fn(move |cx| self.poll_next(cx, seen))
    }

    /// Polls for the next message or control frame (see [`next`](Self::next)).
    #[inline]
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        seen: &impl Fn(),
    ) -> Poll<Result<Inbound, ReadError>> {
        loop {
            let frame = ready!(self.frames.poll_frame(cx, self.room()))?;
            seen();
            match frame.opcode {
                OpCode::Ping => {
                    return Poll::Ready(Ok(Inbound::Control(Control::Ping(frame.payload.freeze()))))
                }
                OpCode::Pong => return Poll::Ready(Ok(Inbound::Control(Control::Pong))),
                OpCode::Close => {
                    return Poll::Ready(Ok(Inbound::Control(Control::Close(
                        frame.payload.freeze(),
                    ))))
                }
                OpCode::Text | OpCode::Binary => {
                    if self.partial.is_some() {
                        return Poll::Ready(Err(Violation::Interleaved.into()));
                    }
                    let text = frame.opcode == OpCode::Text;
                    let bytes = if frame.compressed {
                        match self.inflate(&frame.payload, true, frame.fin, Vec::new()) {
                            Ok(bytes) => Gathered::Inflated {
                                bytes,
                                compressed: frame.payload.len(),
                            },
                            Err(v) => return Poll::Ready(Err(v.into())),
                        }
                    } else {
                        Gathered::Plain(frame.payload)
                    };
                    if frame.fin {
                        return Poll::Ready(message(text, bytes.freeze()));
                    }
                    let partial = self.partial.insert(Partial {
                        bytes,
                        checked: text.then_some(0),
                    });
                    if let Err(v) = partial.check_utf8() {
                        return Poll::Ready(Err(v.into()));
                    }
                }
                OpCode::Continuation => {
                    let Some(mut partial) = self.partial.take() else {
                        return Poll::Ready(Err(Violation::NothingToContinue.into()));
                    };
                    match &mut partial.bytes {
                        Gathered::Plain(b) => b.extend_from_slice(&frame.payload),
                        Gathered::Inflated { bytes, compressed } => {
                            *compressed += frame.payload.len();
                            let so_far = std::mem::take(bytes);
                            match self.inflate(&frame.payload, false, frame.fin, so_far) {
                                Ok(more) => *bytes = more,
                                Err(v) => return Poll::Ready(Err(v.into())),
                            }
                        }
                    }
                    if frame.fin {
                        // The whole text is checked once more as it becomes a message
                        // (also the end: no character may be left cut).
                        let text = partial.checked.is_some();
                        return Poll::Ready(message(text, partial.bytes.freeze()));
                    }
                    let checked = partial.check_utf8();
                    self.partial = Some(partial);
                    if let Err(v) = checked {
                        return Poll::Ready(Err(v.into()));
                    }
                }
            }
        }
    }

    /// Decompresses one frame of a compressed message onto `out`.
    fn inflate(
        &mut self,
        payload: &[u8],
        first: bool,
        fin: bool,
        mut out: Vec<u8>,
    ) -> Result<Vec<u8>, Violation> {
        let max = self.frames.max();
        // RSV1 is only accepted with an inflater (`with_inflater`).
        let inflater = self.inflater.as_mut().ok_or(Violation::ReservedBits)?;
        inflater.inflate(payload, first, fin, &mut out, max)?;
        Ok(out)
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
