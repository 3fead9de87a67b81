//! Server `http`, `POST /push`: broadcast the body to every `/chat` connection.

use ws_core::http::{Request, Response, StatusCode};
use ws_core::{http_route, Filter, Message};

/// Requires `Authorization: Bearer <secret_key>` (config `secret_key`, env `WS_SECRET_KEY`).
/// A wrong or missing key gets 401; with no key configured every request is refused (401).
/// The body (UTF-8 text, else binary) goes to every connection on `/chat`, rooms included.
#[http_route(server = "http", method = "POST", path = "/push")]
pub async fn push(req: Request) -> Response {
    // The config in effect now: `reload` may have changed the key.
    let config = req.config();
    let Some(key) = config.secret_key.as_deref().filter(|k| !k.is_empty()) else {
        return Response::text(
            StatusCode::UNAUTHORIZED,
            "push is disabled: no secret_key is configured\n",
        );
    };
    // The scheme name is case-insensitive (RFC 7235 §2.1): `bearer`, `BEARER` do too.
    let given = req
        .header("authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim_start());
    if !constant_time_eq(given.as_bytes(), key.as_bytes()) {
        return Response::text(StatusCode::UNAUTHORIZED, "missing or wrong bearer key\n")
            .with_header(
                ws_core::http::header::WWW_AUTHENTICATE,
                ws_core::http::header::HeaderValue::from_static("Bearer"),
            );
    }
    let body = req.body().clone();
    let msg = match ws_core::Utf8Bytes::try_from_bytes(body.clone()) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Binary(body),
    };
    let delivery = req
        .sender()
        .broadcast(&Filter::route("ws", "/chat"), msg)
        .await;
    Response::text(
        StatusCode::OK,
        format!("pushed to {} connection(s)\n", delivery.queued),
    )
}

/// Compares without an early exit, so timing does not reveal how much of the key matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
