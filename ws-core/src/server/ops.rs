//! The operations routes of the metrics server (config `metrics_server`, while `metrics` is
//! on): `GET /metrics` (the app's metrics, Prometheus text format), `GET /healthz` (200 while
//! the process answers) and `GET /readyz` (200 while serving; 503 from the moment a graceful
//! stop or a restart's hand-over begins, so that a load balancer stops sending new clients).
//!
//! They run behind the server's middleware like any HTTP route, and are counted in
//! `http_requests_total` under their paths.

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use http::{Method, StatusCode};

use crate::context::AppContext;
use crate::http::Response;
use crate::metrics::CONTENT_TYPE as METRICS_CONTENT_TYPE;

/// One operations route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Metrics,
    Healthz,
    Readyz,
}

impl Op {
    /// The route at `path`, if it is one.
    pub(crate) fn at(path: &str) -> Option<Self> {
        match path {
            "/metrics" => Some(Self::Metrics),
            "/healthz" => Some(Self::Healthz),
            "/readyz" => Some(Self::Readyz),
            _ => None,
        }
    }

    /// The route's path (the `route` label of its requests).
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::Metrics => "/metrics",
            Self::Healthz => "/healthz",
            Self::Readyz => "/readyz",
        }
    }
}

/// The lines `routes` lists for the operations routes.
pub(crate) fn describe() -> [String; 3] {
    [
        "GET   /metrics -> ws-core: Prometheus metrics (config metrics, metrics_server)".to_owned(),
        "GET   /healthz -> ws-core: 200 while the process answers".to_owned(),
        "GET   /readyz -> ws-core: 200 while serving, 503 once a stop or restart begins".to_owned(),
    ]
}

/// Answers `op` (GET or HEAD; anything else 405).
pub(crate) fn answer(app: &AppContext, op: Op, method: &Method) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return Response::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
            .with_header(ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    match op {
        Op::Metrics => {
            // Exact figures: the open connections' counts are folded in first.
            app.sender.flush_traffic();
            let body = app.metrics.encode();
            let mut r = Response::text(StatusCode::OK, Bytes::from(body));
            r.headers
                .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
            r
        }
        Op::Healthz => Response::text(StatusCode::OK, "ok\n"),
        Op::Readyz => {
            if app.stopping.load(std::sync::atomic::Ordering::Acquire) {
                Response::text(StatusCode::SERVICE_UNAVAILABLE, "stopping\n")
            } else {
                Response::text(StatusCode::OK, "ready\n")
            }
        }
    }
}
