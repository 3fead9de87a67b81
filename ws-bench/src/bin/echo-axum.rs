//! axum 0.8 echo server (peer for the benchmark); every path upgrades.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::serve::ListenerExt;
use axum::Router;
use clap::Parser;
use tokio::net::TcpListener;
use ws_bench::peer::{announce, PeerArgs};

async fn upgrade(ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(64 << 20).on_upgrade(echo)
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        match msg {
            Message::Close(_) => break,
            Message::Text(_) | Message::Binary(_) => {
                if socket.send(msg).await.is_err() {
                    break;
                }
            }
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = PeerArgs::parse();
    if args.tls_cert.is_some() {
        return Err("this peer has no TLS (--tls-cert)".into());
    }
    args.runtime()?.block_on(async move {
        let listener = TcpListener::bind(args.addr).await?;
        announce(listener.local_addr()?, false)?;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = Router::new().fallback(upgrade);
        axum::serve(listener, app).await?;
        Ok(())
    })
}
