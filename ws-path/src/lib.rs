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
//! A path is a pattern: a segment `{name}` matches one segment of the request's path (anything
//! up to the next `/`), and a last segment `{*name}` matches the rest of it (at least one
//! byte); every other segment matches itself, byte for byte. ws-core matches the patterns with
//! `matchit` (axum's router); this crate only checks their spelling.
//!
//! ```
//! assert_eq!(ws_path::check_path("/rooms/{id}"), Ok(()));
//! assert_eq!(ws_path::check_path("/files/{*path}"), Ok(()));
//! assert!(ws_path::check_path("/files/{*path}/raw").is_err());
//! ```

/// Checks a route path: it starts with `/` and has no query (`?`), no fragment (`#`), no
/// whitespace and no control characters; a `{` or `}` only in a parameter segment `{name}` or,
/// as the last segment, a wildcard `{*name}`, each name (ASCII letters, digits and `_`, not
/// starting with a digit) used once.
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
    check_params(path)
}

fn check_params(path: &str) -> Result<(), &'static str> {
    if !path.contains(['{', '}']) {
        return Ok(());
    }
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    let mut names: Vec<&str> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        if !segment.contains(['{', '}']) {
            continue;
        }
        let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            return Err(
                "a parameter is a whole segment, e.g. \"/rooms/{id}\"; a `{` or `}` elsewhere \
                 is not allowed",
            );
        };
        let (wildcard, name) = match inner.strip_prefix('*') {
            Some(name) => (true, name),
            None => (false, inner),
        };
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(
                "a parameter's name is ASCII letters, digits and `_`, not starting with a \
                 digit, e.g. \"/rooms/{id}\" or \"/files/{*path}\"",
            );
        }
        if wildcard && i != last {
            return Err("a wildcard `{*name}` is the last segment, e.g. \"/files/{*path}\"");
        }
        if names.contains(&name) {
            return Err("each parameter name appears once in a path; rename one");
        }
        names.push(name);
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
    fn accepts_parameters_and_wildcards() {
        for path in [
            "/rooms/{id}",
            "/rooms/{id}/members/{member_2}",
            "/files/{*path}",
            "/{*rest}",
            "/{_x}/",
        ] {
            assert_eq!(check_path(path), Ok(()), "{path:?}");
        }
    }

    #[test]
    fn refuses_bad_parameters() {
        for (path, says) in [
            ("/rooms/{id", "whole segment"),
            ("/rooms/id}", "whole segment"),
            ("/rooms/x{id}", "whole segment"),
            ("/rooms/{id}x", "whole segment"),
            ("/rooms/{{id}}", "name is ASCII"),
            ("/rooms/{}", "name is ASCII"),
            ("/rooms/{1d}", "name is ASCII"),
            ("/rooms/{i-d}", "name is ASCII"),
            ("/rooms/{*}", "name is ASCII"),
            ("/files/{*path}/raw", "last segment"),
            ("/{a}/{a}", "appears once"),
            ("/{a}/{*a}", "appears once"),
        ] {
            let reason = check_path(path).unwrap_err();
            assert!(reason.contains(says), "{path:?}: {reason}");
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
