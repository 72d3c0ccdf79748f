//! A crate that only registers plugins stays linked when the program names it once.

// The one line that keeps the crate (and its registrations) in the binary.
use stevedore_example_plugins as _;

use stevedore::{DriverManager, InvokeArgs, Registry};

#[test]
fn a_named_plugin_crate_keeps_its_registrations() {
    Registry::global()
        .require(&[
            ("stevedore.examples", "upper"),
            ("stevedore.examples", "lower"),
        ])
        .unwrap();
    let drv = DriverManager::<fn(&str) -> String>::builder("stevedore.examples", "upper")
        .invoke_on_load(InvokeArgs::new())
        .build()
        .unwrap();
    assert_eq!(drv.driver().unwrap()("kept"), "KEPT");
}
