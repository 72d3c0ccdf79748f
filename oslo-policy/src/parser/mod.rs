//! The rule language: the text grammar (`role:a or (rule:b and not c:%(d)s)`) and the legacy
//! list-of-lists form, parsed into a [`Check`] tree.
//!
//! The text grammar is parsed by the same greedy shift-reduce as oslo.policy's, so the trees (and their
//! printed forms) are the same; precedence is `()` > `not` > `and` > `or`. A rule that does not parse
//! becomes [`Check::False`] (deny), as in oslo, and the error says where it went wrong.

mod lexer;

use std::fmt;
use std::ops::Range;

use serde_json::Value;

use lexer::{Token, TokenKind, tokenize};

use crate::check::Check;
use crate::custom::CheckRegistry;

/// How deeply checks may nest in one rule; deeper rules are rejected (they would overflow oslo's
/// Python recursion limit too).
pub const MAX_NESTING: usize = 200;

/// Why a rule (or a part of it) did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong, lowercase.
    pub message: String,
    /// Byte range in the rule text.
    pub span: Range<usize>,
    /// 1-based column (in characters) of the start of the span.
    pub column: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.message, self.column)
    }
}

impl std::error::Error for ParseError {}

/// The result of parsing a rule: the tree, and what did not parse.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The tree to evaluate; [`Check::False`] when the whole rule failed.
    pub check: Check,
    /// Problems, in order. Empty when the rule parsed cleanly. A rule may still have parsed with errors
    /// (an atom without `:` becomes `!` inside an otherwise good rule, as in oslo).
    pub errors: Vec<ParseError>,
    /// The whole rule failed to parse and was replaced by `!`.
    pub failed: bool,
}

/// Parses a rule in the text grammar with the statically registered custom checks.
///
/// ```
/// let parsed = oslo_policy::parse_rule("role:admin or (role:member and project_id:%(project_id)s)");
/// assert!(parsed.errors.is_empty());
/// assert_eq!(parsed.check.to_string(), "(role:admin or (role:member and project_id:%(project_id)s))");
///
/// let bad = oslo_policy::parse_rule("role:admin or");
/// assert!(bad.failed);
/// assert_eq!(bad.check.to_string(), "!");
/// ```
pub fn parse_rule(text: &str) -> Parsed {
    parse_rule_with(text, &CheckRegistry::new())
}

/// Parses a rule in the text grammar, with the custom checks of `registry`.
pub fn parse_rule_with(text: &str, registry: &CheckRegistry) -> Parsed {
    let mut errors = Vec::new();
    if text.is_empty() {
        return Parsed {
            check: Check::True,
            errors,
            failed: false,
        };
    }
    let tokens = tokenize(text);
    let mut state = State {
        stack: Vec::new(),
        too_deep: None,
    };
    for tok in tokens {
        let Token { kind, span } = tok;
        let item = match kind {
            TokenKind::LParen => Item::LParen(span),
            TokenKind::RParen => Item::RParen(span),
            TokenKind::And => Item::And(span),
            TokenKind::Or => Item::Or(span),
            TokenKind::Not => Item::Not(span),
            TokenKind::Str => Item::Str(span),
            TokenKind::Atom(s) => {
                let check = parse_atom(s, registry).unwrap_or_else(|msg| {
                    errors.push(error(text, msg, span.clone()));
                    Check::False
                });
                Item::Check(check, span, 1)
            }
        };
        state.shift(item);
        if let Some(span) = state.too_deep.take() {
            errors.push(error(
                text,
                format!("checks nest deeper than {MAX_NESTING} levels"),
                span,
            ));
            return Parsed {
                check: Check::False,
                errors,
                failed: true,
            };
        }
    }
    match state.finish() {
        Ok(check) => Parsed {
            check,
            errors,
            failed: false,
        },
        Err((msg, span)) => {
            errors.push(error(text, msg, span));
            Parsed {
                check: Check::False,
                errors,
                failed: true,
            }
        }
    }
}

impl std::str::FromStr for Check {
    type Err = ParseError;

    /// Parses a rule strictly: any error (even one oslo would turn into a `!` inside the rule) is
    /// returned.
    fn from_str(s: &str) -> Result<Check, ParseError> {
        let mut parsed = parse_rule(s);
        if parsed.errors.is_empty() {
            Ok(parsed.check)
        } else {
            Err(parsed.errors.remove(0))
        }
    }
}

fn error(text: &str, message: String, span: Range<usize>) -> ParseError {
    let column = text.get(..span.start).map_or(0, |s| s.chars().count()) + 1;
    ParseError {
        message,
        span,
        column,
    }
}

/// One atom: `!`, `@` or `kind:match` (oslo's `_parse_check`).
pub(crate) fn parse_atom(s: &str, registry: &CheckRegistry) -> Result<Check, String> {
    match s {
        "!" => return Ok(Check::False),
        "@" => return Ok(Check::True),
        _ => {}
    }
    let Some((kind, matcher)) = s.split_once(':') else {
        return Err(format!("`{s}` is not a check: it has no `:`"));
    };
    // oslo.policy looks the kind up among the `oslo.policy.rule_checks` plugins first.
    #[cfg(feature = "stevedore")]
    if let Some(check) = crate::plugins::extension_check(kind, matcher) {
        return Ok(check);
    }
    let custom = if kind == "http" || kind == "https" {
        None
    } else {
        registry.get(kind)
    };
    Ok(Check::atom(kind, matcher, custom))
}

/// Parses a rule value of a policy file: a string in the text grammar, anything else in the legacy
/// list-of-lists form (outer list = or, inner list = and), with oslo's treatment of odd values: a falsy
/// value (`null`, `false`, `0`, `[]`, `{}`) allows, `[[]]` denies.
///
/// `Err` is the error that makes oslo reject the whole file (a truthy number or `true`).
pub fn parse_value(value: &Value, registry: &CheckRegistry) -> Result<Parsed, String> {
    if let Value::String(s) = value {
        return Ok(parse_rule_with(s, registry));
    }
    if !crate::python::truthy(value) {
        return Ok(Parsed {
            check: Check::True,
            errors: Vec::new(),
            failed: false,
        });
    }
    let mut errors = Vec::new();
    let mut atom = |v: &Value| match v {
        Value::String(s) => parse_atom(s, registry).unwrap_or_else(|msg| {
            errors.push(ParseError {
                message: msg,
                span: 0..0,
                column: 1,
            });
            Check::False
        }),
        other => {
            errors.push(ParseError {
                message: format!("`{other}` is not a check string"),
                span: 0..0,
                column: 1,
            });
            Check::False
        }
    };
    let outer: Vec<Value> = match value {
        Value::Array(items) => items.clone(),
        Value::Object(map) => map.keys().map(|k| Value::String(k.clone())).collect(),
        other => return Err(format!("'{}' object is not iterable", py_type(other))),
    };
    let mut or_list = Vec::new();
    for inner in &outer {
        if !crate::python::truthy(inner) {
            continue;
        }
        let and_list: Vec<Check> = match inner {
            Value::String(_) => vec![atom(inner)],
            Value::Array(items) => items.iter().map(&mut atom).collect(),
            Value::Object(map) => map
                .keys()
                .map(|k| atom(&Value::String(k.clone())))
                .collect(),
            other => return Err(format!("'{}' object is not iterable", py_type(other))),
        };
        or_list.push(if and_list.len() == 1 {
            and_list.into_iter().next().unwrap_or(Check::False)
        } else {
            Check::And(and_list)
        });
    }
    let check = match or_list.len() {
        0 => Check::False,
        1 => or_list.into_iter().next().unwrap_or(Check::False),
        _ => Check::Or(or_list),
    };
    Ok(Parsed {
        check,
        errors,
        failed: false,
    })
}

fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        _ => "object",
    }
}

/// A parser stack entry; checks carry their nesting depth.
#[derive(Debug)]
enum Item {
    LParen(Range<usize>),
    RParen(Range<usize>),
    And(Range<usize>),
    Or(Range<usize>),
    Not(Range<usize>),
    Str(Range<usize>),
    Check(Check, Range<usize>, usize),
    AndExpr(Vec<Check>, Range<usize>, usize),
    /// The checks, the span, the depth, and the depth of the last check.
    OrExpr(Vec<Check>, Range<usize>, usize, usize),
}

impl Item {
    fn span(&self) -> Range<usize> {
        match self {
            Item::LParen(s)
            | Item::RParen(s)
            | Item::And(s)
            | Item::Or(s)
            | Item::Not(s)
            | Item::Str(s) => s.clone(),
            Item::Check(_, s, _) | Item::AndExpr(_, s, _) | Item::OrExpr(_, s, _, _) => s.clone(),
        }
    }

    fn is_check(&self) -> bool {
        matches!(self, Item::Check(..) | Item::AndExpr(..) | Item::OrExpr(..))
    }

    fn into_check(self) -> Option<(Check, Range<usize>, usize)> {
        match self {
            Item::Check(c, s, d) => Some((c, s, d)),
            Item::AndExpr(cs, s, d) => Some((Check::And(cs), s, d)),
            Item::OrExpr(cs, s, d, _) => Some((Check::Or(cs), s, d)),
            _ => None,
        }
    }
}

struct State {
    stack: Vec<Item>,
    too_deep: Option<Range<usize>>,
}

fn join(a: &Range<usize>, b: &Range<usize>) -> Range<usize> {
    a.start.min(b.start)..a.end.max(b.end)
}

impl State {
    fn shift(&mut self, item: Item) {
        self.stack.push(item);
        while self.too_deep.is_none() && self.reduce_once() {}
    }

    fn check_depth(&mut self, depth: usize, span: &Range<usize>) {
        if depth > MAX_NESTING {
            self.too_deep = Some(span.clone());
        }
    }

    /// Applies the first reduction that matches the top of the stack; false when none does.
    fn reduce_once(&mut self) -> bool {
        let n = self.stack.len();
        if n >= 3 {
            let (a, b, c) = match &self.stack[n - 3..] {
                [a, b, c] => (a, b, c),
                _ => return false,
            };
            let kind = match (a, b, c) {
                (Item::LParen(_), x, Item::RParen(_)) if x.is_check() => 1,
                (Item::Check(..), Item::And(_), Item::Check(..)) => 2,
                (Item::AndExpr(..), Item::And(_), Item::Check(..)) => 3,
                (Item::OrExpr(..), Item::And(_), Item::Check(..)) => 4,
                (Item::Check(..) | Item::AndExpr(..), Item::Or(_), Item::Check(..)) => 5,
                (Item::OrExpr(..), Item::Or(_), Item::Check(..)) => 6,
                _ => 0,
            };
            if kind != 0 {
                let c = self.stack.pop();
                let _op = self.stack.pop();
                let a = self.stack.pop();
                let (Some(a), Some(c)) = (a, c) else {
                    return false;
                };
                let new = match (kind, a, c) {
                    (1, lp, rp) => {
                        // `( X )`: the middle item is the check.
                        let mid = _op.and_then(Item::into_check);
                        let Some((check, _, d)) = mid else {
                            return false;
                        };
                        Item::Check(check, join(&lp.span(), &rp.span()), d)
                    }
                    (2, Item::Check(x, sx, dx), Item::Check(y, sy, dy)) => {
                        let d = 1 + dx.max(dy);
                        self.check_depth(d, &sy);
                        Item::AndExpr(vec![x, y], join(&sx, &sy), d)
                    }
                    (3, Item::AndExpr(mut xs, sx, dx), Item::Check(y, sy, dy)) => {
                        xs.push(y);
                        let d = dx.max(dy + 1);
                        self.check_depth(d, &sy);
                        Item::AndExpr(xs, join(&sx, &sy), d)
                    }
                    (4, Item::OrExpr(mut xs, sx, dx, dlast), Item::Check(y, sy, dy)) => {
                        let last = xs.pop().unwrap_or(Check::False);
                        let (and, dand) = match last {
                            Check::And(mut v) => {
                                v.push(y);
                                (Check::And(v), dlast.max(dy + 1))
                            }
                            other => (Check::And(vec![other, y]), 1 + dlast.max(dy)),
                        };
                        xs.push(and);
                        let d = dx.max(dand + 1);
                        self.check_depth(d, &sy);
                        Item::OrExpr(xs, join(&sx, &sy), d, dand)
                    }
                    (5, a, Item::Check(y, sy, dy)) => {
                        let Some((x, sx, dx)) = a.into_check() else {
                            return false;
                        };
                        let d = 1 + dx.max(dy);
                        self.check_depth(d, &sy);
                        Item::OrExpr(vec![x, y], join(&sx, &sy), d, dy)
                    }
                    (6, Item::OrExpr(mut xs, sx, dx, _), Item::Check(y, sy, dy)) => {
                        xs.push(y);
                        let d = dx.max(dy + 1);
                        self.check_depth(d, &sy);
                        Item::OrExpr(xs, join(&sx, &sy), d, dy)
                    }
                    _ => return false,
                };
                self.stack.push(new);
                return true;
            }
        }
        if n >= 2 && matches!(&self.stack[n - 2..], [Item::Not(_), Item::Check(..)]) {
            let c = self.stack.pop();
            let not = self.stack.pop();
            let (Some(Item::Check(c, sc, dc)), Some(not)) = (c, not) else {
                return false;
            };
            let span = join(&not.span(), &sc);
            self.check_depth(dc + 1, &span);
            self.stack
                .push(Item::Check(Check::Not(Box::new(c)), span, dc + 1));
            return true;
        }
        false
    }

    fn finish(mut self) -> Result<Check, (String, Range<usize>)> {
        if self.stack.len() == 1 && self.stack.first().is_some_and(Item::is_check) {
            let item = self.stack.pop();
            if let Some((check, _, _)) = item.and_then(Item::into_check) {
                return Ok(check);
            }
        }
        let Some(first) = self.stack.first() else {
            return Err(("the rule is blank".into(), 0..0));
        };
        let rank = |i: &Item| match i {
            Item::RParen(_) => 1,
            Item::LParen(_) => 2,
            Item::Str(_) => 3,
            Item::Not(_) => 4,
            Item::And(_) | Item::Or(_) => 5,
            _ => 6,
        };
        let bad = self
            .stack
            .iter()
            .rev()
            .filter(|i| !i.is_check())
            .min_by_key(|i| rank(i));
        Err(match bad {
            Some(Item::LParen(s)) => ("unclosed `(`".into(), s.clone()),
            Some(Item::RParen(s)) => ("unmatched `)`".into(), s.clone()),
            Some(Item::And(s)) => ("`and` needs a check on each side".into(), s.clone()),
            Some(Item::Or(s)) => ("`or` needs a check on each side".into(), s.clone()),
            Some(Item::Not(s)) => ("`not` needs a check after it".into(), s.clone()),
            Some(Item::Str(s)) => ("a quoted string is not a check".into(), s.clone()),
            _ => {
                let second = self.stack.get(1).map_or_else(|| first.span(), Item::span);
                ("expected `and` or `or` before this check".into(), second)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        parse_rule(s).check.to_string()
    }

    #[test]
    fn precedence_as_oslo() {
        assert_eq!(
            p("role:a or role:b and not role:c"),
            "(role:a or (role:b and not role:c))"
        );
        assert_eq!(p("((role:a))"), "role:a");
        assert_eq!(
            p("a:1 and b:2 or c:3 and d:4"),
            "((a:1 and b:2) or (c:3 and d:4))"
        );
        assert_eq!(
            p("c:1 or (a:1 and b:1) and d:1"),
            "(c:1 or (a:1 and b:1 and d:1))"
        );
        assert_eq!(p("not not a:1"), "not not a:1");
        assert_eq!(p("A:1 AND b:1 Or NOT c:1"), "((A:1 and b:1) or not c:1)");
        assert_eq!(p(""), "@");
        assert_eq!(p("@"), "@");
    }

    #[test]
    fn failures_deny_and_say_where() {
        for bad in [
            "   ",
            "role:a or",
            "(role:a",
            "role:a)",
            "a:b c:d",
            "'abc'",
            "not",
            "and a:b",
        ] {
            let parsed = parse_rule(bad);
            assert!(parsed.failed, "{bad}");
            assert_eq!(parsed.check, Check::False, "{bad}");
            assert!(!parsed.errors.is_empty(), "{bad}");
        }
        let e = &parse_rule("role:a or (role:b").errors[0];
        assert_eq!((e.column, e.message.as_str()), (11, "unclosed `(`"));
        let partial = parse_rule("role:a or nocolon");
        assert!(!partial.failed);
        assert_eq!(partial.check.to_string(), "(role:a or !)");
        assert_eq!(partial.errors[0].column, 11);
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}a:b", "not ".repeat(100_000));
        let parsed = parse_rule(&deep);
        assert!(parsed.failed);
        let deep = format!("{}a:b{}", "(a:b and ".repeat(10_000), ")".repeat(10_000));
        assert!(parse_rule(&deep).failed);
        let ok = format!("{}a:b", "not ".repeat(MAX_NESTING - 1));
        assert!(!parse_rule(&ok).failed);
    }
}
