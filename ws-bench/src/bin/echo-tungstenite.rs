//! tokio-tungstenite echo server (peer for the benchmark); over TLS (tokio-rustls on ring)
//! with `--tls-cert`/`--tls-key`.

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use ws_bench::peer::{announce, PeerArgs};

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
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
    let tls = args.tls()?;
    args.runtime()?.block_on(async move {
        let listener = TcpListener::bind(args.addr).await?;
        announce(listener.local_addr()?, tls.is_some())?;
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let tls = tls.clone();
            tokio::spawn(async move {
                let r = match tls {
                    None => handle(stream).await,
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(s) => handle(s).await,
                        // A failed TLS handshake is the client's business.
                        Err(_) => return,
                    },
                };
                if let Err(e) = r {
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
