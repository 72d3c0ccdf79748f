//! The other side of `link_kept.rs`: this test binary has the plugin crate as a dependency but never names
//! it, so the crate is not linked and its plugins are absent — what `Registry::require` is for.

use stevedore::Registry;

#[test]
fn an_unnamed_plugin_crate_is_dropped_and_require_says_so() {
    let err = Registry::global()
        .require(&[("stevedore.examples", "upper")])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected plugins are not registered: `stevedore.examples:upper`"
    );
}
