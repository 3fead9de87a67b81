//! What a client can do wrong while the server reads it, and the one table that maps each
//! failure to a close code.

use std::io;

use super::close::CloseCode;

/// A frame rule the client broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Violation {
    /// RFC 6455 §5.2: reserved bits no extension gave a meaning (RSV1 means "compressed"
    /// once permessage-deflate is agreed, on the first frame of a data message only: RFC
    /// 7692 §6).
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
    /// A compressed message (RFC 7692) whose bytes do not decompress.
    #[error("compressed message does not decompress")]
    BadDeflate,
}

impl Violation {
    /// The close code the server answers with.
    pub(crate) fn close_code(self) -> CloseCode {
        match self {
            Self::TooBig(_) => CloseCode::TOO_BIG,
            Self::InvalidUtf8 | Self::BadDeflate => CloseCode::INVALID_PAYLOAD,
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

/// What to do about an error from the frame reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadFailure {
    /// The peer broke the protocol: answer with this close code, then close.
    Close(CloseCode),
    /// The transport is gone: nothing can be sent.
    Gone,
}

/// The single mapping from a reader error to a close code.
pub(crate) fn classify(err: &ReadError) -> ReadFailure {
    match err {
        ReadError::Violation(v) => ReadFailure::Close(v.close_code()),
        ReadError::Io(_) | ReadError::Closed => ReadFailure::Gone,
    }
}
