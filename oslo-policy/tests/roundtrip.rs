//! Print → parse round trip: the printed form of any parsed rule parses back to an equal tree with the
//! same printed form; and no input makes the parser panic.

use oslo_policy::parse_rule;
use proptest::prelude::*;

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("@".to_string()),
        Just("!".to_string()),
        "[a-z]{1,8}".prop_map(|r| format!("role:{r}")),
        "[a-z_:]{1,12}".prop_map(|r| format!("rule:{r}")),
        ("[a-z_.]{1,10}", "[a-zA-Z0-9_]{0,6}").prop_map(|(k, m)| format!("{k}:%({m})s")),
        ("True|False|'x'|1|None", "[a-z0-9]{0,5}").prop_map(|(k, m)| format!("{k}:{m}")),
    ]
}

fn rule() -> impl Strategy<Value = String> {
    atom().prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop_oneof![Just("and"), Just("or"), Just("AND"), Just("Or")]
            )
                .prop_map(|(a, b, op)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|a| format!("not {a}")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

proptest! {
    #[test]
    fn print_parse_round_trip(text in rule()) {
        let first = parse_rule(&text);
        prop_assert!(first.errors.is_empty(), "{text}: {:?}", first.errors);
        let printed = first.check.to_string();
        let second = parse_rule(&printed);
        prop_assert!(second.errors.is_empty(), "{printed}: {:?}", second.errors);
        prop_assert_eq!(&second.check, &first.check);
        prop_assert_eq!(second.check.to_string(), printed);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
        let parsed = parse_rule(&text);
        let _ = parsed.check.evaluate(&serde_json::json!({"a": 1}), &serde_json::json!({"roles": ["a"]}));
        if parsed.failed {
            prop_assert!(!parsed.errors.is_empty());
        }
    }
}
