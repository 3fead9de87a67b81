// Route path rules, shared with ws-macros (included there with `#[path]`), so that the
// compile-time check and the start-up check are the same code. No dependencies.

/// Checks a route path: starts with `/`, no query or fragment, no spaces or control
/// characters. The error says what to write instead.
pub(crate) fn check_path(path: &str) -> Result<(), &'static str> {
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
