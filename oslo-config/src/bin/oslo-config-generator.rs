//! `oslo-config-generator`: writes a sample config file (or the machine-readable option data) for the
//! option namespaces that the linked crates register.

fn main() {
    std::process::exit(oslo_config::generator::main_with_args(
        std::env::args().skip(1).collect(),
    ));
}
