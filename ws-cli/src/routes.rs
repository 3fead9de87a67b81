//! `routes`: the table of servers, addresses, routes and middleware.

use ws_core::App;

/// Renders the table.
pub(crate) fn render(app: &App) -> String {
    let mut out = String::new();
    for (name, routes) in app.routes() {
        let url = app
            .config()
            .server(name.as_str())
            .map(|s| routes.url(s.addr()))
            .unwrap_or_default();
        out.push_str(&format!("server {name}  {url}\n"));
        let lines = routes.describe();
        if lines.is_empty() {
            out.push_str("  (no routes)\n");
        }
        for line in lines {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}
