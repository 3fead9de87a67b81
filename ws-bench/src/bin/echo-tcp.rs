//! Raw TCP echo (no WebSocket framing): the ceiling of this machine.
//!
//! The load generator sends it the very frame bytes it would send a WebSocket
//! server and reads the same bytes back.

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_bench::peer::{announce, PeerArgs};

async fn handle(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
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
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = handle(stream).await;
            });
        }
    })
}
