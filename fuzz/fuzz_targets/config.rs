//! A config file over the embedded default, then WS_* variables.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_core::__fuzz::config(data));
