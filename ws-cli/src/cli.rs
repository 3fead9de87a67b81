//! [`Cli`]: the command line of an app: its name, version and description (from its own
//! `Cargo.toml`, through [`cli!`](crate::cli!) or [`main!`](crate::main!)), the ws-cli
//! subcommands, and the app's own subcommands.

use std::ffi::OsString;
use std::fmt;

use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::args::{Args, EXIT_CODES};

/// What an app subcommand runs: its parsed arguments in, an error message out.
type Run = Box<dyn Fn(&ArgMatches) -> Result<(), String>>;

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
pub struct Cli {
    name: &'static str,
    version: &'static str,
    about: Option<&'static str>,
    commands: Vec<(clap::Command, Run)>,
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
                    .commands
                    .iter()
                    .map(|(c, _)| c.get_name())
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
            commands: Vec::new(),
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
        self.commands.push((
            command,
            Box::new(move |m| run(m).map_err(|e| e.to_string())),
        ));
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
        for (sub, _) in &self.commands {
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
        if let Some((name, sub)) = matches.subcommand() {
            if let Some((_, run)) = self.commands.iter().find(|(c, _)| c.get_name() == name) {
                return match run(sub) {
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
