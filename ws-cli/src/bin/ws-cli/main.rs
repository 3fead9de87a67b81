//! The `ws-cli` binary.
//!
//! With feature `demo` (the default) it carries the demo app of this repository (module
//! `demo`): `cargo run -p ws-cli -- start` serves it. Without it
//! (`cargo install ws-cli --no-default-features`) it carries no app, and run in a project
//! directory it builds and runs the project's app.

// `pub` like the items in it: the same files are the public modules of the `ws_examples`
// library (the unpublished `examples` crate includes them by path for the end-to-end tests).
#[cfg(feature = "demo")]
pub mod demo;

fn main() {
    // ws-cli's own name, version and description: this binary is ws-cli (an app's binary
    // writes `ws_cli::main!()` for its own).
    ws_cli::main()
}
