//! What an HTTP/2 client may make the server hold comes from the config: the server's first
//! SETTINGS frame carries `http2_max_streams` (SETTINGS_MAX_CONCURRENT_STREAMS) and
//! `http2_window` (SETTINGS_INITIAL_WINDOW_SIZE), and its WINDOW_UPDATE on the connection
//! raises the connection window to `http2_window`, read off the wire by a raw client.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_tests::{start, test_config, within};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SETTINGS: u8 = 0x4;
const WINDOW_UPDATE: u8 = 0x8;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const INITIAL_WINDOW_SIZE: u16 = 0x4;

/// One frame: its type, flags, stream and payload.
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

async fn read_frame(tcp: &mut TcpStream) -> Frame {
    let mut head = [0u8; 9];
    within("a frame header", tcp.read_exact(&mut head))
        .await
        .unwrap();
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0; len];
    within("a frame payload", tcp.read_exact(&mut payload))
        .await
        .unwrap();
    Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    }
}

/// The server's SETTINGS (id -> value) and the increment of its first WINDOW_UPDATE on the
/// connection (0 if it sent none before its SETTINGS ACK), over h2c with prior knowledge.
async fn server_settings(addr: SocketAddr) -> (BTreeMap<u16, u32>, u32) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(PREFACE).await.unwrap();
    tcp.write_all(&[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0])
        .await
        .unwrap();
    let mut settings = None;
    let mut increment = 0;
    // SETTINGS, WINDOW_UPDATE and the ACK of ours, in an order of the server's choosing.
    for _ in 0..8 {
        let frame = read_frame(&mut tcp).await;
        match frame.kind {
            SETTINGS if frame.flags & 1 == 0 => {
                let values = frame
                    .payload
                    .chunks_exact(6)
                    .map(|c| {
                        (
                            u16::from_be_bytes([c[0], c[1]]),
                            u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
                        )
                    })
                    .collect();
                settings = Some(values);
            }
            WINDOW_UPDATE if frame.stream == 0 => {
                increment = u32::from_be_bytes(frame.payload[..4].try_into().unwrap());
            }
            _ => {}
        }
        if settings.is_some() && increment > 0 {
            break;
        }
    }
    (settings.expect("the server's SETTINGS"), increment)
}

#[tokio::test]
async fn the_streams_and_windows_of_an_http2_connection_come_from_the_config() {
    let mut config = test_config();
    let ws = config.servers.get_mut("ws").unwrap();
    ws.http2_max_streams = 7;
    ws.http2_window = 300_000;
    let running = start(config).await;
    let (settings, increment) = server_settings(running.local_addr("ws").unwrap()).await;
    assert_eq!(
        settings.get(&MAX_CONCURRENT_STREAMS),
        Some(&7),
        "{settings:?}"
    );
    assert_eq!(
        settings.get(&INITIAL_WINDOW_SIZE),
        Some(&300_000),
        "{settings:?}"
    );
    assert_eq!(increment, 300_000 - 65_535, "the connection window");

    // The defaults: 200 streams, 1 MiB.
    let (settings, increment) = server_settings(running.local_addr("http").unwrap()).await;
    assert_eq!(
        settings.get(&MAX_CONCURRENT_STREAMS),
        Some(&200),
        "{settings:?}"
    );
    assert_eq!(
        settings.get(&INITIAL_WINDOW_SIZE),
        Some(&(1 << 20)),
        "{settings:?}"
    );
    assert_eq!(increment, (1 << 20) - 65_535);
    running.shutdown().await;
}
