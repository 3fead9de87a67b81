//! TLS, HTTP/2 and WebSocket over HTTP/2 (RFC 8441), end to end: `wss://` and `https://` with
//! ALPN, extended CONNECT, h2c with prior knowledge, certificate rotation on reload, bad
//! certificate files, client certificates, and the TLS handshake under `handshake_timeout`.
//!
//! Certificates are made per test with rcgen (`ws_tests::tls`) into private temporary
//! directories, removed when the test ends.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;
use ws_core::http::StatusCode as CoreStatus;
use ws_core::{ws_controller, App, Conn, Controller, HookResult, Rejection, RequestHead};
use ws_tests::tls::{alpn_of, any_cert_client_config, peer_cert, try_tls_connect_as};
use ws_tests::{
    client_config, h2c_client, h2c_request, https_get, https_request, start, test_config,
    test_config_with, tls_connect, tls_connect_with, try_tls_connect, within, Ca, H2Client, Leaf,
    TlsFiles,
};

/// The subject of the verified client certificate, as the handshake hook saw it.
#[derive(Debug, Clone)]
struct HeadSubject(String);

/// `/whoami-cert`: refuses (403) a handshake whose request head carries no client
/// certificate; on open sends `conn=<subject from Conn::client_cert>;ext=<from the
/// connection's extensions>;head=<from the request head>;der=<DER length>`.
#[ws_controller(server = "ws", path = "/whoami-cert")]
#[derive(Debug, Default)]
pub struct WhoamiCert;

impl Controller for WhoamiCert {
    async fn on_handshake(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        let Some(cert) = req.extensions().get::<ws_core::ClientCert>() else {
            return Err(Rejection::new(
                CoreStatus::FORBIDDEN,
                "no client certificate",
            ));
        };
        let subject = cert.subject().to_owned();
        req.extensions_mut().insert(HeadSubject(subject));
        Ok(())
    }

    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let conn = cx.client_cert().map(|c| c.subject().to_owned());
        let der = cx.client_cert().map_or(0, |c| c.der().len());
        let ext = cx
            .get::<ws_core::ClientCert>()
            .map(|c| c.subject().to_owned());
        let head = cx.get::<HeadSubject>().map(|h| h.0.clone());
        cx.send(format!(
            "conn={};ext={};head={};der={der}",
            conn.unwrap_or_default(),
            ext.unwrap_or_default(),
            head.unwrap_or_default()
        ))
        .await?;
        Ok(())
    }
}

/// `GET /cert-subject` on the TLS server: the client certificate and the peer as arguments.
#[ws_core::http_route(server = "ws", path = "/cert-subject")]
async fn cert_subject(cert: ws_core::ClientCert, peer: SocketAddr) -> String {
    format!("{} from {}", cert.subject(), peer.ip())
}

const H1: &[&[u8]] = &[b"http/1.1"];
const H2: &[&[u8]] = &[b"h2"];
const BOTH: &[&[u8]] = &[b"h2", b"http/1.1"];

/// Starts the demo with `toml` as its config file; panics if it does not start.
async fn start_with(toml: &str) -> ws_core::Running {
    let config = test_config_with(toml).unwrap_or_else(|e| panic!("config {toml:?} loads: {e}"));
    start(config).await
}

/// A `wss://` WebSocket (tokio-tungstenite) over a TLS connection made with `config`.
type Wss = WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

async fn wss(addr: SocketAddr, config: Arc<rustls::ClientConfig>, path: &str) -> Wss {
    let tls = tls_connect_with(addr, config).await;
    let url = format!("wss://localhost:{}{path}", addr.port());
    let (ws, res) = within("wss handshake", tokio_tungstenite::client_async(url, tls))
        .await
        .expect("wss handshake");
    assert_eq!(res.status(), 101);
    ws
}

/// The next text message, skipping pings and pongs.
async fn next_text<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> String {
    loop {
        match within("next message", ws.next()).await {
            Some(Ok(WsMessage::Text(t))) => return t.to_string(),
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Sends `text` and expects it back.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, text: &str) {
    within("send", ws.send(WsMessage::text(text)))
        .await
        .expect("send");
    assert_eq!(next_text(ws).await, text);
}

/// Closes with `code` and expects the server's close frame with the same code, then the end.
async fn close_with<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, code: u16) {
    within(
        "close",
        ws.close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: "bye".into(),
        })),
    )
    .await
    .expect("send close");
    loop {
        match within("close reply", ws.next()).await {
            Some(Ok(WsMessage::Close(frame))) => {
                let got = frame.map(|f| u16::from(f.code));
                assert_eq!(got, Some(code), "the server echoes the close code");
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("expected the server's close frame, got {other:?}"),
        }
    }
    // After the close handshake the stream ends.
    assert!(
        matches!(within("end", ws.next()).await, None | Some(Err(_))),
        "the connection ends after the close handshake"
    );
}

/// Whether a connection made with `config` is refused: the TLS handshake fails, or (TLS 1.3,
/// where the server checks the client's certificate after the client finished) the first
/// exchange on it does.
async fn refused(addr: SocketAddr, config: Arc<rustls::ClientConfig>, path: &str) -> bool {
    let Ok(tls) = try_tls_connect(addr, config).await else {
        return true;
    };
    let url = format!("wss://localhost:{}{path}", addr.port());
    match within("wss handshake", tokio_tungstenite::client_async(url, tls)).await {
        Err(_) => true,
        Ok((mut ws, _)) => {
            // Accepted: read what the server says, for the failure message.
            let first = within("first message", ws.next()).await;
            panic!("the connection was accepted; the server sent {first:?}");
        }
    }
}

/// Reads until the server closes (EOF or an error); what it sent.
async fn read_until_closed(stream: &mut TcpStream, budget: Duration) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    if tokio::time::timeout(budget, read).await.is_err() {
        panic!("the server did not close the connection within {budget:?}");
    }
    buf
}

#[tokio::test]
async fn wss_echo_with_tungstenite() {
    let files = TlsFiles::shared("wss-echo");
    let running = start_with(&files.toml("ws")).await;
    let addr = running.local_addr("ws").unwrap();

    let tls = tls_connect(addr, H1).await;
    assert_eq!(alpn_of(&tls).as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(
        peer_cert(&tls).unwrap(),
        std::fs::read(&files.cert).map(|pem| pem_der(&pem)).unwrap(),
        "the server presents the configured certificate"
    );
    let url = format!("wss://localhost:{}/echo", addr.port());
    let (mut ws, res) = within("handshake", tokio_tungstenite::client_async(url, tls))
        .await
        .unwrap();
    assert_eq!(res.status(), 101);
    echo(&mut ws, "hello over TLS").await;
    within("send", ws.send(WsMessage::binary(vec![0u8, 1, 2, 255])))
        .await
        .unwrap();
    match within("binary", ws.next()).await {
        Some(Ok(WsMessage::Binary(b))) => assert_eq!(&b[..], &[0u8, 1, 2, 255]),
        other => panic!("expected the binary echo, got {other:?}"),
    }
    // A big message crosses many TLS records.
    let big = "x".repeat(300_000);
    echo(&mut ws, &big).await;
    close_with(&mut ws, 1000).await;

    // A client without ALPN gets HTTP/1.1 too.
    let ws2 = wss(addr, client_config(&[Ca::shared()], None, &[]), "/echo").await;
    drop(ws2);
    running.shutdown().await;
}

/// The test kit's client over a TLS stream the test made (`ClientBuilder::connect_over`).
#[tokio::test]
async fn wss_with_the_test_kits_client() {
    let files = TlsFiles::shared("wss-kit");
    let running = start_with(&files.toml("ws")).await;
    let addr = running.local_addr("ws").unwrap();
    let tls = tls_connect(addr, H1).await;
    let url = format!("ws://localhost:{}/echo", addr.port());
    let mut ws = ws_core::testing::TestClient::build(url)
        .connect_over(tls)
        .await;
    ws.send_text("hello over TLS").await;
    assert_eq!(ws.recv_text().await, "hello over TLS");
    let code = ws_core::CloseCode::new(4000);
    assert_eq!(ws.close(code, "bye").await, code);
    running.shutdown().await;
}

/// The DER of the first certificate of a PEM file.
fn pem_der(pem: &[u8]) -> rustls_pki_types::CertificateDer<'static> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::pem_slice_iter(pem)
        .next()
        .expect("a certificate in the PEM file")
        .expect("a valid PEM certificate")
}

#[tokio::test]
async fn https_routes_over_http1_and_http2() {
    let files = TlsFiles::shared("https");
    let toml = format!("secret_key = \"s3cret\"\n{}", files.toml("http"));
    let running = start_with(&toml).await;
    let http = running.local_addr("http").unwrap();

    // HTTP/1.1, chosen by ALPN or without ALPN at all.
    for alpn in [H1, &[][..]] {
        let (reply, chosen) = https_get(http, "/health", alpn).await;
        assert_eq!(chosen.as_deref(), alpn.first().copied(), "ALPN");
        assert_eq!(reply.version, http::Version::HTTP_11);
        assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
    }
    // HTTP/2 when the client offers both: the server prefers h2.
    let (reply, chosen) = https_get(http, "/health", BOTH).await;
    assert_eq!(chosen.as_deref(), Some(&b"h2"[..]), "ALPN chose h2");
    assert_eq!(reply.version, http::Version::HTTP_2);
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
    let (reply, _) = https_get(http, "/nowhere", H2).await;
    assert_eq!(reply.status, 404);

    // Several requests on one HTTP/2 connection, a POST with a body among them: /push reaches
    // a /chat client on the (plaintext) ws server.
    let ws_addr = running.local_addr("ws").unwrap();
    let mut chat = ws_tests::RawClient::connect(ws_addr, "/chat").await;
    // A round trip first, so that the connection has joined the lobby before the push.
    chat.send_text("/whoami").await;
    assert!(chat.recv_text().await.starts_with("id "));
    let tls = tls_connect(http, H2).await;
    let mut client = H2Client::handshake(tls, "https", &format!("localhost:{}", http.port())).await;
    let r = client.request("GET", "/health", &[], b"").await;
    assert_eq!((r.version, r.status), (http::Version::HTTP_2, 200));
    let r = client
        .request("POST", "/push", &[("authorization", "Bearer wrong")], b"x")
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    let r = client
        .request(
            "POST",
            "/push",
            &[("authorization", "Bearer s3cret")],
            b"pushed over h2",
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(chat.recv_text().await, "pushed over h2");
    // POST over HTTP/1.1 on TLS too.
    let (r, _) = https_request(
        http,
        H1,
        "POST",
        "/push",
        &[("authorization", "Bearer s3cret")],
        b"pushed over h1",
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(chat.recv_text().await, "pushed over h1");
    drop((client, chat));
    running.shutdown().await;
}

#[tokio::test]
async fn plaintext_is_refused_on_a_tls_port() {
    let files = TlsFiles::shared("plain-refused");
    let toml = format!("{}{}", files.toml("http"), files.toml("ws"));
    let running = start_with(&toml).await;
    for server in ["http", "ws"] {
        let addr = running.local_addr(server).unwrap();
        for request in [
            format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
            format!(
                "GET /echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n"
            ),
        ] {
            let mut s = within("connect", TcpStream::connect(addr)).await.unwrap();
            s.write_all(request.as_bytes()).await.unwrap();
            let answer = read_until_closed(&mut s, ws_tests::TIMEOUT).await;
            assert!(
                !answer.starts_with(b"HTTP/"),
                "{server}: a plaintext request got an HTTP answer: {:?}",
                String::from_utf8_lossy(&answer)
            );
        }
        // The h2 preface in plaintext is no way around it either.
        let mut s = within("connect", TcpStream::connect(addr)).await.unwrap();
        s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let answer = read_until_closed(&mut s, ws_tests::TIMEOUT).await;
        // An HTTP/2 server answers the preface with a SETTINGS frame (type 4 at byte 3).
        assert!(
            !(answer.len() >= 9 && answer[3] == 4),
            "{server}: plaintext HTTP/2 was answered: {answer:02x?}"
        );
    }
    // TLS on the same ports works.
    let (reply, _) = https_get(running.local_addr("http").unwrap(), "/health", H1).await;
    assert_eq!(reply.status, 200);
    running.shutdown().await;
}

#[tokio::test]
async fn websocket_over_http2_extended_connect() {
    let files = TlsFiles::shared("h2-ws");
    let running = start_with(&files.toml("ws")).await;
    let addr = running.local_addr("ws").unwrap();

    let tls = tls_connect(addr, BOTH).await;
    assert_eq!(alpn_of(&tls).as_deref(), Some(&b"h2"[..]), "ALPN chose h2");
    let mut client = H2Client::handshake(tls, "https", &format!("localhost:{}", addr.port())).await;
    assert!(
        client.extended_connect_enabled().await,
        "the server sends SETTINGS_ENABLE_CONNECT_PROTOCOL = 1"
    );

    // Two WebSockets on one connection, interleaved, each with its own frames.
    let a = client.websocket("/echo", &[], &[]).await;
    let b = client.websocket("/echo", &[], &[]).await;
    let mut a = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
    let mut b = WebSocketStream::from_raw_socket(b, Role::Client, None).await;
    echo(&mut a, "first stream").await;
    echo(&mut b, "second stream").await;
    within("send", a.send(WsMessage::text("a again")))
        .await
        .unwrap();
    within("send", b.send(WsMessage::text("b again")))
        .await
        .unwrap();
    assert_eq!(next_text(&mut b).await, "b again");
    assert_eq!(next_text(&mut a).await, "a again");
    let big = "y".repeat(200_000); // past the initial HTTP/2 flow-control window (65,535)
    echo(&mut a, &big).await;

    // The close handshake, with the code echoed, ends that stream only.
    close_with(&mut a, 4001).await;
    echo(&mut b, "still open").await;

    // A subprotocol: /rpc requires `jsonrpc`, chosen in the 200.
    let rpc = client.websocket("/rpc", &["jsonrpc"], &[]).await;
    assert_eq!(rpc.protocol(), Some("jsonrpc"));
    let mut rpc = WebSocketStream::from_raw_socket(rpc, Role::Client, None).await;
    within(
        "send",
        rpc.send(WsMessage::text(
            r#"{"jsonrpc":"2.0","method":"sum","params":[1,2,3],"id":1}"#,
        )),
    )
    .await
    .unwrap();
    let reply: serde_json::Value = serde_json::from_str(&next_text(&mut rpc).await).unwrap();
    assert_eq!(reply["result"], 6, "{reply}");
    close_with(&mut rpc, 1000).await;

    // Refusals are HTTP statuses on the stream, as over HTTP/1.1.
    let res = client
        .websocket_request("/rpc", &[], &[])
        .await
        .expect("a response");
    assert_eq!(res.status(), 400, "/rpc without its required subprotocol");
    let res = client
        .websocket_request("/nowhere", &[], &[])
        .await
        .expect("a response");
    assert_eq!(res.status(), 404);
    // A plain GET on the same connection still works.
    let r = client.request("GET", "/health", &[], b"").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));

    echo(&mut b, "after the refusals").await;
    close_with(&mut b, 1000).await;
    running.shutdown().await;
}

#[tokio::test]
async fn h2c_prior_knowledge_on_a_plaintext_server() {
    let running = start(test_config()).await;
    let http = running.local_addr("http").unwrap();
    let ws = running.local_addr("ws").unwrap();

    // An HTTP route over h2c.
    let r = h2c_request(http, "GET", "/health", &[], b"").await;
    assert_eq!(r.version, http::Version::HTTP_2);
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    // HTTP/1.1 on the same port still works.
    let (status, _) = ws_tests::http_get(http, "/health").await;
    assert_eq!(status, 200);

    // WebSocket over h2c: extended CONNECT, echo, close.
    let mut client = h2c_client(ws).await;
    assert!(
        client.extended_connect_enabled().await,
        "the server sends SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 over h2c"
    );
    let stream = client.websocket("/echo", &[], &[]).await;
    let mut echo_ws = WebSocketStream::from_raw_socket(stream, Role::Client, None).await;
    echo(&mut echo_ws, "over h2c").await;
    let r = client.request("GET", "/health", &[], b"").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"), "GET beside it");
    echo(&mut echo_ws, "still over h2c").await;
    close_with(&mut echo_ws, 1000).await;
    running.shutdown().await;
}

#[tokio::test]
async fn reload_rotates_the_certificate_and_keeps_open_connections() {
    let ca_a = Ca::new("rotation CA A");
    let ca_b = Ca::new("rotation CA B");
    let cert_a = ca_a.server_cert();
    let cert_b = ca_b.server_cert();
    let files = TlsFiles::new("rotate", &cert_a);
    let config = test_config_with(&files.toml("ws")).unwrap();
    let running = start(config.clone()).await;
    let addr = running.local_addr("ws").unwrap();
    let trust_a = client_config(&[&ca_a], None, H1);
    let trust_b = client_config(&[&ca_b], None, H1);

    let mut old = wss(addr, trust_a.clone(), "/echo").await;
    echo(&mut old, "before the rotation").await;
    assert!(
        try_tls_connect(addr, trust_b.clone()).await.is_err(),
        "before the reload the server presents A's certificate, which B does not sign"
    );

    // Same paths, new contents: the reload re-reads them.
    files.write(&cert_b);
    running
        .reload(&config)
        .unwrap_or_else(|e| panic!("reload with a good new pair: {e}"));
    let tls = tls_connect_with(addr, trust_b.clone()).await;
    assert_eq!(
        peer_cert(&tls).unwrap(),
        cert_b.cert_der,
        "the new certificate"
    );
    drop(tls);
    let mut new = wss(addr, trust_b.clone(), "/echo").await;
    echo(&mut new, "after the rotation").await;
    let err = try_tls_connect(addr, trust_a.clone()).await;
    assert!(
        err.is_err(),
        "after the reload a client trusting only CA A is refused"
    );
    // The connection opened before the reload goes on.
    echo(&mut old, "the old connection still echoes").await;
    close_with(&mut old, 1000).await;
    close_with(&mut new, 1000).await;

    // HTTP/2 clients get the new certificate as well.
    let tls = tls_connect_with(addr, client_config(&[&ca_b], None, H2)).await;
    assert_eq!(alpn_of(&tls).as_deref(), Some(&b"h2"[..]));
    drop(tls);
    running.shutdown().await;
}

#[tokio::test]
async fn a_bad_pair_on_reload_fails_and_changes_nothing() {
    let ca = Ca::new("bad reload CA");
    let cert_a = ca.server_cert();
    let files = TlsFiles::new("bad-reload", &cert_a);
    let config = test_config_with(&files.toml("ws")).unwrap();
    let running = start(config.clone()).await;
    let addr = running.local_addr("ws").unwrap();
    let trust = client_config(&[&ca], None, H1);
    let mut open = wss(addr, trust.clone(), "/echo").await;
    let other = ca.server_cert();
    let cert_path = files.cert.display().to_string();
    let key_path = files.key.display().to_string();

    // (what to write, the key the error must name, the file it must name)
    type Breakage = (&'static str, fn(&TlsFiles, &Leaf), &'static str, bool);
    let cases: [Breakage; 4] = [
        (
            "a key that is not the certificate's",
            |f, other| {
                std::fs::write(&f.key, &other.key_pem).unwrap();
            },
            "tls_key",
            false,
        ),
        (
            "a certificate file that is not PEM",
            |f, _| {
                std::fs::write(&f.cert, "not a certificate\n").unwrap();
            },
            "tls_cert",
            true,
        ),
        (
            "a key file that is not PEM",
            |f, _| {
                std::fs::write(&f.key, "-----BEGIN NOTHING-----\n").unwrap();
            },
            "tls_key",
            false,
        ),
        (
            "a missing key file",
            |f, _| {
                std::fs::remove_file(&f.key).unwrap();
            },
            "tls_key",
            false,
        ),
    ];
    for (what, break_files, key, is_cert) in cases {
        files.write(&cert_a);
        break_files(&files, &other);
        let err = running
            .reload(&config)
            .err()
            .unwrap_or_else(|| panic!("{what}: the reload must fail"));
        let text = err.to_string();
        let path = if is_cert { &cert_path } else { &key_path };
        if what.starts_with("a key that is not") {
            // A mismatch may be blamed on either file.
            assert!(
                (text.contains("tls_key") && text.contains(&key_path))
                    || (text.contains("tls_cert") && text.contains(&cert_path)),
                "{what}: {text}"
            );
        } else {
            assert!(text.contains(key), "{what}: names `{key}`: {text}");
            assert!(text.contains(path.as_str()), "{what}: names {path}: {text}");
        }
        // Nothing changed: new connections still get certificate A.
        let tls = tls_connect_with(addr, trust.clone()).await;
        assert_eq!(
            peer_cert(&tls).unwrap(),
            cert_a.cert_der,
            "{what}: the old certificate"
        );
        drop(tls);
        echo(&mut open, what).await;
    }
    // Fixing the files makes the next reload work.
    files.write(&other);
    running.reload(&config).unwrap();
    let tls = tls_connect_with(addr, trust.clone()).await;
    assert_eq!(peer_cert(&tls).unwrap(), other.cert_der);
    drop(tls);
    close_with(&mut open, 1000).await;
    running.shutdown().await;
}

/// The Display of the error that stops `toml` from loading, building or starting; panics
/// if it starts.
async fn start_error(toml: &str) -> String {
    let config = match test_config_with(toml) {
        Ok(c) => c,
        Err(e) => return e.to_string(),
    };
    let app = match App::build(config) {
        Ok(a) => a,
        Err(e) => return e.to_string(),
    };
    match app.start().await {
        Ok(running) => {
            running.shutdown().await;
            panic!("started with {toml:?}");
        }
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn bad_certificate_files_at_start_name_the_key_and_the_file() {
    let ca = Ca::new("bad start CA");
    let good = ca.server_cert();
    let other = ca.server_cert();
    let files = TlsFiles::new("bad-start", &good);
    let missing = files.file("missing.pem");
    let garbage = files.file("garbage.pem");
    std::fs::write(&garbage, "this is not PEM\n").unwrap();
    let other_key = files.file("other-key.pem");
    std::fs::write(&other_key, &other.key_pem).unwrap();
    let s = ws_tests::tls::toml_str;

    let cert = &files.cert;
    let key = &files.key;
    let cases = [
        ("missing cert file", &missing, key, "tls_cert", &missing),
        ("missing key file", cert, &missing, "tls_key", &missing),
        ("cert not PEM", &garbage, key, "tls_cert", &garbage),
        ("key not PEM", cert, &garbage, "tls_key", &garbage),
        (
            "key of another cert",
            cert,
            &other_key,
            "tls_key",
            &other_key,
        ),
    ];
    for (what, cert, key, named, file) in cases {
        let toml = format!(
            "[servers.ws]\ntls_cert = {}\ntls_key = {}\n",
            s(cert),
            s(key)
        );
        let text = start_error(&toml).await;
        let file = file.display().to_string();
        if what == "key of another cert" {
            let cert = cert.display().to_string();
            assert!(
                (text.contains("tls_key") && text.contains(&file))
                    || (text.contains("tls_cert") && text.contains(&cert)),
                "{what}: {text}"
            );
        } else {
            assert!(text.contains(named), "{what}: names `{named}`: {text}");
            assert!(text.contains(&file), "{what}: names {file}: {text}");
        }
    }

    // One of the two without the other.
    let text = start_error(&format!("[servers.ws]\ntls_cert = {}\n", s(cert))).await;
    assert!(
        text.contains("tls_key"),
        "names the missing `tls_key`: {text}"
    );
    let text = start_error(&format!("[servers.ws]\ntls_key = {}\n", s(key))).await;
    assert!(
        text.contains("tls_cert"),
        "names the missing `tls_cert`: {text}"
    );

    // The same good pair starts (the cases above fail for their own reason).
    let running = start_with(&files.toml("ws")).await;
    running.shutdown().await;
}

#[tokio::test]
async fn client_certificates_are_required_and_verified() {
    let server_ca = Ca::shared();
    let client_ca = Ca::new("client CA");
    let stranger_ca = Ca::new("stranger CA");
    let files = TlsFiles::shared("client-certs");
    files.write_client_ca(&client_ca);
    let running = start_with(&files.toml_with_client_ca("ws")).await;
    let addr = running.local_addr("ws").unwrap();
    let alice = client_ca.client_cert("alice");
    let mallory = stranger_ca.client_cert("mallory");

    // No certificate.
    assert!(refused(addr, client_config(&[server_ca], None, H1), "/echo").await);
    // A certificate the client CA did not sign.
    assert!(
        refused(
            addr,
            client_config(&[server_ca], Some(&mallory), H1),
            "/echo"
        )
        .await
    );
    // A good one: accepted, and the hooks see its subject.
    let mut ws = wss(
        addr,
        client_config(&[server_ca], Some(&alice), H1),
        "/whoami-cert",
    )
    .await;
    let seen = next_text(&mut ws).await;
    let parts: Vec<&str> = seen.split(';').collect();
    assert_eq!(parts.len(), 4, "{seen}");
    for part in &parts[..3] {
        assert!(part.contains("CN=alice"), "{part} in {seen}");
    }
    assert_eq!(
        parts[3],
        format!("der={}", alice.cert_der.len()),
        "the DER is the certificate: {seen}"
    );
    close_with(&mut ws, 1000).await;

    // Over HTTP/2 too.
    let tls = tls_connect_with(addr, client_config(&[server_ca], Some(&alice), H2)).await;
    let mut client = H2Client::handshake(tls, "https", &format!("localhost:{}", addr.port())).await;
    let stream = client.websocket("/whoami-cert", &[], &[]).await;
    let mut ws = WebSocketStream::from_raw_socket(stream, Role::Client, None).await;
    let seen = next_text(&mut ws).await;
    assert!(
        seen.starts_with("conn=") && seen.contains("CN=alice"),
        "{seen}"
    );
    close_with(&mut ws, 1000).await;

    // An HTTP route that takes the certificate as an argument.
    let mut tls = tls_connect_with(addr, client_config(&[server_ca], Some(&alice), H1)).await;
    within(
        "request",
        tls.write_all(b"GET /cert-subject HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    )
    .await
    .unwrap();
    let mut response = Vec::new();
    while !String::from_utf8_lossy(&response).contains("from 127.0.0.1") {
        let mut chunk = [0u8; 1024];
        let n = within("response", tls.read(&mut chunk)).await.unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&response));
        response.extend_from_slice(&chunk[..n]);
    }
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("CN=alice"), "{response}");
    running.shutdown().await;
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_cut_at_handshake_timeout() {
    let files = TlsFiles::shared("tls-timeout");
    let timeout = Duration::from_secs(1);
    let toml = format!("{}handshake_timeout = 1\n", files.toml("ws"));
    let running = start_with(&toml).await;
    let addr = running.local_addr("ws").unwrap();
    // Generous slack for a loaded machine; without the timeout the server would wait forever
    // (the test's own bound is TIMEOUT, 30 s).
    let budget = timeout + Duration::from_secs(5);

    // Nothing at all after the TCP connect.
    let started = Instant::now();
    let mut silent = within("connect", TcpStream::connect(addr)).await.unwrap();
    let got = read_until_closed(&mut silent, budget).await;
    assert!(
        started.elapsed() >= timeout / 2,
        "closed too early: {got:?}"
    );

    // Half a ClientHello, then silence.
    let hello = client_hello();
    let started = Instant::now();
    let mut half = within("connect", TcpStream::connect(addr)).await.unwrap();
    half.write_all(&hello[..hello.len() / 2]).await.unwrap();
    read_until_closed(&mut half, budget).await;
    assert!(started.elapsed() >= timeout / 2, "closed too early");

    // A client that finishes the TLS handshake but sends no request head: the same bound.
    let started = Instant::now();
    let mut tls = tls_connect(addr, H1).await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(budget, tls.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "an idle TLS client was not cut within {budget:?}"
    );
    assert!(started.elapsed() >= timeout / 2, "closed too early");

    // A prompt client is not affected.
    let mut ws = wss(addr, client_config(&[Ca::shared()], None, H1), "/echo").await;
    echo(&mut ws, "prompt").await;
    close_with(&mut ws, 1000).await;
    running.shutdown().await;
}

/// The bytes of a TLS ClientHello as rustls sends it.
fn client_hello() -> Vec<u8> {
    let config = client_config(&[Ca::shared()], None, BOTH);
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    assert!(out.len() > 100, "a ClientHello: {} bytes", out.len());
    out
}

#[tokio::test]
async fn tls_keys_from_the_environment() {
    let client_ca = Ca::new("env client CA");
    let files = TlsFiles::shared("env");
    files.write_client_ca(&client_ca);
    let path = |p: &std::path::Path| p.display().to_string();
    let env = [
        ("WS_WS_TLS_CERT".to_owned(), path(&files.cert)),
        ("WS_WS_TLS_KEY".to_owned(), path(&files.key)),
        ("WS_WS_TLS_CLIENT_CA".to_owned(), path(&files.client_ca)),
    ];
    let (mut config, _) =
        ws_core::Config::load(None, None, env).unwrap_or_else(|e| panic!("WS_WS_TLS_* load: {e}"));
    for server in config.servers.values_mut() {
        server.port = 0;
        server.close_timeout = Duration::from_millis(500);
    }
    let running = start(config).await;
    let addr = running.local_addr("ws").unwrap();
    assert!(refused(addr, client_config(&[Ca::shared()], None, H1), "/echo").await);
    let bob = client_ca.client_cert("bob");
    let mut ws = wss(
        addr,
        client_config(&[Ca::shared()], Some(&bob), H1),
        "/echo",
    )
    .await;
    echo(&mut ws, "configured from the environment").await;
    close_with(&mut ws, 1000).await;
    // The http server, not named by the variables, stays plaintext.
    let (status, _) = ws_tests::http_get(running.local_addr("http").unwrap(), "/health").await;
    assert_eq!(status, 200);
    running.shutdown().await;
}

/// The leaf certificate a server at `addr` presents to a client asking for `name` (whatever
/// its names: the client accepts any).
async fn cert_for_name(addr: SocketAddr, name: &str) -> rustls_pki_types::CertificateDer<'static> {
    let tls = try_tls_connect_as(addr, any_cert_client_config(), name)
        .await
        .unwrap_or_else(|e| panic!("TLS handshake asking for {name}: {e}"));
    peer_cert(&tls).unwrap()
}

/// `TlsFiles` plus further certificates in the same directory: `<stem>.pem` and `<stem>.key`.
fn write_pair(
    files: &TlsFiles,
    stem: &str,
    leaf: &Leaf,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = files.file(&format!("{stem}.pem"));
    let key = files.file(&format!("{stem}.key"));
    std::fs::write(&cert, &leaf.cert_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    (cert, key)
}

#[tokio::test]
async fn sni_picks_the_certificate_by_the_name_asked_for() {
    let ca = Ca::new("SNI CA");
    let default = ca.server_cert();
    let chat = ca.server_cert_for(&["chat.test"]);
    let games = ca.server_cert_for(&["games.test", "*.games.test"]);
    let files = TlsFiles::new("sni", &default);
    let (chat_cert, chat_key) = write_pair(&files, "chat", &chat);
    let (games_cert, games_key) = write_pair(&files, "games", &games);
    let s = ws_tests::tls::toml_str;
    // Both spellings of an item: a table, and a `CERT:KEY` string.
    let toml = format!(
        "{}tls_sni_certs = [{{ cert = {}, key = {} }}, \"{}:{}\"]\n",
        files.toml("ws"),
        s(&chat_cert),
        s(&chat_key),
        games_cert.display(),
        games_key.display()
    );
    let config = test_config_with(&toml).unwrap();
    let running = start(config.clone()).await;
    let addr = running.local_addr("ws").unwrap();

    for (name, want, what) in [
        ("chat.test", &chat, "an exact name"),
        ("Chat.TEST", &chat, "a name in another case"),
        ("chat.test.", &chat, "a fully qualified name"),
        (
            "games.test",
            &games,
            "the wildcard certificate's exact name",
        ),
        ("lobby.games.test", &games, "a name under the wildcard"),
        (
            "a.lobby.games.test",
            &default,
            "two labels under a wildcard: no match",
        ),
        ("other.test", &default, "a name no certificate has"),
        ("localhost", &default, "the default certificate's own name"),
        ("127.0.0.1", &default, "an IP address: no SNI at all"),
    ] {
        assert_eq!(
            cert_for_name(addr, name).await,
            want.cert_der,
            "{what} ({name})"
        );
    }

    // A client that verifies gets a working `wss://` for each name.
    let verifying = client_config(&[&ca], None, H1);
    for name in ["chat.test", "lobby.games.test", "localhost"] {
        let tls = try_tls_connect_as(addr, verifying.clone(), name)
            .await
            .unwrap_or_else(|e| panic!("{name} verifies: {e}"));
        let url = format!("wss://{name}:{}/echo", addr.port());
        let (mut ws, res) = within("wss handshake", tokio_tungstenite::client_async(url, tls))
            .await
            .expect("wss handshake");
        assert_eq!(res.status(), 101);
        echo(&mut ws, &format!("hello {name}")).await;
        close_with(&mut ws, 1000).await;
    }

    // A reload reads the files again: a renewed certificate for chat.test.
    let renewed = ca.server_cert_for(&["chat.test"]);
    write_pair(&files, "chat", &renewed);
    running
        .reload(&config)
        .unwrap_or_else(|e| panic!("reload with a renewed SNI certificate: {e}"));
    assert_eq!(cert_for_name(addr, "chat.test").await, renewed.cert_der);
    assert_eq!(
        cert_for_name(addr, "lobby.games.test").await,
        games.cert_der
    );
    running.shutdown().await;
}

#[tokio::test]
async fn bad_sni_certificates_name_the_key_and_the_file() {
    let ca = Ca::new("bad SNI CA");
    let files = TlsFiles::new("bad-sni", &ca.server_cert());
    let (chat_cert, chat_key) = write_pair(&files, "chat", &ca.server_cert_for(&["chat.test"]));
    let (also_cert, also_key) = write_pair(
        &files,
        "also-chat",
        &ca.server_cert_for(&["www.test", "CHAT.test"]),
    );
    let (other_cert, _) = write_pair(&files, "other", &ca.server_cert_for(&["other.test"]));
    let (client_cert, client_key) = write_pair(&files, "client", &ca.client_cert("alice"));
    let missing = files.file("missing.pem");
    let s = ws_tests::tls::toml_str;
    let item = |cert: &std::path::Path, key: &std::path::Path| {
        format!("{{ cert = {}, key = {} }}", s(cert), s(key))
    };
    let with = |items: &str| format!("{}tls_sni_certs = [{items}]\n", files.toml("ws"));

    const KEY: &str = "servers.ws.tls_sni_certs";
    let cases = [
        (
            "no default certificate",
            format!(
                "[servers.ws]\ntls_sni_certs = [{}]\n",
                item(&chat_cert, &chat_key)
            ),
            vec![KEY.to_owned(), "tls_cert".to_owned()],
        ),
        (
            "a missing file",
            with(&item(&missing, &chat_key)),
            vec![KEY.to_owned(), missing.display().to_string()],
        ),
        (
            "the key of another certificate",
            with(&item(&other_cert, &chat_key)),
            vec![
                KEY.to_owned(),
                chat_key.display().to_string(),
                "does not belong".to_owned(),
            ],
        ),
        (
            "a name in two certificates (whatever its case)",
            with(&format!(
                "{}, {}",
                item(&chat_cert, &chat_key),
                item(&also_cert, &also_key)
            )),
            vec![
                KEY.to_owned(),
                "chat.test".to_owned(),
                chat_cert.display().to_string(),
                also_cert.display().to_string(),
            ],
        ),
        (
            "a certificate without a DNS name",
            with(&item(&client_cert, &client_key)),
            vec![
                KEY.to_owned(),
                client_cert.display().to_string(),
                "no DNS name".to_owned(),
            ],
        ),
        (
            "an item that is not CERT:KEY",
            with("\"chat.pem\""),
            vec![KEY.to_owned(), "CERT:KEY".to_owned()],
        ),
    ];
    for (what, toml, wants) in cases {
        let text = start_error(&toml).await;
        for want in wants {
            assert!(text.contains(&want), "{what}: names {want:?}: {text}");
        }
    }

    // The same files in a good combination start.
    let running = start_with(&with(&format!(
        "{}, {}",
        item(&chat_cert, &chat_key),
        item(&other_cert, &files.file("other.key"))
    )))
    .await;
    running.shutdown().await;
}

#[tokio::test]
async fn sni_certificates_from_the_environment() {
    let ca = Ca::new("env SNI CA");
    let default = ca.server_cert();
    let chat = ca.server_cert_for(&["chat.test"]);
    let files = TlsFiles::new("env-sni", &default);
    let (chat_cert, chat_key) = write_pair(&files, "chat", &chat);
    let path = |p: &std::path::Path| p.display().to_string();
    let env = [
        ("WS_WS_TLS_CERT".to_owned(), path(&files.cert)),
        ("WS_WS_TLS_KEY".to_owned(), path(&files.key)),
        (
            "WS_WS_TLS_SNI_CERTS".to_owned(),
            format!("{}:{}", path(&chat_cert), path(&chat_key)),
        ),
    ];
    let (mut config, _) = ws_core::Config::load(None, None, env)
        .unwrap_or_else(|e| panic!("WS_WS_TLS_SNI_CERTS load: {e}"));
    for server in config.servers.values_mut() {
        server.port = 0;
    }
    let running = start(config).await;
    let addr = running.local_addr("ws").unwrap();
    assert_eq!(cert_for_name(addr, "chat.test").await, chat.cert_der);
    assert_eq!(cert_for_name(addr, "localhost").await, default.cert_der);
    running.shutdown().await;
}
