//! An HTTP request head, checked as a WebSocket upgrade.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_core::__fuzz::handshake(data));
