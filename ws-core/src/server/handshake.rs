//! WebSocket handshake validation (RFC 6455 §4.2.1 over HTTP/1.1, RFC 8441 over HTTP/2) →
//! typed rejection → HTTP status.

use base64::Engine;
use http::header::{CONNECTION, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderMap, Method, StatusCode, Version};
use sha1::{Digest, Sha1};

/// Why a request is not a valid WebSocket handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error("this path only accepts WebSocket connections: send `Upgrade: websocket` (HTTP/1.1) or an extended CONNECT with `:protocol websocket` (HTTP/2)")]
    NotUpgrade,
    #[error("a WebSocket handshake uses GET")]
    Method,
    #[error("a WebSocket handshake needs HTTP/1.1")]
    Version,
    #[error("`Connection` header must include `upgrade`")]
    Connection,
    #[error("unsupported `Sec-WebSocket-Version`: this server speaks version 13")]
    WsVersion,
    #[error("`Sec-WebSocket-Key` header is missing")]
    MissingKey,
    #[error("`Sec-WebSocket-Key` must be 16 bytes in base64")]
    BadKey,
    #[error("`{0}` is sent more than once; send it once")]
    Duplicate(&'static str),
}

impl HandshakeError {
    /// The status the client gets.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::NotUpgrade | Self::WsVersion => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Whether the request asks for a WebSocket at all: an HTTP/1.1 `Upgrade: websocket`, or an
/// HTTP/2 extended CONNECT with `:protocol websocket` (RFC 8441 §4).
pub(crate) fn wants_upgrade<B>(req: &http::Request<B>) -> bool {
    if req.version() == Version::HTTP_2 {
        req.method() == Method::CONNECT
            && req
                .extensions()
                .get::<hyper::ext::Protocol>()
                .is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"))
    } else {
        header_has_token(req.headers(), UPGRADE, "websocket")
    }
}

fn header_has_token(headers: &HeaderMap, name: http::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// How a valid handshake is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Accept {
    /// 101 with this `Sec-WebSocket-Accept` value.
    Http1(String),
    /// 200 on the extended CONNECT stream (RFC 8441 §5: no key, no accept value).
    Http2,
}

/// Validates the handshake: RFC 6455 §4.2.1 over HTTP/1.1, RFC 8441 §5 over HTTP/2.
pub(crate) fn validate<B>(req: &http::Request<B>) -> Result<Accept, HandshakeError> {
    if !wants_upgrade(req) {
        return Err(HandshakeError::NotUpgrade);
    }
    let headers = req.headers();
    let http2 = req.version() == Version::HTTP_2;
    if !http2 {
        if req.method() != Method::GET {
            return Err(HandshakeError::Method);
        }
        if req.version() != Version::HTTP_11 {
            return Err(HandshakeError::Version);
        }
        if !header_has_token(headers, CONNECTION, "upgrade") {
            return Err(HandshakeError::Connection);
        }
    }
    // Exactly one version header, saying 13 (a second one, even agreeing, is refused: two
    // parsers of the same request must not see different versions).
    let mut versions = headers.get_all(SEC_WEBSOCKET_VERSION).iter();
    if versions.next().map(|v| v.as_bytes()) != Some(b"13") {
        return Err(HandshakeError::WsVersion);
    }
    if versions.next().is_some() {
        return Err(HandshakeError::Duplicate("Sec-WebSocket-Version"));
    }
    if http2 {
        return Ok(Accept::Http2);
    }
    if headers.get_all(SEC_WEBSOCKET_KEY).iter().nth(1).is_some() {
        return Err(HandshakeError::Duplicate("Sec-WebSocket-Key"));
    }
    let key = headers
        .get(SEC_WEBSOCKET_KEY)
        .ok_or(HandshakeError::MissingKey)?
        .as_bytes();
    let key = trim(key);
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(raw) if raw.len() == 16 => Ok(Accept::Http1(accept_key(key))),
        _ => Err(HandshakeError::BadKey),
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// `base64(sha1(key + GUID))` (RFC 6455 §4.2.2).
pub(crate) fn accept_key(key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha1.finalize())
}

/// The subprotocols offered in `Sec-WebSocket-Protocol`, in order.
pub(crate) fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example_accept_key() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
