//! tokio-tungstenite echo server (peer for the benchmark).

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use ws_bench::peer::{announce, PeerArgs};

async fn handle(stream: TcpStream) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    while let Some(msg) = ws.next().await {
        match msg? {
            m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await?,
            Message::Close(_) => break,
            _ => {}
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = PeerArgs::parse();
    args.runtime()?.block_on(async move {
        let listener = TcpListener::bind(args.addr).await?;
        announce(listener.local_addr()?)?;
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                if let Err(e) = handle(stream).await {
                    use tokio_tungstenite::tungstenite::Error as E;
                    if !matches!(
                        e,
                        E::ConnectionClosed | E::AlreadyClosed | E::Protocol(_) | E::Io(_)
                    ) {
                        eprintln!("websocket connection error: {e}");
                    }
                }
            });
        }
    })
}
