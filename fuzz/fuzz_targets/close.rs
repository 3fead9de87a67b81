//! A close frame's payload: code and reason checks, written back.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_core::__fuzz::close(data));
