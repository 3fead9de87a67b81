//! [`Json<T>`]: a JSON response body, and the request body read as JSON
//! ([`Request::json`](super::Request::json)) with the [`JsonRejection`] that says what is
//! wrong.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{IntoResponse, Response};
use crate::request::{Rejection, RequestHead};

/// A JSON body: `Json(value)` as a response is 200 with `Content-Type: application/json`
/// (500, saying why, when `value` does not serialize); a request body is read as JSON with
/// [`Request::json`](super::Request::json) or [`Json::from_bytes`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => {
                let mut r = Response::new(StatusCode::OK, body);
                r.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r
            }
            Err(e) => {
                tracing::error!("a JSON response did not serialize: {e}");
                Response::text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the response did not serialize to JSON: {e}\n"),
                )
            }
        }
    }
}

impl<T: DeserializeOwned> Json<T> {
    /// `bytes` as JSON, deserialized into `T` (the content type is not looked at).
    ///
    /// # Errors
    ///
    /// Malformed JSON (400) or JSON that does not fit `T` (422).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, JsonRejection> {
        serde_json::from_slice(bytes).map(Json).map_err(|e| {
            let kind = match e.classify() {
                serde_json::error::Category::Data => Kind::Data,
                _ => Kind::Syntax,
            };
            JsonRejection {
                kind,
                reason: e.to_string(),
            }
        })
    }
}

/// A request body that is not the JSON asked for ([`Request::json`](super::Request::json)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct JsonRejection {
    kind: Kind,
    reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ContentType,
    Syntax,
    Data,
}

impl JsonRejection {
    /// The status the client gets: 415 (not `application/json`), 400 (malformed JSON) or 422
    /// (JSON that does not fit the type).
    pub fn status(&self) -> StatusCode {
        match self.kind {
            Kind::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::Syntax => StatusCode::BAD_REQUEST,
            Kind::Data => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// What serde said is wrong, or the content type that was sent.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    fn message(&self) -> String {
        match self.kind {
            Kind::ContentType => format!(
                "expected a JSON body with `Content-Type: application/json`, got {}",
                self.reason
            ),
            Kind::Syntax => format!("malformed JSON body: {}", self.reason),
            Kind::Data => format!("the JSON body does not fit: {}", self.reason),
        }
    }
}

/// Its status, and the reason as text.
impl IntoResponse for JsonRejection {
    fn into_response(self) -> Response {
        Rejection::from(self).into()
    }
}

impl From<JsonRejection> for Rejection {
    fn from(e: JsonRejection) -> Self {
        Self::new(e.status(), format!("{e}\n"))
    }
}

/// Whether `head` says its body is JSON: `application/json` or `application/*+json`, with
/// any parameters.
fn is_json(head: &RequestHead) -> Result<(), JsonRejection> {
    let sent = head.header("content-type");
    let essence = sent
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let ok = essence.as_deref().is_some_and(|m| {
        m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
    });
    if ok {
        Ok(())
    } else {
        Err(JsonRejection {
            kind: Kind::ContentType,
            reason: sent.map_or_else(|| "none".to_owned(), |v| format!("`{v}`")),
        })
    }
}

pub(super) fn from_request<T: DeserializeOwned>(
    head: &RequestHead,
    body: &Bytes,
) -> Result<T, JsonRejection> {
    is_json(head)?;
    Json::from_bytes(body).map(|Json(t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, serde::Serialize, PartialEq)]
    struct Note {
        n: u32,
    }

    #[test]
    fn statuses_say_what_is_wrong() {
        let e = Json::<Note>::from_bytes(b"{\"n\": ").unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(e.to_string().starts_with("malformed JSON body: "), "{e}");
        let e = Json::<Note>::from_bytes(b"{\"n\": \"x\"}").unwrap_err();
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.to_string().contains("invalid type"), "{e}");
        assert_eq!(
            Json::<Note>::from_bytes(b"{\"n\": 3}").unwrap(),
            Json(Note { n: 3 })
        );
    }

    #[tokio::test]
    async fn serializes_with_its_content_type() {
        let r = Json(Note { n: 1 }).into_response();
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers[CONTENT_TYPE], "application/json");
        assert_eq!(&r.body.collect().await.unwrap()[..], b"{\"n\":1}");
    }
}
