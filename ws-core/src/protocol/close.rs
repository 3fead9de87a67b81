//! Close codes (RFC 6455 §7.4), the close frame a hook sees, and the checks on a close
//! frame's payload.

use std::fmt;

/// A WebSocket close status code.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: Self = Self(1000);
    /// 1001: going away (server shutting down, idle timeout).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: protocol error.
    pub const PROTOCOL: Self = Self(1002);
    /// 1003: unsupported data type.
    pub const UNSUPPORTED: Self = Self(1003);
    /// 1005: no status code was present (never sent on the wire).
    pub const NO_STATUS: Self = Self(1005);
    /// 1006: closed without a close frame (never sent on the wire).
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: invalid payload data (e.g. text that is not UTF-8).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: policy violation (e.g. a slow consumer whose queue overflowed).
    pub const POLICY: Self = Self(1008);
    /// 1009: message too big.
    pub const TOO_BIG: Self = Self(1009);
    /// 1010: a required extension is missing.
    pub const EXTENSION: Self = Self(1010);
    /// 1011: internal server error (a hook failed).
    pub const INTERNAL: Self = Self(1011);
    /// 1012: service restart.
    pub const RESTART: Self = Self(1012);
    /// 1013: try again later.
    pub const AGAIN: Self = Self(1013);

    /// A code from its number.
    pub const fn new(code: u16) -> Self {
        Self(code)
    }

    /// The number.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether a peer may send this code in a close frame: 1000-1003, 1007-1014 and the
    /// registered/private ranges 3000-4999. 1004-1006 and 1015 are reserved and never sent.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

/// How a connection ended, as the `on_close` hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The code: the one the client sent (1005 if its close frame had none), the one the server
    /// sent when it closed first, or 1006 when the TCP connection ended without a close frame.
    pub code: CloseCode,
    /// The reason text that came with the code.
    pub reason: String,
    /// Whether the client started the close.
    pub by_client: bool,
}

/// Validates a close frame payload from the client: `Ok((code, reason))`, or the close code
/// the server must answer a malformed one with.
pub(crate) fn parse_close_payload(payload: &[u8]) -> Result<(CloseCode, String), CloseCode> {
    match payload {
        [] => Ok((CloseCode::NO_STATUS, String::new())),
        [_] => Err(CloseCode::PROTOCOL),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_sendable() {
                return Err(CloseCode::PROTOCOL);
            }
            match std::str::from_utf8(reason) {
                Ok(r) => Ok((code, r.to_owned())),
                Err(_) => Err(CloseCode::INVALID_PAYLOAD),
            }
        }
    }
}

/// The payload of a close frame the server sends: empty for [`CloseCode::NO_STATUS`], else the
/// code, then the reason (at most 123 bytes: see [`truncate_reason`]).
pub(crate) fn close_payload(code: CloseCode, reason: &[u8]) -> Vec<u8> {
    let mut payload = Vec::new();
    if code != CloseCode::NO_STATUS {
        payload.extend_from_slice(&code.as_u16().to_be_bytes());
        payload.extend_from_slice(reason);
    }
    payload
}

/// A close reason fits in a control frame: at most 123 bytes, cut at a char boundary.
pub(crate) fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= 123 {
        return reason;
    }
    let mut end = 123;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_payloads() {
        assert_eq!(
            parse_close_payload(&[]),
            Ok((CloseCode::NO_STATUS, String::new()))
        );
        assert_eq!(parse_close_payload(&[3]), Err(CloseCode::PROTOCOL));
        assert_eq!(
            parse_close_payload(&[0x03, 0xe8, b'o', b'k']),
            Ok((CloseCode::NORMAL, "ok".into()))
        );
        for bad in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert_eq!(
                parse_close_payload(&bad.to_be_bytes()),
                Err(CloseCode::PROTOCOL),
                "{bad}"
            );
        }
        for good in [1000u16, 1001, 1003, 1007, 1011, 1012, 3000, 4999] {
            assert!(parse_close_payload(&good.to_be_bytes()).is_ok(), "{good}");
        }
        assert_eq!(
            parse_close_payload(&[0x03, 0xe8, 0xff]),
            Err(CloseCode::INVALID_PAYLOAD)
        );
    }
}
