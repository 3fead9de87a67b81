//! Server `http`: `POST /push` (to every `/chat` connection, or one connection by id) and
//! `GET /connections` (counts over the whole cluster).

use ws_core::http::header::{self, HeaderValue};
use ws_core::http::{Request, Response, StatusCode};
use ws_core::jsonrpc::json;
use ws_core::{http_route, ConnId, Filter, Message, SendError};

/// The body (UTF-8 text, else binary) goes to every connection on `/chat` of every node of
/// the cluster, rooms included; with `?id=ID` (as `/whoami` on `/chat` tells it) to that one
/// connection, wherever it lives: 200 when the node that holds it took it, 404 when no open
/// connection has that id, 400 when the id does not parse, 503 when its node cannot be
/// reached. Guarded by [`BearerKey`](super::super::middleware::bearer::BearerKey): only
/// requests with the key get here, and only then is the body read (bounded by
/// `max_http_body`, `http_body_timeout` and `http_body_budget`).
#[http_route(server = "http", method = "POST", path = "/push")]
pub async fn push(req: Request) -> Response {
    let body = req.body().clone();
    let msg = match ws_core::Utf8Bytes::try_from_bytes(body.clone()) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Binary(body),
    };
    let id = req
        .uri()
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("id="));
    if let Some(id) = id {
        let Ok(id) = id.parse::<ConnId>() else {
            return Response::text(
                StatusCode::BAD_REQUEST,
                format!("{id:?} is not a connection id (NODE-SEQ, as /whoami says)\n"),
            );
        };
        return match req.sender().push(id, msg).await {
            Ok(()) => Response::text(StatusCode::OK, format!("pushed to {id}\n")),
            Err(SendError::Unreachable { node, .. }) => Response::text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("node {node}, which holds {id}, cannot be reached\n"),
            ),
            Err(SendError::Full { .. }) => Response::text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("connection {id} is not reading (its queue is full)\n"),
            ),
            Err(_) => Response::text(StatusCode::NOT_FOUND, format!("no open connection {id}\n")),
        };
    }
    let delivery = req
        .sender()
        .broadcast(&Filter::route("ws", "/chat"), msg)
        .await;
    Response::text(
        StatusCode::OK,
        format!("pushed to {} connection(s)\n", delivery.queued),
    )
}

/// `GET /connections`: `{"total": N, "nodes": {"1": n1, "2": n2}, "missing": []}` over the
/// whole cluster; `missing` lists live nodes that did not answer in time (then `total` is a
/// lower bound). Guarded by the same key as `POST /push`.
#[http_route(server = "http", method = "GET", path = "/connections")]
pub async fn connections(req: Request) -> Response {
    let count = req.sender().cluster_count(&Filter::all()).await;
    let nodes: std::collections::BTreeMap<String, usize> = count
        .nodes
        .iter()
        .map(|(node, n)| (node.to_string(), *n))
        .collect();
    let json = json!({
        "total": count.total,
        "nodes": nodes,
        "missing": count.missing,
    });
    Response::text(StatusCode::OK, format!("{json}\n")).with_header(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )
}
