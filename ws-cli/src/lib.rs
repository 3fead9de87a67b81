//! # ws-cli
//!
//! Process lifecycle for ws-core apps. A whole app is:
//!
//! ```text
//! fn main() {
//!     ws_cli::main()
//! }
//! ```
//!
//! with controllers registered by attributes anywhere in the crate (or in linked crates).
//! Subcommands: `start` (foreground; Ctrl-C/SIGTERM stop gracefully, a second signal forces
//! exit) and `routes`. Options: `--config FILE`.

mod args;
mod logging;
mod routes;

use std::path::Path;

use clap::Parser;
use ws_core::{App, Config};

use crate::args::{Args, Command};

/// Parses the command line and runs the app; exits the process with the result.
pub fn main() -> ! {
    let code = run(Args::parse());
    std::process::exit(match code {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    })
}

/// Runs with already-parsed arguments.
fn run(args: Args) -> Result<(), String> {
    let (config, warnings) = Config::load(
        args.config.as_deref(),
        Some(Path::new(".env")),
        std::env::vars(),
    )
    .map_err(|e| e.to_string())?;
    match args.command {
        Command::Routes => {
            let app = App::build(config).map_err(|e| e.to_string())?;
            print!("{}", routes::render(&app));
            Ok(())
        }
        Command::Start => {
            logging::init(&config)?;
            for w in warnings {
                tracing::warn!("{w}");
            }
            start(config)
        }
    }
}

fn start(config: Config) -> Result<(), String> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if config.worker_threads > 0 {
        rt.worker_threads(config.worker_threads);
    }
    let rt = rt
        .build()
        .map_err(|e| format!("cannot start the Tokio runtime: {e}"))?;
    let app = App::build(config).map_err(|e| e.to_string())?;
    if ws_core::registry::Registry::linked().is_empty() {
        tracing::warn!(
            "no controller or route is registered: is the crate that defines them linked? \
             (name it in the binary with `use my_controllers as _;`)"
        );
    }
    rt.block_on(async move {
        let running = app.start().await.map_err(|e| e.to_string())?;
        wait_for_signal().await;
        tracing::info!("stop requested; draining (a second signal forces exit)");
        tokio::spawn(async {
            wait_for_signal().await;
            tracing::warn!("second signal: exiting now");
            std::process::exit(1);
        });
        running.shutdown().await;
        tracing::info!("stopped");
        Ok::<(), String>(())
    })
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
