use std::sync::atomic::AtomicUsize;

use ws_core::singleton;

#[singleton]
pub struct Visitors(AtomicUsize);

fn main() {}
