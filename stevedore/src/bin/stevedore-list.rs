//! Lists the plugins a build and its plugin directories and manifests provide.
//!
//! ```text
//! stevedore-list [--dir DIR]... [--manifest FILE]... [NAMESPACE]
//! ```
//!
//! Compiled-in plugins are those linked into this binary; a service lists its own with
//! `stevedore::Registry::global().listing()`.

use std::process::ExitCode;

use stevedore::Registry;

const USAGE: &str = "usage: stevedore-list [--dir DIR]... [--manifest FILE]... [NAMESPACE]\n\
\n\
Lists the plugins of the plugin libraries in each DIR (sorted by file name) and of each TOML\n\
manifest, with their targets and where they came from; only those of NAMESPACE if given.";

fn main() -> ExitCode {
    let mut registry = Registry::from_static();
    let mut namespace: Option<String> = None;
    let mut failed = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--dir" | "--manifest" => {
                let Some(path) = args.next() else {
                    eprintln!("stevedore-list: `{arg}` needs a path\n{USAGE}");
                    return ExitCode::from(2);
                };
                if arg == "--dir" {
                    match registry.load_dir(&path) {
                        Ok(report) => {
                            for failure in &report.failures {
                                eprintln!("stevedore-list: {failure}");
                                failed = true;
                            }
                        }
                        Err(e) => {
                            eprintln!("stevedore-list: {e}");
                            failed = true;
                        }
                    }
                } else if let Err(e) = registry.load_manifest(&path) {
                    eprintln!("stevedore-list: {e}");
                    failed = true;
                }
            }
            other if other.starts_with('-') => {
                eprintln!("stevedore-list: unknown option `{other}`\n{USAGE}");
                return ExitCode::from(2);
            }
            other if namespace.is_none() => namespace = Some(other.to_owned()),
            other => {
                eprintln!("stevedore-list: unexpected argument `{other}`\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    match &namespace {
        Some(ns) => print!("{}", registry.listing_of(ns)),
        None => print!("{}", registry.listing()),
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
