use ws_core::http::Request;
use ws_core::{http_route, ws_controller, Conn, Controller, HookResult, QueryError};

#[derive(serde::Deserialize)]
pub struct Page {
    pub n: u32,
}

#[http_route(server = "http", path = "/rooms/{id}")]
pub async fn room(req: Request) -> Result<String, QueryError> {
    let page: Page = req.query_as()?;
    Ok(format!("{} {}", req.param("id").unwrap_or(""), page.n))
}

#[http_route(server = "http", path = "/files/{*path}")]
pub async fn file(req: Request) -> String {
    req.param("path").unwrap_or("").to_owned()
}

#[ws_controller(server = "ws", path = "/chat/{room}")]
pub struct Chat;
impl Controller for Chat {
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let room = cx.param("room").unwrap_or("lobby").to_owned();
        cx.send(room).await?;
        Ok(())
    }
}

fn main() {}
