//! `FrameGuard`: checks the frame rules fastwebsockets leaves to the server.
//!
//! fastwebsockets parses frames, checks reserved bits, opcodes, fragmented control frames and
//! UTF-8, but it does not reject unmasked client frames or control frames over 125 bytes, and
//! its size limit is per frame, not per message. This reader sits between the socket and
//! fastwebsockets and follows frame boundaries in the byte stream (headers only; payload bytes
//! are skipped, never copied). On a violation it hands fastwebsockets every byte before the
//! offending frame, then fails the next read with a [`GuardError`], which
//! [`classify`](super::close::classify) maps to 1002 or 1009.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, ReadBuf};

/// A frame rule the client broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GuardError {
    /// RFC 6455 §5.1: a client must mask every frame.
    #[error("client frame is not masked")]
    Unmasked,
    /// RFC 6455 §5.5: control frames carry at most 125 bytes.
    #[error("control frame payload of {len} bytes (the limit is 125)")]
    ControlTooLarge {
        /// The announced length.
        len: u64,
    },
    /// The message (all fragments) is larger than `max_message_size`.
    #[error("message of at least {len} bytes exceeds the limit of {max} bytes")]
    MessageTooBig {
        /// Bytes announced so far.
        len: u64,
        /// The configured limit.
        max: u64,
    },
}

/// Frame-boundary tracking state.
#[derive(Debug)]
struct Tracker {
    max_message: u64,
    /// Payload bytes of the current message so far (data frames only).
    message_len: u64,
    /// Header bytes collected so far (a header may span reads).
    header: [u8; 14],
    header_len: usize,
    /// Payload bytes of the current frame still to skip.
    skip: u64,
}

/// What the first two header bytes say.
enum Head {
    /// The whole header is this long; the rules checkable so far hold.
    Needs(usize),
    /// A rule is broken.
    Broken(GuardError),
}

impl Tracker {
    /// Scans `data`; returns the offset of the first byte of an offending frame and the error.
    fn scan(&mut self, data: &[u8]) -> Option<(usize, GuardError)> {
        let mut i = 0;
        while i < data.len() {
            if self.skip > 0 {
                let n = self.skip.min((data.len() - i) as u64);
                self.skip -= n;
                i += n as usize;
                continue;
            }
            // Fast path: a whole header in this chunk is checked in place.
            if self.header_len == 0 && data.len() - i >= 2 {
                match head(data[i], data[i + 1]) {
                    Head::Broken(e) => return Some((i, e)),
                    Head::Needs(n) if data.len() - i >= n => {
                        if let Err(e) = self.frame(&data[i..i + n]) {
                            return Some((i, e));
                        }
                        i += n;
                        continue;
                    }
                    Head::Needs(_) => {}
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
            match head(self.header[0], self.header[1]) {
                Head::Broken(e) => return Some((frame_start, e)),
                Head::Needs(n) if self.header_len == n => {
                    let header = self.header;
                    self.header_len = 0;
                    if let Err(e) = self.frame(&header[..n]) {
                        return Some((frame_start, e));
                    }
                }
                Head::Needs(_) => {}
            }
        }
        None
    }

    /// Accounts a complete header: message size, then the payload to skip.
    fn frame(&mut self, header: &[u8]) -> Result<(), GuardError> {
        let (b0, len_code) = (header[0], header[1] & 0x7f);
        let len = match len_code {
            126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&header[2..10]);
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let opcode = b0 & 0x0f;
        match opcode {
            // Continuation: adds to the current message.
            0 => self.message_len = self.message_len.saturating_add(len),
            // Text or binary: starts a message.
            1 | 2 => self.message_len = len,
            // Control and unknown opcodes: not part of a message (fastwebsockets rejects
            // unknown opcodes itself).
            _ => {}
        }
        if opcode < 8 && self.message_len > self.max_message {
            return Err(GuardError::MessageTooBig {
                len: self.message_len,
                max: self.max_message,
            });
        }
        if b0 & 0x80 != 0 && opcode < 8 {
            self.message_len = 0;
        }
        self.skip = len;
        Ok(())
    }
}

/// Checks the first two header bytes: masking and control-frame size; and tells the header's
/// full length.
fn head(b0: u8, b1: u8) -> Head {
    let len_code = b1 & 0x7f;
    if b1 & 0x80 == 0 {
        return Head::Broken(GuardError::Unmasked);
    }
    if b0 & 0x0f >= 8 && len_code > 125 {
        return Head::Broken(GuardError::ControlTooLarge {
            len: u64::from(len_code),
        });
    }
    let ext = match len_code {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    Head::Needs(2 + ext + 4)
}

/// The read half of a WebSocket connection: the bytes hyper read past the HTTP request first,
/// then the socket, checked by the frame rules above.
#[derive(Debug)]
pub(crate) struct FrameGuard<R> {
    inner: R,
    prefix: Bytes,
    tracker: Tracker,
    failed: Option<GuardError>,
}

impl<R> FrameGuard<R> {
    pub(crate) fn new(inner: R, prefix: Bytes, max_message: usize) -> Self {
        Self {
            inner,
            // An empty slice of hyper's read buffer would keep that whole buffer alive for the
            // life of the connection.
            prefix: if prefix.is_empty() {
                Bytes::new()
            } else {
                prefix
            },
            tracker: Tracker {
                max_message: max_message as u64,
                message_len: 0,
                header: [0; 14],
                header_len: 0,
                skip: 0,
            },
            failed: None,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for FrameGuard<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(err) = this.failed {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, err)));
        }
        let start = buf.filled().len();
        if this.prefix.has_remaining() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            if !this.prefix.has_remaining() {
                this.prefix = Bytes::new(); // release hyper's buffer
            }
        } else {
            match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
        }
        if let Some((offset, err)) = this.tracker.scan(&buf.filled()[start..]) {
            this.failed = Some(err);
            if offset == 0 {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, err)));
            }
            // Deliver the complete frames before the offending one; fail the next read.
            buf.set_filled(start + offset);
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, opcode: u8, masked: bool, len: usize) -> Vec<u8> {
        let mut v = vec![(u8::from(fin) << 7) | opcode];
        let m = if masked { 0x80 } else { 0 };
        if len < 126 {
            v.push(m | len as u8);
        } else if len <= 0xffff {
            v.push(m | 126);
            v.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            v.push(m | 127);
            v.extend_from_slice(&(len as u64).to_be_bytes());
        }
        if masked {
            v.extend_from_slice(&[1, 2, 3, 4]);
        }
        v.extend(std::iter::repeat_n(0u8, len));
        v
    }

    fn tracker(max: u64) -> Tracker {
        Tracker {
            max_message: max,
            message_len: 0,
            header: [0; 14],
            header_len: 0,
            skip: 0,
        }
    }

    #[test]
    fn accepts_masked_frames_split_anywhere() {
        let mut data = frame(true, 1, true, 5);
        data.extend(frame(false, 2, true, 300));
        data.extend(frame(true, 9, true, 10));
        data.extend(frame(true, 0, true, 70_000));
        for split in [1, 2, 3, 7, 100, 1000] {
            let mut t = tracker(1 << 20);
            for chunk in data.chunks(split) {
                assert_eq!(t.scan(chunk), None);
            }
        }
    }

    #[test]
    fn rejects_unmasked_after_valid_prefix() {
        let mut data = frame(true, 1, true, 5);
        let at = data.len();
        data.extend(frame(true, 1, false, 5));
        assert_eq!(tracker(100).scan(&data), Some((at, GuardError::Unmasked)));
    }

    #[test]
    fn rejects_large_control() {
        let data = frame(true, 10, true, 126);
        assert_eq!(
            tracker(1000).scan(&data),
            Some((0, GuardError::ControlTooLarge { len: 126 }))
        );
    }

    #[test]
    fn message_size_counts_fragments() {
        let mut data = frame(false, 2, true, 60);
        let at = data.len();
        data.extend(frame(true, 0, true, 60));
        assert_eq!(
            tracker(100).scan(&data),
            Some((at, GuardError::MessageTooBig { len: 120, max: 100 }))
        );
        // Exactly the limit is fine, and the count resets after fin.
        let mut ok = frame(false, 1, true, 50);
        ok.extend(frame(true, 0, true, 50));
        ok.extend(frame(true, 1, true, 100));
        assert_eq!(tracker(100).scan(&ok), None);
    }
}
