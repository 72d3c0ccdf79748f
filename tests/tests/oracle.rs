//! The differential tests are only as good as their oracle: check that the reference Python has exactly the
//! versions of the originals that `../shared/reference` describes and `scripts/python-requirements.txt` pins.

use oslo_tests::{run_python_json, workspace_root};

#[test]
fn reference_python_has_the_pinned_originals() {
    let pins = std::fs::read_to_string(workspace_root().join("scripts/python-requirements.txt"))
        .expect("read scripts/python-requirements.txt");
    let wanted: Vec<(&str, &str)> = pins
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once("=="))
        .collect();
    assert!(
        wanted.iter().any(|(name, _)| *name == "oslo.config"),
        "oslo.config is pinned"
    );

    let installed = run_python_json(
        "import json, sys, importlib.metadata as m\n\
         print(json.dumps({n: m.version(n) for n in json.load(sys.stdin)}))",
        &serde_json::to_string(&wanted.iter().map(|(n, _)| n).collect::<Vec<_>>()).unwrap(),
    );
    for (name, version) in wanted {
        assert_eq!(
            installed[name], version,
            "{name} in the reference virtualenv"
        );
    }
}
