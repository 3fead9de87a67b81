//! [`IntoResponseParts`]: headers that a tuple adds to a response
//! (`(StatusCode::CREATED, [(header::LOCATION, "/notes/7")], Json(note))`), and [`Html`].

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};

use super::{Body, IntoResponse, Response};

/// Something that adds headers to a response: the middle items of a response tuple.
///
/// `HeaderMap` and `[(K, V); N]` (with `K` a header name or `&str`, `V` a header value or
/// `&str`/`String`) are parts; a name or value that is not a valid header makes the
/// response a 500 saying which.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot add headers to a response",
    note = "`HeaderMap` and `[(K, V); N]` of header names and values can; a status goes first: `(StatusCode, headers, body)`"
)]
pub trait IntoResponseParts {
    /// Adds the headers to `res` (or turns it into a 500 saying which header is invalid).
    fn into_response_parts(self, res: Response) -> Response;
}

impl IntoResponseParts for HeaderMap {
    fn into_response_parts(self, mut res: Response) -> Response {
        res.headers.extend(self);
        res
    }
}

impl<K, V, const N: usize> IntoResponseParts for [(K, V); N]
where
    K: TryInto<HeaderName>,
    K::Error: std::fmt::Display,
    V: TryInto<HeaderValue>,
    V::Error: std::fmt::Display,
{
    fn into_response_parts(self, mut res: Response) -> Response {
        for (k, v) in self {
            let name = match k.try_into() {
                Ok(name) => name,
                Err(e) => return invalid(format!("an invalid header name: {e}")),
            };
            match v.try_into() {
                Ok(value) => {
                    res.headers.insert(name, value);
                }
                Err(e) => return invalid(format!("an invalid value of header `{name}`: {e}")),
            }
        }
        res
    }
}

fn invalid(what: String) -> Response {
    tracing::error!("a response has {what}");
    Response::text(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the response has {what}\n"),
    )
}

/// `(P1, .., T)` and `(StatusCode, P1, .., T)`: `T`'s response with each part's headers, in
/// order, and the status.
macro_rules! tuples {
    ($($p:ident),+) => {
        #[allow(non_snake_case)]
        impl<$($p: IntoResponseParts,)+ T: IntoResponse> IntoResponse for ($($p,)+ T) {
            fn into_response(self) -> Response {
                let ($($p,)+ body) = self;
                let res = body.into_response();
                $(let res = $p.into_response_parts(res);)+
                res
            }
        }

        #[allow(non_snake_case)]
        impl<$($p: IntoResponseParts,)+ T: IntoResponse> IntoResponse
            for (StatusCode, $($p,)+ T)
        {
            fn into_response(self) -> Response {
                let (status, $($p,)+ body) = self;
                let mut res = body.into_response();
                res.status = status;
                // A part that is not a valid header turns the response into a 500.
                $(let res = $p.into_response_parts(res);)+
                res
            }
        }
    };
}

tuples!(P1);
tuples!(P1, P2);
tuples!(P1, P2, P3);

/// An HTML page: 200 with `Content-Type: text/html; charset=utf-8`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Html<T>(pub T);

impl<T: Into<Body>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        let mut r = Response::new(StatusCode::OK, self.0);
        r.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    }
}

#[cfg(test)]
mod tests {
    use http::header::{LOCATION, RETRY_AFTER};

    use super::*;
    use crate::http::Json;

    #[test]
    fn status_headers_and_body() {
        let r = (
            StatusCode::CREATED,
            [(LOCATION, "/notes/7")],
            Json(serde_json::json!({"id": 7})),
        )
            .into_response();
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.headers[LOCATION], "/notes/7");
        assert_eq!(r.headers[CONTENT_TYPE], "application/json");

        let mut map = HeaderMap::new();
        map.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        let r = (map, [("x-a", "1")], "busy").into_response();
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers[RETRY_AFTER], "5");
        assert_eq!(r.headers["x-a"], "1");
    }

    #[test]
    fn an_invalid_header_is_a_500_that_says_which() {
        let r = (StatusCode::OK, [("x-bad", "a\nb")], "x").into_response();
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        let text = format!("{:?}", r.body);
        assert!(text.contains("x-bad"), "{text}");
    }
}
