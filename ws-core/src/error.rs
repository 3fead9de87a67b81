//! Start-up errors: why an app could not be built or started ([`StartupError`]), and where a
//! registration was written ([`Origin`]). Each domain has its own error type: configuration
//! ([`ConfigError`], in the config layer, re-exported here), sending (`SendError`), hooks
//! (`HookError`).

use crate::config::ConfigSource;

pub use crate::config::ConfigError;

/// Where a registration was written: its Rust type and source location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Full path of the registered type or function, e.g. `my_app::Chat`.
    pub name: &'static str,
    /// Source file of the attribute.
    pub file: &'static str,
    /// Line of the attribute.
    pub line: u32,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` ({}:{})", self.name, self.file, self.line)
    }
}

/// Two patterns of the same kind (WebSocket or HTTP) on one server that a request could match
/// the same way (`/rooms/{id}` and `/rooms/{name}`, `/files/{*a}` and `/files/{*b}`): the
/// router (matchit) holds only one of them ([`StartupError::RouteConflict`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{first} at `{first_path}` and {second} at `{path}` conflict on server `{server}` \
     ({kind} routes): a request could match both the same way; use one pattern (the same \
     parameter names), or make a segment differ by a static part"
)]
pub struct PathConflict {
    /// The server.
    pub server: &'static str,
    /// `WebSocket` or `HTTP`.
    pub kind: &'static str,
    /// The pattern registered first.
    pub first_path: &'static str,
    /// Its registration.
    pub first: Origin,
    /// The pattern refused.
    pub path: &'static str,
    /// Its registration.
    pub second: Origin,
}

/// Why an app could not start. Start-up collects every problem before it reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A registration names a server the config does not have.
    #[error(
        "{origin} targets server `{server}`, which the config does not have \
         (configured servers: {known}); add [servers.{server}] to the config or fix the attribute"
    )]
    UnknownServer {
        /// The registration.
        origin: Origin,
        /// The server it names.
        server: &'static str,
        /// The configured servers, comma-separated.
        known: String,
    },
    /// A registration names a server that the config disables (`enabled = false`).
    #[error(
        "{origin} targets server `{server}`, which is disabled (`servers.{server}.enabled = \
         false`, from {source_name}); enable the server or leave the registration out of the \
         binary"
    )]
    DisabledServer {
        /// The registration.
        origin: Origin,
        /// The server it names.
        server: &'static str,
        /// Where `enabled = false` was set.
        source_name: ConfigSource,
    },
    /// Two registrations claim the same server and path.
    #[error("{first} and {second} both claim path `{path}` on server `{server}`")]
    DuplicateRoute {
        /// The server.
        server: &'static str,
        /// The path.
        path: &'static str,
        /// One registration.
        first: Origin,
        /// The other.
        second: Origin,
    },
    /// Two patterns of the same kind on one server that a request could match the same way
    /// (`/rooms/{id}` and `/rooms/{name}`): the router (matchit) refuses the second.
    #[error(transparent)]
    RouteConflict(Box<PathConflict>),
    /// A registered path is not a valid route path.
    #[error("{origin}: invalid path `{path}`: {reason}")]
    InvalidPath {
        /// The registration.
        origin: Origin,
        /// The path.
        path: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A `#[middleware(paths = [..])]` names a path that has no route on its server.
    #[error(
        "{origin}: middleware for `{path}` on server `{server}`, which has no route at that \
         path (routes there: {known})"
    )]
    UnknownMiddlewarePath {
        /// The middleware registration.
        origin: Origin,
        /// Its server.
        server: &'static str,
        /// The path without a route.
        path: &'static str,
        /// The paths that server has routes for.
        known: String,
    },
    /// A registration injects a singleton that is not registered (or a `dyn Trait` that no
    /// singleton provides).
    #[error(
        "{origin} needs singleton `{singleton}`, which is not registered; {}",
        missing_hint(singleton)
    )]
    MissingSingleton {
        /// The registration that wants it.
        origin: Origin,
        /// The singleton type.
        singleton: &'static str,
    },
    /// One type registered as a singleton twice (e.g. on the struct and on its impl).
    #[error("singleton registered twice: {first} and {second}; keep one #[singleton]")]
    DuplicateSingleton {
        /// One registration.
        first: Origin,
        /// The other.
        second: Origin,
    },
    /// Two singletons provide the same trait object.
    #[error("`{binding}` is provided by two singletons, {first} and {second}; keep one `provides = {binding}`")]
    DuplicateBinding {
        /// The trait object type.
        binding: &'static str,
        /// One singleton.
        first: Origin,
        /// The other.
        second: Origin,
    },
    /// Singletons depend on each other in a circle.
    #[error("singletons depend on each other in a cycle: {chain}; break it by injecting one of them later (e.g. through a field filled in at run time)")]
    SingletonCycle {
        /// The cycle, e.g. `app::A -> app::B -> app::A`.
        chain: String,
    },
    /// A singleton's constructor failed.
    #[error("singleton {origin} failed to build: {message}")]
    SingletonFailed {
        /// The singleton.
        origin: Origin,
        /// Its error.
        message: String,
    },
    /// A server could not listen on its address.
    #[error("server `{server}` cannot listen on {addr} (config key servers.{server}.port, from {source_name}): {source}")]
    Bind {
        /// The server.
        server: String,
        /// The address.
        addr: std::net::SocketAddr,
        /// Where the port was configured.
        source_name: ConfigSource,
        /// The OS error.
        source: std::io::Error,
    },
    /// The I/O threads (config `io_threads`) could not be started.
    #[error("config key io_threads = {count} (from {source_name}): cannot start the I/O threads: {source}")]
    IoThreads {
        /// How many were asked for.
        count: usize,
        /// Where `io_threads` was configured.
        source_name: ConfigSource,
        /// The OS error.
        source: std::io::Error,
    },
    /// The node could not join its cluster: the broker is unreachable, or the node id is
    /// taken.
    #[error(
        "config key broker = {broker} (from {source_name}): cannot join the cluster: {reason}"
    )]
    Broker {
        /// The broker, password hidden.
        broker: String,
        /// Where the `broker` value came from.
        source_name: ConfigSource,
        /// What went wrong.
        reason: String,
    },
    /// Several problems at once.
    #[error("{} problems:\n{}", .0.len(), .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Many(Vec<StartupError>),
}

/// How to register what a registration injects: a type, or a trait object.
fn missing_hint(singleton: &str) -> String {
    match singleton.strip_prefix("dyn ") {
        Some(_) => {
            format!("add #[singleton(provides = {singleton})] to the type that implements it")
        }
        None => "add #[singleton] to it".to_owned(),
    }
}

impl StartupError {
    /// One error for a list of problems (the single one itself when there is one); lists
    /// inside the list are flattened into it.
    pub(crate) fn collect(errors: Vec<StartupError>) -> Result<(), StartupError> {
        let mut errors: Vec<StartupError> = errors
            .into_iter()
            .flat_map(|e| match e {
                StartupError::Many(more) => more,
                e => vec![e],
            })
            .collect();
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(StartupError::Many(errors)),
        }
    }
}
