//! Raw fastwebsockets echo server: the floor under the framework.
//!
//! Handler is the canonical `echo_server.rs` from fastwebsockets' examples:
//! hyper http1 + `fastwebsockets::upgrade::upgrade` + `FragmentCollector`; over TLS
//! (tokio-rustls on ring) with `--tls-cert`/`--tls-key`.

use clap::Parser;
use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use ws_bench::peer::{announce, PeerArgs};

async fn handle_client(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
    Ok(())
}

async fn server_upgrade(
    mut req: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, fut) = upgrade::upgrade(&mut req)?;
    tokio::spawn(async move {
        if let Err(e) = tokio::task::unconstrained(handle_client(fut)).await {
            if !matches!(
                e,
                WebSocketError::UnexpectedEOF | WebSocketError::ConnectionClosed
            ) {
                eprintln!("websocket connection error: {e}");
            }
        }
    });
    Ok(response)
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(stream: S) {
    let io = hyper_util::rt::TokioIo::new(stream);
    let conn = http1::Builder::new()
        .serve_connection(io, service_fn(server_upgrade))
        .with_upgrades();
    if let Err(e) = conn.await {
        eprintln!("http connection error: {e}");
    }
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
                match tls {
                    None => serve(stream).await,
                    Some(acceptor) => {
                        // A failed TLS handshake is the client's business.
                        if let Ok(s) = acceptor.accept(stream).await {
                            serve(s).await;
                        }
                    }
                }
            });
        }
    })
}
