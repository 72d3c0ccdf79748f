//! Would `sudo oslo-rootwrap CONFIG COMMAND...` run COMMAND, and how? Prints the decision without running
//! anything: the filter, the user, the exact argument vector and the variables, or why it is refused.
//!
//!   cargo run -p oslo-rootwrap --example decide -- /etc/neutron/rootwrap.conf ip netns exec qr-1 ip a

use std::path::PathBuf;
use std::process::ExitCode;

use oslo_rootwrap::{LoadOptions, Rootwrap};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(config) = args.next() else {
        eprintln!("usage: decide CONFIG COMMAND [ARGS...]");
        return ExitCode::from(2);
    };
    let command: Vec<String> = args.collect();
    // Checking what a configuration allows needs no root, so the ownership checks stay off.
    let rootwrap = match Rootwrap::load_with(
        &PathBuf::from(&config),
        LoadOptions::default().trust_check(false),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    match rootwrap.decide(&command) {
        Ok(d) => {
            println!(
                "allowed by filter `{}` ({:?}), run as `{}`",
                d.filter, d.kind, d.run_as
            );
            println!("argv: {:?}", d.command);
            for (k, v) in &d.env {
                println!("env: {k}={v}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("refused ({}): {e}", e.exit_code());
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
