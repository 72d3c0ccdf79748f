//! The oslo-rs demo: every crate at work on embedded defaults (in-memory transport, SQLite).

use oslo_tests::demo::PARTS;
use std::process::ExitCode;

fn main() -> ExitCode {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    for name in &wanted {
        if !PARTS.iter().any(|p| p.name == name) {
            let known: Vec<&str> = PARTS.iter().map(|p| p.name).collect();
            eprintln!(
                "demo: no part `{name}`; the parts are: {}",
                known.join(", ")
            );
            return ExitCode::from(2);
        }
    }
    println!("oslo-rs demo: {} part(s)", PARTS.len());
    for part in PARTS
        .iter()
        .filter(|p| wanted.is_empty() || wanted.iter().any(|w| w == p.name))
    {
        println!("\n=== {} ===", part.name);
        if let Err(e) = (part.run)() {
            eprintln!("demo part `{}` failed: {e}", part.name);
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
