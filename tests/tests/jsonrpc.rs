//! The demo's `/rpc`: JSON-RPC 2.0 over WebSocket, every error case, batches, notifications.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use serde_json::{json, Value};
use ws_core::testing::{TestClient, TestServer};
use ws_tests::{demo, test_config};

async fn rpc() -> (TestServer, TestClient) {
    let server = demo().await;
    let c = server
        .client("ws", "/rpc")
        .protocol("jsonrpc")
        .connect()
        .await;
    assert_eq!(c.subprotocol(), Some("jsonrpc"));
    (server, c)
}

async fn call(c: &mut TestClient, request: &str) -> Value {
    c.send_text(request).await;
    c.recv_json().await
}

#[tokio::test]
async fn echo_and_sum_keep_the_id() {
    let (server, mut c) = rpc().await;
    let r = call(
        &mut c,
        r#"{"jsonrpc":"2.0","method":"echo","params":{"a":[1,"b"]},"id":1}"#,
    )
    .await;
    assert_eq!(r, json!({"jsonrpc":"2.0","result":{"a":[1,"b"]},"id":1}));
    let r = call(
        &mut c,
        r#"{"jsonrpc":"2.0","method":"echo","params":[null,true],"id":"abc"}"#,
    )
    .await;
    assert_eq!(r, json!({"jsonrpc":"2.0","result":[null,true],"id":"abc"}));
    let r = call(&mut c, r#"{"jsonrpc":"2.0","method":"echo","id":null}"#).await;
    assert_eq!(r, json!({"jsonrpc":"2.0","result":null,"id":null}));
    let r = call(
        &mut c,
        r#"{"jsonrpc":"2.0","method":"sum","params":[1,2,3],"id":7}"#,
    )
    .await;
    assert_eq!(r, json!({"jsonrpc":"2.0","result":6,"id":7}));
    let r = call(
        &mut c,
        r#"{"jsonrpc":"2.0","method":"sum","params":[1.5,2],"id":8}"#,
    )
    .await;
    assert_eq!(r, json!({"jsonrpc":"2.0","result":3.5,"id":8}));
    let r = call(
        &mut c,
        r#"{"jsonrpc":"2.0","method":"sum","params":[],"id":9}"#,
    )
    .await;
    assert_eq!(r, json!({"jsonrpc":"2.0","result":0,"id":9}));
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn standard_errors() {
    let (server, mut c) = rpc().await;
    let code = |v: &Value| v["error"]["code"].as_i64().unwrap();

    let r = call(&mut c, r#"{"jsonrpc":"2.0","method":"echo","id":1"#).await;
    assert_eq!((code(&r), &r["id"]), (-32700, &Value::Null), "{r}");

    let r = call(&mut c, r#"{"method":"echo","id":2}"#).await;
    assert_eq!(
        (code(&r), &r["id"]),
        (-32600, &json!(2)),
        "missing jsonrpc: {r}"
    );
    let r = call(&mut c, r#"{"jsonrpc":"1.0","method":"echo","id":3}"#).await;
    assert_eq!((code(&r), &r["id"]), (-32600, &json!(3)), "{r}");
    let r = call(&mut c, r#"{"jsonrpc":"2.0","method":1,"id":4}"#).await;
    assert_eq!((code(&r), &r["id"]), (-32600, &json!(4)), "{r}");
    let r = call(
        &mut c,
        r#"{"jsonrpc":"2.0","method":"echo","params":"x","id":5}"#,
    )
    .await;
    assert_eq!((code(&r), &r["id"]), (-32600, &json!(5)), "{r}");
    let r = call(&mut c, r#"{"jsonrpc":"2.0","method":"echo","id":{"no":1}}"#).await;
    assert_eq!((code(&r), &r["id"]), (-32600, &Value::Null), "{r}");
    let r = call(&mut c, r#""just a string""#).await;
    assert_eq!((code(&r), &r["id"]), (-32600, &Value::Null), "{r}");

    let r = call(&mut c, r#"{"jsonrpc":"2.0","method":"nope","id":"m"}"#).await;
    assert_eq!((code(&r), &r["id"]), (-32601, &json!("m")), "{r}");

    let r = call(
        &mut c,
        r#"{"jsonrpc":"2.0","method":"sum","params":["a"],"id":6}"#,
    )
    .await;
    assert_eq!((code(&r), &r["id"]), (-32602, &json!(6)), "{r}");
    let r = call(
        &mut c,
        r#"{"jsonrpc":"2.0","method":"sum","params":{"x":1},"id":7}"#,
    )
    .await;
    assert_eq!((code(&r), &r["id"]), (-32602, &json!(7)), "{r}");
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn notifications_get_no_response_even_on_error() {
    let (server, mut c) = rpc().await;
    c.send_text(r#"{"jsonrpc":"2.0","method":"echo","params":[1]}"#)
        .await;
    c.send_text(r#"{"jsonrpc":"2.0","method":"nope"}"#).await;
    c.send_text(r#"{"jsonrpc":"2.0","method":"sum","params":["x"]}"#)
        .await;
    // The next response is the request's: nothing came for the three notifications.
    let r = call(
        &mut c,
        r#"{"jsonrpc":"2.0","method":"echo","params":["after"],"id":1}"#,
    )
    .await;
    assert_eq!(r, json!({"jsonrpc":"2.0","result":["after"],"id":1}));
    drop(c);
    server.stop().await;
}

/// A message over 64 KiB is parsed off the runtime's workers; the answers are the same.
#[tokio::test]
async fn a_large_batch_is_answered_in_full() {
    let (server, mut c) = rpc().await;
    let filler = "x".repeat(200);
    let requests: Vec<String> = (0..500)
        .map(|i| {
            format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["{filler}",{i}],"id":{i}}}"#)
        })
        .collect();
    let batch = format!("[{}]", requests.join(","));
    assert!(batch.len() > 64 << 10, "{} bytes", batch.len());
    let r = call(&mut c, &batch).await;
    let items = r.as_array().unwrap();
    assert_eq!(items.len(), 500);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["id"], json!(i), "in order");
        assert_eq!(item["result"][1], json!(i));
    }
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn batches() {
    let (server, mut c) = rpc().await;
    let r = call(
        &mut c,
        r#"[
            {"jsonrpc":"2.0","method":"sum","params":[1,2],"id":"1"},
            {"jsonrpc":"2.0","method":"echo","params":[0]},
            {"jsonrpc":"2.0","method":"nope","id":"2"},
            1,
            {"jsonrpc":"2.0","method":"echo","params":{"k":"v"},"id":"3"}
        ]"#,
    )
    .await;
    let items = r.as_array().unwrap();
    assert_eq!(
        items.len(),
        4,
        "one response per request, none for the notification: {r}"
    );
    assert_eq!(items[0], json!({"jsonrpc":"2.0","result":3,"id":"1"}));
    assert_eq!(items[1]["error"]["code"], json!(-32601));
    assert_eq!(items[1]["id"], json!("2"));
    assert_eq!(items[2]["error"]["code"], json!(-32600));
    assert_eq!(items[2]["id"], Value::Null);
    assert_eq!(
        items[3],
        json!({"jsonrpc":"2.0","result":{"k":"v"},"id":"3"})
    );

    let r = call(&mut c, "[]").await;
    assert_eq!(r["error"]["code"], json!(-32600), "empty batch: {r}");
    let r = call(&mut c, "[1,2]").await;
    assert_eq!(r.as_array().unwrap().len(), 2, "{r}");

    // A batch of notifications only: no response at all.
    c.send_text(
        r#"[{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","method":"sum","params":[1]}]"#,
    )
    .await;
    let r = call(
        &mut c,
        r#"{"jsonrpc":"2.0","method":"echo","params":["next"],"id":9}"#,
    )
    .await;
    assert_eq!(r["id"], json!(9));
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn server_initiated_notification_through_the_sender() {
    let (server, mut c) = rpc().await;
    // The connection is in the table once a response has come back.
    let _ = call(&mut c, r#"{"jsonrpc":"2.0","method":"echo","id":0}"#).await;
    let sender = server.sender().clone();
    let id = sender.connections(&ws_core::Filter::route("ws", "/rpc"))[0].id;
    sender
        .push(id, ws_core::jsonrpc::notification("tick", json!({"n": 1})))
        .await
        .unwrap();
    let n: Value = c.recv_json().await;
    assert_eq!(n, json!({"jsonrpc":"2.0","method":"tick","params":{"n":1}}));
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn rpc_requires_the_jsonrpc_subprotocol() {
    let server = demo().await;
    let refused = server.client("ws", "/rpc").reject().await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(refused.body.contains("jsonrpc"), "{refused:?}");
    server.stop().await;
}

/// The demo's `/rpc` on a server with the given batch limits.
async fn rpc_with_limits(max_batch: usize, max_reply: usize) -> (TestServer, TestClient) {
    let mut config = test_config();
    let ws = config.servers.get_mut("ws").unwrap();
    ws.jsonrpc_max_batch = max_batch;
    ws.jsonrpc_max_reply = max_reply;
    let server = TestServer::start(config).await;
    let c = server
        .client("ws", "/rpc")
        .protocol("jsonrpc")
        .connect()
        .await;
    (server, c)
}

fn echo(id: usize, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["{params}"],"id":{id}}}"#)
}

#[tokio::test]
async fn a_batch_over_jsonrpc_max_batch_gets_one_invalid_request_error() {
    let (server, mut c) = rpc_with_limits(3, 1 << 20).await;
    let three = format!("[{},{},{}]", echo(1, "a"), echo(2, "b"), echo(3, "c"));
    let r = call(&mut c, &three).await;
    assert_eq!(r.as_array().unwrap().len(), 3, "{r}");
    let four = format!(
        "[{},{},{},{}]",
        echo(1, "a"),
        echo(2, "b"),
        echo(3, "c"),
        echo(4, "d")
    );
    let r = call(&mut c, &four).await;
    assert_eq!(r["error"]["code"], -32600, "{r}");
    assert_eq!(r["id"], Value::Null, "{r}");
    assert!(
        r["error"]["data"]
            .as_str()
            .unwrap()
            .contains("at most 3 requests (config servers.ws.jsonrpc_max_batch)"),
        "{r}"
    );
    // The connection goes on.
    let r = call(&mut c, &echo(5, "e")).await;
    assert_eq!(r["result"], json!(["e"]));
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn a_batch_of_a_million_items_is_refused_with_one_error_not_a_million() {
    // The attack seen in the hostile-clients review: `[1,1,1,...]`, one invalid request per item.
    let (server, mut c) = rpc().await;
    let mut batch = String::with_capacity(2_000_002);
    batch.push('[');
    for i in 0..1_000_000 {
        if i > 0 {
            batch.push(',');
        }
        batch.push('1');
    }
    batch.push(']');
    let r = call(&mut c, &batch).await;
    assert_eq!(r["error"]["code"], -32600, "{r}");
    assert!(
        r["error"]["data"]
            .as_str()
            .unwrap()
            .contains("at most 1000"),
        "{r}"
    );
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn a_batch_reply_over_jsonrpc_max_reply_gets_one_invalid_request_error() {
    let (server, mut c) = rpc_with_limits(1000, 300).await;
    // Small replies fit.
    let r = call(&mut c, &format!("[{},{}]", echo(1, "a"), echo(2, "b"))).await;
    assert_eq!(r.as_array().unwrap().len(), 2, "{r}");
    // Three replies of ~150 bytes do not.
    let big = "x".repeat(100);
    let batch = format!("[{},{},{}]", echo(1, &big), echo(2, &big), echo(3, &big));
    let r = call(&mut c, &batch).await;
    assert_eq!(r["error"]["code"], -32600, "{r}");
    assert!(
        r["error"]["data"]
            .as_str()
            .unwrap()
            .contains("over 300 bytes"),
        "{r}"
    );
    drop(c);
    server.stop().await;
}
