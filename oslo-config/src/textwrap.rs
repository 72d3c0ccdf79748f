//! Python's `textwrap.wrap`, as oslo-config-generator uses it for help text: `# ` indents, words never
//! broken, whitespace kept inside lines and dropped at line ends, breaks allowed after hyphens inside words.

fn is_ws(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

fn is_letter(c: Option<char>) -> bool {
    c.is_some_and(|c| c == '_' || (c.is_alphanumeric() && !c.is_numeric()))
}

/// Splits one word after the hyphens where Python's `TextWrapper.wordsep_re` allows a break.
fn split_word(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..chars.len() {
        if chars[i] != '-' || i + 1 >= chars.len() {
            continue;
        }
        let at = |k: isize| -> Option<char> {
            let j = i as isize + k;
            if j < 0 {
                None
            } else {
                chars.get(j as usize).copied()
            }
        };
        let behind = (is_letter(at(-2)) && is_letter(at(-1)))
            || (is_letter(at(-3)) && at(-2) == Some('-') && is_letter(at(-1)));
        let ahead =
            is_letter(at(1)) && (is_letter(at(2)) || (at(2) == Some('-') && is_letter(at(3))));
        if behind && ahead {
            out.push(chars[start..=i].iter().collect());
            start = i + 1;
        }
    }
    out.push(chars[start..].iter().collect());
    out
}

fn chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_ws = None;
    for c in text.chars() {
        let ws = is_ws(c);
        if in_ws.is_some_and(|w| w != ws) {
            if in_ws == Some(true) {
                out.push(std::mem::take(&mut cur));
            } else {
                out.extend(split_word(&std::mem::take(&mut cur)));
            }
        }
        in_ws = Some(ws);
        cur.push(c);
    }
    if !cur.is_empty() {
        if in_ws == Some(true) {
            out.push(cur);
        } else {
            out.extend(split_word(&cur));
        }
    }
    out
}

fn expand_tabs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut col = 0usize;
    for c in s.chars() {
        match c {
            '\t' => {
                let n = 8 - col % 8;
                out.extend(std::iter::repeat_n(' ', n));
                col += n;
            }
            '\n' | '\r' => {
                out.push(c);
                col = 0;
            }
            c => {
                out.push(c);
                col += 1;
            }
        }
    }
    out
}

/// `textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent, break_long_words=False,
/// replace_whitespace=False)`.
pub(crate) fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let mut pending: Vec<String> = chunks(&expand_tabs(text));
    pending.reverse();
    let mut lines: Vec<String> = Vec::new();
    let indent_len = indent.chars().count();
    while !pending.is_empty() {
        let mut cur: Vec<String> = Vec::new();
        let mut cur_len = 0usize;
        let avail = width.saturating_sub(indent_len);
        if !lines.is_empty()
            && pending
                .last()
                .is_some_and(|c| c.trim_matches(is_ws).is_empty())
        {
            pending.pop();
        }
        while let Some(c) = pending.last() {
            let l = c.chars().count();
            if cur_len + l <= avail {
                cur_len += l;
                cur.extend(pending.pop());
            } else {
                break;
            }
        }
        if let Some(c) = pending.last()
            && c.chars().count() > avail
            && cur.is_empty()
        {
            cur.extend(pending.pop());
        }
        if cur.last().is_some_and(|c| c.trim_matches(is_ws).is_empty()) {
            cur.pop();
        }
        if !cur.is_empty() {
            lines.push(format!("{indent}{}", cur.concat()));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_like_python() {
        assert_eq!(wrap("aaa bbb ccc", 9, "# "), ["# aaa bbb", "# ccc"]);
        assert_eq!(wrap("", 70, "# "), Vec::<String>::new());
        assert_eq!(wrap("   ", 70, "# "), Vec::<String>::new());
        assert_eq!(
            wrap("averyveryverylongword x", 5, "# "),
            ["# averyveryverylongword", "# x"]
        );
        assert_eq!(split_word("non-blocking"), ["non-", "blocking"]);
        assert_eq!(split_word("a-b"), ["a-b"]);
    }
}
