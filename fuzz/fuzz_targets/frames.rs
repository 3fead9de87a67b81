//! The bytes after the handshake: frames, assembled into messages (sizes, fragments, UTF-8, 1009).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_core::__fuzz::frames(data));
