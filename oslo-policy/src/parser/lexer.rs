//! Splits a rule into tokens, as oslo.policy's tokenizer: whitespace separates chunks, parentheses are
//! only recognised at the edges of a chunk, `and`/`or`/`not` in any case are operators, a chunk wholly in
//! quotes is a string, anything else is one check atom.

use std::ops::Range;

/// One token of a rule, with its byte range in the rule text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub(crate) kind: TokenKind<'a>,
    pub(crate) span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind<'a> {
    LParen,
    RParen,
    And,
    Or,
    Not,
    /// A chunk wholly wrapped in quotes: no rule consumes it, so the rule fails to parse.
    Str,
    /// A check atom: `@`, `!`, `kind:match`.
    Atom(&'a str),
}

/// Python's `str.isspace()`, which its `\s` matches: Unicode whitespace plus the separators
/// U+001C..U+001F.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Tokenizes `rule`.
pub(crate) fn tokenize(rule: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = rule;
    let mut offset = 0;
    while !rest.is_empty() {
        let skip = rest.find(|c: char| !is_py_space(c)).unwrap_or(rest.len());
        offset += skip;
        rest = &rest[skip..];
        if rest.is_empty() {
            break;
        }
        let len = rest.find(is_py_space).unwrap_or(rest.len());
        chunk(&rest[..len], offset, &mut out);
        offset += len;
        rest = &rest[len..];
    }
    out
}

fn chunk<'a>(tok: &'a str, start: usize, out: &mut Vec<Token<'a>>) {
    let clean = tok.trim_start_matches('(');
    let opens = tok.len() - clean.len();
    for i in 0..opens {
        out.push(Token {
            kind: TokenKind::LParen,
            span: start + i..start + i + 1,
        });
    }
    if clean.is_empty() {
        return;
    }
    let tok = clean;
    let start = start + opens;
    let clean = tok.trim_end_matches(')');
    let trail = tok.len() - clean.len();
    let end = start + clean.len();
    let op = match clean.len() {
        2 if clean.eq_ignore_ascii_case("or") => Some(TokenKind::Or),
        3 if clean.eq_ignore_ascii_case("and") => Some(TokenKind::And),
        3 if clean.eq_ignore_ascii_case("not") => Some(TokenKind::Not),
        _ => None,
    };
    if let Some(kind) = op {
        out.push(Token {
            kind,
            span: start..end,
        });
    } else if !clean.is_empty() {
        // The quote test looks at the chunk before its closing parentheses are stripped, as oslo's does.
        let b = tok.as_bytes();
        let quoted = tok.len() >= 2
            && matches!(
                (b.first(), b.last()),
                (Some(b'"'), Some(b'"')) | (Some(b'\''), Some(b'\''))
            );
        let kind = if quoted {
            TokenKind::Str
        } else {
            TokenKind::Atom(clean)
        };
        out.push(Token {
            kind,
            span: start..end,
        });
    }
    for i in 0..trail {
        out.push(Token {
            kind: TokenKind::RParen,
            span: end + i..end + i + 1,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<TokenKind<'_>> {
        tokenize(s).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn parentheses_only_at_chunk_edges() {
        use TokenKind::*;
        assert_eq!(
            kinds("((role:a) OR not rule:b)"),
            vec![
                LParen,
                LParen,
                Atom("role:a"),
                RParen,
                Or,
                Not,
                Atom("rule:b"),
                RParen
            ]
        );
        assert_eq!(kinds("role:a(b)"), vec![Atom("role:a(b"), RParen]);
        assert_eq!(kinds("'x' \"y\")"), vec![Str, Atom("\"y\""), RParen]);
        assert_eq!(kinds("'x')"), vec![Atom("'x'"), RParen]);
    }

    #[test]
    fn spans_point_into_the_text() {
        let t = tokenize("  (role:a  and\tb:c)");
        assert_eq!(t[0].span, 2..3);
        assert_eq!(t[1].span, 3..9);
        assert_eq!(t[2].span, 11..14);
        assert_eq!(t[3].span, 15..18);
    }
}
