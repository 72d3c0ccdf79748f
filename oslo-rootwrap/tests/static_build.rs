//! The production builds the README recommends: a static position-independent `oslo-rootwrap` on musl
//! (`cargo build --target x86_64-unknown-linux-musl`, the quickest to start) and on glibc
//! (`RUSTFLAGS='-C target-feature=+crt-static' cargo build --target <host>`, for users from NSS). Each is
//! built here (debug profile, its own target directory) and must be a static PIE that allows, refuses and
//! runs a command as the filter's user, which the static C library looks up without the system's shared
//! libraries, with that user's primary group only.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("a host line")
        .trim()
        .to_string()
}

/// Builds the static binary for `triple` (with `rustflags`) and returns its path.
fn build_static(triple: &str, rustflags: &str) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target_dir = workspace.join("target/static-pie");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "-q",
            "-p",
            "oslo-rootwrap",
            "--bin",
            "oslo-rootwrap",
        ])
        .args(["--target", triple])
        .env("RUSTFLAGS", rustflags)
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(&workspace)
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "the static build for {triple} failed (for musl: `rustup target add {triple}`, which \
         scripts/test.sh runs)"
    );
    target_dir.join(triple).join("debug/oslo-rootwrap")
}

/// The ELF program header types of `path` (64-bit little-endian only).
fn program_headers(path: &Path) -> Vec<u32> {
    let elf = std::fs::read(path).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(elf[4], 2, "a 64-bit ELF file");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum)
        .map(|i| {
            let o = phoff + i * phentsize;
            u32::from_le_bytes(elf[o..o + 4].try_into().unwrap())
        })
        .collect()
}

#[test]
fn static_pie_build_decides_and_runs_as_the_filter_user() {
    check_static_pie(&build_static(
        &host_triple(),
        "-C target-feature=+crt-static",
    ));
}

#[test]
fn musl_static_pie_build_decides_and_runs_as_the_filter_user() {
    // The musl target of this machine's architecture (musl targets are static PIEs by default).
    let triple = host_triple().replace("-gnu", "-musl");
    check_static_pie(&build_static(&triple, ""));
}

/// Checks that `exe` is a static PIE that allows, refuses, and runs a command as the filter's user with
/// that user's primary group only.
fn check_static_pie(exe: &Path) {
    let exe = exe.to_path_buf();
    const PT_INTERP: u32 = 3;
    let elf = std::fs::read(&exe).unwrap();
    // ET_DYN (3): position-independent, so the address space is still randomised.
    assert_eq!(u16::from_le_bytes([elf[16], elf[17]]), 3, "a PIE");
    assert!(
        !program_headers(&exe).contains(&PT_INTERP),
        "no dynamic loader"
    );

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let filters = root.join("rootwrap.d");
    std::fs::create_dir(&filters).unwrap();
    for d in [root, filters.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(
        filters.join("test.filters"),
        "[Filters]\nid: CommandFilter, id, nobody\ntrue: CommandFilter, true, root\n\
         groups: CommandFilter, groups, postgres\n",
    )
    .unwrap();
    let conf = root.join("rootwrap.conf");
    std::fs::write(
        &conf,
        format!(
            "[DEFAULT]\nfilters_path = {}\nexec_dirs = /usr/bin,/bin\n",
            filters.display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| Command::new(&exe).arg(&conf).args(args).output().unwrap();

    assert_eq!(run(&["true"]).status.code(), Some(0));
    let refused = run(&["cat", "/etc/shadow"]);
    assert_eq!(refused.status.code(), Some(99));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Unauthorized command"));

    // Switching to the filter's user needs root (the test script runs the tests as root).
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        let id = run(&["id", "-un"]);
        assert_eq!(id.status.code(), Some(0), "{id:?}");
        assert_eq!(String::from_utf8_lossy(&id.stdout).trim(), "nobody");
        // The groups too: the user's primary group alone (no supplementary groups, none of root's),
        // even for Debian's `postgres` (the test script installs PostgreSQL), which is also in `ssl-cert`.
        let expected = Command::new("id")
            .args(["-gn", "postgres"])
            .output()
            .unwrap();
        if expected.status.success() {
            let groups = run(&["groups"]);
            assert_eq!(groups.status.code(), Some(0), "{groups:?}");
            assert_eq!(
                String::from_utf8_lossy(&groups.stdout).trim(),
                String::from_utf8_lossy(&expected.stdout).trim()
            );
        } else {
            eprintln!("no `postgres` user: the supplementary-groups case is left out");
        }
    } else {
        eprintln!("not root: the run-as-user case is left out");
    }
}
