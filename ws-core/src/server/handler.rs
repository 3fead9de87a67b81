//! A `#[ws_handler]` with arguments taken from its handshake: [`Handler`] takes them (path
//! parameters, query, headers, extensions, injected values) before the upgrade, answering the
//! handshake with an extractor's rejection, and leaves them in the connection's extensions for
//! the function.

use std::sync::Arc;

use super::driver::{Accepted, ErasedController};
use crate::controller::Controller;
use crate::future::BoxFuture;
use crate::http::{Request, Response};
use crate::request::{Rejection, RequestHead};
use crate::websocket::{HandlerArgs, HandlerController};

/// A `#[ws_handler]` function's controller, and how its arguments are taken from a handshake.
pub(crate) struct Handler<F, A, X> {
    inner: Arc<HandlerController<F, A>>,
    extract: X,
}

impl<F, A, X> Handler<F, A, X> {
    pub(crate) fn new(inner: HandlerController<F, A>, extract: X) -> Self {
        Self {
            inner: Arc::new(inner),
            extract,
        }
    }
}

impl<F, A, X> ErasedController for Handler<F, A, X>
where
    HandlerController<F, A>: Controller,
    A: Send + 'static,
    F: Send + Sync + 'static,
    X: for<'r> Fn(&'r Request) -> BoxFuture<'r, Result<A, Response>> + Send + Sync + 'static,
{
    fn handshake<'a>(&'a self, req: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Rejection>> {
        self.inner.handshake(req)
    }

    fn handshake_request<'a>(
        &'a self,
        req: &'a mut Request,
    ) -> BoxFuture<'a, Result<(), Response>> {
        Box::pin(async move {
            let args = (self.extract)(req).await?;
            req.head.extensions.insert(HandlerArgs::new(args));
            self.inner
                .handshake(&mut req.head)
                .await
                .map_err(Response::from)
        })
    }

    fn serve(self: Arc<Self>, accepted: Accepted) -> BoxFuture<'static, ()> {
        Arc::clone(&self.inner).serve(accepted)
    }
}
