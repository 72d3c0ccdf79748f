//! The `oslo-config-generator` and `oslo-config-validator` binaries: flags and exit codes.

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin).args(args).output().expect("run the tool");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GENERATOR: &str = env!("CARGO_BIN_EXE_oslo-config-generator");
const VALIDATOR: &str = env!("CARGO_BIN_EXE_oslo-config-validator");

#[test]
fn generator_flags_and_exit_codes() {
    let (code, out, _) = run(GENERATOR, &["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--namespace",
        "--output-file",
        "--wrap-width",
        "--minimal",
        "--summarize",
        "--format",
    ] {
        assert!(out.contains(flag), "{flag} in {out}");
    }
    let (code, out, _) = run(GENERATOR, &["--version"]);
    assert_eq!(
        (code, out.trim().ends_with(env!("CARGO_PKG_VERSION"))),
        (0, true)
    );
    let (code, _, err) = run(GENERATOR, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("value required for option namespace"), "{err}");
    let (code, _, err) = run(GENERATOR, &["--namespace", "no.such.namespace"]);
    assert_eq!(code, 1);
    assert!(err.contains("no.such.namespace"), "{err}");
    let (code, _, _) = run(GENERATOR, &["--namespace", "x", "--format", "rst"]);
    assert_eq!(code, 1);
}

#[test]
fn validator_flags_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("opts.yaml");
    std::fs::write(
        &data,
        "options:\n  DEFAULT:\n    opts:\n    - name: debug\n      dest: debug\n      default: false\n\
         deprecated_options:\n  DEFAULT:\n  - name: verbose\n    replacement_name: debug\n    replacement_group: DEFAULT\n",
    )
    .unwrap();
    let good = dir.path().join("good.conf");
    std::fs::write(&good, "[DEFAULT]\ndebug = true\n").unwrap();
    let deprecated = dir.path().join("dep.conf");
    std::fs::write(&deprecated, "[DEFAULT]\nverbose = true\n").unwrap();
    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, "[DEFAULT]\ntypo = true\n").unwrap();
    let d = data.to_str().unwrap();

    assert_eq!(
        run(
            VALIDATOR,
            &["--opt-data", d, "--input-file", good.to_str().unwrap()]
        )
        .0,
        0
    );
    let (code, _, err) = run(
        VALIDATOR,
        &[
            "--opt-data",
            d,
            "--input-file",
            deprecated.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0);
    assert!(
        err.contains("WARNING:oslo_config.validator:Deprecated opt DEFAULT/verbose found"),
        "{err}"
    );
    let args = [
        "--opt-data",
        d,
        "--input-file",
        deprecated.to_str().unwrap(),
        "--fatal-warnings",
    ];
    assert_eq!(run(VALIDATOR, &args).0, 1);
    let (code, _, err) = run(
        VALIDATOR,
        &["--opt-data", d, "--input-file", bad.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("ERROR:oslo_config.validator:DEFAULT/typo is not part of the sample config"),
        "{err}"
    );
    // Neither namespace nor option data, and a missing required flag.
    assert_eq!(
        run(VALIDATOR, &["--input-file", good.to_str().unwrap()]).0,
        1
    );
    assert_eq!(run(VALIDATOR, &["--opt-data", d]).0, 1);
}
