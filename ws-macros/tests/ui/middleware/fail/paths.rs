use ws_core::{middleware, Middleware, Rejection, RequestHead};

// `paths` names routes of one server.
#[middleware(global, paths = ["/push"])]
pub struct Everywhere;
impl Middleware for Everywhere {
    async fn handle(&self, _req: &mut RequestHead) -> Result<(), Rejection> {
        Ok(())
    }
}

// Each path is checked like a route's.
#[middleware(server = "http", paths = ["/push", "no-slash"])]
pub struct Guard;
impl Middleware for Guard {
    async fn handle(&self, _req: &mut RequestHead) -> Result<(), Rejection> {
        Ok(())
    }
}

fn main() {}
