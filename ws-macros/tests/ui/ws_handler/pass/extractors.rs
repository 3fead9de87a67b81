use serde::Deserialize;
use ws_core::http::{Extension, HeaderMap, Path, Query};
use ws_core::{ws_handler, Inject, Sender, WebSocket};

#[derive(Deserialize)]
pub struct Opts {
    pub since: Option<u64>,
}

#[derive(Clone)]
pub struct User(pub String);

#[ws_core::singleton]
pub struct Feeds;

#[ws_handler(server = "ws", path = "/feeds/{topic}")]
async fn feed(
    _ws: WebSocket,
    Path(_topic): Path<String>,
    Query(_opts): Query<Opts>,
    _headers: HeaderMap,
    _user: Option<Extension<User>>,
    _feeds: Inject<Feeds>,
    _sender: Sender,
) {
}

fn main() {}
