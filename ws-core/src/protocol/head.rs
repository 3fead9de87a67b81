//! A frame's header (RFC 6455 §5.2), parsed and checked by every rule that concerns a single
//! frame before any of its payload is read, and the frame it heads once unmasked.

use bytes::BytesMut;
use fastwebsockets::OpCode;

use super::error::Violation;

/// Longest frame header a client sends: 2 bytes, an 8-byte length, the 4-byte mask key.
pub(crate) const MAX_HEAD: usize = 14;

/// Largest control frame payload (RFC 6455 §5.5).
pub(crate) const CONTROL_MAX: usize = 125;

/// One frame from the client, unmasked.
#[derive(Debug)]
pub(crate) struct Frame {
    /// Whether this is the last frame of its message.
    pub(crate) fin: bool,
    pub(crate) opcode: OpCode,
    /// RSV1 on the first frame of a message: the message is compressed (RFC 7692 §6).
    pub(crate) compressed: bool,
    pub(crate) payload: BytesMut,
}

/// How many payload bytes the next data frame may carry: `plain` for a frame without RSV1
/// (an uncompressed message, or a continuation frame, which counts against the message under
/// way), `compressed` for the first frame of a compressed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Room {
    pub(crate) plain: usize,
    pub(crate) compressed: usize,
}

impl Room {
    /// The room of a message with `used` bytes so far under the limit `max` (a compressed
    /// message's first frame may carry up to [`compressed_bound`] of `max`).
    pub(crate) fn after(max: usize, used: usize) -> Self {
        Self {
            plain: max.saturating_sub(used),
            compressed: compressed_bound(max),
        }
    }
}

/// The most compressed bytes a message of `max` bytes may take: deflate makes incompressible
/// data a little larger (5 bytes per 64 KiB stored block), so a message at the limit still
/// fits. What the message decompresses to is held to `max` itself.
pub(crate) fn compressed_bound(max: usize) -> usize {
    max.saturating_add(max / 16).saturating_add(64)
}

/// A frame header that has arrived whole and passed the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) fin: bool,
    pub(crate) opcode: OpCode,
    /// RSV1, on a text or binary frame of a connection with permessage-deflate.
    pub(crate) compressed: bool,
    pub(crate) mask: [u8; 4],
    /// Bytes of the header itself.
    pub(crate) len: usize,
    /// Bytes of payload that follow it.
    pub(crate) payload: usize,
}

impl Head {
    /// Header and payload.
    pub(crate) fn total(&self) -> usize {
        self.len + self.payload
    }

    pub(crate) fn frame(&self, mut payload: BytesMut) -> Frame {
        fastwebsockets::unmask(&mut payload, self.mask);
        Frame {
            fin: self.fin,
            opcode: self.opcode,
            compressed: self.compressed,
            payload,
        }
    }
}

/// Parses the frame header at the start of `bytes`: `None` while part of it has not arrived.
/// A data frame's payload may be at most `room` bytes (what is left of the message limit
/// `max`). With `deflate` (permessage-deflate agreed), RSV1 may be set on a text or binary
/// frame, the first of a message (RFC 7692 §6.1); never on a continuation or control frame.
pub(crate) fn parse_head(
    bytes: &[u8],
    room: Room,
    max: usize,
    deflate: bool,
) -> Result<Option<Head>, Violation> {
    let [b0, b1, ..] = *bytes else {
        return Ok(None);
    };
    let compressed = deflate && b0 & 0x70 == 0x40 && matches!(b0 & 0x0f, 1 | 2);
    if b0 & 0x70 != 0 && !compressed {
        return Err(Violation::ReservedBits);
    }
    let opcode = match b0 & 0x0f {
        0 => OpCode::Continuation,
        1 => OpCode::Text,
        2 => OpCode::Binary,
        8 => OpCode::Close,
        9 => OpCode::Ping,
        10 => OpCode::Pong,
        other => return Err(Violation::ReservedOpcode(other)),
    };
    let fin = b0 & 0x80 != 0;
    let control = b0 & 0x08 != 0;
    if b1 & 0x80 == 0 {
        return Err(Violation::Unmasked);
    }
    if control && !fin {
        return Err(Violation::FragmentedControl);
    }
    let (len_bytes, shortest_above) = match b1 & 0x7f {
        126 => (2, 125),
        127 => (8, 0xffff),
        _ => (0, 0),
    };
    let len = 2 + len_bytes + 4;
    let Some(head) = bytes.get(..len) else {
        return Ok(None);
    };
    let payload = match len_bytes {
        0 => u64::from(b1 & 0x7f),
        _ => head[2..2 + len_bytes]
            .iter()
            .fold(0u64, |n, &b| (n << 8) | u64::from(b)),
    };
    if (len_bytes > 0 && payload <= shortest_above) || payload >> 63 != 0 {
        return Err(Violation::BadLength(payload));
    }
    let payload = usize::try_from(payload).unwrap_or(usize::MAX);
    if control && payload > CONTROL_MAX {
        return Err(Violation::ControlTooLarge(payload));
    }
    // (Only a limit near `usize::MAX` on a 32-bit target lets the second test matter.)
    let room = if compressed {
        room.compressed
    } else {
        room.plain
    };
    if !control && (payload > room || payload.checked_add(len).is_none()) {
        return Err(Violation::TooBig(max));
    }
    let mut mask = [0; 4];
    mask.copy_from_slice(&head[len - 4..]);
    Ok(Some(Head {
        fin,
        opcode,
        compressed,
        mask,
        len,
        payload,
    }))
}
