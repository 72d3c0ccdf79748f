//! Writes a mapping of rules as PyYAML's `safe_dump(default_flow_style=False)` does: keys sorted, plain
//! scalars where YAML allows them, single quotes otherwise, long values folded at column 80.

use serde_json::Value;

const BEST_WIDTH: usize = 80;

/// Whether PyYAML's resolver would read the plain scalar `s` as something other than a string.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N", "null", "Null", "NULL", "~",
        "<<", "=",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    let numeric = |c: char| c.is_ascii_digit() || c == '_';
    if t.chars().all(numeric) && t.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    if let Some(h) = t.strip_prefix("0x") {
        return !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit() || c == '_');
    }
    if let Some(b) = t.strip_prefix("0b") {
        return !b.is_empty() && b.chars().all(|c| matches!(c, '0' | '1' | '_'));
    }
    if matches!(t.to_ascii_lowercase().as_str(), ".inf" | ".nan") {
        return true;
    }
    // Floats: digits with one dot, an optional exponent.
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let dots = mant.matches('.').count();
    let mant_ok = dots == 1
        && mant.chars().all(|c| numeric(c) || c == '.')
        && mant.chars().any(|c| c.is_ascii_digit());
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    if mant_ok && exp_ok {
        return true;
    }
    // Sexagesimal integers (`1:30`) and timestamps are rare in rule values; YAML 1.1 reads `1:30` as 90.
    let parts: Vec<&str> = t.split(':').collect();
    parts.len() > 1
        && parts
            .first()
            .is_some_and(|p| !p.is_empty() && p.chars().all(numeric))
        && parts
            .iter()
            .skip(1)
            .all(|p| p.len() <= 2 && !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

enum Style {
    Plain,
    Single,
    Double,
}

fn style(s: &str) -> Style {
    if s.chars().any(|c| !(c.is_ascii_graphic() || c == ' ')) {
        return Style::Double;
    }
    if s.is_empty() || s.starts_with(' ') || s.ends_with(' ') || resolves_to_non_string(s) {
        return Style::Single;
    }
    let first = s.chars().next().unwrap_or(' ');
    let second = s.chars().nth(1);
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return Style::Single;
    }
    if "?:-".contains(first) && second.is_none_or(|c| c == ' ') {
        return Style::Single;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return Style::Single;
    }
    Style::Plain
}

/// Writes `text` from `column` on, breaking at single spaces once past column 80.
fn write_folded(out: &mut String, text: &str, mut column: usize, indent: usize) {
    let words: Vec<&str> = text.split(' ').collect();
    let n = words.len();
    let mut i = 0;
    while i < n {
        let w = words[i];
        out.push_str(w);
        column += w.len();
        if i + 1 < n {
            // A run of spaces is `words` of empty strings between two words.
            let mut spaces = 1;
            while i + spaces < n && words[i + spaces].is_empty() && i + spaces + 1 < n {
                spaces += 1;
            }
            if spaces == 1 && column > BEST_WIDTH && !words[i + 1].is_empty() {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                column = indent;
            } else {
                out.push_str(&" ".repeat(spaces));
                column += spaces;
            }
            i += spaces;
        } else {
            i += 1;
        }
    }
}

fn scalar(out: &mut String, s: &str, column: usize, indent: usize, fold: bool) {
    match style(s) {
        Style::Plain => {
            if fold {
                write_folded(out, s, column, indent);
            } else {
                out.push_str(s);
            }
        }
        Style::Single => {
            let escaped = s.replace('\'', "''");
            out.push('\'');
            if fold && !escaped.is_empty() {
                write_folded(out, &escaped, column + 1, indent);
            } else {
                out.push_str(&escaped);
            }
            out.push('\'');
        }
        Style::Double => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_ascii_graphic() || c == ' ' => out.push(c),
                    c => {
                        let n = c as u32;
                        out.push_str(&if n < 0x100 {
                            format!("\\x{n:02X}")
                        } else if n < 0x10000 {
                            format!("\\u{n:04X}")
                        } else {
                            format!("\\U{n:08X}")
                        });
                    }
                }
            }
            out.push('"');
        }
    }
}

fn value(out: &mut String, v: &Value, column: usize, indent: usize) {
    match v {
        Value::String(s) => {
            out.push(' ');
            scalar(out, s, column + 1, indent, true);
            out.push('\n');
        }
        Value::Null => out.push_str(" null\n"),
        Value::Bool(b) => out.push_str(if *b { " true\n" } else { " false\n" }),
        Value::Number(n) => {
            out.push(' ');
            out.push_str(&n.to_string());
            out.push('\n');
        }
        Value::Array(items) if items.is_empty() => out.push_str(" []\n"),
        Value::Array(items) => {
            out.push('\n');
            for item in items {
                out.push_str(&" ".repeat(indent.saturating_sub(2)));
                out.push('-');
                value(out, item, indent, indent + 2);
            }
        }
        Value::Object(map) if map.is_empty() => out.push_str(" {}\n"),
        Value::Object(map) => {
            out.push('\n');
            for (k, item) in map {
                out.push_str(&" ".repeat(indent));
                scalar(out, k, indent, indent, false);
                out.push(':');
                value(out, item, indent + k.len() + 1, indent + 2);
            }
        }
    }
}

/// Dumps `rules` (sorted by name) as PyYAML's `safe_dump` does.
pub(crate) fn dump(rules: &indexmap::IndexMap<String, Value>) -> String {
    if rules.is_empty() {
        return "{}\n".into();
    }
    let mut names: Vec<&String> = rules.keys().collect();
    names.sort();
    let mut out = String::new();
    for name in names {
        let before = out.len();
        scalar(&mut out, name, 0, 0, false);
        out.push(':');
        let column = out.len() - before;
        if let Some(v) = rules.get(name) {
            value(&mut out, v, column, 2);
        }
    }
    out
}
