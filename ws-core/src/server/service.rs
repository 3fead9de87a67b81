//! The hyper service of a server: WebSocket upgrade or HTTP route, else 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{
    HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
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
use super::routes::{HttpRoute, Routes, WsRoute};
use crate::client_cert::ClientCert;
use crate::context::AppContext;
use crate::http::{Request, Response};
use crate::params::{ParamError, PathParams};
use crate::protocol::extension::{self, DeflateConfig};
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

/// Where a request goes, with its path parameters (owned, so the request can move on).
enum Target<'r> {
    Ws(&'r WsRoute, Option<PathParams>),
    Op(ops::Op),
    Http(&'static str, &'r [HttpRoute], Option<PathParams>),
    NotFound,
}

/// The parameters a lookup matched, decoded; `None` (nothing allocated) for a route without.
fn decode(params: &matchit::Params<'_, '_>) -> Result<Option<PathParams>, ParamError> {
    if params.is_empty() {
        return Ok(None);
    }
    PathParams::decode(params.iter()).map(Some)
}

pub(crate) async fn handle(
    ctx: ConnCtx,
    req: hyper::Request<Incoming>,
) -> Result<HyperResponse, Infallible> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path();
    let wants_upgrade = handshake::wants_upgrade(&req);
    // One lookup per kind: static segments outrank `{param}`, which outranks `{*wildcard}`.
    let ws_found = ctx.routes.ws.at(path).filter(|_| ctx.routes.websocket);
    let http_found = ctx.routes.http.at(path);
    let http_path = http_found.as_ref().map(|f| f.pattern);
    let op = ctx.routes.ops.then(|| ops::Op::at(path)).flatten();
    let settings = ctx.routes.settings();
    let origin = admission::check_origin(&settings, &ctx.routes.name, req.headers());
    // An upgrade request to a path that only an HTTP route has is served (and counted) by it.
    let mut counted = match http_path.or(op.map(ops::Op::path)) {
        None if wants_upgrade => Counted::Handshake,
        route => Counted::Http(route.unwrap_or("unmatched")),
    };
    // A plain request to a path that both kinds take goes to the HTTP route.
    let target = match (ws_found, http_found) {
        (Some(ws), http) if wants_upgrade || http.is_none() => {
            decode(&ws.params).map(|p| Target::Ws(ws.value, p))
        }
        (_, _) if op.is_some() => Ok(op.map_or(Target::NotFound, Target::Op)),
        (_, Some(http)) => {
            decode(&http.params).map(|p| Target::Http(http.pattern, http.value.as_slice(), p))
        }
        (_, None) => Ok(Target::NotFound),
    };
    let response = match (origin, target) {
        (Err(refused), _) => refused.into(),
        (Ok(()), Err(bad)) => Response::text(StatusCode::BAD_REQUEST, format!("{bad}\n")),
        (Ok(()), Ok(Target::Ws(route, params))) => {
            counted = Counted::Handshake;
            upgrade(&ctx, route, req, params).await
        }
        (Ok(()), Ok(Target::Op(op))) => ops_route(&ctx, op, req).await,
        (Ok(()), Ok(Target::Http(pattern, routes, params))) => {
            http_route(&ctx, req, pattern, routes, params).await
        }
        (Ok(()), Ok(Target::NotFound)) => Response::text(
            StatusCode::NOT_FOUND,
            format!("no route for {}\n", req.uri().path()),
        ),
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
    let mut head = head(ctx, &parts, false, None);
    if let Err(rejection) = run_middleware(ctx, &mut head, op.path()).await {
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

fn head(
    ctx: &ConnCtx,
    parts: &http::request::Parts,
    upgrade: bool,
    params: Option<PathParams>,
) -> RequestHead {
    let mut extensions = Extensions::new();
    if let Some(cert) = &ctx.client_cert {
        extensions.insert(cert.clone());
    }
    if let Some(params) = params {
        extensions.insert(params);
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

/// The server's middleware for the route at `pattern`, in order, on the head (before any
/// body).
async fn run_middleware(
    ctx: &ConnCtx,
    head: &mut RequestHead,
    pattern: &str,
) -> Result<(), Rejection> {
    for m in ctx.routes.middleware(pattern) {
        m.handle(head).await?;
    }
    Ok(())
}

async fn http_route(
    ctx: &ConnCtx,
    req: hyper::Request<Incoming>,
    pattern: &str,
    routes: &[HttpRoute],
    params: Option<PathParams>,
) -> Response {
    let (parts, body) = req.into_parts();
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
    let mut head = head(ctx, &parts, false, params);
    if let Err(rejection) = run_middleware(ctx, &mut head, pattern).await {
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

async fn upgrade(
    ctx: &ConnCtx,
    route: &WsRoute,
    mut req: hyper::Request<Incoming>,
    params: Option<PathParams>,
) -> Response {
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
    let mut head = head(ctx, &parts, true, params);

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
    if let Err(rejection) = run_middleware(ctx, &mut head, route.path).await {
        return rejection.into();
    }
    if let Err(rejection) = route.controller.handshake(&mut head).await {
        return rejection.into();
    }
    // RFC 7692: the first permessage-deflate offer the server can take, on a route with
    // compression (the route's own `compression = true`, or the server's key).
    let (deflate, extensions) = if route.compression || settings.compression {
        extension::negotiate(&head.headers, &DeflateConfig::of(&settings)).unzip()
    } else {
        (None, None)
    };

    let accepted = Accepted {
        on_upgrade,
        setup: Setup {
            peer: ctx.peer,
            server: ctx.routes.name.clone(),
            path: route.path,
            subprotocol: subprotocol.clone(),
            deflate,
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
    if let Some(e) = extensions {
        r.headers.insert(SEC_WEBSOCKET_EXTENSIONS, e);
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
