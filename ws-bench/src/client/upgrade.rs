//! The client's side of the HTTP upgrade: the request, and the check of the response head.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::error::BenchError;

/// RFC 6455's sample key; any valid key will do for a benchmark.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// `Sec-WebSocket-Accept` for [`KEY`].
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Checks an HTTP upgrade response head (everything up to and including the
/// blank line) for `101` and the expected `Sec-WebSocket-Accept`.
pub fn check_upgrade_response(head: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let mut parts = status.split_whitespace();
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(format!("bad status line {status:?}"));
    };
    if !version.starts_with("HTTP/1.") || code != "101" {
        return Err(format!("expected 101 Switching Protocols, got {status:?}"));
    }
    let accept = lines.find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("sec-websocket-accept")
            .then(|| v.trim())
    });
    match accept {
        Some(ACCEPT) => Ok(()),
        Some(other) => Err(format!("wrong Sec-WebSocket-Accept {other:?}")),
        None => Err("missing Sec-WebSocket-Accept".to_string()),
    }
}

/// The upgrade request for `path` on `addr`, offering the subprotocol `protocol`, if any.
fn request(addr: SocketAddr, path: &str, protocol: Option<&str>) -> String {
    let offer = protocol
        .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    )
}

/// [`upgrade`] over TLS, where there is no `peek`: the head is read one byte at a time from
/// the TLS stream's buffer of decrypted bytes, so a frame the server sends right after it
/// stays in the stream.
pub(crate) async fn upgrade_tls(
    stream: &mut TlsStream<TcpStream>,
    addr: SocketAddr,
    path: &str,
    protocol: Option<&str>,
) -> Result<(), BenchError> {
    stream
        .write_all(request(addr, path, protocol).as_bytes())
        .await?;
    stream.flush().await?;
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() == 8192 {
            return Err(BenchError::Handshake(
                "response head larger than 8 KiB".into(),
            ));
        }
        match stream.read_u8().await {
            Ok(b) => head.push(b),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(BenchError::Handshake(
                    "connection closed during upgrade".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    check_upgrade_response(&head).map_err(BenchError::Handshake)
}

/// Sends the upgrade request for `path` on `addr` (offering the subprotocol `protocol`, if
/// any) and checks the response head, reading exactly the head: any frame the server sends
/// right after it stays in the socket.
pub(crate) async fn upgrade(
    stream: &mut TcpStream,
    addr: SocketAddr,
    path: &str,
    protocol: Option<&str>,
) -> Result<(), BenchError> {
    stream
        .write_all(request(addr, path, protocol).as_bytes())
        .await?;
    // Peek until the whole head is there, then consume exactly the head so that
    // any frame the server sends right after it stays in the socket.
    let mut buf = vec![0u8; 8192];
    for _ in 0..10_000 {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Err(BenchError::Handshake(
                "connection closed during upgrade".into(),
            ));
        }
        if let Some(pos) = buf[..n].windows(4).position(|w| w == b"\r\n\r\n") {
            let head_len = pos + 4;
            let mut head = vec![0u8; head_len];
            stream.read_exact(&mut head).await?;
            return check_upgrade_response(&head).map_err(BenchError::Handshake);
        }
        if n == buf.len() {
            return Err(BenchError::Handshake(
                "response head larger than 8 KiB".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err(BenchError::Handshake("incomplete response head".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_response_checks() {
        let ok = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nsec-websocket-accept: {ACCEPT}\r\n\r\n");
        assert_eq!(check_upgrade_response(ok.as_bytes()), Ok(()));
        assert!(check_upgrade_response(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
        assert!(check_upgrade_response(
            b"HTTP/1.1 101 Switching\r\nSec-WebSocket-Accept: nope\r\n\r\n"
        )
        .is_err());
        assert!(check_upgrade_response(b"HTTP/1.1 101 Switching\r\n\r\n").is_err());
        assert!(check_upgrade_response(b"\r\n\r\n").is_err());
    }
}
