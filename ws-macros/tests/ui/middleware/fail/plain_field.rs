use ws_core::{middleware, Middleware, Rejection, RequestHead};

#[middleware(server = "ws")]
pub struct Limit {
    max: usize,
}
impl Middleware for Limit {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        let _ = (req, self.max);
        Ok(())
    }
}

fn main() {}
