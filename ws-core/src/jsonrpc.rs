//! A bundled JSON-RPC 2.0 protocol (Resonance's RPC): methods declared with `#[rpc_methods]`
//! on an impl block and `#[rpc(name = "..")]` on its methods, typed params and results
//! through serde, requests, notifications and batches, and the standard errors with the
//! request id kept.
//!
//! ```
//! use ws_core::jsonrpc::{self, RpcError, Value};
//! use ws_core::{rpc_methods, ws_controller, Conn, Controller, HookResult, Message};
//!
//! #[ws_controller(server = "ws", path = "/rpc", protocol = "jsonrpc", protocol_required)]
//! #[derive(Default)]
//! pub struct Rpc;
//!
//! #[rpc_methods]
//! impl Rpc {
//!     #[rpc(name = "echo")]
//!     async fn echo(&self, params: Value) -> Result<Value, RpcError> {
//!         Ok(params)
//!     }
//! }
//!
//! impl Controller for Rpc {
//!     async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
//!         jsonrpc::serve(self, cx, msg).await
//!     }
//! }
//! ```
//!
//! Server-initiated notifications go through the [`Sender`](crate::Sender):
//! `sender.push(id, jsonrpc::notification("tick", json)).await`.

use serde::de::DeserializeOwned;
use serde::Serialize;
pub use serde_json::{json, Number, Value};

use crate::config::ServerName;
use crate::conn::Conn;
use crate::controller::HookResult;
use crate::future::BoxFuture;
use crate::message::Message;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct RpcError {
    /// The code: -32700 parse error, -32600 invalid request, -32601 method not found,
    /// -32602 invalid params, -32603 internal error, or an application code.
    pub code: i64,
    /// A short description.
    pub message: String,
    /// Details, if any.
    pub data: Option<Value>,
}

impl RpcError {
    /// An application error with its own code.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }
    /// Adds details.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
    /// -32700: the message is not JSON.
    pub fn parse_error(detail: impl std::fmt::Display) -> Self {
        Self::new(-32700, "Parse error").with_data(Value::String(detail.to_string()))
    }
    /// -32600: the JSON is not a valid request object.
    pub fn invalid_request(detail: &str) -> Self {
        Self::new(-32600, "Invalid Request").with_data(Value::String(detail.to_owned()))
    }
    /// -32601: no such method.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(-32601, "Method not found").with_data(Value::String(method.to_owned()))
    }
    /// -32602: the params don't fit the method.
    pub fn invalid_params(detail: impl std::fmt::Display) -> Self {
        Self::new(-32602, "Invalid params").with_data(Value::String(detail.to_string()))
    }
    /// -32603: the method failed.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(-32603, "Internal error").with_data(Value::String(detail.to_string()))
    }

    fn to_json(&self) -> Value {
        let mut obj = serde_json::Map::new();
        obj.insert("code".into(), Value::from(self.code));
        obj.insert("message".into(), Value::String(self.message.clone()));
        if let Some(data) = &self.data {
            obj.insert("data".into(), data.clone());
        }
        Value::Object(obj)
    }
}

/// The methods of a JSON-RPC service; implemented by `#[rpc_methods]`.
pub trait RpcMethods: Send + Sync + 'static {
    /// The method names.
    const METHODS: &'static [&'static str];

    /// Calls `method` with `params` (absent: `None`). Unknown methods are
    /// [`RpcError::method_not_found`].
    fn call<'a>(
        &'a self,
        cx: &'a mut Conn,
        method: &'a str,
        params: Option<Value>,
    ) -> BoxFuture<'a, Result<Value, RpcError>>;
}

/// Handles one WebSocket message as JSON-RPC: a request, a notification or a batch, and sends
/// the response (none for notifications).
pub async fn serve<T: RpcMethods>(service: &T, cx: &mut Conn, msg: Message) -> HookResult {
    if let Some(reply) = handle(service, cx, msg.as_bytes()).await {
        cx.send(reply).await?;
    }
    Ok(())
}

/// The response text for one incoming message, if it needs one.
///
/// A batch is bounded by its server's config: it is read no further than `jsonrpc_max_batch`
/// requests (a longer one is answered with one -32600 error, without running any of it), its
/// reply may be at most `jsonrpc_max_reply` bytes (past that, the rest of the batch is not run
/// and the reply is one -32600 error), and it lets other tasks run every
/// [`YIELD_EVERY`] requests.
pub async fn handle<T: RpcMethods>(service: &T, cx: &mut Conn, text: &[u8]) -> Option<String> {
    let settings = cx.settings();
    let limits = Limits {
        max_batch: settings.jsonrpc_max_batch,
        max_reply: settings.jsonrpc_max_reply,
    };
    match dispatch(&mut OnConn { service, cx }, text, limits).await {
        Ok(reply) => reply,
        Err(over) => Some(over.response(limits, cx.server())),
    }
}

/// A batch's bounds (the server's `jsonrpc_max_batch` and `jsonrpc_max_reply`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_batch: usize,
    pub(crate) max_reply: usize,
}

/// A batch past one of its [`Limits`]: answered with one -32600 error that names the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OverLimit {
    Batch,
    Reply,
}

impl OverLimit {
    /// The error response, naming the config key of `server` that set the limit.
    pub(crate) fn response(self, limits: Limits, server: &ServerName) -> String {
        let detail = match self {
            Self::Batch => format!(
                "a batch holds at most {} requests (config servers.{server}.jsonrpc_max_batch)",
                limits.max_batch
            ),
            Self::Reply => format!(
                "the reply to this batch is over {} bytes (config servers.{server}.jsonrpc_max_reply)",
                limits.max_reply
            ),
        };
        error_response(Value::Null, &RpcError::invalid_request(&detail)).to_string()
    }
}

/// Where the requests of a message go: a service on a connection, or (for fuzzing) any
/// method table.
pub(crate) trait Call {
    fn call<'a>(
        &'a mut self,
        method: &'a str,
        params: Option<Value>,
    ) -> BoxFuture<'a, Result<Value, RpcError>>;
}

/// A service's methods, called with the connection of the message.
struct OnConn<'c, T> {
    service: &'c T,
    cx: &'c mut Conn,
}

impl<T: RpcMethods> Call for OnConn<'_, T> {
    fn call<'a>(
        &'a mut self,
        method: &'a str,
        params: Option<Value>,
    ) -> BoxFuture<'a, Result<Value, RpcError>> {
        self.service.call(self.cx, method, params)
    }
}

/// The response text for one incoming message, if it needs one, or the limit the message
/// went past (see [`handle`]).
pub(crate) async fn dispatch(
    calls: &mut impl Call,
    text: &[u8],
    limits: Limits,
) -> Result<Option<String>, OverLimit> {
    let items = match parse_off_worker(text, limits.max_batch).await {
        Ok(Incoming::One(value)) => {
            return Ok(call_one(calls, value).await.map(|r| r.to_string()));
        }
        Ok(Incoming::Batch(items)) => items,
        Err(Refused::TooLong) => return Err(OverLimit::Batch),
        Err(Refused::NotJson(e)) => {
            return Ok(Some(
                error_response(Value::Null, &RpcError::parse_error(e)).to_string(),
            ));
        }
    };
    if items.is_empty() {
        return Ok(Some(
            error_response(Value::Null, &RpcError::invalid_request("empty batch")).to_string(),
        ));
    }
    let mut reply = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i % YIELD_EVERY == YIELD_EVERY - 1 {
            tokio::task::yield_now().await;
        }
        let Some(response) = call_one(calls, item).await else {
            continue;
        };
        let response = response.to_string();
        // The closing `]` and a separating `,` count too.
        if reply.len() + response.len() + 2 > limits.max_reply {
            return Err(OverLimit::Reply);
        }
        if reply.len() > 1 {
            reply.push(',');
        }
        reply.push_str(&response);
    }
    reply.push(']');
    // A batch of notifications only gets no reply at all.
    Ok((reply.len() > 2).then_some(reply))
}

/// How many requests of a batch run before the batch lets other tasks run.
pub const YIELD_EVERY: usize = 64;

/// An incoming message, parsed.
enum Incoming {
    One(Value),
    Batch(Vec<Value>),
}

/// Why a message is not answered request by request.
enum Refused {
    /// A batch of more than the limit (read no further).
    TooLong,
    /// Not JSON.
    NotJson(serde_json::Error),
}

/// Messages up to this size are parsed where they arrive; larger ones on the blocking pool.
pub(crate) const PARSE_INLINE_MAX: usize = 64 << 10;

/// Large parses at once on the blocking pool; more wait for a turn (only their own
/// connections wait).
static PARSERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// [`parse`], off the runtime's workers for a message over [`PARSE_INLINE_MAX`]: parsing
/// megabytes of JSON takes a tenth of a second, which would hold up every other connection of
/// the worker.
async fn parse_off_worker(text: &[u8], max_batch: usize) -> Result<Incoming, Refused> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return parse(text, max_batch);
    };
    if text.len() <= PARSE_INLINE_MAX {
        return parse(text, max_batch);
    }
    let Ok(_turn) = PARSERS.acquire().await else {
        return parse(text, max_batch); // never closed
    };
    let owned = text.to_vec();
    match runtime
        .spawn_blocking(move || parse(&owned, max_batch))
        .await
    {
        Ok(parsed) => parsed,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime is shutting down: parse here.
        Err(_) => parse(text, max_batch),
    }
}

/// Parses a message; a batch (a JSON array) is read no further than `max_batch` items.
fn parse(text: &[u8], max_batch: usize) -> Result<Incoming, Refused> {
    let batch = text
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'[');
    if !batch {
        return serde_json::from_slice(text)
            .map(Incoming::One)
            .map_err(Refused::NotJson);
    }
    let too_long = std::cell::Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(text);
    let items = serde::de::Deserializer::deserialize_seq(
        &mut de,
        BoundedSeq {
            max: max_batch,
            too_long: &too_long,
        },
    )
    .and_then(|items| de.end().map(|()| items));
    match items {
        Ok(items) => Ok(Incoming::Batch(items)),
        Err(_) if too_long.get() => Err(Refused::TooLong),
        Err(e) => Err(Refused::NotJson(e)),
    }
}

/// Reads a JSON array of at most `max` values; one more sets `too_long` and stops the parse.
struct BoundedSeq<'a> {
    max: usize,
    too_long: &'a std::cell::Cell<bool>,
}

impl<'de> serde::de::Visitor<'de> for BoundedSeq<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a batch of at most {} requests", self.max)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            if items.len() == self.max {
                self.too_long.set(true);
                return Err(serde::de::Error::custom("batch too long"));
            }
            items.push(item);
        }
        Ok(items)
    }
}

/// One request object: its response, or `None` for a notification.
async fn call_one(calls: &mut impl Call, item: Value) -> Option<Value> {
    let Value::Object(mut obj) = item else {
        return Some(error_response(
            Value::Null,
            &RpcError::invalid_request("a request is a JSON object"),
        ));
    };
    // The id is kept whenever it has a valid type, even if the rest is invalid.
    let id = obj.remove("id");
    let id_ok = matches!(
        id,
        None | Some(Value::String(_) | Value::Number(_) | Value::Null)
    );
    let reply_id = if id_ok {
        id.clone().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let invalid = |detail: &str| {
        Some(error_response(
            reply_id.clone(),
            &RpcError::invalid_request(detail),
        ))
    };
    if !id_ok {
        return invalid("`id` must be a string, a number or null");
    }
    if obj.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return invalid("`jsonrpc` must be \"2.0\"");
    }
    let Some(Value::String(method)) = obj.remove("method") else {
        return invalid("`method` must be a string");
    };
    let params = obj.remove("params");
    if !matches!(params, None | Some(Value::Array(_) | Value::Object(_))) {
        return invalid("`params` must be an array or an object");
    }
    let result = calls.call(&method, params).await;
    let id = id?; // A notification gets no response, not even an error.
    Some(match result {
        Ok(value) => {
            let mut r = serde_json::Map::new();
            r.insert("jsonrpc".into(), Value::String("2.0".into()));
            r.insert("result".into(), value);
            r.insert("id".into(), id);
            Value::Object(r)
        }
        Err(e) => error_response(id, &e),
    })
}

fn error_response(id: Value, error: &RpcError) -> Value {
    let mut r = serde_json::Map::new();
    r.insert("jsonrpc".into(), Value::String("2.0".into()));
    r.insert("error".into(), error.to_json());
    r.insert("id".into(), id);
    Value::Object(r)
}

/// A server-initiated notification (no id), ready to push.
pub fn notification(method: &str, params: impl Serialize) -> Message {
    let params = serde_json::to_value(params).unwrap_or(Value::Null);
    let mut r = serde_json::Map::new();
    r.insert("jsonrpc".into(), Value::String("2.0".into()));
    r.insert("method".into(), Value::String(method.to_owned()));
    if !params.is_null() {
        r.insert("params".into(), params);
    }
    Message::text(Value::Object(r).to_string())
}

/// Deserializes a method's params (used by `#[rpc_methods]`); absent params are `null`.
#[doc(hidden)]
pub fn params<P: DeserializeOwned>(params: Option<Value>) -> Result<P, RpcError> {
    serde_json::from_value(params.unwrap_or(Value::Null)).map_err(RpcError::invalid_params)
}

/// Serializes a method's result (used by `#[rpc_methods]`).
#[doc(hidden)]
pub fn result<R: Serialize>(r: R) -> Result<Value, RpcError> {
    serde_json::to_value(r).map_err(RpcError::internal)
}
