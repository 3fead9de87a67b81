//! [`Cli`]: the command line of an app: its name, version and description (from its own
//! `Cargo.toml`, through [`cli!`](crate::cli!) or [`main!`](crate::main!)), the ws-cli
//! subcommands, and the app's own subcommands.

use std::ffi::OsString;
use std::fmt;

use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::args::{Args, EXIT_CODES};

/// What an app's subcommands run: the parsed arguments of the whole command line in (its
/// subcommand is one of the group's), an error message out.
type Run = Box<dyn Fn(&ArgMatches) -> Result<(), String>>;

/// App subcommands added together, and what runs them.
struct Group {
    commands: Vec<clap::Command>,
    run: Run,
}

/// The command line of an app.
///
/// [`ws_cli::main()`](crate::main()) is `Cli` with ws-cli's own name and version. An app that
/// wants its own (in `--version` and `--help`) and subcommands of its own builds one with
/// [`cli!`](crate::cli!), which reads the app crate's `Cargo.toml` metadata:
///
/// ```no_run
/// use ws_cli::clap::{Arg, ArgMatches, Command};
///
/// /// `my-app greet NAME`: runs instead of the server.
/// fn greet(args: &ArgMatches) -> Result<(), String> {
///     let name = args.get_one::<String>("name").ok_or("no name")?;
///     println!("hello, {name}");
///     Ok(())
/// }
///
/// fn main() {
///     ws_cli::cli!()
///         .subcommand(
///             Command::new("greet")
///                 .about("Greet someone")
///                 .arg(Arg::new("name").required(true)),
///             greet,
///         )
///         .main()
/// }
/// ```
///
/// An app subcommand is parsed by the same parser as `start` and the others (so `--help`
/// lists it, and `completions` completes it), then runs the app's function with its
/// [`ArgMatches`]: the global `--config FILE`, when given, is there too
/// (`args.get_one::<std::path::PathBuf>("config")`). The function's `Err` is printed as
/// `error: ...` and the process exits 1; `Ok` exits 0. A subcommand named like one of
/// ws-cli's is an error at start-up.
///
/// With clap's derive (the app depends on `clap` with feature `derive`), an enum of
/// subcommands goes in whole with [`subcommands`](Self::subcommands):
///
/// ```no_run
/// #[derive(clap::Subcommand)]
/// enum Admin {
///     /// Print a greeting.
///     Greet { name: String },
/// }
///
/// fn admin(command: Admin) -> Result<(), String> {
///     match command {
///         Admin::Greet { name } => println!("hello, {name}"),
///     }
///     Ok(())
/// }
///
/// fn main() {
///     ws_cli::cli!().subcommands(admin).main()
/// }
/// ```
pub struct Cli {
    name: &'static str,
    version: &'static str,
    about: Option<&'static str>,
    groups: Vec<Group>,
}

impl fmt::Debug for Cli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cli")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("about", &self.about)
            .field(
                "commands",
                &self
                    .groups
                    .iter()
                    .flat_map(|g| g.commands.iter().map(|c| c.get_name()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Cli {
    /// A command line named `name` (shown by `--version` and `--help`) at `version`. Pass the
    /// app crate's `env!("CARGO_PKG_NAME")` and `env!("CARGO_PKG_VERSION")`, as
    /// [`cli!`](crate::cli!) does.
    pub fn new(name: &'static str, version: &'static str) -> Self {
        Self {
            name,
            version,
            about: None,
            groups: Vec::new(),
        }
    }

    /// The description at the top of `--help` (an empty one is none).
    pub fn about(mut self, about: &'static str) -> Self {
        self.about = (!about.trim().is_empty()).then_some(about);
        self
    }

    /// Adds the app's own subcommand `command`; `run` runs it with its parsed arguments.
    pub fn subcommand<E: fmt::Display>(
        mut self,
        command: clap::Command,
        run: impl Fn(&ArgMatches) -> Result<(), E> + 'static,
    ) -> Self {
        self.groups.push(Group {
            commands: vec![command],
            run: Box::new(move |matches| {
                let (_, sub) = matches.subcommand().ok_or("no subcommand")?;
                run(sub).map_err(|e| e.to_string())
            }),
        });
        self
    }

    /// Adds the subcommands of `S` (a `#[derive(clap::Subcommand)]` enum); `run` runs the one
    /// given, parsed into `S`.
    pub fn subcommands<S, E>(mut self, run: impl Fn(S) -> Result<(), E> + 'static) -> Self
    where
        S: clap::Subcommand,
        E: fmt::Display,
    {
        let commands = S::augment_subcommands(clap::Command::new("app"))
            .get_subcommands()
            .cloned()
            .collect();
        self.groups.push(Group {
            commands,
            run: Box::new(move |matches| {
                let parsed = S::from_arg_matches(matches).map_err(|e| e.to_string())?;
                run(parsed).map_err(|e| e.to_string())
            }),
        });
        self
    }

    /// ws-cli's own command line: its name, version and description.
    pub(crate) fn ws_cli() -> Self {
        Self::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .about(env!("CARGO_PKG_DESCRIPTION"))
    }

    /// The clap command: ws-cli's subcommands under the app's name, version and description,
    /// then the app's subcommands. Fails when an app subcommand takes a ws-cli name.
    pub(crate) fn command(&self) -> Result<clap::Command, String> {
        let mut command = Args::command()
            .name(self.name)
            .version(self.version)
            .about(self.about)
            .after_help(EXIT_CODES);
        for sub in self.groups.iter().flat_map(|g| &g.commands) {
            let names = std::iter::once(sub.get_name()).chain(sub.get_all_aliases());
            for name in names {
                if command.find_subcommand(name).is_some() || name == "help" {
                    return Err(format!(
                        "the app's subcommand `{name}` has the name of a ws-cli subcommand; \
                         name it otherwise"
                    ));
                }
            }
            command = command.subcommand(sub.clone());
        }
        Ok(command)
    }

    /// Parses the process's arguments, runs the subcommand and exits the process with its
    /// status (see `--help` for the statuses).
    pub fn main(self) -> ! {
        std::process::exit(self.run(std::env::args_os()))
    }

    /// Parses `args` (the first is the program), runs the subcommand; returns the exit status.
    fn run(self, args: impl IntoIterator<Item = OsString>) -> i32 {
        let mut command = match self.command() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        let matches = match command.try_get_matches_from_mut(args) {
            Ok(m) => m,
            Err(e) => {
                // Help and version to stdout with status 0; usage errors to stderr with 2.
                let _ = e.print();
                return e.exit_code();
            }
        };
        if let Some((name, _)) = matches.subcommand() {
            let group = self
                .groups
                .iter()
                .find(|g| g.commands.iter().any(|c| c.get_name() == name));
            if let Some(group) = group {
                return match (group.run)(&matches) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("error: {e}");
                        1
                    }
                };
            }
        }
        let args = match Args::from_arg_matches(&matches) {
            Ok(a) => a,
            Err(e) => {
                let _ = e.print();
                return e.exit_code();
            }
        };
        match crate::command::run(args, command) {
            Ok(()) => 0,
            Err(f) => {
                eprintln!("error: {}", f.message);
                f.code
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use clap::{Arg, Command};

    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    /// A [`Cli`] with the subcommand `greet NAME` that records what it was given.
    fn greeter(seen: &Arc<Mutex<Vec<String>>>) -> Cli {
        let seen = Arc::clone(seen);
        Cli::new("app", "9.9.9").subcommand(
            Command::new("greet").arg(Arg::new("name").required(true)),
            move |m: &ArgMatches| {
                let name = m.get_one::<String>("name").ok_or("no name")?;
                if name == "nobody" {
                    return Err("nobody to greet".to_owned());
                }
                seen.lock().unwrap().push(name.clone());
                Ok(())
            },
        )
    }

    #[test]
    fn an_app_subcommand_runs_with_its_arguments() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        assert_eq!(greeter(&seen).run(args(&["app", "greet", "ann"])), 0);
        assert_eq!(*seen.lock().unwrap(), ["ann"]);
        assert_eq!(greeter(&seen).run(args(&["app", "greet", "nobody"])), 1);
        // Usage errors are clap's: status 2; `--version` is 0.
        assert_eq!(greeter(&seen).run(args(&["app", "greet"])), 2);
        assert_eq!(greeter(&seen).run(args(&["app", "--version"])), 0);
        assert_eq!(*seen.lock().unwrap(), ["ann"]);
    }

    #[derive(Debug, clap::Subcommand)]
    enum Admin {
        /// Counts.
        Count { n: u32 },
    }

    #[test]
    fn derived_subcommands_run_parsed() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let cli = Cli::new("app", "1.0.0").subcommands(move |c: Admin| {
            record.lock().unwrap().push(format!("{c:?}"));
            Ok::<_, String>(())
        });
        let help = cli.command().unwrap().render_help().to_string();
        assert!(help.contains("count") && help.contains("start"), "{help}");
        assert_eq!(cli.run(args(&["app", "count", "3"])), 0);
        assert_eq!(*seen.lock().unwrap(), ["Count { n: 3 }"]);
    }

    #[test]
    fn the_app_name_and_version_are_the_parsers() {
        let command = Cli::new("my-app", "2.3.4")
            .about("My app.")
            .command()
            .unwrap();
        assert_eq!(command.get_name(), "my-app");
        assert_eq!(command.get_version(), Some("2.3.4"));
        assert_eq!(
            command.get_about().map(|a| a.to_string()).as_deref(),
            Some("My app.")
        );
        assert!(command
            .get_after_help()
            .is_some_and(|h| h.to_string().contains("3  `status`")));
    }

    #[test]
    fn a_subcommand_with_a_ws_cli_name_is_refused() {
        let cli =
            Cli::new("app", "1.0.0").subcommand(Command::new("status"), |_| Ok::<_, String>(()));
        let err = cli.command().unwrap_err();
        assert!(err.contains("`status`"), "{err}");
        assert_eq!(cli.run(args(&["app", "status"])), 1);
    }
}
