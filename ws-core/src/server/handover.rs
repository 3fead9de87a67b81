//! The server side of [`hand_over`](crate::http::hand_over): a handshake that the fallback
//! service received, handed to the WebSocket route registered at a path of the same server.

use http::StatusCode;

use super::service::{self, ConnCtx, Way};
use crate::future::BoxFuture;
use crate::http::{HandOver, Response};

impl HandOver for ConnCtx {
    fn hand_over(&self, parts: http::request::Parts, path: &str) -> BoxFuture<'static, Response> {
        let ctx = self.clone();
        let path = path.to_owned();
        Box::pin(async move {
            let routes = &ctx.routes;
            // Matched as a request's path is: `/rooms/42` reaches `/rooms/{id}` with its `id`.
            let Some(found) = routes.ws.at(&path).filter(|_| routes.websocket) else {
                return Response::text(
                    StatusCode::NOT_FOUND,
                    format!(
                        "hand_over: no WebSocket route `{path}` on server `{}`\n",
                        routes.name
                    ),
                );
            };
            let params = match service::decode(&found.params) {
                Ok(params) => params,
                Err(bad) => return Response::text(StatusCode::BAD_REQUEST, format!("{bad}\n")),
            };
            let req = http::Request::from_parts(parts, ());
            service::upgrade(&ctx, found.value, req, params, Way::HandedOver).await
        })
    }
}
