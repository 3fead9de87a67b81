//! A singleton cycle and a missing dependency stop start-up with the chain spelled out.

use ws_core::{singleton, App, Inject};
use ws_tests::test_config;

/// Needs `B`.
#[derive(Debug)]
pub struct A;
#[singleton]
impl A {
    /// Part of a cycle.
    pub fn new(_b: Inject<B>) -> Self {
        A
    }
}

/// Needs `A`.
#[singleton]
#[derive(Debug)]
pub struct B {
    #[inject]
    _a: Inject<A>,
}

/// Not registered.
#[derive(Debug)]
pub struct Unregistered;

/// Needs something nobody registered.
#[singleton]
#[derive(Debug)]
pub struct Lonely {
    #[inject]
    _u: Inject<Unregistered>,
}

/// An HTTP route that injects something nobody registered.
#[ws_core::http_route(server = "http", path = "/lonely")]
async fn lonely(_req: ws_core::http::Request, _u: Inject<Unregistered>) -> &'static str {
    "unreachable"
}

#[test]
fn cycle_and_missing_dependency_are_reported_together() {
    let err = App::build(test_config()).unwrap_err().to_string();
    assert!(
        err.contains("singletons_invalid::A -> singletons_invalid::B -> singletons_invalid::A")
            || err.contains(
                "singletons_invalid::B -> singletons_invalid::A -> singletons_invalid::B"
            ),
        "{err}"
    );
    assert!(
        err.contains("`singletons_invalid::Lonely`")
            && err.contains("needs singleton `singletons_invalid::Unregistered`"),
        "{err}"
    );
    assert!(err.contains("tests/singletons_invalid.rs:"), "{err}");
    assert!(
        err.contains("`singletons_invalid::lonely`") && err.contains("Unregistered"),
        "the HTTP route's injection is checked too: {err}"
    );
}
