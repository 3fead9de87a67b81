//! Server `http`, `POST /push`: broadcast the body to every `/chat` connection.

use ws_core::http::{Request, Response, StatusCode};
use ws_core::{http_route, Filter, Message};

/// The body (UTF-8 text, else binary) goes to every connection on `/chat`, rooms included.
/// Guarded by [`BearerKey`](super::super::middleware::bearer::BearerKey): only requests with the key
/// get here, and only then is the body read (bounded by `max_http_body`,
/// `http_body_timeout` and `http_body_budget`).
#[http_route(server = "http", method = "POST", path = "/push")]
pub async fn push(req: Request) -> Response {
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
