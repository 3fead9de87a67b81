//! A route guard (`#[middleware(paths = [..])]`) for a path with no route on its server stops
//! start-up, naming the middleware, the path and the routes the server has.

use ws_core::{middleware, App, Middleware, Rejection, RequestHead};
use ws_tests::test_config;

/// Guards a path nobody routes (a typo of the demo's `/push`).
#[middleware(server = "http", paths = ["/psuh"])]
#[derive(Debug)]
pub struct Misplaced;

impl Middleware for Misplaced {
    async fn handle(&self, _req: &mut RequestHead) -> Result<(), Rejection> {
        Ok(())
    }
}

#[test]
fn a_guard_for_a_path_without_a_route_stops_start_up() {
    let err = App::build(test_config()).expect_err("the misplaced guard is refused");
    let text = err.to_string();
    assert!(text.contains("Misplaced"), "{text}");
    assert!(text.contains("`/psuh`"), "{text}");
    assert!(text.contains("server `http`"), "{text}");
    assert!(
        text.contains("/push"),
        "the routes there are listed: {text}"
    );
}
