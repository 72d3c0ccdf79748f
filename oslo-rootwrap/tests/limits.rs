//! The bounds on input: command lines, filter files, patterns and the backtracking budget.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oslo_rootwrap::{Error, Filters, LoadOptions, MAX_ARGS, MAX_FILTER_FILE_BYTES};

fn filters(text: &str) -> Filters {
    Filters::from_list(Filters::parse_file(text, Path::new("t.filters")).unwrap())
}

#[test]
fn command_lines_are_bounded() {
    let f = filters("[Filters]\nls: CommandFilter, ls, root\n");
    let mut args = vec!["ls".to_string(); MAX_ARGS + 1];
    args[0] = "ls".into();
    assert!(matches!(
        f.decide(&args, &[PathBuf::from("/bin")]),
        Err(Error::TooLarge { .. })
    ));
    let huge = vec!["ls".to_string(), "x".repeat(5 << 20)];
    assert!(matches!(
        f.decide(&huge, &[PathBuf::from("/bin")]),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(f.decide(&[], &[]), Err(Error::NoCommand)));
}

#[test]
fn filter_files_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("[Filters]\n");
    while text.len() <= MAX_FILTER_FILE_BYTES {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(dir.path().join("big.filters"), text).unwrap();
    let err = Filters::load(
        &[dir.path().to_path_buf()],
        LoadOptions::default().trust_check(false),
    )
    .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert_eq!(err.exit_code(), 97);
}

#[test]
fn long_patterns_are_unusable_and_never_match() {
    let long = "a".repeat(5000);
    let f = filters(&format!(
        "[Filters]\nr: RegExpFilter, cmd, root, cmd, {long}\n"
    ));
    let r = f.iter().find(|f| f.name() == "r").unwrap();
    assert_eq!(r.unusable_patterns().len(), 1);
    assert!(f.decide(&["cmd".into(), long], &[]).is_err());
}

#[test]
fn catastrophic_patterns_end_quickly_without_a_match() {
    let f = filters("[Filters]\nr: RegExpFilter, cmd, root, cmd, (a|aa)+(?=b)c\n");
    let start = Instant::now();
    let word = format!("{}d", "a".repeat(64));
    let result = f.decide(&["cmd".into(), word], &[PathBuf::from("/bin")]);
    assert!(
        matches!(result, Err(Error::Unauthorized { .. })),
        "{result:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}
