//! Run with `cargo run -p ws-examples --example jsonrpc -- start`, then connect with the
//! `jsonrpc` subprotocol and call a method:
//!
//! ```text
//! python3 -m websockets --subprotocols jsonrpc ws://127.0.0.1:9502/rpc   # websockets >= 14
//! > {"jsonrpc":"2.0","method":"add","params":{"a":2,"b":3},"id":1}
//! < {"jsonrpc":"2.0","result":5,"id":1}
//! ```
//!
//! Its tests: `cargo test -p ws-examples --example jsonrpc`.
//!
//! JSON-RPC 2.0 over WebSocket: typed params and results (serde), an application error,
//! methods that use the connection (`subscribe` joins a room), and a server notification
//! pushed to the room's members from another method (`publish`).

use serde::{Deserialize, Serialize};
use ws_core::jsonrpc::{self, RpcError};
use ws_core::{rpc_methods, ws_controller, Conn, Controller, HookResult, Message};

/// `/rpc` on server `ws`; clients must speak `jsonrpc`.
#[ws_controller(server = "ws", path = "/rpc", protocol = "jsonrpc", protocol_required)]
#[derive(Debug, Default)]
pub struct Calculator;

/// `add`'s params: `{"a": 2, "b": 3}`.
#[derive(Debug, Deserialize)]
pub struct Pair {
    a: i64,
    b: i64,
}

/// `divide`'s result.
#[derive(Debug, Serialize)]
pub struct Quotient {
    quotient: i64,
    remainder: i64,
}

#[rpc_methods]
impl Calculator {
    /// `{"a", "b"}` to their sum.
    #[rpc]
    async fn add(&self, params: Pair) -> Result<i64, RpcError> {
        params
            .a
            .checked_add(params.b)
            .ok_or_else(|| RpcError::new(1, "overflow"))
    }

    /// `[dividend, divisor]` to `{quotient, remainder}`; dividing by zero is error 2.
    #[rpc]
    async fn divide(&self, params: (i64, i64)) -> Result<Quotient, RpcError> {
        let (n, d) = params;
        if d == 0 {
            return Err(RpcError::new(2, "division by zero"));
        }
        Ok(Quotient {
            quotient: n / d,
            remainder: n % d,
        })
    }

    /// `["topic"]`: this connection gets the notifications of `topic`.
    #[rpc]
    async fn subscribe(&self, cx: &mut Conn, params: (String,)) -> Result<bool, RpcError> {
        cx.join(&format!("topic:{}", params.0));
        Ok(true)
    }

    /// `["topic", value]`: notifies every subscriber of `topic` (`method: "event"`); returns
    /// how many were reached.
    #[rpc]
    async fn publish(
        &self,
        cx: &mut Conn,
        params: (String, jsonrpc::Value),
    ) -> Result<usize, RpcError> {
        let (topic, value) = params;
        let event =
            jsonrpc::notification("event", jsonrpc::json!({ "topic": topic, "value": value }));
        let delivery = cx.sender().to(format!("topic:{topic}")).push(event).await;
        Ok(delivery.queued)
    }
}

impl Controller for Calculator {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        jsonrpc::serve(self, cx, msg).await
    }
}

fn main() {
    ws_cli::main!()
}

#[cfg(test)]
mod tests {
    use ws_core::jsonrpc::{json, Value};
    use ws_core::testing::{config, TestClient, TestServer};

    async fn call(c: &mut TestClient, method: &str, params: Value, id: u32) -> Value {
        c.send_json(&json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id}))
            .await;
        c.recv_json().await
    }

    #[tokio::test]
    async fn typed_params_results_and_errors() {
        let server = TestServer::start(config()).await;
        let mut c = server
            .client("ws", "/rpc")
            .protocol("jsonrpc")
            .connect()
            .await;
        let r = call(&mut c, "add", json!({"a": 2, "b": 3}), 1).await;
        assert_eq!(r, json!({"jsonrpc": "2.0", "result": 5, "id": 1}));
        let r = call(&mut c, "divide", json!([17, 5]), 2).await;
        assert_eq!(r["result"], json!({"quotient": 3, "remainder": 2}));
        let r = call(&mut c, "divide", json!([1, 0]), 3).await;
        assert_eq!(r["error"]["code"], 2);
        assert_eq!(r["error"]["message"], "division by zero");
        // Params that do not fit: -32602; an unknown method: -32601.
        let r = call(&mut c, "add", json!({"a": "two"}), 4).await;
        assert_eq!(r["error"]["code"], -32602);
        let r = call(&mut c, "nope", json!([]), 5).await;
        assert_eq!(r["error"]["code"], -32601);

        // Without the subprotocol, the handshake is refused.
        assert_eq!(server.client("ws", "/rpc").reject().await.status, 400);
    }

    #[tokio::test]
    async fn publish_notifies_the_subscribers() {
        let server = TestServer::start(config()).await;
        let connect = || server.client("ws", "/rpc").protocol("jsonrpc").connect();
        let (mut alice, mut bob) = (connect().await, connect().await);
        let r = call(&mut alice, "subscribe", json!(["prices"]), 1).await;
        assert_eq!(r["result"], true);

        let r = call(&mut bob, "publish", json!(["prices", 42]), 2).await;
        assert_eq!(r["result"], 1);
        let event: Value = alice.recv_json().await;
        assert_eq!(
            event,
            json!({"jsonrpc": "2.0", "method": "event", "params": {"topic": "prices", "value": 42}})
        );
    }
}
