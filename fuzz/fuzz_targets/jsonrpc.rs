//! One message as JSON-RPC: requests, notifications, batches and their limits.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_core::__fuzz::jsonrpc(data));
