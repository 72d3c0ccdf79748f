//! The oslo INI dialect: what the parser keeps and which lines it refuses.

use oslo_config::IniDocument;

fn vals<'a>(doc: &'a IniDocument, section: &str, key: &str) -> Vec<&'a str> {
    doc.values(section, key).map(|e| e.value.as_str()).collect()
}

#[test]
fn repeated_keys_and_sections_are_kept_in_order() {
    let doc =
        IniDocument::parse("[DEFAULT]\na = 1\n[g]\nb = x\n[DEFAULT]\na = 2\n[G]\nb = y\n").unwrap();
    assert_eq!(vals(&doc, "DEFAULT", "a"), ["1", "2"]);
    assert_eq!(vals(&doc, "g", "b"), ["x", "y"]);
    assert_eq!(doc.sections().len(), 4);
    assert_eq!(doc.last("DEFAULT", "a").unwrap().line, 6);
}

#[test]
fn section_names_other_than_default_are_case_folded() {
    let doc = IniDocument::parse("[default]\na = 1\n[MyGroup]\nb = 2\n").unwrap();
    assert!(doc.contains("default", "a"));
    assert!(!doc.contains("DEFAULT", "a"));
    assert!(doc.contains("mygroup", "b"));
}

#[test]
fn continuation_lines_join_with_newlines_even_when_they_look_like_comments() {
    let doc = IniDocument::parse("[DEFAULT]\na = one\n  two\n\t# three\n\nb = x\n").unwrap();
    assert_eq!(vals(&doc, "DEFAULT", "a"), ["one\ntwo\n# three"]);
    assert_eq!(vals(&doc, "DEFAULT", "b"), ["x"]);
}

#[test]
fn comments_only_at_line_start_and_no_inline_comments() {
    let doc = IniDocument::parse("# c\n; c\n[DEFAULT]\na = b # c\nc: d ; e\n").unwrap();
    assert_eq!(vals(&doc, "DEFAULT", "a"), ["b # c"]);
    assert_eq!(vals(&doc, "DEFAULT", "c"), ["d ; e"]);
}

#[test]
fn first_separator_wins_and_one_quote_pair_is_stripped() {
    let doc = IniDocument::parse(
        "[DEFAULT]\na = b:c\nd: e=f\ng = \"  padded  \"\nh = 'x\"\ni = \"\"q\"\"\nj = \"\n",
    )
    .unwrap();
    assert_eq!(vals(&doc, "DEFAULT", "a"), ["b:c"]);
    assert_eq!(vals(&doc, "DEFAULT", "d"), ["e=f"]);
    assert_eq!(vals(&doc, "DEFAULT", "g"), ["  padded  "]);
    assert_eq!(vals(&doc, "DEFAULT", "h"), ["'x\""]);
    assert_eq!(vals(&doc, "DEFAULT", "i"), ["\"q\""]);
    assert_eq!(vals(&doc, "DEFAULT", "j"), [""]);
}

#[test]
fn crlf_and_cr_line_endings() {
    let doc = IniDocument::parse("[DEFAULT]\r\na = 1\rb = 2\r\n").unwrap();
    assert_eq!(vals(&doc, "DEFAULT", "a"), ["1"]);
    assert_eq!(vals(&doc, "DEFAULT", "b"), ["2"]);
}

fn err(text: &str) -> (usize, &'static str, String) {
    let e = IniDocument::parse(text).unwrap_err();
    (e.line, e.message, e.to_string())
}

#[test]
fn errors_with_oslo_messages_and_lines() {
    assert_eq!(err("  x\n").1, "Unexpected continuation line");
    assert_eq!(err("[DEFAULT\n").1, "Invalid section (must end with ])");
    assert_eq!(err("[]\n").1, "Empty section name");
    assert_eq!(
        err("[DEFAULT]\nnovalue\n").1,
        "No ':' or '=' found in assignment"
    );
    assert_eq!(err("[DEFAULT]\n = v\n").1, "Unexpected continuation line");
    assert_eq!(err("[DEFAULT]\n= v\n").1, "Key cannot be empty");
    // Reported at the line after the assignment: oslo flushes values lazily.
    let (line, msg, text) = err("a = 1\nb = 2\n");
    assert_eq!(
        (line, msg),
        (2, "Section must be started before assignment")
    );
    assert_eq!(
        text,
        "at line 2, Section must be started before assignment: ''"
    );
    assert_eq!(err("a = 1").0, 1);
    assert_eq!(
        err("[DEFAULT]\nnovalue\n").2,
        "at line 2, No ':' or '=' found in assignment: 'novalue'"
    );
}

mod props {
    use super::IniDocument;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = IniDocument::parse(&s);
        }

        #[test]
        fn simple_assignments_round_trip(key in "[a-z_][a-z0-9_]{0,8}", value in "[a-zA-Z0-9/.,:=-]{0,12}") {
            let text = format!("[DEFAULT]\n{key} = {value}\n");
            let doc = IniDocument::parse(&text).unwrap();
            prop_assert_eq!(doc.last("DEFAULT", &key).map(|e| e.value.clone()), Some(value.trim().to_owned()));
        }
    }
}
