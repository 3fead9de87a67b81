//! The hyper service of a server: WebSocket upgrade or HTTP route, else 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{
    HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{Extensions, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admission;
use super::body;
use super::driver::{Accepted, Setup};
use super::handshake::{self, Accept, HandshakeError};
use super::ops;
use super::routes::{Routes, WsRoute};
use crate::client_cert::ClientCert;
use crate::context::AppContext;
use crate::http::{Request, Response};
use crate::request::{Rejection, RequestHead};

/// What every request of one TCP connection shares.
#[derive(Clone)]
pub(crate) struct ConnCtx {
    pub(crate) app: Arc<AppContext>,
    pub(crate) routes: Arc<Routes>,
    pub(crate) peer: SocketAddr,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
    /// The client's verified certificate (TLS servers with `tls_client_ca`).
    pub(crate) client_cert: Option<ClientCert>,
}

pub(crate) type HyperResponse = hyper::Response<Full<Bytes>>;

/// What a request is counted as in the metrics.
enum Counted {
    /// An HTTP request to this route (`unmatched`: none has its path).
    Http(&'static str),
    /// A WebSocket handshake (refused ones are counted by status).
    Handshake,
}

pub(crate) async fn handle(
    ctx: ConnCtx,
    req: hyper::Request<Incoming>,
) -> Result<HyperResponse, Infallible> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path();
    let ws_route = ctx.routes.ws.get(path);
    let wants_upgrade = handshake::wants_upgrade(&req);
    let http_path = ctx.routes.http.get_key_value(path).map(|(p, _)| *p);
    let op = ctx.routes.ops.then(|| ops::Op::at(path)).flatten();
    let settings = ctx.routes.settings();
    let origin = admission::check_origin(&settings, &ctx.routes.name, req.headers());
    // An upgrade request to a path that only an HTTP route has is served (and counted) by it.
    let mut counted = match http_path.or(op.map(ops::Op::path)) {
        None if wants_upgrade => Counted::Handshake,
        route => Counted::Http(route.unwrap_or("unmatched")),
    };
    let response = if let Err(refused) = origin {
        refused.into()
    } else if let Some(route) = ws_route.filter(|_| ctx.routes.websocket) {
        if !wants_upgrade && http_path.is_some() {
            http_route(&ctx, req).await
        } else {
            counted = Counted::Handshake;
            upgrade(&ctx, route, req).await
        }
    } else if let Some(op) = op {
        ops_route(&ctx, op, req).await
    } else if http_path.is_some() {
        http_route(&ctx, req).await
    } else {
        Response::text(StatusCode::NOT_FOUND, format!("no route for {path}\n"))
    };
    let metrics = &ctx.app.metrics;
    let status = response.status;
    match counted {
        Counted::Handshake => {
            if status != StatusCode::SWITCHING_PROTOCOLS && !status.is_success() {
                metrics.handshake_rejected(ctx.routes.name.as_str(), status.as_u16());
            }
        }
        Counted::Http(route) => metrics.http_request(
            ctx.routes.name.as_str(),
            route,
            &method,
            status.as_u16(),
            started.elapsed().as_secs_f64(),
        ),
    }
    Ok(to_hyper(response))
}

/// An operations route (`/metrics`, `/healthz`, `/readyz`), behind the server's middleware.
async fn ops_route(ctx: &ConnCtx, op: ops::Op, req: hyper::Request<Incoming>) -> Response {
    let (parts, _body) = req.into_parts();
    let mut head = head(ctx, &parts, false);
    if let Err(rejection) = run_middleware(ctx, &mut head).await {
        return rejection.into();
    }
    ops::answer(&ctx.app, op, &parts.method)
}

fn to_hyper(r: Response) -> HyperResponse {
    let mut out = hyper::Response::new(Full::new(r.body));
    *out.status_mut() = r.status;
    *out.headers_mut() = r.headers;
    out
}

fn head(ctx: &ConnCtx, parts: &http::request::Parts, upgrade: bool) -> RequestHead {
    let mut extensions = Extensions::new();
    if let Some(cert) = &ctx.client_cert {
        extensions.insert(cert.clone());
    }
    RequestHead {
        method: parts.method.clone(),
        uri: parts.uri.clone(),
        headers: parts.headers.clone(),
        peer: ctx.peer,
        server: ctx.routes.name.clone(),
        upgrade,
        protocols: if upgrade {
            handshake::offered_protocols(&parts.headers)
        } else {
            Vec::new()
        },
        extensions,
    }
}

/// The server's middleware for this request's path, in order, on the head (before any body).
async fn run_middleware(ctx: &ConnCtx, head: &mut RequestHead) -> Result<(), Rejection> {
    let path = head.uri.path().to_owned();
    for m in ctx.routes.middleware(&path) {
        m.handle(head).await?;
    }
    Ok(())
}

async fn http_route(ctx: &ConnCtx, req: hyper::Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let Some(routes) = ctx.routes.http.get(parts.uri.path()) else {
        return Response::text(StatusCode::NOT_FOUND, "not found\n");
    };
    let Some(route) = routes
        .iter()
        .find(|r| r.method == parts.method.as_str())
        .or_else(|| {
            // HEAD is answered by the GET route (hyper drops the body).
            (parts.method == http::Method::HEAD)
                .then(|| routes.iter().find(|r| r.method == "GET"))
                .flatten()
        })
    else {
        let allow = routes
            .iter()
            .map(|r| r.method)
            .collect::<Vec<_>>()
            .join(", ");
        let mut r = Response::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        if let Ok(v) = HeaderValue::from_str(&allow) {
            r.headers.insert(ALLOW, v);
        }
        return r;
    };
    let mut head = head(ctx, &parts, false);
    if let Err(rejection) = run_middleware(ctx, &mut head).await {
        return rejection.into();
    }
    let settings = ctx.routes.settings();
    let (body, _hold) = match body::read(&parts.headers, body, &settings, &ctx.routes.bodies).await
    {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    let request = Request {
        head,
        body,
        ctx: Arc::clone(&ctx.app),
    };
    tracing::debug!(peer = %ctx.peer, "{} {} -> {}", parts.method, parts.uri, route.origin.name);
    // `_hold` keeps the body's share of `http_body_budget` until the handler is done.
    (route.handler)(request).await
}

async fn upgrade(ctx: &ConnCtx, route: &WsRoute, mut req: hyper::Request<Incoming>) -> Response {
    let accept = match handshake::validate(&req) {
        Ok(accept) => accept,
        Err(e) => return handshake_error(e, req.version()),
    };
    if ctx.routes.ops && ctx.shutdown.is_cancelled() {
        // The metrics server still accepts during a stop's drain (for `/readyz`), but takes
        // no new WebSocket clients.
        return Response::text(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping\n");
    }
    let settings = ctx.routes.settings();
    let (server, name) = (&ctx.routes.admission, &ctx.routes.name);
    let admitted = match admission::admit(&ctx.app, server, &settings, name, ctx.peer.ip()) {
        Ok(guard) => guard,
        Err(refused) => return refused.into(),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let (parts, _body) = req.into_parts();
    let mut head = head(ctx, &parts, true);

    // RFC 6455 §4.2.2: echo the first protocol the client offers that the route speaks.
    let subprotocol = head
        .protocols
        .iter()
        .find(|p| route.protocols.contains(&p.as_str()))
        .cloned();
    if subprotocol.is_none() && route.protocol_required {
        return Response::text(
            StatusCode::BAD_REQUEST,
            format!(
                "this endpoint requires a subprotocol: offer one of {} in Sec-WebSocket-Protocol\n",
                route.protocols.join(", ")
            ),
        );
    }
    if let Err(rejection) = run_middleware(ctx, &mut head).await {
        return rejection.into();
    }
    if let Err(rejection) = route.controller.handshake(&mut head).await {
        return rejection.into();
    }

    let accepted = Accepted {
        on_upgrade,
        setup: Setup {
            peer: ctx.peer,
            server: ctx.routes.name.clone(),
            path: route.path,
            subprotocol: subprotocol.clone(),
            extensions: head.extensions,
            settings: ctx.routes.settings(),
            sender: ctx.app.sender.clone(),
            shutdown: ctx.shutdown.clone(),
            admitted,
            metrics: Arc::clone(&route.metrics),
        },
    };
    ctx.tracker
        .spawn(Arc::clone(&route.controller).serve(accepted));

    let mut r = match accept {
        // RFC 6455 §4.2.2.
        Accept::Http1(accept) => {
            let mut r = Response::text(StatusCode::SWITCHING_PROTOCOLS, Bytes::new());
            r.headers
                .insert(UPGRADE, HeaderValue::from_static("websocket"));
            r.headers
                .insert(CONNECTION, HeaderValue::from_static("Upgrade"));
            if let Ok(v) = HeaderValue::from_str(&accept) {
                r.headers.insert(SEC_WEBSOCKET_ACCEPT, v);
            }
            r
        }
        // RFC 8441 §5: a 2xx answers the extended CONNECT; the stream is the connection.
        Accept::Http2 => Response::text(StatusCode::OK, Bytes::new()),
    };
    r.headers.remove(CONTENT_TYPE);
    if let Some(p) = subprotocol.and_then(|p| HeaderValue::from_str(&p).ok()) {
        r.headers.insert(SEC_WEBSOCKET_PROTOCOL, p);
    }
    r
}

fn handshake_error(e: HandshakeError, version: http::Version) -> Response {
    let mut r = Response::text(e.status(), format!("{e}\n"));
    // `Upgrade` is a connection header: HTTP/2 has none (RFC 9113 §8.2.2).
    if e.status() == StatusCode::UPGRADE_REQUIRED && version < http::Version::HTTP_2 {
        r.headers
            .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        r.headers
            .insert(UPGRADE, HeaderValue::from_static("websocket"));
    }
    r
}
