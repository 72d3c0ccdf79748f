//! `oslo-rootwrap CONFIG COMMAND [ARGS...]`: runs COMMAND if a filter of CONFIG allows it.

/// On musl (the README's production build), a TLSF allocator that keeps the pages it takes: musl's own
/// gives memory back to the system whenever a group of blocks empties, and its `mmap` and `munmap` calls
/// were a tenth of this binary's time, which runs for one command and exits.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: rlsf::SmallGlobalTlsf = rlsf::SmallGlobalTlsf::new();

fn main() {
    std::process::exit(oslo_rootwrap::cli::rootwrap_main(
        std::env::args_os().collect(),
    ));
}
