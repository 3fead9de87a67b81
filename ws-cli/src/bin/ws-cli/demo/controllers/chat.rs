//! Server `ws`, path `/chat`: a relay to everyone on `/chat`, with rooms.

use ws_core::{ws_controller, Conn, Controller, HookResult, Message};

/// The room every connection starts in.
const LOBBY: &str = "lobby";

/// The room a connection relays to, kept in its context.
#[derive(Debug, Clone)]
struct CurrentRoom(String);

/// Room names are shared by the whole app; ours are prefixed so they can't collide.
fn room_key(name: &str) -> String {
    format!("chat:{name}")
}

/// Relays each message to every connection in the sender's room, the sender included (the
/// Swoole seed's batch-send example). Everyone starts in the lobby, so without `/join` every
/// `/chat` connection gets every message. `/join ROOM` moves the connection to `ROOM`: from
/// then on it relays only inside it. `/whoami` answers the sender alone with `id ID`. The payload is shared, not copied, between receivers.
#[ws_controller(server = "ws", path = "/chat")]
#[derive(Debug, Default)]
pub struct Chat;

impl Controller for Chat {
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        cx.join(&room_key(LOBBY));
        cx.insert(CurrentRoom(LOBBY.to_owned()));
        Ok(())
    }

    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        if msg.as_text() == Some("/whoami") {
            // The id in the form `POST /push?id=` takes, wherever in the cluster it asks.
            cx.send(format!("id {}", cx.id())).await?;
            return Ok(());
        }
        if let Some(room) = msg.as_text().and_then(|t| t.strip_prefix("/join")) {
            let room = room.trim();
            if room.is_empty() {
                cx.send("usage: /join ROOM").await?;
                return Ok(());
            }
            if let Some(CurrentRoom(old)) = cx.get::<CurrentRoom>() {
                cx.leave(&room_key(old));
            }
            cx.join(&room_key(room));
            cx.insert(CurrentRoom(room.to_owned()));
            cx.send(format!("joined {room}")).await?;
            return Ok(());
        }
        let room = cx
            .get::<CurrentRoom>()
            .map_or_else(|| room_key(LOBBY), |r| room_key(&r.0));
        cx.sender().to(room).push(msg).await;
        Ok(())
    }
}
