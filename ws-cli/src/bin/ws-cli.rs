//! The `ws-cli` binary. In this repository it carries the demo app (feature `demo`).

#[cfg(feature = "demo")]
use ws_examples as _;

fn main() {
    ws_cli::main()
}
