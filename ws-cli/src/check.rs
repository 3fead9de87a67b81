//! `check`: the config and the app as `start` would load and build them, every problem
//! reported, nothing bound or started.

use std::path::Path;

use ws_core::{App, Config, ConfigError, StartupError};

use crate::failure::Failure;
use crate::logging::LogLevel;

/// Checks the loaded config (or reports why it did not load) and builds the app from it.
pub(crate) fn run(loaded: Result<(Config, Vec<String>), ConfigError>) -> Result<(), Failure> {
    let (config, warnings) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return Err(failed(config_problems(e))),
    };
    for w in &warnings {
        println!("warning: {w}");
    }
    let mut problems = Vec::new();
    if let Err(e) = LogLevel::check(&config.log_level) {
        problems.push(e);
    }
    // `start` creates these files: their directories must exist (nothing is created here).
    let files = [
        ("log_file", config.log_file.as_deref()),
        ("pid_file", Some(config.pid_file.as_path())),
        ("control_socket", Some(config.control_socket.as_path())),
    ];
    for (key, file) in files {
        if let Some(file) = file.filter(|f| !in_existing_dir(f)) {
            problems.push(format!(
                "config key `{key}` = {} (from {}): its directory does not exist",
                file.display(),
                config.source_of(key),
            ));
        }
    }
    let servers: Vec<String> = config.servers.keys().map(|s| s.to_string()).collect();
    match App::build(config) {
        Ok(app) => {
            if ws_core::registry::Registry::linked().is_empty() {
                println!(
                    "warning: no controller or route is registered: is the crate that defines \
                     them linked? (name it in the binary with `use my_controllers as _;`)"
                );
            }
            let routes: usize = app.routes().map(|(_, r)| r.describe().len()).sum();
            if problems.is_empty() {
                println!(
                    "ok: the config loads and the app builds: {} server{} ({}), {routes} \
                     route{}",
                    servers.len(),
                    plural(servers.len()),
                    servers.join(", "),
                    plural(routes)
                );
                return Ok(());
            }
        }
        Err(e) => problems.extend(startup_problems(e)),
    }
    Err(failed(problems))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The failure that lists `problems`, one per line.
fn failed(problems: Vec<String>) -> Failure {
    let mut message = match problems.len() {
        1 => "check failed: 1 problem:".to_owned(),
        n => format!("check failed: {n} problems:"),
    };
    for p in problems {
        message.push_str("\n  - ");
        message.push_str(&p.replace('\n', "\n    "));
    }
    Failure::new(message)
}

fn config_problems(e: ConfigError) -> Vec<String> {
    match e {
        ConfigError::Many(all) => all.into_iter().flat_map(config_problems).collect(),
        one => vec![one.to_string()],
    }
}

fn startup_problems(e: StartupError) -> Vec<String> {
    match e {
        StartupError::Many(all) => all.into_iter().flat_map(startup_problems).collect(),
        StartupError::Config(e) => config_problems(e),
        one => vec![one.to_string()],
    }
}

/// Whether `path` names a file in the working directory or in a directory that exists.
fn in_existing_dir(path: &Path) -> bool {
    path.parent()
        .is_none_or(|d| d.as_os_str().is_empty() || d.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_listed_one_per_line() {
        let f = failed(vec!["a".to_owned(), "b\nmore".to_owned()]);
        assert_eq!(f.code, 1);
        assert_eq!(
            f.message,
            "check failed: 2 problems:\n  - a\n  - b\n    more"
        );
        assert!(in_existing_dir(Path::new("ws.pid")));
        assert!(!in_existing_dir(Path::new("/no/such/dir/ws.pid")));
    }
}
