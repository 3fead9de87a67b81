//! A packet between the nodes of a cluster: decoded, and re-encoded the same.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_core::__fuzz::cluster(data));
