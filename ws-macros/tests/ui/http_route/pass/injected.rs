use ws_core::http::{Request, Response, StatusCode};
use ws_core::{http_route, singleton, Config, Inject, LiveConfig, Sender};

pub trait Repo: Send + Sync {
    fn count(&self) -> usize;
}

#[singleton(provides = dyn Repo)]
pub struct Memory;
impl Repo for Memory {
    fn count(&self) -> usize {
        0
    }
}

#[http_route(server = "http", method = "POST", path = "/all")]
pub async fn all(
    req: Request,
    memory: Inject<Memory>,
    repo: Inject<dyn Repo>,
    _sender: Sender,
    _config: Config,
    live: LiveConfig,
) -> Result<String, (StatusCode, &'static str)> {
    let _ = (&memory, req.body(), live.get());
    Ok(repo.count().to_string())
}

#[http_route(server = "http", path = "/plain")]
pub async fn plain(_req: Request) -> Response {
    Response::text(StatusCode::OK, "ok")
}

fn main() {}
