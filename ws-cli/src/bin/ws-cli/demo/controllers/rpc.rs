//! Server `ws`, path `/rpc`: JSON-RPC 2.0, subprotocol `jsonrpc` required.

use ws_core::jsonrpc::{self, Number, RpcError, Value};
use ws_core::{rpc_methods, ws_controller, Conn, Controller, HookResult, Message};

/// Methods `echo` (returns its params) and `sum` (an array of numbers to their sum).
/// A client that does not offer the `jsonrpc` subprotocol is refused with 400.
#[ws_controller(server = "ws", path = "/rpc", protocol = "jsonrpc", protocol_required)]
#[derive(Debug, Default)]
pub struct Rpc;

#[rpc_methods]
impl Rpc {
    /// Returns its params unchanged (`null` when there are none).
    #[rpc(name = "echo")]
    async fn echo(&self, params: Value) -> Result<Value, RpcError> {
        Ok(params)
    }

    /// Adds up an array of numbers: an integer while every term is an integer and the sum
    /// fits in 64 bits, else a float.
    #[rpc(name = "sum")]
    async fn sum(&self, params: Vec<Number>) -> Result<Value, RpcError> {
        let ints: Option<Vec<i64>> = params.iter().map(|n| n.as_i64()).collect();
        if let Some(total) = ints.and_then(|v| v.iter().try_fold(0i64, |a, b| a.checked_add(*b))) {
            return Ok(Value::from(total));
        }
        let total: f64 = params.iter().filter_map(Number::as_f64).sum();
        Number::from_f64(total)
            .map(Value::Number)
            .ok_or_else(|| RpcError::internal("the sum is not a finite number"))
    }
}

impl Controller for Rpc {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        jsonrpc::serve(self, cx, msg).await
    }
}
