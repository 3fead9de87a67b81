//! Run with `cargo run -p ws-examples --example rooms -- start`, then connect two clients to
//! `ws://127.0.0.1:9502/rooms/lobby?name=ada` (e.g. `python3 -m websockets URL`) and type.
//! `curl 127.0.0.1:9501/rooms/lobby` counts the room's members. Its tests:
//! `cargo test -p ws-examples --example rooms`.
//!
//! Rooms: each connection joins the room its path names (`/rooms/{room}`), may join more
//! (`/join NAME`) and leave (`/leave NAME`); every other message goes to the members of its
//! rooms except itself, prefixed with its name. An HTTP route counts a room's members.

use ws_core::http::Request;
use ws_core::{
    http_route, ws_controller, Conn, Controller, HookResult, Message, Rejection, RequestHead,
    Sender,
};

/// The sender's display name, from the handshake's query (`?name=ada`).
#[derive(Debug, Clone)]
struct Name(String);

/// The rooms of this app are prefixed, so that they cannot collide with another route's.
fn key(room: &str) -> String {
    format!("rooms:{room}")
}

/// `/rooms/{room}`: joins `room` on open; `/join R`, `/leave R`, `/rooms`; anything else is
/// relayed to the connection's rooms.
#[ws_controller(server = "ws", path = "/rooms/{room}")]
#[derive(Debug, Default)]
pub struct Rooms;

impl Controller for Rooms {
    async fn on_handshake(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        let name = req.query().and_then(|q| q.strip_prefix("name="));
        let name = Name(name.unwrap_or("anon").to_owned());
        req.extensions_mut().insert(name); // on the `Conn` for the connection's life
        Ok(())
    }

    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let room = cx.param("room").unwrap_or("lobby").to_owned();
        cx.join(&key(&room));
        cx.send(format!("joined {room}")).await?;
        Ok(())
    }

    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        let text = msg.as_text().unwrap_or_default();
        if let Some(room) = text.strip_prefix("/join ") {
            cx.join(&key(room));
            cx.send(format!("joined {room}")).await?;
        } else if let Some(room) = text.strip_prefix("/leave ") {
            let was = cx.leave(&key(room));
            cx.send(format!("left {room}: {was}")).await?;
        } else if text == "/rooms" {
            let rooms: Vec<String> = cx
                .rooms()
                .iter()
                .filter_map(|r| r.strip_prefix("rooms:").map(str::to_owned))
                .collect();
            cx.send(rooms.join(",")).await?;
        } else {
            let name = cx.get::<Name>().map_or("anon", |n| n.0.as_str());
            let line = format!("{name}: {text}");
            for room in cx.rooms() {
                cx.sender()
                    .to(room)
                    .except(cx.id())
                    .push(line.clone())
                    .await;
            }
        }
        Ok(())
    }
}

/// `GET /rooms/{room}` on the `http` server: how many connections of this node are in it.
#[http_route(server = "http", path = "/rooms/{room}")]
async fn members(req: Request, sender: Sender) -> String {
    let room = req.param("room").unwrap_or_default();
    sender.members(&key(room)).len().to_string()
}

fn main() {
    ws_cli::main!()
}

#[cfg(test)]
mod tests {
    use ws_core::testing::{config, TestServer};

    #[tokio::test]
    async fn messages_reach_the_other_members_of_the_room_only() {
        let server = TestServer::start(config()).await;
        let mut ada = server.connect("ws", "/rooms/lobby?name=ada").await;
        let mut bob = server.connect("ws", "/rooms/lobby?name=bob").await;
        let mut eve = server.connect("ws", "/rooms/attic?name=eve").await;
        for c in [&mut ada, &mut bob] {
            assert_eq!(c.recv_text().await, "joined lobby");
        }
        assert_eq!(eve.recv_text().await, "joined attic");
        assert_eq!(server.get("http", "/rooms/lobby").await.text(), "2");

        ada.send_text("hi").await;
        assert_eq!(bob.recv_text().await, "ada: hi");
        // eve is elsewhere; her first message shows she got nothing before it.
        eve.send_text("/join lobby").await;
        assert_eq!(eve.recv_text().await, "joined lobby");
        assert_eq!(server.get("http", "/rooms/lobby").await.text(), "3");

        bob.send_text("hello both").await;
        assert_eq!(ada.recv_text().await, "bob: hello both");
        assert_eq!(eve.recv_text().await, "bob: hello both");

        eve.send_text("/rooms").await;
        assert_eq!(eve.recv_text().await, "attic,lobby");
        eve.send_text("/leave lobby").await;
        assert_eq!(eve.recv_text().await, "left lobby: true");
        drop(ada); // closing leaves every room
        server
            .wait_for_count(&ws_core::Filter::route("ws", "/rooms/{room}"), 2)
            .await;
        assert_eq!(server.get("http", "/rooms/lobby").await.text(), "1");
    }
}
