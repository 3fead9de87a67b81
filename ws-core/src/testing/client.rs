//! [`TestClient`]: a WebSocket client for tests (tokio-tungstenite underneath), every wait
//! bounded, every surprise a panic that says what came instead.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::header::{HeaderName, HeaderValue, SEC_WEBSOCKET_PROTOCOL};
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WireCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame as WireClose, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WireMessage};
use tokio_tungstenite::WebSocketStream;

use super::TIMEOUT;
use crate::message::Message;
use crate::protocol::close::CloseCode;

/// A byte stream a client can run over: TCP, or a TLS stream a test made.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What the server sent, as [`TestClient::recv_event`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A text or binary message.
    Message(Message),
    /// A ping (the client has answered it with a pong).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame: its code (1005 when it had none) and reason.
    Close(CloseCode, String),
    /// The connection ended without a close frame.
    Ended,
}

/// A refused WebSocket handshake: the HTTP answer the server gave instead of 101.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The status (401 from a middleware, 404 for no route, 429, 503, ...).
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, as text.
    pub body: String,
}

/// A WebSocket client to open: [`TestServer::client`](super::TestServer::client) or
/// [`TestClient::build`].
#[derive(Debug, Clone)]
#[must_use = "call `connect`"]
pub struct ClientBuilder {
    url: String,
    headers: Vec<(String, String)>,
    protocols: Vec<String>,
    timeout: Duration,
}

impl ClientBuilder {
    pub(super) fn new(url: String) -> Self {
        Self {
            url,
            headers: Vec::new(),
            protocols: Vec::new(),
            timeout: TIMEOUT,
        }
    }

    /// Adds a header to the handshake request (`Authorization`, `Origin`, ...).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Offers subprotocol `name` (`Sec-WebSocket-Protocol`); call again to offer more, in
    /// order of preference.
    pub fn protocol(mut self, name: &str) -> Self {
        self.protocols.push(name.to_owned());
        self
    }

    /// How long each wait of the client may take before it fails the test (default
    /// [`TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Opens the connection over TCP; panics unless the server answers 101.
    pub async fn connect(self) -> TestClient {
        let url = self.url.clone();
        match self.try_connect().await {
            Ok(client) => client,
            Err(r) => panic!(
                "the handshake to {url} was refused with {}: {}",
                r.status, r.body
            ),
        }
    }

    /// Opens the connection over TCP: the client, or the server's answer when it was not 101.
    /// Panics when the connection itself fails.
    pub async fn try_connect(self) -> Result<TestClient, Rejected> {
        let host = self
            .url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("not a ws:// URL: {}", self.url))
            .to_owned();
        let connect = tokio::net::TcpStream::connect(host.as_str());
        let stream = match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => panic!("cannot connect to {host}: {e}"),
            Err(_) => panic!("timed out after {:?}: connecting to {host}", self.timeout),
        };
        let _ = stream.set_nodelay(true);
        self.try_connect_over(stream).await
    }

    /// Opens the connection over `stream`, already connected to the server: a TLS stream for
    /// a `wss://` server (the URL stays `ws://`; only its host and path are used). Panics
    /// unless the server answers 101.
    pub async fn connect_over<S>(self, stream: S) -> TestClient
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let url = self.url.clone();
        match self.try_connect_over(stream).await {
            Ok(client) => client,
            Err(r) => panic!(
                "the handshake to {url} was refused with {}: {}",
                r.status, r.body
            ),
        }
    }

    /// [`connect_over`](Self::connect_over), returning a refusal instead of panicking.
    pub async fn try_connect_over<S>(self, stream: S) -> Result<TestClient, Rejected>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut request = self
            .url
            .as_str()
            .into_client_request()
            .unwrap_or_else(|e| panic!("WebSocket URL {}: {e}", self.url));
        for (name, value) in &self.headers {
            let name = HeaderName::try_from(name.as_str())
                .unwrap_or_else(|e| panic!("header name {name:?}: {e}"));
            let value = HeaderValue::try_from(value.as_str())
                .unwrap_or_else(|e| panic!("header value {value:?}: {e}"));
            request.headers_mut().append(name, value);
        }
        if !self.protocols.is_empty() {
            let offer = self.protocols.join(", ");
            let value = HeaderValue::try_from(offer.as_str())
                .unwrap_or_else(|e| panic!("subprotocols {offer:?}: {e}"));
            request.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, value);
        }
        // Tests send and expect large messages: the server's limits are the ones under test.
        // A small read buffer: a test may open a thousand clients.
        let config = WebSocketConfig::default()
            .read_buffer_size(8 << 10)
            .max_message_size(None)
            .max_frame_size(None);
        let boxed: Box<dyn Io> = Box::new(stream);
        let handshake = tokio_tungstenite::client_async_with_config(request, boxed, Some(config));
        let (ws, response) = match tokio::time::timeout(self.timeout, handshake).await {
            Ok(Ok(done)) => done,
            Ok(Err(WsError::Http(response))) => {
                let (parts, body) = response.into_parts();
                return Err(Rejected {
                    status: parts.status,
                    headers: parts.headers,
                    body: String::from_utf8_lossy(&body.unwrap_or_default()).into_owned(),
                });
            }
            Ok(Err(e)) => panic!("WebSocket handshake to {}: {e}", self.url),
            Err(_) => panic!(
                "timed out after {:?}: WebSocket handshake to {}",
                self.timeout, self.url
            ),
        };
        Ok(TestClient {
            ws,
            url: self.url,
            headers: response.headers().clone(),
            timeout: self.timeout,
        })
    }

    /// Expects the server to refuse the handshake; returns its answer. Panics if the
    /// connection opens.
    pub async fn reject(self) -> Rejected {
        let url = self.url.clone();
        match self.try_connect().await {
            Ok(_) => panic!("the handshake to {url} was accepted, not refused"),
            Err(r) => r,
        }
    }
}

/// A WebSocket client connected to a test server: send and receive text, binary and JSON,
/// expect pings and close codes. Every wait fails the test after the client's timeout
/// ([`TIMEOUT`] unless [`ClientBuilder::timeout`] says otherwise), and every `recv_*` fails
/// it when something else arrives, naming what did. Pings are answered with pongs on their
/// own and skipped by the `recv_*` methods.
///
/// ```
/// use ws_core::testing::{config, TestServer};
/// use ws_core::{ws_controller, CloseCode, Conn, Controller, HookResult, Message};
///
/// /// `{"a": 1, "b": 2}` -> `3`; binary -> reversed; anything else closes with 4400.
/// #[ws_controller(server = "ws", path = "/add")]
/// pub struct Add;
/// impl Controller for Add {
///     async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
///         #[derive(serde::Deserialize)]
///         struct Pair { a: i64, b: i64 }
///         match msg {
///             Message::Binary(b) => cx.send(b.iter().rev().copied().collect::<Vec<u8>>()).await?,
///             Message::Text(t) => match serde_json::from_str::<Pair>(&t) {
///                 Ok(p) => cx.send((p.a + p.b).to_string()).await?,
///                 Err(_) => cx.close(CloseCode::new(4400), "not a pair"),
///             },
///         }
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(config()).await;
/// let mut client = server.connect("ws", "/add").await;
/// client.send_json(&serde_json::json!({"a": 1, "b": 2})).await;
/// assert_eq!(client.recv_json::<i64>().await, 3);
/// client.send_binary(vec![1, 2, 3]).await;
/// assert_eq!(client.recv_binary().await, vec![3u8, 2, 1]);
/// client.send_text("?").await;
/// assert_eq!(client.expect_close(CloseCode::new(4400)).await, "not a pair");
/// # }
/// ```
pub struct TestClient {
    ws: WebSocketStream<Box<dyn Io>>,
    url: String,
    headers: HeaderMap,
    timeout: Duration,
}

impl fmt::Debug for TestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient")
            .field("url", &self.url)
            .field("subprotocol", &self.subprotocol())
            .finish_non_exhaustive()
    }
}

impl TestClient {
    /// A client to `url` (`ws://HOST:PORT/PATH`) of any server.
    pub fn build(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url.into())
    }

    /// The subprotocol the server chose, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.header(SEC_WEBSOCKET_PROTOCOL.as_str())
    }

    /// A header of the server's 101 answer.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    async fn send_wire(&mut self, msg: WireMessage) {
        let what = "sending a message";
        if let Err(e) = bounded(self.timeout, &self.url, what, self.ws.send(msg)).await {
            panic!("{what} to {}: {e}", self.url);
        }
    }

    /// Sends a message.
    pub async fn send(&mut self, msg: impl Into<Message>) {
        let wire = match msg.into() {
            Message::Text(t) => WireMessage::text(t.as_str()),
            Message::Binary(b) => WireMessage::Binary(b),
        };
        self.send_wire(wire).await;
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) {
        self.send_wire(WireMessage::text(text)).await;
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, bytes: impl Into<Bytes>) {
        self.send_wire(WireMessage::Binary(bytes.into())).await;
    }

    /// Sends `value` as JSON in a text message.
    pub async fn send_json<T: Serialize + ?Sized>(&mut self, value: &T) {
        let json = serde_json::to_string(value).unwrap_or_else(|e| panic!("to JSON: {e}"));
        self.send_wire(WireMessage::text(json)).await;
    }

    /// Sends a ping with `payload` (the server answers with a pong:
    /// [`recv_event`](Self::recv_event) shows it).
    pub async fn ping(&mut self, payload: impl Into<Bytes>) {
        self.send_wire(WireMessage::Ping(payload.into())).await;
    }

    /// The next thing the server sends, pings and pongs included.
    pub async fn recv_event(&mut self) -> ClientEvent {
        let what = "waiting for the server";
        let next = bounded(self.timeout, &self.url, what, self.ws.next()).await;
        match next {
            None => ClientEvent::Ended,
            Some(Ok(msg)) => match msg {
                WireMessage::Text(t) => ClientEvent::Message(Message::Text(
                    // tungstenite has checked the UTF-8.
                    crate::message::Utf8Bytes::try_from_bytes(Bytes::from(t))
                        .unwrap_or_else(|e| panic!("text that is not UTF-8: {e}")),
                )),
                WireMessage::Binary(b) => ClientEvent::Message(Message::Binary(b)),
                WireMessage::Ping(p) => ClientEvent::Ping(p),
                WireMessage::Pong(p) => ClientEvent::Pong(p),
                WireMessage::Close(frame) => match frame {
                    Some(f) => ClientEvent::Close(
                        CloseCode::new(u16::from(f.code)),
                        f.reason.as_str().to_owned(),
                    ),
                    None => ClientEvent::Close(CloseCode::NO_STATUS, String::new()),
                },
                WireMessage::Frame(_) => panic!("a raw frame from {}", self.url),
            },
            // A reset, or a protocol error of the server: the connection is over.
            Some(Err(
                WsError::ConnectionClosed
                | WsError::AlreadyClosed
                | WsError::Io(_)
                | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake),
            )) => ClientEvent::Ended,
            Some(Err(e)) => panic!("reading from {}: {e}", self.url),
        }
    }

    /// The next text or binary message, skipping pings and pongs; panics on a close or the
    /// end of the connection.
    pub async fn recv(&mut self) -> Message {
        loop {
            match self.recv_event().await {
                ClientEvent::Message(m) => return m,
                ClientEvent::Ping(_) | ClientEvent::Pong(_) => continue,
                other => panic!("expected a message from {}, got {other:?}", self.url),
            }
        }
    }

    /// The next message, which must be text.
    pub async fn recv_text(&mut self) -> String {
        match self.recv().await {
            Message::Text(t) => t.as_str().to_owned(),
            other => panic!("expected a text message from {}, got {other:?}", self.url),
        }
    }

    /// The next message, which must be binary.
    pub async fn recv_binary(&mut self) -> Bytes {
        match self.recv().await {
            Message::Binary(b) => b,
            other => panic!("expected a binary message from {}, got {other:?}", self.url),
        }
    }

    /// The next message, which must be text holding JSON that parses into `T`.
    pub async fn recv_json<T: DeserializeOwned>(&mut self) -> T {
        let text = self.recv_text().await;
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("expected JSON from {} ({e}), got {text:?}", self.url))
    }

    /// Waits for a ping (skipping pongs); panics if anything else comes first.
    pub async fn expect_ping(&mut self) -> Bytes {
        loop {
            match self.recv_event().await {
                ClientEvent::Ping(p) => return p,
                ClientEvent::Pong(_) => continue,
                other => panic!("expected a ping from {}, got {other:?}", self.url),
            }
        }
    }

    /// Waits for the server's close frame, which must carry `code`, skipping pings and pongs;
    /// panics if a message comes first or the connection ends without one. Returns the
    /// reason. The client answers the close, and the server then ends the connection.
    pub async fn expect_close(&mut self, code: CloseCode) -> String {
        loop {
            match self.recv_event().await {
                ClientEvent::Close(got, reason) => {
                    assert_eq!(
                        got, code,
                        "close code from {} (reason {reason:?})",
                        self.url
                    );
                    return reason;
                }
                ClientEvent::Ping(_) | ClientEvent::Pong(_) => continue,
                other => panic!("expected close {code} from {}, got {other:?}", self.url),
            }
        }
    }

    /// Waits until the server ends the connection (skipping whatever comes before the end).
    pub async fn expect_end(&mut self) {
        while self.recv_event().await != ClientEvent::Ended {}
    }

    /// Closes with `code` and `reason` and waits for the server's close frame; returns its
    /// code (the server echoes the client's).
    pub async fn close(mut self, code: CloseCode, reason: &str) -> CloseCode {
        let frame = WireClose {
            code: WireCode::from(code.as_u16()),
            reason: reason.into(),
        };
        let url = self.url.clone();
        let closing = self.ws.close(Some(frame));
        if let Err(e) = bounded(self.timeout, &url, "sending a close", closing).await {
            panic!("closing {url}: {e}");
        }
        loop {
            match self.recv_event().await {
                ClientEvent::Close(got, _) => return got,
                ClientEvent::Ended => panic!("{url} ended without answering the close"),
                _ => continue,
            }
        }
    }

    /// The tokio-tungstenite stream underneath, for what this client does not offer.
    pub fn into_inner(self) -> WebSocketStream<impl AsyncRead + AsyncWrite + Unpin + Send> {
        self.ws
    }
}

/// Awaits `f`, failing the test after `timeout`.
async fn bounded<T>(
    timeout: Duration,
    url: &str,
    what: &str,
    f: impl std::future::Future<Output = T>,
) -> T {
    match tokio::time::timeout(timeout, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {timeout:?}: {what} ({url})"),
    }
}
