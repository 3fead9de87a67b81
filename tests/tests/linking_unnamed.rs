//! The linking rule, pinned: a dependency that the binary never names is not linked, so its
//! registrations are absent. (`linking_named.rs` shows the fix.) If a toolchain ever links
//! unnamed crates, this test fails and the docs on `ws_core::registry` need updating.

#[test]
fn unnamed_crate_is_not_linked() {
    let found = ws_core::registry::Registry::linked()
        .controllers
        .iter()
        .any(|c| c.path == "/external");
    assert!(
        !found,
        "ext-controllers was linked without being named: update the linking docs"
    );
}
