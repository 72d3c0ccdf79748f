//! `oslo-rootwrap-daemon CONFIG`: serves commands allowed by CONFIG over a private Unix socket.

fn main() {
    std::process::exit(oslo_rootwrap::cli::daemon_main(
        std::env::args_os().collect(),
    ));
}
