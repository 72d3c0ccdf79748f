//! The `oslopolicy-*` command-line tools, as functions the binaries (and tests) call: each takes the
//! command line and writers for standard output and error, and returns the exit code Python's tool
//! would (0 done, 1 an error, 2 a usage error).
//!
//! The generators work from rules that crates register in code: namespaces of rules with
//! [`register_policies!`](crate::register_policies) (Python's `oslo.policy.policies` entry points) and
//! enforcers with [`register_enforcer!`](crate::register_enforcer) (`oslo.policy.enforcer`). A service
//! links its registrations into its own copy of a tool by calling these functions from a `main`.

mod checker;
mod generator;
mod textwrap;
mod yaml;

use std::ffi::OsString;
use std::io::Write;

use crate::enforcer::Enforcer;

pub use checker::checker;
pub use generator::{
    convert, convert_json_to_yaml, format_policy, format_sample, list_redundant, policy_generator,
    policy_upgrade, redundant_rules, sample_generator, upgrade_rules, validate, validator,
};

/// An enforcer a crate registers for the tools, as Python's `oslo.policy.enforcer` entry points; see
/// [`register_enforcer!`](crate::register_enforcer).
#[derive(Debug)]
pub struct EnforcerNamespace {
    /// The namespace.
    pub name: &'static str,
    /// Builds the enforcer (with its defaults registered and its policy file configured).
    pub build: fn() -> Enforcer,
}

inventory::collect!(EnforcerNamespace);

/// Registers an enforcer for `oslopolicy-policy-generator`, `-list-redundant` and `-validator`.
#[macro_export]
macro_rules! register_enforcer {
    ($name:expr, $build:expr) => {
        $crate::__inventory::submit! {
            $crate::tools::EnforcerNamespace { name: $name, build: $build }
        }
    };
}

/// The enforcer registered under `name`.
pub fn namespace_enforcer(name: &str) -> Option<Enforcer> {
    inventory::iter::<EnforcerNamespace>
        .into_iter()
        .find(|n| n.name == name)
        .map(|n| (n.build)())
}

/// Parses `args` with clap; on a usage error prints it and returns the exit code (2, or 0 for `--help`).
fn parse_args<T: clap::Parser>(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<T, i32> {
    T::try_parse_from(args).map_err(|e| {
        let code = e.exit_code();
        let text = e.render().to_string();
        let _ = if code == 0 {
            out.write_all(text.as_bytes())
        } else {
            err.write_all(text.as_bytes())
        };
        code
    })
}

/// Writes `text` to `--output-file` when given, else to standard output.
fn emit(
    text: &str,
    output_file: Option<&std::path::Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let r = match output_file {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| format!("cannot write `{}`: {e}", p.display()))
        }
        None => out.write_all(text.as_bytes()).map_err(|e| e.to_string()),
    };
    match r {
        Ok(()) => 0,
        Err(e) => fail(err, &e),
    }
}

/// Reports an error that Python would raise out of the tool (exit 1).
fn fail(err: &mut dyn Write, message: &str) -> i32 {
    let _ = writeln!(err, "error: {message}");
    1
}
