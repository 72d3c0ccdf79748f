//! `oslo-config-validator`: checks a config file against registered option namespaces or the YAML option
//! data written by `oslo-config-generator --format yaml`.

fn main() {
    std::process::exit(oslo_config::validator::main_with_args(
        std::env::args().skip(1).collect(),
    ));
}
