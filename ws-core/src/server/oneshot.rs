//! One HTTP request through a server's [`service`](super::service), without a socket
//! (feature `testing`, for `ws_core::testing::oneshot`): a hyper client and a hyper HTTP/1.1
//! connection on the two ends of an in-memory pipe, so the request takes the path a request
//! from the network takes (routing, middleware, body limits, the handler, 404/405, metrics).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::routes::Routes;
use super::service;
use crate::context::AppContext;

/// The peer address the routes see for a request sent with [`oneshot`].
pub(crate) const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// Sends `request` to the server with `routes` and returns its response, body read whole.
pub(crate) async fn oneshot(
    app: Arc<AppContext>,
    routes: Arc<Routes>,
    request: http::Request<Full<Bytes>>,
) -> Result<http::Response<Bytes>, hyper::Error> {
    let ctx = service::ConnCtx {
        app,
        routes,
        peer: PEER,
        shutdown: CancellationToken::new(),
        tracker: TaskTracker::new(),
        client_cert: None,
        placed: None,
        stalled: CancellationToken::new(),
    };
    let (client, server) = tokio::io::duplex(64 * 1024);
    let serving = tokio::spawn(http1::Builder::new().serve_connection(
        TokioIo::new(server),
        hyper::service::service_fn(move |req| service::handle(ctx.clone(), req)),
    ));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client)).await?;
    let client_conn = tokio::spawn(conn);
    let response = sender.send_request(request).await;
    let result = match response {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            body.collect()
                .await
                .map(|b| http::Response::from_parts(parts, b.to_bytes()))
        }
        Err(e) => Err(e),
    };
    drop(sender);
    client_conn.abort();
    serving.abort();
    result
}
