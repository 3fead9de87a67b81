//! Every missing dependency of every registration is reported at once, before anything is
//! built: two registrations that need the same missing singleton are both named, and one
//! registration that needs two is named twice.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::atomic::{AtomicUsize, Ordering};

use ws_core::http::Request;
use ws_core::{
    http_route, middleware, singleton, ws_controller, ws_handler, App, Controller, Inject,
    Middleware, Rejection, RequestHead, StartupError, WebSocket,
};
use ws_tests::test_config;

/// Not registered.
#[derive(Debug)]
pub struct Missing;

/// Provided by no singleton.
pub trait Absent: Send + Sync {}

impl std::fmt::Debug for dyn Absent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Absent")
    }
}

static BUILT: AtomicUsize = AtomicUsize::new(0);

/// A valid singleton: never built, since start-up stops first.
#[singleton(default)]
#[derive(Debug)]
pub struct Fine;
impl Default for Fine {
    fn default() -> Self {
        BUILT.fetch_add(1, Ordering::SeqCst);
        Fine
    }
}

/// Needs both.
#[ws_controller(server = "ws", path = "/one")]
#[derive(Debug)]
pub struct One {
    #[inject]
    _missing: Inject<Missing>,
    #[inject]
    _absent: Inject<dyn Absent>,
    #[inject]
    _fine: Inject<Fine>,
}
impl Controller for One {}

/// Needs `Missing` too.
#[ws_controller(server = "ws", path = "/two")]
#[derive(Debug)]
pub struct Two {
    #[inject]
    _missing: Inject<Missing>,
}
impl Controller for Two {}

/// Middleware needs it.
#[middleware(server = "ws")]
#[derive(Debug)]
pub struct Guard {
    #[inject]
    _missing: Inject<Missing>,
}
impl Middleware for Guard {
    async fn handle(&self, _req: &mut RequestHead) -> Result<(), Rejection> {
        Ok(())
    }
}

/// A handler needs it.
#[ws_handler(server = "ws", path = "/three")]
async fn three(_ws: WebSocket, _missing: Inject<Missing>) {}

/// An HTTP route needs it.
#[http_route(server = "http", path = "/four")]
async fn four(_req: Request, _missing: Inject<Missing>) -> &'static str {
    "unreachable"
}

/// A singleton struct needs it.
#[singleton]
#[derive(Debug)]
pub struct Needy {
    #[inject]
    _missing: Inject<Missing>,
}

/// A singleton constructor needs the trait object.
#[derive(Debug)]
pub struct Built;
#[singleton]
impl Built {
    /// Never called.
    pub fn new(_absent: Inject<dyn Absent>) -> Self {
        Built
    }
}

#[test]
fn every_missing_dependency_of_every_registration_is_reported() {
    let err = App::build(test_config()).unwrap_err();
    let text = err.to_string();
    let StartupError::Many(problems) = &err else {
        panic!("expected several problems, got {text}");
    };
    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let reported = |who: &str, needs: &str, hint: &str| {
        problems.iter().any(|p| {
            p.starts_with(&format!(
                "`singletons_missing::{who}` (tests/tests/singletons_missing.rs:"
            )) && p.ends_with(&format!(
                "needs singleton `{needs}`, which is not registered; {hint}"
            ))
        })
    };
    for who in ["One", "Two", "Guard", "three", "four", "Needy"] {
        assert!(
            reported(who, "singletons_missing::Missing", "add #[singleton] to it"),
            "{who} needs `Missing`: {text}"
        );
    }
    for who in ["One", "Built"] {
        assert!(
            reported(
                who,
                "dyn singletons_missing::Absent",
                "add #[singleton(provides = dyn singletons_missing::Absent)] to the type that \
                 implements it"
            ),
            "{who} needs `dyn Absent`: {text}"
        );
    }
    assert_eq!(problems.len(), 8, "{text}");
    assert_eq!(BUILT.load(Ordering::SeqCst), 0, "nothing was built");
}
