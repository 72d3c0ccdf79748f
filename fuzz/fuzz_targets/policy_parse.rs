#![no_main]
//! Fuzzes the policy rule parser, the evaluator and the policy file loader: no panic, no stack
//! overflow, and the printed form of a parsed rule parses back to the same tree.

use libfuzzer_sys::fuzz_target;
use oslo_policy::{CheckRegistry, parse_file_contents, parse_rule, parse_value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = parse_rule(text);
    // The fuzz crate does not depend on serde_json: build the values through the file loader.
    let Ok(values) = parse_file_contents(
        "target: {project_id: p1, n: 1, list: [1, a]}\n\
         creds: {roles: [admin], project_id: p1, nested: {a: [{b: c}]}}\n",
    ) else {
        return;
    };
    let (Some(target), Some(creds)) = (values.get("target"), values.get("creds")) else { return };
    let _ = parsed.check.evaluate(target, creds);
    if parsed.errors.is_empty() {
        let printed = parsed.check.to_string();
        let again = parse_rule(&printed);
        assert!(again.errors.is_empty(), "{printed:?} does not parse back");
        assert_eq!(again.check, parsed.check, "{printed:?}");
    }
    if let Ok(rules) = parse_file_contents(text) {
        let registry = CheckRegistry::new();
        for value in rules.values() {
            if let Ok(p) = parse_value(value, &registry) {
                let _ = p.check.evaluate(target, creds);
            }
        }
    }
});
