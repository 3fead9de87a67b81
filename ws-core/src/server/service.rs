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
use hyper::body::Incoming;
use sync_wrapper::SyncWrapper;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admission;
use super::body;
use super::driver::{Accepted, Setup};
use super::handshake::{self, Accept, HandshakeError};
use super::ops;
use super::routes::{HttpRoute, PathGuards, Routes, WsRoute, FALLBACK};
use super::stream;
use crate::client_cert::ClientCert;
use crate::context::AppContext;
use crate::engine::threads::Placed;
use crate::http::{Body, Request, Response};
use crate::middleware::{Endpoint, Next};
use crate::params::{NotUtf8, PathParams};
use crate::protocol::extension::{self, DeflateConfig};
use crate::request::RequestHead;

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
    /// The connection's place on its I/O thread (`io_threads`), if it has one.
    pub(crate) placed: Option<Arc<Placed>>,
    /// Cancelled when a streamed response of this connection stalls past `write_timeout`:
    /// the connection is dropped.
    pub(crate) stalled: CancellationToken,
}

pub(crate) type HyperResponse = hyper::Response<Body>;

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
    Fallback,
    NotFound,
}

/// The parameters a lookup matched, decoded; `None` (nothing allocated) for a route without.
/// The values of a match's parameters, percent-decoded (`None` for a path without any).
pub(crate) fn decode(params: &matchit::Params<'_, '_>) -> Result<Option<PathParams>, NotUtf8> {
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
        None if ctx.routes.fallback.is_some() => Counted::Http(FALLBACK),
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
        (_, None) if ctx.routes.fallback.is_some() => Ok(Target::Fallback),
        (_, None) => Ok(Target::NotFound),
    };
    let response = match (origin, target) {
        (Err(refused), _) => refused.into(),
        (Ok(()), Err(bad)) => Response::text(StatusCode::BAD_REQUEST, format!("{bad}\n")),
        (Ok(()), Ok(Target::Ws(route, params))) => {
            counted = Counted::Handshake;
            upgrade(&ctx, route, req, params, Way::Direct).await
        }
        (Ok(()), Ok(Target::Op(op))) => ops_route(&ctx, op, req).await,
        (Ok(()), Ok(Target::Http(pattern, routes, params))) => {
            http_route(&ctx, req, pattern, routes, params).await
        }
        (Ok(()), Ok(Target::Fallback)) => fallback(&ctx, req, wants_upgrade).await,
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
    let settings = ctx.routes.settings();
    let response = stream::bound(
        response,
        &ctx.routes.streams,
        &settings,
        &ctx.shutdown,
        &ctx.stalled,
    );
    Ok(response.into())
}

/// An operations route (`/metrics`, `/healthz`, `/readyz`), behind the server's middleware.
async fn ops_route(ctx: &ConnCtx, op: ops::Op, req: hyper::Request<Incoming>) -> Response {
    let (parts, _body) = req.into_parts();
    let head = head(ctx, &parts, false, None);
    let app = Arc::clone(&ctx.app);
    let method = parts.method;
    let endpoint: Endpoint =
        Box::new(move |_req| Box::pin(async move { ops::answer(&app, op, &method) }));
    chain(ctx, op.path(), endpoint)
        .run(request(ctx, head, None))
        .await
}

/// The way of a request to the route at `pattern`: the server's middleware, then `endpoint`.
fn chain(ctx: &ConnCtx, pattern: &'static str, endpoint: Endpoint) -> Next {
    Next::new(Arc::clone(&ctx.routes) as _, pattern, endpoint)
}

/// The request as the middleware sees it: the head, its body not read yet.
fn request(ctx: &ConnCtx, head: RequestHead, unread: Option<Incoming>) -> Request {
    Request {
        head,
        body: Bytes::new(),
        unread: unread.map(|body| SyncWrapper::new(Body::new(body))),
        ctx: Arc::clone(&ctx.app),
    }
}

pub(crate) fn head(
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
        version: parts.version,
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

/// A request no route takes, to the server's fallback service (behind the middleware that
/// runs on every request of the server); its body streams to the service within
/// `max_http_body` and `http_body_timeout`.
async fn fallback(ctx: &ConnCtx, req: hyper::Request<Incoming>, upgrade: bool) -> Response {
    let (parts, body) = req.into_parts();
    let mut head = head(ctx, &parts, upgrade, None);
    // hyper's (the upgrade, HTTP/2's `:protocol`) go on to the service.
    head.extensions.extend(parts.extensions);
    let conn = ctx.clone();
    let endpoint: Endpoint = Box::new(move |mut request: Request| {
        Box::pin(async move {
            let Some((_, service)) = &conn.routes.fallback else {
                return Response::text(StatusCode::NOT_FOUND, "no fallback\n");
            };
            let settings = conn.routes.settings();
            let body = match request.unread.take() {
                Some(unread) => body::bounded(unread.into_inner(), &settings),
                None => Body::from(std::mem::take(&mut request.body)),
            };
            let head = request.head;
            let mut out = http::Request::new(body);
            *out.method_mut() = head.method;
            *out.uri_mut() = head.uri;
            *out.headers_mut() = head.headers;
            *out.version_mut() = head.version;
            *out.extensions_mut() = head.extensions;
            out.extensions_mut()
                .insert(crate::http::Through(Arc::new(conn.clone())));
            service.0.call(out).await
        })
    });
    chain(ctx, FALLBACK, endpoint)
        .run(request(ctx, head, Some(body)))
        .await
}

async fn http_route(
    ctx: &ConnCtx,
    req: hyper::Request<Incoming>,
    pattern: &'static str,
    routes: &[HttpRoute],
    params: Option<PathParams>,
) -> Response {
    let (parts, body) = req.into_parts();
    let route = routes
        .iter()
        .find(|r| r.method == parts.method.as_str())
        .or_else(|| {
            // HEAD is answered by the GET route (hyper drops the body).
            (parts.method == http::Method::HEAD)
                .then(|| routes.iter().find(|r| r.method == "GET"))
                .flatten()
        })
        .map(|r| (Arc::clone(&r.handler), r.origin.name));
    // A method the path does not take is answered after the middleware (as axum does), so
    // that a guard refuses first and a tower layer (CORS preflight) sees every method.
    let allow = match route {
        Some(_) => String::new(),
        None => routes
            .iter()
            .map(|r| r.method)
            .collect::<Vec<_>>()
            .join(", "),
    };
    let head = head(ctx, &parts, false, params);
    let conn = ctx.clone();
    // After the middleware: the body, within the server's bounds, then the handler.
    let endpoint: Endpoint = Box::new(move |mut request: Request| {
        Box::pin(async move {
            let Some((handler, name)) = route else {
                let mut r = Response::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    r.headers.insert(ALLOW, v);
                }
                return r;
            };
            let settings = conn.routes.settings();
            // `_hold` keeps the body's share of `http_body_budget` until the handler is done.
            let mut _hold = None;
            if let Some(unread) = request.unread.take() {
                match body::read(
                    &request.head.headers,
                    unread.into_inner(),
                    &settings,
                    &conn.routes.bodies,
                )
                .await
                {
                    Ok((bytes, hold)) => {
                        request.body = bytes;
                        _hold = Some(hold);
                    }
                    Err(refusal) => return refusal,
                }
            }
            tracing::debug!(
                peer = %conn.peer,
                "{} {} -> {name}",
                request.head.method,
                request.head.uri
            );
            handler(request).await
        })
    });
    chain(ctx, pattern, endpoint)
        .run(request(ctx, head, Some(body)))
        .await
}

/// How a handshake reached its route.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Way {
    /// On the route's own path: the server's middleware runs.
    Direct,
    /// Handed over by the fallback's handler ([`hand_over`](crate::http::hand_over)): the
    /// middleware ran on its way to the fallback; its extensions become the context.
    HandedOver,
}

pub(crate) async fn upgrade<B>(
    ctx: &ConnCtx,
    route: &WsRoute,
    mut req: http::Request<B>,
    params: Option<PathParams>,
    way: Way,
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
        // Its HTTP/2 stream (if it came over one) counts as open for as long too.
        Ok(guard) => guard.holding(ctx.placed.clone(), req.extensions_mut().remove()),
        Err(refused) => return refused.into(),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let (parts, _body) = req.into_parts();
    let mut head = head(ctx, &parts, true, params);
    if way == Way::HandedOver {
        let mut extensions = parts.extensions;
        extensions.remove::<crate::http::Through>();
        head.extensions.extend(extensions);
    }

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
    // RFC 7692: the first permessage-deflate offer the server can take, on a route with
    // compression (the route's own `compression = true`, or the server's key).
    let (deflate, extensions) = if route.compression || settings.compression {
        extension::negotiate(&head.headers, &DeflateConfig::of(&settings)).unzip()
    } else {
        (None, None)
    };
    let conn = ctx.clone();
    let (controller, path, metrics) = (
        Arc::clone(&route.controller),
        route.path,
        Arc::clone(&route.metrics),
    );
    // After the middleware: the controller's `on_handshake`, then the upgrade.
    let endpoint: Endpoint = Box::new(move |mut request: Request| {
        Box::pin(async move {
            if let Err(refusal) = controller.handshake_request(&mut request).await {
                return refusal;
            }
            let accepted = Accepted {
                on_upgrade,
                setup: Setup {
                    peer: conn.peer,
                    server: conn.routes.name.clone(),
                    path,
                    subprotocol: subprotocol.clone(),
                    deflate,
                    extensions: request.head.extensions,
                    settings: conn.routes.settings(),
                    sender: conn.app.sender.clone(),
                    shutdown: conn.shutdown.clone(),
                    admitted,
                    metrics,
                },
            };
            conn.tracker.spawn(controller.serve(accepted));
            switching(accept, subprotocol, extensions)
        })
    });
    match way {
        Way::Direct => {
            chain(ctx, route.path, endpoint)
                .run(request(ctx, head, None))
                .await
        }
        // The server's middleware without `paths` ran on the way to the fallback; the guards
        // of this route's path run now.
        Way::HandedOver => {
            let guards = Arc::new(PathGuards(Arc::clone(&ctx.routes)));
            Next::new(guards, route.path, endpoint)
                .run(request(ctx, head, None))
                .await
        }
    }
}

/// The answer that completes a handshake: with the agreed subprotocol and extensions.
fn switching(
    accept: Accept,
    subprotocol: Option<String>,
    extensions: Option<HeaderValue>,
) -> Response {
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
