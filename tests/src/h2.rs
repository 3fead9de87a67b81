//! HTTP clients for the end-to-end tests over any byte stream (TCP, TLS): HTTP/2 (hyper's
//! client connection), WebSocket over HTTP/2 (RFC 8441 extended CONNECT), and one-shot
//! HTTP/1.1 or HTTP/2 requests, over TLS (`https`) or plaintext HTTP/2 with prior knowledge
//! (`h2c`).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::tls::{alpn_of, tls_connect};
use crate::{within, TIMEOUT};

/// A byte stream a client can speak HTTP over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Aborts the connection task when the last handle on the connection goes.
#[derive(Debug)]
struct ConnTask(JoinHandle<()>);

impl Drop for ConnTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An HTTP/2 client connection (cheap to clone: clones share the connection). The
/// connection ends when the last clone, and every WebSocket opened on it, is dropped.
#[derive(Debug, Clone)]
pub struct H2Client {
    sender: http2::SendRequest<Full<Bytes>>,
    scheme: &'static str,
    authority: String,
    enabled: watch::Receiver<bool>,
    _task: Arc<ConnTask>,
}

impl H2Client {
    /// Starts HTTP/2 on `io` (the client preface first: prior knowledge for plaintext, or
    /// after ALPN chose `h2`). `scheme` (`https` or `http`) and `authority` go into every
    /// request's `:scheme` and `:authority`.
    pub async fn handshake(io: impl Io, scheme: &'static str, authority: &str) -> Self {
        let (sender, conn) = within(
            "HTTP/2 handshake",
            http2::Builder::new(TokioExecutor::new()).handshake(TokioIo::new(io)),
        )
        .await
        .expect("HTTP/2 handshake");
        // Drive the connection and publish the server's SETTINGS_ENABLE_CONNECT_PROTOCOL.
        // hyper reads it from state that its own HTTP/2 task updates, which does not wake
        // this one: look again every few milliseconds until it is on.
        let (enabled_tx, enabled) = watch::channel(false);
        let mut conn = conn;
        let mut tick = tokio::time::interval(Duration::from_millis(5));
        let task = tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| {
                let polled = Pin::new(&mut conn).poll(cx);
                let now = conn.is_extended_connect_protocol_enabled();
                enabled_tx.send_if_modified(|v| std::mem::replace(v, now) != now);
                if polled.is_pending() && !now && !enabled_tx.is_closed() {
                    while tick.poll_tick(cx).is_ready() {}
                }
                polled
            })
            .await;
        });
        Self {
            sender,
            scheme,
            authority: authority.to_owned(),
            enabled,
            _task: Arc::new(ConnTask(task)),
        }
    }

    /// Whether the server has sent `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 §3),
    /// waiting for its SETTINGS frame for up to [`TIMEOUT`].
    pub async fn extended_connect_enabled(&self) -> bool {
        let mut enabled = self.enabled.clone();
        let waited = tokio::time::timeout(TIMEOUT, enabled.wait_for(|on| *on)).await;
        matches!(waited, Ok(Ok(_)))
    }

    /// Whether the connection has ended (the server closed it, after a GOAWAY or not).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// `scheme://authority/path`.
    pub fn uri(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.authority)
    }

    /// Sends `req` (whose URI must be absolute: see [`uri`](Self::uri)).
    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> hyper::Result<Response<Incoming>> {
        within("HTTP/2 ready", self.sender.ready()).await?;
        within("HTTP/2 response", self.sender.send_request(req)).await
    }

    /// One request: `method path` with `headers` and `body`; the whole reply.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpReply {
        let mut req = Request::builder()
            .method(method)
            .uri(self.uri(path))
            .version(Version::HTTP_2);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
        let res = self.send(req).await.expect("HTTP/2 request");
        HttpReply::read(res).await
    }

    /// The extended CONNECT of a WebSocket on `path` (RFC 8441 §4): `:protocol websocket`,
    /// `sec-websocket-version: 13`, the offered subprotocols (if any) and `headers`. The
    /// response as the server sent it, without waiting for SETTINGS first.
    pub async fn websocket_request(
        &mut self,
        path: &str,
        protocols: &[&str],
        headers: &[(&str, &str)],
    ) -> hyper::Result<Response<Incoming>> {
        let mut req = Request::builder()
            .method(Method::CONNECT)
            .uri(self.uri(path))
            .version(Version::HTTP_2)
            .header("sec-websocket-version", "13");
        if !protocols.is_empty() {
            req = req.header("sec-websocket-protocol", protocols.join(", "));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = req.body(Full::new(Bytes::new())).unwrap();
        req.extensions_mut()
            .insert(hyper::ext::Protocol::from_static("websocket"));
        self.send(req).await
    }

    /// Opens a WebSocket on `path` over this connection; panics unless the server enabled
    /// extended CONNECT and answered 200.
    pub async fn websocket(
        &mut self,
        path: &str,
        protocols: &[&str],
        headers: &[(&str, &str)],
    ) -> H2WebSocket {
        assert!(
            self.extended_connect_enabled().await,
            "the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1"
        );
        let res = self
            .websocket_request(path, protocols, headers)
            .await
            .expect("extended CONNECT");
        let status = res.status();
        let response_headers = res.headers().clone();
        if status != StatusCode::OK {
            let reply = HttpReply::read(res).await;
            panic!("extended CONNECT {path} answered {status}, not 200: {reply:?}");
        }
        let upgraded = within("upgrade", hyper::upgrade::on(res))
            .await
            .expect("the CONNECT stream");
        H2WebSocket {
            io: TokioIo::new(upgraded),
            headers: response_headers,
            _client: self.clone(),
        }
    }
}

/// A WebSocket over one HTTP/2 stream: the bytes of WebSocket frames, both ways. Holds its
/// connection open.
#[derive(Debug)]
pub struct H2WebSocket {
    io: TokioIo<Upgraded>,
    headers: HeaderMap,
    _client: H2Client,
}

impl H2WebSocket {
    /// The headers of the server's 200.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The subprotocol the server chose (`sec-websocket-protocol` of its 200).
    pub fn protocol(&self) -> Option<&str> {
        self.headers
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
    }
}

impl AsyncRead for H2WebSocket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for H2WebSocket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A WebSocket over HTTP/2 on `io` (TLS after ALPN chose `h2`, or plaintext with prior
/// knowledge): handshake, wait for extended CONNECT, CONNECT `path` offering `protocols`.
pub async fn h2_websocket(
    io: impl Io,
    scheme: &'static str,
    authority: &str,
    path: &str,
    protocols: &[&str],
) -> H2WebSocket {
    let mut client = H2Client::handshake(io, scheme, authority).await;
    client.websocket(path, protocols, &[]).await
}

/// A whole HTTP response.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// The HTTP version of the response.
    pub version: Version,
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body (lossy UTF-8).
    pub body: String,
}

impl HttpReply {
    /// Reads the whole body of `res`.
    pub async fn read(res: Response<Incoming>) -> Self {
        let (parts, body) = res.into_parts();
        let body = within("response body", body.collect())
            .await
            .expect("response body")
            .to_bytes();
        Self {
            version: parts.version,
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
}

/// One HTTP/1.1 request over `io` with hyper's client (`Host: authority`).
pub async fn http1_request(
    io: impl Io,
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpReply {
    let (mut sender, conn) = within("HTTP/1.1 handshake", http1::handshake(TokioIo::new(io)))
        .await
        .expect("HTTP/1.1 handshake");
    let task = ConnTask(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
    let res = within("HTTP/1.1 response", sender.send_request(req))
        .await
        .expect("HTTP/1.1 request");
    let reply = HttpReply::read(res).await;
    drop(task);
    reply
}

/// One request over TLS (trusting the shared CA) offering `alpn`: over HTTP/2 when ALPN
/// chose `h2`, else HTTP/1.1. The reply and the protocol ALPN chose.
pub async fn https_request(
    addr: SocketAddr,
    alpn: &[&[u8]],
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (HttpReply, Option<Vec<u8>>) {
    let tls = tls_connect(addr, alpn).await;
    let chosen = alpn_of(&tls);
    let authority = format!("localhost:{}", addr.port());
    let reply = if chosen.as_deref() == Some(b"h2") {
        let mut client = H2Client::handshake(tls, "https", &authority).await;
        client.request(method, path, headers, body).await
    } else {
        http1_request(tls, &authority, method, path, headers, body).await
    };
    (reply, chosen)
}

/// `GET path` over TLS offering `alpn`; see [`https_request`].
pub async fn https_get(
    addr: SocketAddr,
    path: &str,
    alpn: &[&[u8]],
) -> (HttpReply, Option<Vec<u8>>) {
    https_request(addr, alpn, "GET", path, &[], b"").await
}

/// A plaintext HTTP/2 connection with prior knowledge (h2c) to `addr`.
pub async fn h2c_client(addr: SocketAddr) -> H2Client {
    let tcp = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    H2Client::handshake(tcp, "http", &addr.to_string()).await
}

/// One request over h2c (a new connection).
pub async fn h2c_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpReply {
    h2c_client(addr)
        .await
        .request(method, path, headers, body)
        .await
}
