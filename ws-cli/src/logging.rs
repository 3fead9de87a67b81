//! tracing set-up from the config: level (changeable by `reload`), format (`text` or
//! `json`), optional log file, and the layers an app adds ([`log_layer!`](crate::log_layer)).
//!
//! One line per event. At `debug`, events inside a WebSocket connection carry its span,
//! `conn{conn=<id> server=<name> path=<route>}` in text, the same fields in `span` and `spans`
//! in JSON, so every line about a connection names it.
//!
//! The subscriber is, from the bottom: the registry, the app's layers, the `log_level`
//! filter (reloadable), the text or JSON writer. The filter is global: the app's layers see
//! exactly the spans and events that `log_level` lets through.

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};
use ws_core::{Config, LogFormat};

/// A tracing layer that an app adds to the subscriber ws-cli installs (an OpenTelemetry
/// layer, a metrics layer, a test's recorder). It is a layer of tracing-subscriber 0.3 over
/// its [`Registry`]: `Box::new(layer)`.
pub type LogLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Builds an app's [`LogLayer`] from the config. Called once when logging starts: after
/// `start -d` has detached (so a layer's background threads live in the daemon) and before
/// the Tokio runtime exists. An error stops the start, its message printed.
pub type LogLayerFn = fn(&Config) -> Result<LogLayer, Box<dyn std::error::Error + Send + Sync>>;

/// The app's layer builders, registered by [`log_layer!`](crate::log_layer).
#[doc(hidden)]
#[linkme::distributed_slice]
pub static LOG_LAYERS: [LogLayerFn];

/// Registers a function that builds a tracing layer for the subscriber ws-cli installs;
/// the app's `main` stays `ws_cli::main()`.
///
/// ```no_run
/// use tracing_subscriber::Layer;
///
/// /// Counts events (an OpenTelemetry layer is added the same way).
/// struct Counter;
/// impl<S: tracing::Subscriber> Layer<S> for Counter {
///     fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {}
/// }
///
/// fn counter(_config: &ws_core::Config) -> Result<ws_cli::LogLayer, Box<dyn std::error::Error + Send + Sync>> {
///     Ok(Box::new(Counter))
/// }
/// ws_cli::log_layer!(counter);
///
/// fn main() {
///     ws_cli::main()
/// }
/// ```
///
/// The argument is a [`LogLayerFn`]: a function or a closure that captures nothing. Layers
/// are registered at link time (like controllers): one in a library crate counts only when
/// the binary links that crate. Each registered function runs once, in no particular
/// order, when `start` or `restart` sets up logging; the layers see what `log_level` lets
/// through, whatever `log_format` is.
#[macro_export]
macro_rules! log_layer {
    ($build:expr $(,)?) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice($crate::__private::LOG_LAYERS)]
            #[linkme(crate = $crate::__private::linkme)]
            static LAYER: $crate::LogLayerFn = $build;
        };
    };
}

/// What the `log_level` filter sits on: the registry and the app's layers (none: `None`,
/// which unlike an empty list enables everything below the filter).
type Base = Layered<Option<Vec<LogLayer>>, Registry>;

/// Changes the log filter of the running process.
#[derive(Clone)]
pub(crate) struct LogLevel(reload::Handle<EnvFilter, Base>);

impl std::fmt::Debug for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogLevel")
    }
}

impl LogLevel {
    /// Checks that `level` is a valid filter, without applying it.
    pub(crate) fn check(level: &str) -> Result<(), String> {
        parse(level).map(drop)
    }

    /// Applies `level` (e.g. `debug` or `ws_core=trace`).
    pub(crate) fn set(&self, level: &str) -> Result<(), String> {
        let filter = parse(level)?;
        self.0
            .reload(filter)
            .map_err(|e| format!("cannot change the log level: {e}"))
    }
}

fn parse(level: &str) -> Result<EnvFilter, String> {
    EnvFilter::try_new(level).map_err(|e| format!("config key `log_level` = {level:?}: {e}"))
}

/// Installs the global subscriber: the app's layers, then one line (or JSON object) per
/// event, to the log file or standard error.
pub(crate) fn init(config: &Config) -> Result<LogLevel, String> {
    let mut app = Vec::new();
    for build in LOG_LAYERS {
        app.push(build(config).map_err(|e| format!("an app's log layer failed: {e}"))?);
    }
    let app = (!app.is_empty()).then_some(app);
    let (filter, handle) = reload::Layer::new(parse(&config.log_level)?);
    let (writer, ansi) = match &config.log_file {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("config key `log_file` = {}: {e}", path.display()))?;
            (BoxMakeWriter::new(Mutex::new(file)), false)
        }
        None => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none();
            (BoxMakeWriter::new(std::io::stderr), ansi)
        }
    };
    use tracing_subscriber::fmt::layer as fmt;
    let (text, json) = match config.log_format {
        LogFormat::Text => (
            Some(fmt().with_target(false).with_ansi(ansi).with_writer(writer)),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(fmt().json().with_ansi(false).with_writer(writer)),
        ),
    };
    tracing_subscriber::registry()
        .with(app)
        .with(filter)
        .with(text)
        .with(json)
        .try_init()
        .map_err(|e| format!("cannot install the logger: {e}"))?;
    Ok(LogLevel(handle))
}
