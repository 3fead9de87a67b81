//! A controller defined in a library crate is found once the binary names the crate.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use ext_controllers as _;
use ws_tests::demo;

#[tokio::test]
async fn controller_from_a_named_crate_is_registered_and_served() {
    let def = ws_core::registry::Registry::linked()
        .controllers
        .iter()
        .find(|c| c.path == "/external")
        .expect("ext-controllers' registration is linked");
    assert_eq!(def.origin.name, "ext_controllers::External");
    let server = demo().await;
    let mut c = server.connect("ws", "/external").await;
    assert_eq!(c.recv_text().await, "from ext-controllers");
    drop(c);
    server.stop().await;
}
