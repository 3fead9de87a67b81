//! A cluster of real `ws-cli` processes (the demo) joined through a private `redis-server`:
//! a node killed with -9 takes only its own clients with it, and `nginx` in front of three
//! nodes spreads clients over them while chat, `POST /push` and `POST /push?id=` reach every
//! client, exactly once, whatever node a request lands on.
//!
//! Every node runs as a daemon in its own temporary directory (its own pid file and control
//! socket) on ports picked by the kernel; guards kill, by PID, every node, `nginx` and
//! `redis-server` a test started, whatever happens. Waits are bounded. "Exactly once" is
//! checked without sleeping: after the messages under test, a marker is pushed through every
//! node (`POST /push` on each node's own `http` server) and each client's next messages must
//! be exactly the markers. A node relays what it hears from Redis in the order Redis sent it,
//! over one connection, so a duplicate would arrive before the marker of some other node.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

mod support;

use support::nginx::Nginx;
use support::{alive, connect, parse_started, run, text, wait_gone, Ws, WAIT};
use ws_tests::redis::RedisServer;

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");

/// The demo's `secret_key`, which `POST /push` and `GET /connections` need.
const KEY: &str = "cluster-test-key";

/// How long after a `kill -9` the cluster may still count the dead node: its lease lives 10 s.
const DEAD_NODE_BOUND: Duration = Duration::from_secs(15);

/// Messages of the warm-up (see [`warm_up`]); every read skips them.
const WARM: &str = "warm-";

/// One `ws-cli start -d` of the demo in its own temporary directory, killed on drop.
struct Node {
    id: u16,
    dir: PathBuf,
    pid: u32,
    ws: SocketAddr,
    http: SocketAddr,
}

impl Node {
    /// Starts node `id` of `cluster` on `redis`; returns once it listens (and has joined).
    async fn start(test: &str, redis: &RedisServer, cluster: &str, id: u16) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ws-cluster-{}-{test}-node{id}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["start", "-d"])
            .current_dir(&dir)
            .env("WS_NODE_ID", id.to_string())
            .env("WS_BROKER", redis.url())
            .env("WS_CLUSTER", cluster)
            .env("WS_WS_PORT", "0")
            .env("WS_HTTP_PORT", "0")
            .env("WS_SECRET_KEY", KEY);
        let out = tokio::task::spawn_blocking(move || run(cmd, "ws-cli start -d", WAIT))
            .await
            .unwrap();
        let out_text = text(&out);
        let log = std::fs::read_to_string(dir.join("ws.log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "node {id} did not start: {out_text}\nits log:\n{log}"
        );
        let (pid, addrs) = parse_started(&out_text);
        let addr = |server: &str| {
            *addrs
                .get(server)
                .unwrap_or_else(|| panic!("node {id}: no {server} address in {out_text}"))
        };
        Self {
            id,
            ws: addr("ws"),
            http: addr("http"),
            dir,
            pid,
        }
    }

    /// `kill -9`, then waits until the process is gone.
    fn kill9(&self) {
        kill(self.pid);
        assert!(wait_gone(self.pid), "node {} survived kill -9", self.id);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ws.log")).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if alive(self.pid) {
            kill(self.pid);
        }
        if std::thread::panicking() {
            eprintln!(
                "kept {} (node {}) for inspection",
                self.dir.display(),
                self.id
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn kill(pid: u32) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap());
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
}

/// Three nodes of `cluster`, ids 1 to 3.
async fn three_nodes(test: &str, redis: &RedisServer, cluster: &str) -> Vec<Node> {
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(Node::start(test, redis, cluster, id).await);
    }
    nodes
}

/// A `/chat` connection and its id, as `/whoami` says it.
struct Client {
    ws: Ws,
    id: String,
    node: u16,
}

impl Client {
    /// Connects to `/chat` at `addr` (a node or `nginx`) and asks for its id.
    async fn connect(addr: SocketAddr) -> Self {
        let mut ws = connect(addr, "/chat").await;
        ws.send(Message::text("/whoami")).await.unwrap();
        let answer = next_text(&mut ws).await;
        let id = answer
            .strip_prefix("id ")
            .unwrap_or_else(|| panic!("not an answer to /whoami: {answer:?}"))
            .to_owned();
        let node = id
            .split_once('-')
            .and_then(|(node, _)| node.parse().ok())
            .unwrap_or_else(|| panic!("not a connection id (NODE-SEQ): {id:?}"));
        Self { ws, id, node }
    }

    async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// The next text message but warm-up ones.
    async fn recv(&mut self) -> String {
        loop {
            let text = next_text(&mut self.ws).await;
            if !text.starts_with(WARM) {
                return text;
            }
        }
    }

    /// Checks that the next message (warm-up ones aside) is `expected`.
    async fn expect(&mut self, expected: &str) {
        let got = self.recv().await;
        assert_eq!(got, expected, "client {}", self.id);
    }
}

/// The next text message within the budget; panics on anything else.
async fn next_text(ws: &mut Ws) -> String {
    match support::next(ws).await {
        Some(Message::Text(t)) => t.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// A room's traffic reaches a node once the node's subscription to the room is in place, one
/// round trip to Redis after its first local member joined. Sends warm-up messages from
/// `clients[from]` until every other client has heard one: then every node with a client has
/// subscribed to the lobby, except perhaps `clients[from]`'s (call again from a client of
/// another node for that one).
async fn warm_up(clients: &mut [Client], from: usize) {
    let mut heard: Vec<bool> = (0..clients.len()).map(|i| i == from).collect();
    let started = Instant::now();
    for round in 0.. {
        assert!(
            started.elapsed() < WAIT,
            "the lobby's subscriptions were not in place within {WAIT:?}: heard {heard:?}"
        );
        clients[from].send(&format!("{WARM}{round}")).await;
        for (client, heard) in clients.iter_mut().zip(&mut heard) {
            if *heard {
                continue;
            }
            while let Ok(msg) = tokio::time::timeout(Duration::from_secs(1), client.ws.next()).await
            {
                match msg {
                    Some(Ok(Message::Text(t))) if t.as_str().starts_with(WARM) => {
                        *heard = true;
                        break;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    other => panic!("client {}: during the warm-up, {other:?}", client.id),
                }
            }
        }
        if heard.iter().all(|h| *h) {
            return;
        }
    }
}

/// Pushes a marker through each of `http` (the nodes' own `http` servers) and checks that each
/// client's next messages are exactly the markers: nothing came twice before them.
async fn nothing_more(clients: &mut [Client], http: &[SocketAddr], tag: &str) {
    let mut marks = BTreeSet::new();
    for (i, &addr) in http.iter().enumerate() {
        let mark = format!("mark {tag} {i}");
        let (status, body) = request(addr, "POST", "/push", &mark).await;
        assert_eq!(status, 200, "POST /push to {addr}: {body}");
        marks.insert(mark);
    }
    for client in clients {
        let mut got = BTreeSet::new();
        for _ in 0..marks.len() {
            got.insert(client.recv().await);
        }
        assert_eq!(
            got, marks,
            "client {}: something arrived again before the markers",
            client.id
        );
    }
}

/// One HTTP/1.1 request with the demo's key; the status and the body.
async fn request(addr: SocketAddr, method: &str, target: &str, body: &str) -> (u16, String) {
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = tokio::time::timeout(WAIT, async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        std::io::Result::Ok(response)
    })
    .await
    .unwrap_or_else(|_| panic!("{method} {target} to {addr}: no response within {WAIT:?}"))
    .unwrap_or_else(|e| panic!("{method} {target} to {addr}: {e}"));
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let chunked = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

/// The payload of a chunked body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// `GET /connections` at `addr`.
async fn connections(addr: SocketAddr) -> Value {
    let (status, body) = request(addr, "GET", "/connections", "").await;
    assert_eq!(status, 200, "GET /connections: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Asks `GET /connections` at `addr` until it counts `nodes` (node id → connections) and
/// nothing missing, before `deadline`; the last answer.
async fn await_connections(addr: SocketAddr, nodes: &[(u16, u64)], deadline: Instant) -> Value {
    let expected = serde_json::json!({
        "total": nodes.iter().map(|(_, n)| n).sum::<u64>(),
        "nodes": nodes
            .iter()
            .map(|(id, n)| (id.to_string(), Value::from(*n)))
            .collect::<serde_json::Map<_, _>>(),
        "missing": [],
    });
    loop {
        let got = connections(addr).await;
        if got == expected {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "GET /connections: expected {expected}, got {got}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_with_9_loses_only_its_own_clients() {
    let redis = RedisServer::start().await;
    let cluster = format!("kill{}", std::process::id());
    let nodes = three_nodes("kill", &redis, &cluster).await;
    let http: Vec<SocketAddr> = nodes.iter().map(|n| n.http).collect();

    let mut clients = Vec::new();
    for node in &nodes {
        let client = Client::connect(node.ws).await;
        assert_eq!(client.node, node.id, "{}", client.id);
        clients.push(client);
    }
    await_connections(http[0], &[(1, 1), (2, 1), (3, 1)], Instant::now() + WAIT).await;
    warm_up(&mut clients, 0).await;
    warm_up(&mut clients, 1).await;

    // A chat message from node 1's client reaches every node's client once.
    clients[0].send("hello from node 1").await;
    for client in &mut clients {
        client.expect("hello from node 1").await;
    }
    nothing_more(&mut clients, &http, "before").await;

    // Node 3 dies without a word.
    let dead = clients.pop().unwrap();
    nodes[2].kill9();
    let killed = Instant::now();
    let deadline = killed + DEAD_NODE_BOUND;

    // Nobody listens on node 3's channel any more: a push to its client is a 404 at once.
    let target = format!("/push?id={}", dead.id);
    loop {
        let (status, body) = request(http[0], "POST", &target, "to the dead").await;
        if status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "POST {target} after kill -9 of its node: still {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "push to the dead node's client: 404 after {:?}",
        killed.elapsed()
    );

    // Node 3's lease runs out: the count forgets it.
    await_connections(http[0], &[(1, 1), (2, 1)], deadline).await;
    eprintln!(
        "GET /connections without node 3 after {:?}",
        killed.elapsed()
    );

    // Nodes 1 and 2 go on as before.
    let http = &http[..2];
    for from in 0..2 {
        let msg = format!("from node {} after the kill", from + 1);
        clients[from].send(&msg).await;
        for client in &mut clients {
            client.expect(&msg).await;
        }
        nothing_more(&mut clients, http, &format!("after {from}")).await;
    }
    for node in &nodes[..2] {
        assert!(alive(node.pid), "node {}: {}", node.id, node.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_in_front_of_three_nodes() {
    let redis = RedisServer::start().await;
    let cluster = format!("nginx{}", std::process::id());
    let nodes = three_nodes("nginx", &redis, &cluster).await;
    let http: Vec<SocketAddr> = nodes.iter().map(|n| n.http).collect();
    let ws: Vec<SocketAddr> = nodes.iter().map(|n| n.ws).collect();
    let dir = std::env::temp_dir().join(format!("ws-cluster-{}-nginx", std::process::id()));
    let nginx = Nginx::start(&dir, &ws, &http).await;

    // Six clients through nginx land on more than one node.
    let mut clients = Vec::new();
    for _ in 0..6 {
        clients.push(Client::connect(nginx.ws_addr()).await);
    }
    let spread: BTreeMap<u16, usize> = clients.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.node).or_default() += 1;
        m
    });
    assert!(spread.len() >= 2, "every client on one node: {spread:?}");
    eprintln!("clients per node through nginx: {spread:?}");

    // A chat message reaches all six once.
    warm_up(&mut clients, 0).await;
    let other = clients
        .iter()
        .position(|c| c.node != clients[0].node)
        .unwrap();
    warm_up(&mut clients, other).await;
    clients[0].send("hello through nginx").await;
    for client in &mut clients {
        client.expect("hello through nginx").await;
    }
    nothing_more(&mut clients, &http, "chat").await;

    // `POST /push` through nginx reaches all six once.
    let (status, body) = request(nginx.http_addr(), "POST", "/push", "pushed through nginx").await;
    assert_eq!(status, 200, "{body}\nnginx: {}", nginx.error_log());
    for client in &mut clients {
        client.expect("pushed through nginx").await;
    }
    nothing_more(&mut clients, &http, "push").await;

    // `POST /push?id=` through nginx reaches the addressed client only, whichever node takes
    // the request: three in a row per client, which round-robin sends to the three nodes.
    for client in &clients {
        for k in 0..3 {
            let target = format!("/push?id={}", client.id);
            let (status, body) = request(
                nginx.http_addr(),
                "POST",
                &target,
                &format!("for {} #{k}", client.id),
            )
            .await;
            assert_eq!(status, 200, "POST {target}: {body}");
        }
    }
    for client in &mut clients {
        for k in 0..3 {
            let expected = format!("for {} #{k}", client.id);
            client.expect(&expected).await;
        }
    }
    nothing_more(&mut clients, &http, "by id").await;

    // `GET /connections` through nginx counts every node's clients.
    let per_node: Vec<(u16, u64)> = (1..=3)
        .map(|id| (id, spread.get(&id).map_or(0, |&n| n as u64)))
        .collect();
    await_connections(nginx.http_addr(), &per_node, Instant::now() + WAIT).await;
    drop(nginx);
}

/// `ws-cli restart` of a node with a Redis broker: the new process is the same node of the
/// cluster (it takes the node id's lease over and hands out ids past the old process's), the
/// old one's clients get 1012, and pushes by id reach the new process's clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_stays_the_same_node() {
    let redis = RedisServer::start().await;
    let cluster = format!("restart{}", std::process::id());
    let mut n1 = Node::start("restart", &redis, &cluster, 1).await;
    let n2 = Node::start("restart", &redis, &cluster, 2).await;
    let mut before = Client::connect(n1.ws).await;
    assert_eq!(before.node, 1);

    let dir = n1.dir.clone();
    let env = [
        ("WS_NODE_ID", "1".to_owned()),
        ("WS_BROKER", redis.url()),
        ("WS_CLUSTER", cluster.clone()),
        ("WS_WS_PORT", "0".to_owned()),
        ("WS_HTTP_PORT", "0".to_owned()),
        ("WS_SECRET_KEY", KEY.to_owned()),
    ];
    let mut cmd = Command::new(BIN);
    cmd.arg("restart").current_dir(&dir).envs(env);
    let out = tokio::task::spawn_blocking(move || run(cmd, "ws-cli restart", WAIT))
        .await
        .unwrap();
    let out_text = text(&out);
    assert!(
        out.status.success(),
        "restart failed: {out_text}\n{}",
        n1.log()
    );
    let (new_pid, _) = parse_started(&out_text);
    let old_pid = std::mem::replace(&mut n1.pid, new_pid);
    assert_ne!(old_pid, new_pid);

    // The old process's client is told to reconnect; the old process goes.
    match support::next(&mut before.ws).await {
        Some(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1012),
        other => panic!("expected close 1012, got {other:?}"),
    }
    assert!(wait_gone(old_pid), "the old process did not exit");

    // A new client of node 1 (the new process): an id past the old process's.
    let mut after = Client::connect(n1.ws).await;
    assert_eq!(after.node, 1);
    let seq = |id: &str| id.split_once('-').unwrap().1.parse::<u64>().unwrap();
    assert!(
        seq(&after.id) > seq(&before.id),
        "{} reuses the old process's ids ({})",
        after.id,
        before.id
    );
    // Reached by id from node 2, and counted; the lease stays held after the old one left.
    let (status, body) = request(n2.http, "POST", &format!("/push?id={}", after.id), "hello").await;
    assert_eq!(status, 200, "{body}");
    after.expect("hello").await;
    await_connections(n2.http, &[(1, 1), (2, 0)], Instant::now() + WAIT).await;
    let scratch = std::env::temp_dir().join(format!("ws-restart-dup-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut dup = Command::new(BIN);
    dup.arg("start").current_dir(&scratch).envs([
        ("WS_NODE_ID", "1".to_owned()),
        ("WS_BROKER", redis.url()),
        ("WS_CLUSTER", cluster.clone()),
        ("WS_WS_PORT", "0".to_owned()),
        ("WS_HTTP_PORT", "0".to_owned()),
    ]);
    // Refused at start-up (a start that served would run until the budget kills it).
    let taken = tokio::task::spawn_blocking(move || run(dup, "a second node 1", WAIT))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&scratch);
    assert_eq!(
        taken.status.code(),
        Some(1),
        "a second node 1: {}",
        text(&taken)
    );
    assert!(
        text(&taken).contains("node_id 1 is held"),
        "{}",
        text(&taken)
    );
}
