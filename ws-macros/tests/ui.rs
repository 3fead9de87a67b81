//! Compile-error tests: each `fail/*.rs` is one mistake, its `.stderr` the message a user sees.
//! Regenerate with `TRYBUILD=overwrite cargo test -p ws-macros --test ui` and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/*/pass/*.rs");
    t.compile_fail("tests/ui/*/fail/*.rs");
}
