//! A crate that does nothing but register stevedore plugins, as a crate of drivers would.
//!
//! Nothing in it is called by name, so a program that depends on it but never names it does not link it,
//! and its plugins are missing. Naming it once keeps it: `use stevedore_example_plugins as _;`.

use stevedore::{InvokeArgs, PluginError};

/// The namespace these plugins register in.
pub const NAMESPACE: &str = "stevedore.examples";

fn upper(_: &InvokeArgs) -> Result<fn(&str) -> String, PluginError> {
    Ok(str::to_uppercase)
}

fn lower(_: &InvokeArgs) -> Result<fn(&str) -> String, PluginError> {
    Ok(str::to_lowercase)
}

stevedore::register! { namespace: "stevedore.examples", name: "upper", factory: upper }
stevedore::register! { namespace: "stevedore.examples", name: "lower", factory: lower }
