#![doc = include_str!("../README.md")]

mod check;
#[cfg(feature = "oslo-config")]
pub mod config;
mod custom;
mod defaults;
mod enforcer;
mod error;
mod file;
mod literal;
mod parser;
#[cfg(feature = "stevedore")]
pub mod plugins;
mod python;
mod remote;
#[cfg(feature = "tools")]
pub mod tools;
mod watch;

pub use check::{Check, CustomNode, GenericCheck, MatchCheck};
pub use custom::{CheckRegistry, CheckRequest, CustomCheck, StaticCheck};
pub use defaults::{DeprecatedRule, Operation, PolicyNamespace, RuleDefault, namespace_rules};
pub use enforcer::{Enforcer, EnforcerBuilder, FileRule};
pub use error::Error;
pub use file::{RawRules, parse_file_contents};
pub use parser::{MAX_NESTING, ParseError, Parsed, parse_rule, parse_rule_with, parse_value};
pub use remote::RemoteConfig;

#[doc(hidden)]
pub use inventory as __inventory;
