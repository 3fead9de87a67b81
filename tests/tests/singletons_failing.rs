//! A failing singleton constructor stops start-up, naming the singleton and its error.

use ws_core::{singleton, App};
use ws_tests::test_config;

/// Its constructor fails.
#[derive(Debug)]
pub struct Broken;

#[singleton]
impl Broken {
    /// Always fails.
    pub fn new() -> Result<Self, String> {
        Err("database unreachable".to_owned())
    }
}

#[test]
fn constructor_error_names_the_singleton() {
    let err = App::build(test_config()).unwrap_err().to_string();
    assert!(
        err.contains("singleton `singletons_failing::Broken`"),
        "{err}"
    );
    assert!(err.contains("database unreachable"), "{err}");
}
