//! `oslopolicy-list-redundant`, as Python oslo.policy's.

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = oslo_policy::tools::list_redundant(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
