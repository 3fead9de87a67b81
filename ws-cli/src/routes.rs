//! `routes`: the table of servers, addresses, routes and middleware: the running server's,
//! asked over its control socket, when one runs; else built from the registry and config.

use ws_core::{App, Config, ConfigError, Running};

use crate::control::{Reply, ServerRoutes};
use crate::failure::Failure;
use crate::remote::{self, Target};

/// Each server of `app` with its routes; `url` gives where a server listens.
fn tables(app: &App, url: impl Fn(&str) -> Option<String>) -> Vec<ServerRoutes> {
    app.routes()
        .map(|(name, routes)| ServerRoutes {
            name: name.to_string(),
            url: url(name.as_str()).unwrap_or_default(),
            lines: routes.describe(),
        })
        .collect()
}

/// Renders the table.
fn render(tables: &[ServerRoutes]) -> String {
    let mut out = String::new();
    for server in tables {
        out.push_str(&format!("server {}  {}\n", server.name, server.url));
        if server.lines.is_empty() {
            out.push_str("  (no routes)\n");
        }
        for line in &server.lines {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

/// The running server's answer to `routes`: the addresses it is bound to.
pub(crate) fn of_running(running: &Running) -> Reply {
    Reply {
        ok: true,
        pid: Some(std::process::id()),
        routes: Some(tables(running.app(), |name| running.url(name))),
        ..Reply::default()
    }
}

/// `routes`: prints the running server's table when one answers at `target`, else the one
/// the config and registry make; the first line says which.
pub(crate) fn print(
    target: &Target,
    loaded: Result<(Config, Vec<String>), ConfigError>,
) -> Result<(), Failure> {
    let note = match remote::routes(target) {
        Ok(Some((pid, tables))) => {
            println!("from the running server, pid {pid}");
            print!("{}", render(&tables));
            return Ok(());
        }
        Ok(None) => "no server running".to_owned(),
        Err(f) => format!("the running server did not answer ({f})"),
    };
    let (config, _) = loaded.map_err(|e| e.to_string())?;
    let app = App::build(config).map_err(|e| e.to_string())?;
    let table = tables(&app, |name| {
        let (_, routes) = app.routes().find(|(n, _)| n.as_str() == name)?;
        Some(routes.url(app.config().server(name)?.addr()))
    });
    println!("from the config; {note}");
    print!("{}", render(&table));
    Ok(())
}
