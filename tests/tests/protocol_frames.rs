//! RFC 6455 frame rules, driven with a raw client that writes exact bytes, over every
//! transport: HTTP/1.1 upgrade over TCP and over TLS, and extended CONNECT (RFC 8441) over
//! HTTP/2 over TLS and over plaintext HTTP/2 (h2c). The frame rules are the same on each;
//! every case is one `async fn case(t: Transport)`, and [`over!`] makes a test of it per
//! transport (`<case>::tcp`, `<case>::tls`, `<case>::h2`, `<case>::h2c`).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use ws_tests::{
    encode, over, start, start_demo_over, test_config_over, within, RawClient, Transport,
};

const TEXT: u8 = 1;
const BINARY: u8 = 2;
const CONT: u8 = 0;
const CLOSE: u8 = 8;
const PING: u8 = 9;
const PONG: u8 = 10;

over!(fragmented_message_is_reassembled);
async fn fragmented_message_is_reassembled(t: Transport) {
    let (running, addr, _files) = start_demo_over(t).await;
    let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
    c.send(false, TEXT, b"Hel").await;
    c.send(false, CONT, b"lo, ").await;
    c.send(true, CONT, b"world").await;
    let f = c.recv().await.unwrap();
    assert_eq!(
        (f.fin, f.opcode, &f.payload[..]),
        (true, TEXT, &b"Hello, world"[..])
    );
    // A UTF-8 character split across fragments.
    let snow = "☃".as_bytes();
    c.send(false, TEXT, &snow[..1]).await;
    c.send(true, CONT, &snow[1..]).await;
    assert_eq!(c.recv().await.unwrap().payload, snow);
    running.shutdown().await;
}

over!(control_frames_inside_a_fragmented_message);
async fn control_frames_inside_a_fragmented_message(t: Transport) {
    let (running, addr, _files) = start_demo_over(t).await;
    let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
    c.send(false, BINARY, &[1, 2]).await;
    c.send(true, PING, b"mid").await;
    c.send(true, PONG, b"unsolicited").await;
    c.send(true, CONT, &[3]).await;
    let pong = c.recv().await.unwrap();
    assert_eq!((pong.opcode, &pong.payload[..]), (PONG, &b"mid"[..]));
    let msg = c.recv().await.unwrap();
    assert_eq!((msg.opcode, &msg.payload[..]), (BINARY, &[1u8, 2, 3][..]));
    running.shutdown().await;
}

over!(ping_is_answered_with_pong_of_same_payload);
async fn ping_is_answered_with_pong_of_same_payload(t: Transport) {
    let (running, addr, _files) = start_demo_over(t).await;
    let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
    let payload = vec![7u8; 125];
    c.send(true, PING, &payload).await;
    let f = c.recv().await.unwrap();
    assert_eq!((f.opcode, f.payload), (PONG, payload));
    c.send(true, PING, b"").await;
    assert_eq!(c.recv().await.unwrap().opcode, PONG);
    running.shutdown().await;
}

over!(close_handshake_echoes_the_code);
async fn close_handshake_echoes_the_code(t: Transport) {
    let (running, addr, _files) = start_demo_over(t).await;
    for code in [1000u16, 1001, 3000, 4999] {
        let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(b"bye");
        c.send(true, CLOSE, &payload).await;
        assert_eq!(c.expect_close().await, Some(code));
        assert!(c.closed_by_server().await);
    }
    // An empty close frame is answered with an empty close frame.
    let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
    c.send(true, CLOSE, b"").await;
    let f = c.recv().await.unwrap();
    assert_eq!((f.opcode, f.payload.len()), (CLOSE, 0));
    running.shutdown().await;
}

async fn expect_close_code(t: Transport, path: &str, bytes: Vec<u8>, code: u16) {
    let (running, addr, _files) = start_demo_over(t).await;
    let mut c = RawClient::connect_over(t, addr, path, "").await;
    c.send_raw(&bytes).await;
    assert_eq!(
        c.expect_close().await,
        Some(code),
        "after sending {:02x?}",
        &bytes[..bytes.len().min(16)]
    );
    assert!(
        c.closed_by_server().await,
        "server must close the connection (over HTTP/2: end the stream)"
    );
    // The server keeps serving.
    let mut again = RawClient::connect_over(t, addr, "/echo", "").await;
    again.send(true, TEXT, b"still here").await;
    assert_eq!(again.recv().await.unwrap().payload, b"still here");
    drop((c, again));
    running.shutdown().await;
}

over!(invalid_utf8_text_closes_with_1007);
async fn invalid_utf8_text_closes_with_1007(t: Transport) {
    expect_close_code(
        t,
        "/echo",
        encode(true, 0, TEXT, &[0xce, 0xba, 0xff, 0xfe], true),
        1007,
    )
    .await;
}

over!(invalid_utf8_in_fragments_closes_with_1007);
async fn invalid_utf8_in_fragments_closes_with_1007(t: Transport) {
    let mut bytes = encode(false, 0, TEXT, "κό".as_bytes(), true);
    bytes.extend(encode(true, 0, CONT, &[0xed, 0xa0, 0x80], true)); // a UTF-16 surrogate
    expect_close_code(t, "/echo", bytes, 1007).await;
}

over!(invalid_utf8_fails_at_the_fragment_that_breaks_it);
async fn invalid_utf8_fails_at_the_fragment_that_breaks_it(t: Transport) {
    // No last fragment is ever sent: the first one is already invalid.
    let bytes = encode(false, 0, TEXT, &[b'o', b'k', 0xff], true);
    expect_close_code(t, "/echo", bytes, 1007).await;
}

over!(a_character_cut_between_fragments_is_valid);
async fn a_character_cut_between_fragments_is_valid(t: Transport) {
    let (running, addr, _files) = start_demo_over(t).await;
    let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
    let text = "aé€𝄞".as_bytes();
    // Cut inside the 2-, 3- and 4-byte characters.
    let mut bytes = encode(false, 0, TEXT, &text[..2], true);
    bytes.extend(encode(false, 0, CONT, &text[2..5], true));
    bytes.extend(encode(false, 0, CONT, &text[5..8], true));
    bytes.extend(encode(true, 0, CONT, &text[8..], true));
    c.send_raw(&bytes).await;
    assert_eq!(c.recv().await.unwrap().payload, text);
    drop(c);
    running.shutdown().await;
}

over!(invalid_utf8_close_reason_closes_with_1007);
async fn invalid_utf8_close_reason_closes_with_1007(t: Transport) {
    expect_close_code(
        t,
        "/echo",
        encode(true, 0, CLOSE, &[0x03, 0xe8, 0xff], true),
        1007,
    )
    .await;
}

over!(reserved_bits_close_with_1002);
async fn reserved_bits_close_with_1002(t: Transport) {
    expect_close_code(t, "/echo", encode(true, 0b100, TEXT, b"x", true), 1002).await;
}

over!(reserved_opcodes_close_with_1002);
async fn reserved_opcodes_close_with_1002(t: Transport) {
    expect_close_code(t, "/echo", encode(true, 0, 3, b"", true), 1002).await;
    expect_close_code(t, "/echo", encode(true, 0, 0xb, b"", true), 1002).await;
}

over!(unmasked_client_frame_closes_with_1002);
async fn unmasked_client_frame_closes_with_1002(t: Transport) {
    expect_close_code(t, "/echo", encode(true, 0, TEXT, b"hi", false), 1002).await;
}

over!(oversized_control_frame_closes_with_1002);
async fn oversized_control_frame_closes_with_1002(t: Transport) {
    expect_close_code(t, "/echo", encode(true, 0, PING, &[0u8; 126], true), 1002).await;
    expect_close_code(
        t,
        "/echo",
        encode(true, 0, CLOSE, &[0x03, 0xe8].repeat(63), true),
        1002,
    )
    .await;
}

over!(lengths_not_in_their_shortest_form_close_with_1002);
async fn lengths_not_in_their_shortest_form_close_with_1002(t: Transport) {
    // 5 bytes announced in the 16-bit form, 200 in the 64-bit form, and a 64-bit length with
    // its top bit set.
    let long = |code: u8, len: &[u8], payload: usize| {
        let mut f = vec![0x82, 0x80 | code];
        f.extend_from_slice(len);
        f.extend_from_slice(&[0; 4]);
        f.extend(std::iter::repeat_n(0, payload));
        f
    };
    expect_close_code(t, "/echo", long(126, &[0, 5], 5), 1002).await;
    expect_close_code(t, "/echo", long(127, &200u64.to_be_bytes(), 200), 1002).await;
    expect_close_code(t, "/echo", long(127, &(1u64 << 63).to_be_bytes(), 0), 1002).await;
}

// HTTP/1.1 only: the frames go in the same write as the upgrade request, before the 101.
// Over HTTP/2 the stream carries frames only once the server answered the CONNECT.
over!(frames_sent_with_the_upgrade_request_are_read: tcp Tcp, tls Tls);
async fn frames_sent_with_the_upgrade_request_are_read(t: Transport) {
    let (running, addr, _files) = start_demo_over(t).await;
    let mut early = encode(true, 0, TEXT, b"early", true);
    early.extend(encode(false, 0, BINARY, b"sec", true));
    early.extend(encode(true, 0, CONT, b"ond", true));
    let mut c = RawClient::connect_sending_over(t, addr, "/echo", "", &early).await;
    assert_eq!(c.recv().await.unwrap().payload, b"early");
    let second = c.recv().await.unwrap();
    assert_eq!(
        (second.opcode, &second.payload[..]),
        (BINARY, &b"second"[..])
    );
    c.send(true, TEXT, b"after").await;
    assert_eq!(c.recv().await.unwrap().payload, b"after");
    drop(c);
    running.shutdown().await;
}

over!(a_frame_split_across_reads_is_whole);
async fn a_frame_split_across_reads_is_whole(t: Transport) {
    let (running, addr, _files) = start_demo_over(t).await;
    let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
    let text = "é".repeat(150);
    let bytes = encode(true, 0, TEXT, text.as_bytes(), true);
    // The header alone, then the payload cut inside a character, then the rest.
    for piece in [&bytes[..3], &bytes[3..101], &bytes[101..]] {
        c.send_raw(piece).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(c.recv().await.unwrap().payload, text.as_bytes());
    drop(c);
    running.shutdown().await;
}

over!(fragmented_control_frame_closes_with_1002);
async fn fragmented_control_frame_closes_with_1002(t: Transport) {
    expect_close_code(t, "/echo", encode(false, 0, PING, b"a", true), 1002).await;
}

over!(continuation_without_start_closes_with_1002);
async fn continuation_without_start_closes_with_1002(t: Transport) {
    expect_close_code(t, "/echo", encode(true, 0, CONT, b"x", true), 1002).await;
}

over!(new_message_inside_fragmented_one_closes_with_1002);
async fn new_message_inside_fragmented_one_closes_with_1002(t: Transport) {
    let mut bytes = encode(false, 0, TEXT, b"a", true);
    bytes.extend(encode(true, 0, TEXT, b"b", true));
    expect_close_code(t, "/echo", bytes, 1002).await;
}

over!(invalid_close_codes_close_with_1002);
async fn invalid_close_codes_close_with_1002(t: Transport) {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2000, 5000] {
        expect_close_code(
            t,
            "/echo",
            encode(true, 0, CLOSE, &code.to_be_bytes(), true),
            1002,
        )
        .await;
    }
    expect_close_code(t, "/echo", encode(true, 0, CLOSE, &[0x03], true), 1002).await;
}

over!(valid_messages_before_a_violation_are_still_handled);
async fn valid_messages_before_a_violation_are_still_handled(t: Transport) {
    let (running, addr, _files) = start_demo_over(t).await;
    let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
    let mut bytes = encode(true, 0, TEXT, b"first", true);
    bytes.extend(encode(true, 0, TEXT, b"bad", false));
    c.send_raw(&bytes).await;
    assert_eq!(c.recv().await.unwrap().payload, b"first");
    assert_eq!(c.expect_close().await, Some(1002));
    running.shutdown().await;
}

over!(message_over_max_message_size_closes_with_1009);
async fn message_over_max_message_size_closes_with_1009(t: Transport) {
    let (mut config, _files) = test_config_over(t);
    config.servers.get_mut("ws").unwrap().max_message_size = 1024;
    let running = start(config).await;
    let addr = running.local_addr("ws").unwrap();

    // Exactly the limit is accepted.
    let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
    c.send(true, BINARY, &[0u8; 1024]).await;
    assert_eq!(c.recv().await.unwrap().payload.len(), 1024);
    // One frame over the limit.
    c.send(true, BINARY, &[0u8; 1025]).await;
    assert_eq!(c.expect_close().await, Some(1009));

    // Fragments that add up to more than the limit.
    let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
    c.send(false, BINARY, &[0u8; 600]).await;
    c.send(true, CONT, &[0u8; 600]).await;
    assert_eq!(c.expect_close().await, Some(1009));

    // A header announcing a huge frame is refused before any payload arrives.
    let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    c.send_raw(&header).await;
    assert_eq!(within("close", c.expect_close()).await, Some(1009));
    running.shutdown().await;
}

over!(idle_connection_gets_pinged_then_closed);
async fn idle_connection_gets_pinged_then_closed(t: Transport) {
    let (mut config, _files) = test_config_over(t);
    let ws = config.servers.get_mut("ws").unwrap();
    ws.ping_interval = std::time::Duration::from_millis(100);
    ws.idle_timeout = std::time::Duration::from_millis(600);
    let running = start(config).await;
    let addr = running.local_addr("ws").unwrap();
    let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
    // The server pings a quiet client...
    let f = c.recv().await.unwrap();
    assert_eq!(f.opcode, PING);
    // ...a pong keeps it alive (the next frame is another ping, not a close)...
    c.send(true, PONG, &f.payload).await;
    let f = c.recv().await.unwrap();
    assert_eq!(f.opcode, PING);
    // ...and silence closes it with 1001.
    assert_eq!(c.expect_close().await, Some(1001));
    running.shutdown().await;
}
