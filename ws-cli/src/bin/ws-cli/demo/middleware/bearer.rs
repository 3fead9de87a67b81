//! Server `http`, `POST /push` and `GET /connections`: the bearer key check, on the request
//! head.
//!
//! A guard on the route rather than a check in the handler: it runs before the body is read,
//! so a client without the key is answered at once and holds no body memory.

use ws_core::http::header::{HeaderValue, WWW_AUTHENTICATE};
use ws_core::{middleware, LiveConfig, Middleware, Rejection, RequestHead};

/// Requires `Authorization: Bearer <secret_key>` (config `secret_key`, env `WS_SECRET_KEY`,
/// read per request so that `reload` applies a new key). A wrong or missing key gets 401 with
/// `WWW-Authenticate: Bearer`; with no key configured every request is refused (401).
#[middleware(server = "http", paths = ["/push", "/connections"])]
#[derive(Debug)]
pub struct BearerKey {
    #[inject]
    config: LiveConfig,
}

impl Middleware for BearerKey {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        let config = self.config.get();
        let Some(key) = config.secret_key.as_deref().filter(|k| !k.is_empty()) else {
            return Err(Rejection::unauthorized(
                "push is disabled: no secret_key is configured\n",
            ));
        };
        // The scheme name is case-insensitive (RFC 7235 §2.1): `bearer`, `BEARER` do too.
        let given = req
            .header("authorization")
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, token)| token.trim_start());
        if constant_time_eq(given.as_bytes(), key.as_bytes()) {
            Ok(())
        } else {
            Err(Rejection::unauthorized("missing or wrong bearer key\n")
                .with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")))
        }
    }
}

/// Compares without an early exit, so timing does not reveal how much of the key matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
