//! # ws-path
//!
//! The rules a route path follows, in one place for both checks that apply them:
//!
//! - **at compile time**, `ws-macros` checks the `path = ".."` of `#[ws_controller]`,
//!   `#[ws_handler]` and `#[http_route]`, so that a bad literal is an error on that literal;
//! - **at start-up**, `ws-core` checks every registered path again and reports the bad ones
//!   with every other start-up problem, before any port is bound.
//!
//! Both depend on this crate, so the two checks are the same code. It has no dependencies,
//! because a proc-macro crate runs it inside the compiler.
//!
//! ```
//! assert_eq!(ws_path::check_path("/chat"), Ok(()));
//! assert_eq!(
//!     ws_path::check_path("chat"),
//!     Err("a path starts with `/`, e.g. \"/chat\""),
//! );
//! ```
//!
//! A path is matched exactly, byte for byte, against the path of the request (patterns such
//! as `/rooms/{id}` are not supported yet).

/// Checks a route path: it starts with `/` and has no query (`?`), no fragment (`#`), no
/// whitespace and no control characters.
///
/// # Errors
///
/// The first rule broken, as a sentence that says what to write instead; callers put it
/// after `invalid path: ` (ws-macros) or beside the registration's type and source location
/// (ws-core).
pub fn check_path(path: &str) -> Result<(), &'static str> {
    if !path.starts_with('/') {
        return Err("a path starts with `/`, e.g. \"/chat\"");
    }
    if path.contains(['?', '#']) {
        return Err("a path has no query (`?`) or fragment (`#`)");
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a path has no spaces or control characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn accepts_absolute_paths() {
        for path in [
            "/",
            "/chat",
            "/rooms/lobby",
            "/a-b_c.d~e",
            "/%20",
            "/ünïcode",
            "//",
        ] {
            assert_eq!(check_path(path), Ok(()), "{path:?}");
        }
    }

    #[test]
    fn needs_a_leading_slash() {
        for path in ["", "chat", "chat/", " /chat", "*"] {
            let reason = check_path(path).unwrap_err();
            assert!(reason.contains("starts with `/`"), "{path:?}: {reason}");
        }
    }

    #[test]
    fn refuses_query_and_fragment() {
        for path in ["/chat?room=1", "/chat#top", "/?", "/#"] {
            let reason = check_path(path).unwrap_err();
            assert!(reason.contains("no query"), "{path:?}: {reason}");
        }
    }

    #[test]
    fn refuses_whitespace_and_control_characters() {
        for path in [
            "/chat room",
            "/chat\t",
            "/chat\n",
            "/\u{0}",
            "/\u{7f}",
            "/\u{a0}",
        ] {
            let reason = check_path(path).unwrap_err();
            assert!(reason.contains("no spaces"), "{path:?}: {reason}");
        }
    }

    #[test]
    fn reports_the_first_rule_broken() {
        // No leading slash outranks the query.
        assert_eq!(
            check_path("chat?x"),
            Err("a path starts with `/`, e.g. \"/chat\"")
        );
        // A query outranks a space.
        assert_eq!(
            check_path("/a b?x"),
            Err("a path has no query (`?`) or fragment (`#`)")
        );
    }
}
