//! A minimal HTTP/1.1 client over a plain `TcpStream`: one request at a time on a keep-alive
//! connection, the response's status and body. Enough for `GET /health` and `POST /push`.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::BenchError;

/// Bound on a response (head and body) the client reads.
pub const MAX_RESPONSE: usize = 1 << 20;

/// A response: its status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Body (after chunked decoding).
    pub body: Vec<u8>,
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// `Content-Length: N`.
    Exact(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ends at EOF.
    UntilEof,
}

/// The request head of `method path` on `host` with `headers` and a `Content-Length` of
/// `content_length` (none for `None`).
pub fn request_head(
    method: &str,
    path: &str,
    host: SocketAddr,
    headers: &[(&str, &str)],
    content_length: Option<usize>,
) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(n) = content_length {
        head.push_str(&format!("Content-Length: {n}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Sends one request with `body` on the keep-alive connection `stream` and reads the
/// response (not time-bounded: wrap it in [`within`](crate::error::within)).
pub async fn request(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<HttpResponse, BenchError> {
    let host = stream.peer_addr()?;
    let len = (method != "GET" || !body.is_empty()).then_some(body.len());
    let head = request_head(method, path, host, headers, len);
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    read_response(stream).await
}

/// Reads one response from `r`: its head, then its body as the head delimits it.
pub async fn read_response<R: AsyncRead + Unpin>(r: &mut R) -> Result<HttpResponse, BenchError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > MAX_RESPONSE {
            return Err(BenchError::Handshake("response head over 1 MiB".into()));
        }
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Err(BenchError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let (status, length) = parse_response_head(&buf[..head_end]).map_err(BenchError::Handshake)?;
    let mut body = buf.split_off(head_end);
    loop {
        let done = match length {
            BodyLength::Exact(n) => body.len() >= n,
            BodyLength::Chunked => body.ends_with(b"0\r\n\r\n"),
            BodyLength::UntilEof => false,
        };
        if done {
            break;
        }
        if body.len() > MAX_RESPONSE {
            return Err(BenchError::Handshake("response body over 1 MiB".into()));
        }
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            if length == BodyLength::UntilEof {
                break;
            }
            return Err(BenchError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let body = match length {
        BodyLength::Exact(n) => {
            body.truncate(n);
            body
        }
        BodyLength::Chunked => decode_chunked(&body).map_err(BenchError::Handshake)?,
        BodyLength::UntilEof => body,
    };
    Ok(HttpResponse { status, body })
}

/// Parses a response head (through the blank line): the status and how the body is
/// delimited.
pub fn parse_response_head(head: &[u8]) -> Result<(u16, BodyLength), String> {
    let text = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => code
            .parse::<u16>()
            .map_err(|_| format!("bad status line {status_line:?}"))?,
        _ => return Err(format!("bad status line {status_line:?}")),
    };
    let mut length = BodyLength::UntilEof;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("content-length") {
            let n = v.parse().map_err(|_| format!("bad Content-Length {v:?}"))?;
            length = BodyLength::Exact(n);
        } else if k.eq_ignore_ascii_case("transfer-encoding")
            && v.to_ascii_lowercase().contains("chunked")
        {
            length = BodyLength::Chunked;
        }
    }
    // 1xx, 204 and 304 have no body.
    if status < 200 || status == 204 || status == 304 {
        length = BodyLength::Exact(0);
    }
    Ok((status, length))
}

/// Decodes a complete chunked body (through its last, empty chunk).
pub fn decode_chunked(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line without CRLF")?;
        let size_text = std::str::from_utf8(&data[..line_end]).map_err(|_| "chunk size")?;
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size_hex, 16).map_err(|_| format!("chunk size {size_hex:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).ok_or("chunk shorter than its size")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).ok_or("chunk without CRLF")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        assert_eq!(
            parse_response_head(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n"),
            Ok((200, BodyLength::Exact(3)))
        );
        assert_eq!(
            parse_response_head(b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok((401, BodyLength::Chunked))
        );
        assert_eq!(
            parse_response_head(b"HTTP/1.0 413 Too Big\r\n\r\n"),
            Ok((413, BodyLength::UntilEof))
        );
        assert_eq!(
            parse_response_head(b"HTTP/1.1 204 No Content\r\n\r\n"),
            Ok((204, BodyLength::Exact(0)))
        );
        assert!(parse_response_head(b"SSH-2.0\r\n\r\n").is_err());
        assert!(parse_response_head(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }

    #[test]
    fn chunked() {
        assert_eq!(
            decode_chunked(b"2\r\nok\r\n3;x=y\r\n!!!\r\n0\r\n\r\n"),
            Ok(b"ok!!!".to_vec())
        );
        assert!(decode_chunked(b"5\r\nok\r\n").is_err());
    }

    #[test]
    fn request_heads() {
        let a: SocketAddr = "127.0.0.1:80".parse().expect("addr");
        assert_eq!(
            request_head("POST", "/push", a, &[("Authorization", "Bearer x")], Some(2)),
            "POST /push HTTP/1.1\r\nHost: 127.0.0.1:80\r\nAuthorization: Bearer x\r\nContent-Length: 2\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn reads_a_response() {
        let mut data: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
        let r = read_response(&mut data).await.expect("response");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"ok");
        let mut data: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nok";
        assert!(read_response(&mut data).await.is_err());
    }
}
