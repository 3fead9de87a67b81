//! Extractor-style arguments of `#[http_route]` functions, end to end over real sockets:
//! `Path<T>` (one value, a tuple, a struct), `Query<T>`, `Json<T>`, `Extension<T>` from a
//! middleware, the body as `String` or `Bytes`, the head's parts, `Option<E>` and
//! `Result<E, _>`, an extractor of the app's own, the whole `Request` in any place among
//! them, injected values beside them, and each rejection's status and reason.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::net::SocketAddr;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use ws_core::http::{
    Extension, Form, FromRequest, HeaderMap, Json, JsonRejection, Method, Path, Query, Request,
    StatusCode, Uri,
};
use ws_core::{
    http_route, middleware, ws_handler, Middleware, QueryError, Rejection, RequestHead, Sender,
    WebSocket,
};
use ws_tests::{http_raw, start, test_config, within};

/// `/ex/users/{id}`: one parameter, one value.
#[http_route(server = "http", path = "/ex/users/{id}")]
async fn user(Path(id): Path<u64>) -> String {
    format!("user {id}")
}

/// Two parameters as a tuple, in the pattern's order.
#[http_route(server = "http", path = "/ex/rooms/{room}/messages/{n}")]
async fn message(Path((room, n)): Path<(String, u32)>) -> String {
    format!("room {room} message {n}")
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Post,
    Page,
}

#[derive(Debug, Deserialize)]
struct Item {
    kind: Kind,
    id: u32,
}

/// Parameters by name into a struct, one of them an enum.
#[http_route(server = "http", path = "/ex/items/{kind}/{id}")]
async fn item(Path(item): Path<Item>) -> String {
    format!("{:?} {}", item.kind, item.id)
}

/// A tuple longer than the pattern: the app's mistake.
#[http_route(server = "http", path = "/ex/short/{id}")]
async fn short(Path((a, b)): Path<(u32, u32)>) -> String {
    format!("{a} {b}")
}

/// No argument at all.
#[http_route(server = "http", path = "/ex/none")]
async fn none() -> &'static str {
    "no arguments"
}

#[derive(Debug, Clone)]
struct User(String);

/// Authenticates `/ex/notes/{id}` and `/ex/me` from `x-user`, inserting a `User`.
#[middleware(server = "http", paths = ["/ex/notes/{id}", "/ex/me"])]
#[derive(Debug)]
pub struct Authenticate;
impl Middleware for Authenticate {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        let user = req.header("x-user").map(str::to_owned);
        match user {
            Some(name) => {
                req.extensions_mut().insert(User(name));
                Ok(())
            }
            None => Err(Rejection::new(StatusCode::UNAUTHORIZED, "who are you?")),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Opts {
    draft: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Note {
    text: String,
}

/// Every kind of argument at once, the whole request in the middle of them.
#[http_route(server = "http", method = "POST", path = "/ex/notes/{id}")]
async fn note(
    Path(id): Path<u32>,
    Extension(user): Extension<User>,
    req: Request,
    Query(opts): Query<Opts>,
    sender: Sender,
    Json(note): Json<Note>,
) -> String {
    let _ = sender.count(&ws_core::Filter::all());
    format!(
        "note {id} by {} draft={} text={} path={} body={}",
        user.0,
        opts.draft.unwrap_or(false),
        note.text,
        req.path(),
        req.body().len()
    )
}

/// `Extension<T>` on a route no middleware provides it for.
#[http_route(server = "http", path = "/ex/nobody")]
async fn nobody(Extension(user): Extension<User>) -> String {
    user.0
}

/// The body as text, an optional JSON body, the head's parts.
#[http_route(server = "http", method = "POST", path = "/ex/text")]
async fn text(
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
    raw: Bytes,
    json: Option<Json<Note>>,
) -> String {
    format!(
        "{method} {uri} agent={} len={} raw={} json={}",
        headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-"),
        body.len(),
        raw.len(),
        json.map_or("none".to_owned(), |Json(n)| n.text)
    )
}

/// A rejection the route handles itself.
#[http_route(server = "http", path = "/ex/page")]
async fn page(query: Result<Query<Opts>, QueryError>) -> (StatusCode, String) {
    match query {
        Ok(Query(opts)) => (StatusCode::OK, format!("draft={:?}", opts.draft)),
        Err(e) => (StatusCode::IM_A_TEAPOT, format!("my own answer to: {e}")),
    }
}

/// An extractor of the app's own: the API key of `x-api-key`, 401 without one.
struct ApiKey(String);

impl FromRequest for ApiKey {
    type Rejection = (StatusCode, &'static str);

    async fn from_request(req: &Request) -> Result<Self, Self::Rejection> {
        req.header("x-api-key")
            .map(|key| ApiKey(key.to_owned()))
            .ok_or((StatusCode::UNAUTHORIZED, "x-api-key is missing"))
    }
}

#[http_route(server = "http", path = "/ex/key")]
async fn key(ApiKey(key): ApiKey, Extension(user): Extension<User>) -> String {
    format!("{key} {}", user.0)
}

/// `/ex/me`: the authenticated user and the API key (both optional extractors resolved).
#[http_route(server = "http", path = "/ex/me")]
async fn me(Extension(user): Extension<User>, key: Option<ApiKey>) -> String {
    format!("{} key={}", user.0, key.map_or("none".to_owned(), |k| k.0))
}

/// The JSON body, or its rejection as the response.
#[http_route(server = "http", method = "POST", path = "/ex/json")]
async fn json(body: Result<Json<Note>, JsonRejection>) -> Result<String, JsonRejection> {
    Ok(body?.0.text)
}

#[derive(Debug, Deserialize)]
struct Login {
    name: String,
}

/// A form body, the peer's address, and a certificate that a plain-TCP client never has.
#[http_route(server = "http", method = "POST", path = "/ex/form")]
async fn form(
    Form(login): Form<Login>,
    peer: SocketAddr,
    cert: Option<ws_core::ClientCert>,
) -> String {
    format!(
        "hello {} from {} cert={}",
        login.name,
        peer.ip(),
        cert.is_some()
    )
}

/// A route for clients with a certificate only.
#[http_route(server = "http", path = "/ex/cert")]
async fn cert(cert: ws_core::ClientCert) -> String {
    cert.subject().to_owned()
}

#[derive(Debug, Deserialize)]
struct Who {
    name: String,
}

/// A WebSocket handler whose handshake must carry a numeric `{room}` and `?name=`: taken
/// before the upgrade, a refusal answers the handshake; a middleware's `User` if there is one.
#[ws_handler(server = "ws", path = "/ex/ws/{room}")]
async fn ws_room(
    ws: WebSocket,
    Path(room): Path<u32>,
    Query(who): Query<Who>,
    headers: HeaderMap,
    user: Option<Extension<User>>,
    sender: Sender,
) -> Result<(), ws_core::SendError> {
    let agent = headers
        .get("x-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let user = user.map_or("nobody".to_owned(), |Extension(u)| u.0);
    let open = sender.count(&ws_core::Filter::all());
    ws.push(format!(
        "room {room} for {} agent={agent} user={user} open={open}",
        who.name
    ))
    .await?;
    Ok(())
}

/// Sends `method path` with `headers` and `body` over a new connection; the status and the
/// response's body.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: ex-test\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    let (status, text) = http_raw(addr, &request).await;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    (status, body)
}

/// Writes `request` as it is and reads the response until the server closes.
async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = within("connect", tokio::net::TcpStream::connect(addr))
        .await
        .unwrap();
    within("write", stream.write_all(request)).await.unwrap();
    let mut response = Vec::new();
    within("read", stream.read_to_end(&mut response))
        .await
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    send(addr, "GET", path, &[], "").await
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// A request (path, headers, body) and what answers it (status, a part of the body).
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, u16, &'a str);

#[tokio::test]
async fn path_parameters_deserialize_into_values_tuples_and_structs() {
    let running = start(test_config()).await;
    let addr = running.local_addr("http").unwrap();

    assert_eq!(get(addr, "/ex/users/42").await, (200, "user 42".into()));
    assert_eq!(
        get(addr, "/ex/rooms/a%20b/messages/7").await,
        (200, "room a b message 7".into()),
        "percent-decoded, in the pattern's order"
    );
    assert_eq!(get(addr, "/ex/items/post/3").await, (200, "Post 3".into()));
    assert_eq!(get(addr, "/ex/items/page/4").await, (200, "Page 4".into()));

    // A value that does not parse: 400 naming the parameter and the value.
    let (status, body) = get(addr, "/ex/users/forty-two").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("path parameter `id`") && body.contains("\"forty-two\""),
        "{body}"
    );
    let (status, body) = get(addr, "/ex/rooms/a/messages/x").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("path parameter `n`"), "{body}");
    let (status, body) = get(addr, "/ex/items/video/1").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("path parameter `kind`") && body.contains("video"),
        "{body}"
    );
    // Parameters that do not fit the type: the app's mistake.
    let (status, body) = get(addr, "/ex/short/1").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("tuple of 2"), "{body}");
    running.shutdown().await;
}

#[tokio::test]
async fn every_kind_of_argument_in_one_route() {
    let running = start(test_config()).await;
    let addr = running.local_addr("http").unwrap();

    assert_eq!(get(addr, "/ex/none").await, (200, "no arguments".into()));

    let note = r#"{"text":"hello"}"#;
    let (status, body) = send(
        addr,
        "POST",
        "/ex/notes/9?draft=true",
        &[("x-user", "ada"), JSON],
        note,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        format!(
            "note 9 by ada draft=true text=hello path=/ex/notes/9 body={}",
            note.len()
        )
    );

    // Each extractor's rejection answers in place of the route, the first in order first.
    let cases: [Case<'_>; 5] = [
        ("/ex/notes/9", &[JSON], note, 401, "who are you?"),
        (
            "/ex/notes/nine",
            &[("x-user", "ada"), JSON],
            note,
            400,
            "path parameter `id`",
        ),
        (
            "/ex/notes/9?draft=maybe",
            &[("x-user", "ada"), JSON],
            note,
            400,
            "bad query string",
        ),
        (
            "/ex/notes/9",
            &[("x-user", "ada")],
            note,
            415,
            "application/json",
        ),
        (
            "/ex/notes/9",
            &[("x-user", "ada"), JSON],
            r#"{"title":"no text"}"#,
            422,
            "text",
        ),
    ];
    for (path, headers, body, want, says) in cases {
        let (status, text) = send(addr, "POST", path, headers, body).await;
        assert_eq!(status, want, "{path} {headers:?} {body}: {text}");
        assert!(text.contains(says), "{path}: says {says:?}: {text}");
    }

    // An extension no middleware inserted: 500 naming its type.
    let (status, body) = get(addr, "/ex/nobody").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("User"), "{body}");
    running.shutdown().await;
}

#[tokio::test]
async fn bodies_head_parts_optional_and_own_extractors() {
    let running = start(test_config()).await;
    let addr = running.local_addr("http").unwrap();

    let (status, body) = send(addr, "POST", "/ex/text?x=1", &[JSON], r#"{"text":"hi"}"#).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "POST /ex/text?x=1 agent=ex-test len=13 raw=13 json=hi")
    );
    // Not JSON: the optional extractor is `None`, the route still runs.
    let (status, body) = send(addr, "POST", "/ex/text", &[], "plain words").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "POST /ex/text agent=ex-test len=11 raw=11 json=none")
    );
    // A body that is not UTF-8 for `String`: 400.
    let mut request = format!(
        "POST /ex/text HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 2\r\n\r\n"
    )
    .into_bytes();
    request.extend_from_slice(&[0xff, 0xfe]);
    let text = raw_exchange(addr, &request).await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("not UTF-8"), "{text}");

    // The route answers a rejection itself.
    assert_eq!(
        get(addr, "/ex/page?draft=true").await,
        (200, "draft=Some(true)".into())
    );
    let (status, body) = get(addr, "/ex/page?draft=perhaps").await;
    assert_eq!(status, 418, "{body}");
    assert!(body.starts_with("my own answer to: "), "{body}");
    let (status, body) = send(addr, "POST", "/ex/json", &[JSON], "{").await;
    assert_eq!(status, 400, "malformed JSON through `?`: {body}");

    // The app's own extractor, and its rejection.
    let (status, body) = send(addr, "GET", "/ex/key", &[("x-api-key", "k1")], "").await;
    assert_eq!(
        status, 500,
        "the route has a key but no middleware gives it a user: {body}"
    );
    let (status, body) = get(addr, "/ex/key").await;
    assert_eq!(
        (status, body.as_str()),
        (401, "x-api-key is missing"),
        "the first argument's rejection"
    );
    let (status, body) = send(
        addr,
        "GET",
        "/ex/me",
        &[("x-user", "bob"), ("x-api-key", "k2")],
        "",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "bob key=k2"));
    let (status, body) = send(addr, "GET", "/ex/me", &[("x-user", "bob")], "").await;
    assert_eq!((status, body.as_str()), (200, "bob key=none"));

    // A form, the peer, no certificate (the TLS tests have one).
    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
    let (status, body) = send(addr, "POST", "/ex/form", &[FORM], "name=ada%20l").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "hello ada l from 127.0.0.1 cert=false")
    );
    let (status, body) = send(addr, "POST", "/ex/form", &[JSON], "name=ada").await;
    assert_eq!(status, 415, "{body}");
    let (status, body) = send(addr, "POST", "/ex/form", &[FORM], "nom=ada").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("name"), "{body}");
    let (status, body) = get(addr, "/ex/cert").await;
    assert_eq!(
        (status, body.as_str()),
        (403, "this route needs a client certificate\n")
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_websocket_handler_takes_its_arguments_from_the_handshake() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Error as WsError;
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let connect = |path: &str| {
        let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
        request
            .headers_mut()
            .insert("x-agent", http::HeaderValue::from_static("probe"));
        within("handshake", tokio_tungstenite::connect_async(request))
    };

    let (mut ws, response) = connect("/ex/ws/7?name=ada").await.unwrap();
    assert_eq!(response.status(), 101);
    let first = within("first message", futures_util::StreamExt::next(&mut ws))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.into_text().unwrap().as_str(),
        "room 7 for ada agent=probe user=nobody open=1"
    );
    drop(ws);

    // Refused before the upgrade, with the extractor's answer.
    for (path, status, says) in [
        ("/ex/ws/seven?name=ada", 400, "path parameter `room`"),
        ("/ex/ws/7", 400, "bad query string"),
    ] {
        match connect(path).await {
            Err(WsError::Http(response)) => {
                assert_eq!(response.status(), status, "{path}");
                let body =
                    String::from_utf8_lossy(response.body().as_deref().unwrap_or(&[])).into_owned();
                assert!(body.contains(says), "{path}: says {says:?}: {body}");
            }
            other => panic!("{path}: expected a refusal, got {other:?}"),
        }
    }
    running.shutdown().await;
}
