use serde::Deserialize;
use ws_core::http::{
    Extension, FromRequest, HeaderMap, Json, Method, Path, Query, Request, StatusCode, Uri,
};
use ws_core::{http_route, Inject, QueryError, Sender};

#[derive(Deserialize)]
pub struct Page {
    pub n: u32,
}

#[derive(Deserialize)]
pub struct Note {
    pub text: String,
}

#[derive(Clone)]
pub struct User(pub String);

#[ws_core::singleton]
pub struct Counter;

pub struct Token(pub String);

impl FromRequest for Token {
    type Rejection = StatusCode;

    async fn from_request(req: &Request) -> Result<Self, StatusCode> {
        let token = req.header("authorization").ok_or(StatusCode::UNAUTHORIZED)?;
        Ok(Token(token.to_owned()))
    }
}

#[http_route(server = "http", path = "/none")]
pub async fn none() -> &'static str {
    "ok"
}

#[http_route(server = "http", method = "POST", path = "/rooms/{room}/notes/{n}")]
pub async fn all(
    Path((room, n)): Path<(String, u32)>,
    Query(page): Query<Page>,
    _counter: Inject<Counter>,
    req: Request,
    Extension(user): Extension<User>,
    _sender: Sender,
    Json(note): Json<Note>,
) -> String {
    format!("{room} {n} {} {} {} {}", page.n, user.0, note.text, req.path())
}

#[http_route(server = "http", method = "POST", path = "/parts")]
pub async fn parts(
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
    token: Option<Token>,
    page: Result<Query<Page>, QueryError>,
) -> String {
    format!(
        "{method} {uri} {} {body} {} {}",
        headers.len(),
        token.is_some(),
        page.is_ok()
    )
}

#[http_route(server = "http", path = "/token")]
pub async fn token(Token(token): Token) -> String {
    token
}

fn main() {}
