//! `oslo-rootwrap CONFIG COMMAND [ARGS...]`: runs COMMAND if a filter of CONFIG allows it.

fn main() {
    std::process::exit(oslo_rootwrap::cli::rootwrap_main(
        std::env::args_os().collect(),
    ));
}
