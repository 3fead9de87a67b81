//! The keep-alive timeouts (`ping_interval`, `idle_timeout`) under the test kit's
//! `FakeClock`: they fire when the test moves the clock, at once, and never on their own.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::time::{Duration, Instant};

use ws_core::testing::{FakeClock, TestServer};
use ws_core::{CloseCode, Config, Filter};
use ws_tests::test_config;

fn config(ping_interval: Duration, idle_timeout: Duration) -> Config {
    let mut config = test_config();
    let ws = config.servers.get_mut("ws").unwrap();
    ws.ping_interval = ping_interval;
    ws.idle_timeout = idle_timeout;
    config
}

#[tokio::test]
async fn an_hour_of_idle_timeout_closes_with_1001_without_waiting_an_hour() {
    let started = Instant::now();
    let clock = FakeClock::new();
    let config = config(Duration::ZERO, Duration::from_secs(3600));
    let server = TestServer::builder(config).clock(&clock).start().await;
    let mut quiet = server.connect("ws", "/echo").await;
    let mut busy = server.connect("ws", "/echo").await;
    server
        .wait_for_count(&Filter::route("ws", "/echo"), 2)
        .await;

    // 59 minutes: both stay open.
    clock.advance(Duration::from_secs(59 * 60)).await;
    for c in [&mut quiet, &mut busy] {
        c.send_text("still here").await;
        assert_eq!(c.recv_text().await, "still here");
    }
    // An hour after its last message, `quiet` is closed; `busy` spoke meanwhile.
    clock.advance(Duration::from_secs(59 * 60)).await;
    busy.send_text("busy").await;
    assert_eq!(busy.recv_text().await, "busy");
    clock.advance(Duration::from_secs(60)).await;
    assert_eq!(
        quiet.expect_close(CloseCode::GOING_AWAY).await,
        "idle timeout"
    );
    quiet.expect_end().await;
    busy.send_text("still open").await;
    assert_eq!(busy.recv_text().await, "still open");
    server
        .wait_for_count(&Filter::route("ws", "/echo"), 1)
        .await;

    assert_eq!(clock.elapsed(), Duration::from_secs(119 * 60));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?} of real time",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn the_fake_clock_is_the_only_clock_of_the_sweeps() {
    // Timeouts of 100 ms that never fire in real time: the clock does not move by itself.
    let clock = FakeClock::new();
    let config = config(Duration::from_millis(50), Duration::from_millis(100));
    let server = TestServer::builder(config).clock(&clock).start().await;
    let mut c = server.connect("ws", "/echo").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    c.send_text("no ping, no close").await;
    assert_eq!(c.recv_text().await, "no ping, no close");
    // Moved, they fire.
    clock.advance(Duration::from_millis(100)).await;
    c.expect_close(CloseCode::GOING_AWAY).await;
    server.stop().await;
}

#[tokio::test]
async fn a_quiet_client_is_pinged_and_a_pong_keeps_it_open() {
    let clock = FakeClock::new();
    let config = config(Duration::from_secs(25), Duration::from_secs(60));
    let server = TestServer::builder(config).clock(&clock).start().await;
    let mut c = server.connect("ws", "/echo").await;
    server.wait_for_count(&Filter::all(), 1).await;

    clock.advance(Duration::from_secs(25)).await;
    c.expect_ping().await;
    // The client's pong goes out with its next write; the echo shows the server has it.
    c.send_text("after the ping").await;
    assert_eq!(c.recv_text().await, "after the ping");
    // 50 s after the pong: pinged again, not closed.
    clock.advance(Duration::from_secs(50)).await;
    c.expect_ping().await;
    // A client that answers nothing (the pong is not written until the client reads or
    // writes again) is closed once quiet for `idle_timeout`.
    clock.advance(Duration::from_secs(60)).await;
    assert_eq!(c.expect_close(CloseCode::GOING_AWAY).await, "idle timeout");
    server.stop().await;
}
