//! Arguments of an `#[http_route]` function, and of a `#[ws_handler]` after its socket:
//! extractors, taken from each request or handshake ([`FromRequest`]: [`Path`], [`Query`],
//! [`Json`], [`Form`], [`Extension`], the body, the head's parts, the peer's address and
//! certificate, the whole [`Request`] for a route), and values injected once at start-up
//! (`Inject<T>`, `Settings<T>`, `Sender`, `Config`, `LiveConfig`), in any order.
//!
//! A route's body has been read whole (within `max_http_body`) before any extractor runs, so
//! every extractor borrows the request and the order of the arguments does not matter: the
//! [`Request`] itself, taken by value, is handed over after the others have looked at it. A
//! handshake has no body; its arguments are taken before the upgrade, so a refusal answers it.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use serde::de::DeserializeOwned;

use super::json::{self, Json, JsonRejection};
use super::{IntoResponse, Request, Response};
use crate::client_cert::ClientCert;
use crate::config::{Config, LiveConfig};
use crate::di::{Dep, FromResolver, Inject, Resolver};
use crate::error::{Origin, StartupError};
use crate::params::{self, ParamError, PathParams};
use crate::push::Sender;
use crate::request::{QueryError, Rejection};
use crate::settings::{MiddlewareSettings, Settings};

/// A value an `#[http_route]` takes from the request it answers (or a `#[ws_handler]` from its
/// handshake): implement it for an extractor of your own (a session from a cookie, a user a
/// middleware authenticated).
///
/// The body was read before the route runs, so `from_request` reads all of it through
/// `&Request` (head, [`body`](Request::body), extensions). A rejection answers the request in
/// place of the route.
///
/// ```
/// use ws_core::http::{FromRequest, Request, StatusCode};
///
/// /// The caller's API key, from `x-api-key`; 401 without one.
/// struct ApiKey(String);
///
/// impl FromRequest for ApiKey {
///     type Rejection = (StatusCode, &'static str);
///
///     async fn from_request(req: &Request) -> Result<Self, Self::Rejection> {
///         req.header("x-api-key")
///             .map(|key| ApiKey(key.to_owned()))
///             .ok_or((StatusCode::UNAUTHORIZED, "x-api-key is missing\n"))
///     }
/// }
///
/// #[ws_core::http_route(server = "http", path = "/whoami")]
/// async fn whoami(ApiKey(key): ApiKey) -> String {
///     format!("key {key}\n")
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an argument an `#[http_route]` or `#[ws_handler]` can take",
    label = "neither taken from the request nor injected",
    note = "taken from each request: `Request`, `Path<T>`, `Query<T>`, `Json<T>`, `Form<T>`, `Extension<T>`, `HeaderMap`, `Method`, `Uri`, `SocketAddr`, `ClientCert`, `Bytes`, `String`, `Option<E>`, `Result<E, _>`, or your own `impl FromRequest`",
    note = "injected once at start-up: `Inject<T>` (T a #[singleton], or a `dyn Trait` that one provides), `Settings<T>`, `Sender`, `Config`, `LiveConfig`"
)]
pub trait FromRequest: Sized {
    /// What answers the request when the value cannot be taken from it.
    type Rejection: IntoResponse;

    /// Takes the value from `req`.
    fn from_request(req: &Request) -> impl Future<Output = Result<Self, Self::Rejection>> + Send;
}

/// The route's path parameters deserialized into `T`: one value when the pattern has one
/// (`Path<u64>` on `/rooms/{id}`), a tuple in the pattern's order (`Path<(String, u32)>` on
/// `/rooms/{room}/messages/{n}`), or a struct (or map) by name. Each value is percent-decoded
/// and parsed with `FromStr` into its field's type.
///
/// A value that does not parse is a 400 naming the parameter and why; parameters that do not
/// fit `T` (a tuple of another length, a field the pattern lacks) are a 500, since the route
/// and its pattern disagree. Both are a [`ParamError`].
///
/// ```
/// use ws_core::http::Path;
///
/// // GET /rooms/42/messages/7 -> "message 7 of room 42"; /rooms/x/messages/7 -> 400
/// // "path parameter `room`: \"x\" is not valid: invalid digit found in string"
/// #[ws_core::http_route(server = "http", path = "/rooms/{room}/messages/{n}")]
/// async fn message(Path((room, n)): Path<(u64, u32)>) -> String {
///     format!("message {n} of room {room}")
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest for Path<T> {
    type Rejection = ParamError;

    async fn from_request(req: &Request) -> Result<Self, ParamError> {
        params::deserialize(req.extensions().get::<PathParams>()).map(Path)
    }
}

/// The query string deserialized into `T` ([`RequestHead::query_as`](crate::RequestHead::query_as):
/// `serde_urlencoded`, no query is an empty one); a 400 [`QueryError`] when it does not fit.
///
/// ```
/// use serde::Deserialize;
/// use ws_core::http::Query;
///
/// #[derive(Deserialize)]
/// struct Page {
///     n: u32,
///     size: Option<u32>,
/// }
///
/// #[ws_core::http_route(server = "http", path = "/messages")]
/// async fn messages(Query(page): Query<Page>) -> String {
///     format!("page {} of {}", page.n, page.size.unwrap_or(20))
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest for Query<T> {
    type Rejection = QueryError;

    async fn from_request(req: &Request) -> Result<Self, QueryError> {
        req.query_as().map(Query)
    }
}

/// The body as JSON ([`Request::json`]): 415 without `Content-Type: application/json`, 400
/// for malformed JSON, 422 for JSON that does not fit `T`, each saying why.
impl<T: DeserializeOwned + Send> FromRequest for Json<T> {
    type Rejection = JsonRejection;

    async fn from_request(req: &Request) -> Result<Self, JsonRejection> {
        json::from_request(&req.head, &req.body).map(Json)
    }
}

/// The body as a form (`application/x-www-form-urlencoded`, what an HTML `<form method=post>`
/// sends) deserialized into `T` with `serde_urlencoded`: 415 for another content type, 422
/// saying why for a form that does not fit `T`.
///
/// ```
/// use serde::Deserialize;
/// use ws_core::http::Form;
///
/// #[derive(Deserialize)]
/// struct Login {
///     name: String,
/// }
///
/// #[ws_core::http_route(server = "http", method = "POST", path = "/login")]
/// async fn login(Form(login): Form<Login>) -> String {
///     format!("hello {}", login.name)
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest for Form<T> {
    type Rejection = Rejection;

    async fn from_request(req: &Request) -> Result<Self, Rejection> {
        let form = req.header("content-type").is_some_and(|t| {
            t.split(';').next().is_some_and(|essence| {
                essence
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
        if !form {
            return Err(Rejection::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a form: `Content-Type: application/x-www-form-urlencoded`\n",
            ));
        }
        serde_urlencoded::from_bytes(req.body())
            .map(Form)
            .map_err(|e| {
                Rejection::new(StatusCode::UNPROCESSABLE_ENTITY, format!("bad form: {e}\n"))
            })
    }
}

/// The address of the client (the peer of the connection; behind a proxy, the proxy's).
impl FromRequest for SocketAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: &Request) -> Result<Self, Self::Rejection> {
        Ok(req.peer_addr())
    }
}

/// The certificate the client presented (on a server with `tls_client_ca`); 403 without one.
/// `Option<ClientCert>` for a route that serves both.
impl FromRequest for ClientCert {
    type Rejection = Rejection;

    async fn from_request(req: &Request) -> Result<Self, Rejection> {
        req.client_cert()
            .cloned()
            .ok_or_else(|| Rejection::forbidden("this route needs a client certificate\n"))
    }
}

/// A value a middleware put into the request's extensions (`req.extensions_mut().insert(..)`
/// in `check` or a wrapping middleware), cloned. Without one the route was reached without
/// the middleware that provides it, the app's mistake: 500 naming the type.
///
/// ```
/// use ws_core::http::Extension;
///
/// #[derive(Clone)]
/// struct User(String);
///
/// // A middleware on this route authenticated the caller and inserted a `User`.
/// #[ws_core::http_route(server = "http", path = "/me")]
/// async fn me(Extension(user): Extension<User>) -> String {
///     user.0
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extension<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromRequest for Extension<T> {
    type Rejection = Rejection;

    async fn from_request(req: &Request) -> Result<Self, Rejection> {
        req.extensions()
            .get::<T>()
            .cloned()
            .map(Extension)
            .ok_or_else(|| {
                tracing::error!(
                    extension = std::any::type_name::<T>(),
                    path = req.path(),
                    "a route takes an extension that no middleware inserted"
                );
                Rejection::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "no `{}` in the request's extensions\n",
                        std::any::type_name::<T>()
                    ),
                )
            })
    }
}

/// The request's headers.
impl FromRequest for HeaderMap {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: &Request) -> Result<Self, Self::Rejection> {
        Ok(req.headers().clone())
    }
}

/// The request's method.
impl FromRequest for Method {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: &Request) -> Result<Self, Self::Rejection> {
        Ok(req.method().clone())
    }
}

/// The request's URI.
impl FromRequest for Uri {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: &Request) -> Result<Self, Self::Rejection> {
        Ok(req.uri().clone())
    }
}

/// The body (no copy: the read body's bytes are shared).
impl FromRequest for Bytes {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: &Request) -> Result<Self, Self::Rejection> {
        Ok(req.body().clone())
    }
}

/// The body as text: 400 when it is not UTF-8.
impl FromRequest for String {
    type Rejection = Rejection;

    async fn from_request(req: &Request) -> Result<Self, Rejection> {
        match std::str::from_utf8(req.body()) {
            Ok(text) => Ok(text.to_owned()),
            Err(e) => Err(Rejection::new(
                StatusCode::BAD_REQUEST,
                format!("the request body is not UTF-8: {e}\n"),
            )),
        }
    }
}

/// `None` where `T` would reject the request.
impl<T: FromRequest + Send> FromRequest for Option<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: &Request) -> Result<Self, Self::Rejection> {
        Ok(T::from_request(req).await.ok())
    }
}

/// `T`'s rejection for the route to handle itself.
impl<T: FromRequest + Send> FromRequest for Result<T, T::Rejection>
where
    T::Rejection: Send,
{
    type Rejection = std::convert::Infallible;

    async fn from_request(req: &Request) -> Result<Self, Self::Rejection> {
        Ok(T::from_request(req).await)
    }
}

/// An argument of an `#[http_route]` function, as the generated code takes it: `prepare`d
/// once at start-up (an injected value is resolved there), `extract`ed for each request from
/// a borrowed request, then `finish`ed once every argument has looked at the request (the
/// `Request` itself is moved out there, so its place among the arguments does not matter).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an argument an `#[http_route]` or `#[ws_handler]` can take",
    label = "neither taken from the request nor injected",
    note = "taken from each request: `Request`, `Path<T>`, `Query<T>`, `Json<T>`, `Form<T>`, `Extension<T>`, `HeaderMap`, `Method`, `Uri`, `SocketAddr`, `ClientCert`, `Bytes`, `String`, `Option<E>`, `Result<E, _>`, or your own `impl FromRequest`",
    note = "injected once at start-up: `Inject<T>` (T a #[singleton], or a `dyn Trait` that one provides), `Settings<T>`, `Sender`, `Config`, `LiveConfig`"
)]
pub trait RouteArg: Sized + Send + 'static {
    /// What start-up resolves for the argument.
    type State: Send + Sync + 'static;
    /// What extraction holds until `finish`.
    type Pending: Send;
    /// The singleton the argument depends on, if any.
    const DEPENDENCY: Option<Dep> = None;
    /// Whether `finish` moves the request out (one argument at most may).
    const TAKES_REQUEST: bool = false;

    /// Resolves what the argument needs from the app, once.
    fn prepare(r: &Resolver<'_>, origin: Origin) -> Result<Self::State, StartupError>;

    /// Takes the argument's part of a request; an error answers it.
    fn extract<'a>(
        state: &'a Self::State,
        req: &'a Request,
    ) -> impl Future<Output = Result<Self::Pending, Response>> + Send + 'a;

    /// The argument, once every one has been extracted; `req` is the request until an
    /// argument that [takes it](Self::TAKES_REQUEST) moves it out (`None`: a second argument
    /// asked for it, which generated code rules out at compile time).
    fn finish(pending: Self::Pending, req: &mut Option<Request>) -> Option<Self>;
}

impl<T: FromRequest + Send + 'static> RouteArg for T {
    type State = ();
    type Pending = T;

    fn prepare(_: &Resolver<'_>, _: Origin) -> Result<(), StartupError> {
        Ok(())
    }

    async fn extract(_: &(), req: &Request) -> Result<T, Response> {
        T::from_request(req)
            .await
            .map_err(IntoResponse::into_response)
    }

    fn finish(pending: T, _: &mut Option<Request>) -> Option<T> {
        Some(pending)
    }
}

/// The whole request, by value.
impl RouteArg for Request {
    type State = ();
    type Pending = ();
    const TAKES_REQUEST: bool = true;

    fn prepare(_: &Resolver<'_>, _: Origin) -> Result<(), StartupError> {
        Ok(())
    }

    async fn extract(_: &(), _: &Request) -> Result<(), Response> {
        Ok(())
    }

    fn finish(_: (), req: &mut Option<Request>) -> Option<Request> {
        req.take()
    }
}

/// Injected values: resolved at start-up, cloned for each request.
macro_rules! injected {
    ($([$($generics:tt)*] $ty:ty;)*) => {$(
        impl<$($generics)*> RouteArg for $ty {
            type State = $ty;
            type Pending = $ty;
            const DEPENDENCY: Option<Dep> = <$ty as FromResolver>::DEPENDENCY;

            fn prepare(r: &Resolver<'_>, origin: Origin) -> Result<$ty, StartupError> {
                <$ty as FromResolver>::from_resolver(r, origin)
            }

            fn extract<'a>(
                state: &'a $ty,
                _: &'a Request,
            ) -> impl Future<Output = Result<$ty, Response>> + Send + 'a {
                std::future::ready(Ok(state.clone()))
            }

            fn finish(pending: $ty, _: &mut Option<Request>) -> Option<$ty> {
                Some(pending)
            }
        }
    )*};
}

injected! {
    [T: ?Sized + Send + Sync + 'static] Inject<T>;
    [T: MiddlewareSettings] Settings<T>;
    [] Sender;
    [] Config;
    [] LiveConfig;
}

/// What answers a request whose route took it by value twice: never sent, since
/// [`request_taken_once`] fails such a route's build.
#[doc(hidden)]
pub fn request_taken_twice() -> Response {
    Response::text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the route takes the request twice\n",
    )
}

/// Fails the build of a route whose arguments take the request by value more than once.
#[doc(hidden)]
pub const fn request_taken_once(takes: &[bool]) {
    let mut taken = 0;
    let mut i = 0;
    while i < takes.len() {
        if takes[i] {
            taken += 1;
        }
        i += 1;
    }
    assert!(
        taken <= 1,
        "an HTTP route takes the `Request` by value once at most"
    );
}

/// Fails the build of a `#[ws_handler]` whose arguments take the request by value: the
/// handshake's request goes on to become the connection.
#[doc(hidden)]
pub const fn request_not_taken(takes: &[bool]) {
    let mut i = 0;
    while i < takes.len() {
        assert!(
            !takes[i],
            "a WebSocket handler cannot take the `Request` by value: take what it needs from the \
             handshake (`Path<T>`, `Query<T>`, `HeaderMap`, `Extension<T>`, ...)"
        );
        i += 1;
    }
}
