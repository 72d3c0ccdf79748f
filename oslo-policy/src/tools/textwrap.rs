//! Python's `textwrap.wrap(text, 70, initial_indent='# ', subsequent_indent='# ')`, which the sample
//! generator uses for descriptions: words split at whitespace and after hyphens inside words, long
//! words broken, lines at most 70 columns.

/// `[^\d\W]`: a word character that is not a digit.
fn is_letter(c: char) -> bool {
    (c.is_alphanumeric() || c == '_') && !c.is_numeric()
}

/// Splits a word after the hyphens `textwrap` breaks at (a hyphen preceded by two letters, or by
/// letter-hyphen-letter, and followed by a letter).
fn hyphen_chunks(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..chars.len() {
        if chars[i] != '-' || i < 2 {
            continue;
        }
        let before = (is_letter(chars[i - 1]) && is_letter(chars[i - 2]))
            || (i >= 3
                && is_letter(chars[i - 1])
                && chars[i - 2] == '-'
                && is_letter(chars[i - 3]));
        let letter_at = |j: usize| chars.get(j).is_some_and(|c| is_letter(*c));
        let after = letter_at(i + 1)
            && (letter_at(i + 2) || (chars.get(i + 2) == Some(&'-') && letter_at(i + 3)));
        if before && after {
            out.push(chars[start..=i].iter().collect());
            start = i + 1;
        }
    }
    out.push(chars[start..].iter().collect());
    out
}

/// Wraps `text` into lines of at most `width` columns, each starting with `indent`.
pub(crate) fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    // Whitespace becomes single spaces between chunks; textwrap keeps runs of spaces as one chunk.
    let mut chunks: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut space = String::new();
    for c in text.chars() {
        if c.is_whitespace() {
            if !word.is_empty() {
                chunks.extend(hyphen_chunks(&word));
                word.clear();
            }
            space.push(' ');
        } else {
            if !space.is_empty() {
                chunks.push(std::mem::take(&mut space));
            }
            word.push(c);
        }
    }
    if !word.is_empty() {
        chunks.extend(hyphen_chunks(&word));
    }
    if !space.is_empty() {
        chunks.push(space);
    }
    chunks.reverse();
    let mut lines = Vec::new();
    let avail = width.saturating_sub(indent.chars().count()).max(1);
    while !chunks.is_empty() {
        let mut line: Vec<String> = Vec::new();
        let mut len = 0;
        if chunks.last().is_some_and(|c| c.trim().is_empty()) && !lines.is_empty() {
            chunks.pop();
        }
        while let Some(c) = chunks.last() {
            let l = c.chars().count();
            if len + l <= avail {
                len += l;
                line.push(chunks.pop().unwrap_or_default());
            } else {
                break;
            }
        }
        if let Some(c) = chunks.last()
            && c.chars().count() > avail
        {
            let space_left = avail - len;
            let chars: Vec<char> = c.chars().collect();
            // Break at the last hyphen that fits, else at the space left.
            let mut end = space_left;
            if let Some(h) = chars[..space_left.min(chars.len())]
                .iter()
                .rposition(|c| *c == '-')
                && h > 0
                && chars[..h].iter().any(|c| *c != '-')
            {
                end = h + 1;
            }
            let head: String = chars[..end].iter().collect();
            let tail: String = chars[end..].iter().collect();
            len += end;
            line.push(head);
            chunks.pop();
            chunks.push(tail);
        }
        while line.last().is_some_and(|c| c.trim().is_empty()) {
            if let Some(c) = line.pop() {
                len -= c.chars().count();
            }
        }
        let _ = len;
        if !line.is_empty() {
            lines.push(format!("{indent}{}", line.concat()));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_like_python() {
        let text = "Nova API policies are introducing new default roles with scope_type capabilities. \
                    Old policies are deprecated and silently going to be ignored in nova 23.0.0 release.";
        assert_eq!(
            wrap(text, 70, "# "),
            [
                "# Nova API policies are introducing new default roles with scope_type",
                "# capabilities. Old policies are deprecated and silently going to be",
                "# ignored in nova 23.0.0 release.",
            ]
        );
        assert_eq!(
            wrap("a well-known thing", 12, "# "),
            ["# a well-", "# known", "# thing"]
        );
    }
}
