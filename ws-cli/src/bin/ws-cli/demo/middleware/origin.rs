//! Server `ws`: refuse WebSocket handshakes from web pages of other origins.
//!
//! A browser lets any page open a WebSocket to any server and sends the user's cookies with
//! it (cross-site WebSocket hijacking); the `Origin` header is how the server tells who asks.
//! Settings, in the config file (read again by `reload`):
//!
//! ```toml
//! [middleware.origin]
//! allow = ["https://chat.example.com", "http://127.0.0.1:9501"]
//! ```
//!
//! The framework has this check built in: per-server key `allowed_origins`
//! (`[servers.ws] allowed_origins = ["https://chat.example.com"]`, env
//! `WS_WS_ALLOWED_ORIGINS`, comma-separated), which also covers servers without a middleware
//! and is the recommended way. This middleware stays as the demo of a middleware with
//! settings, and for configs that use `[middleware.origin]`; with both set, a request must
//! pass both.

use serde::Deserialize;
use ws_core::{middleware, Middleware, MiddlewareSettings, Rejection, RequestHead, Settings};

/// `[middleware.origin]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OriginSettings {
    /// Origins (`scheme://host[:port]`, compared without regard to case) whose pages may
    /// connect; `"*"` allows every origin. **Default**: empty, which allows every origin.
    pub allow: Vec<String>,
}

impl MiddlewareSettings for OriginSettings {
    const NAME: &'static str = "origin";
}

impl OriginSettings {
    /// Whether a request with `Origin: origin` may go on.
    pub fn allows(&self, origin: &str) -> bool {
        self.allow.is_empty()
            || self
                .allow
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    }
}

/// Answers 403 to a request whose `Origin` header is not allowed. Requests without the header
/// (programs rather than browsers) go on: the check protects browser users, it does not
/// authenticate.
#[middleware(server = "ws")]
#[derive(Debug)]
pub struct OriginCheck {
    #[inject]
    settings: Settings<OriginSettings>,
}

impl Middleware for OriginCheck {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        let Some(origin) = req.header("origin") else {
            return Ok(());
        };
        if self.settings.get().allows(origin) {
            Ok(())
        } else {
            Err(Rejection::forbidden(format!(
                "origin {origin} is not allowed (config [middleware.origin] allow)\n"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_list_and_star_allow_all() {
        let none = OriginSettings::default();
        assert!(none.allows("https://evil.example"));
        let star = OriginSettings {
            allow: vec!["*".into()],
        };
        assert!(star.allows("https://evil.example"));
        let one = OriginSettings {
            allow: vec!["https://Chat.Example".into()],
        };
        assert!(one.allows("https://chat.example"));
        assert!(!one.allows("https://chat.example:8443"));
        assert!(!one.allows("null"));
    }
}
