//! The parsed form of a rule (a tree of checks) and its evaluation.
//!
//! Everything that needs parsing (the `%`-format of a match, the meaning of a generic check's left side)
//! is decided when the rule is parsed; evaluation only walks the tree.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::custom::{CheckRequest, CustomCheck};
use crate::literal::{self, KindMeaning};
use crate::python::{self, Template};

/// How deep a `rule:` reference chain may go before evaluation stops with an error.
pub(crate) const MAX_RULE_DEPTH: usize = 100;
/// How deep evaluation may go, counting nested checks and `rule:` hops together (Python's recursion
/// limit stops it at a few hundred).
pub(crate) const MAX_EVAL_DEPTH: usize = 500;
/// How many checks one evaluation may run before it stops with an error (rules that refer to other
/// rules several times can otherwise take exponential time).
pub(crate) const MAX_STEPS: u32 = 1_000_000;

/// A parsed policy rule: a tree of checks.
///
/// Its [`Display`](fmt::Display) form is the one oslo.policy prints (`(role:a or (role:b and not
/// rule:c))`, `@`, `!`), which parses back to an equal tree.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Check {
    /// `@` (and the empty rule): always allows.
    True,
    /// `!` (and every rule that does not parse): always denies.
    False,
    /// `not X`.
    Not(Box<Check>),
    /// `X and Y and …`.
    And(Vec<Check>),
    /// `X or Y or …`.
    Or(Vec<Check>),
    /// `rule:NAME`: the result of another rule.
    Rule(String),
    /// `role:NAME`: the credentials' `roles` hold `NAME` (case-insensitive).
    Role(MatchCheck),
    /// `left:right`: a credential (or literal) compared with the right side.
    Generic(GenericCheck),
    /// `http:URL` / `https:URL`: a remote check.
    Http(MatchCheck),
    /// A check of a kind the application registered.
    Custom(CustomNode),
}

/// A check whose right side is a `%(key)s` template over the target (`role:`, `http:`).
#[derive(Debug, Clone)]
pub struct MatchCheck {
    kind: String,
    matcher: String,
    template: Template,
    /// The lowercased text when the template has no substitution (`role:` only).
    lowered: Option<String>,
}

impl MatchCheck {
    pub(crate) fn new(kind: &str, matcher: &str) -> MatchCheck {
        let template = Template::parse(matcher);
        let lowered = template.literal().map(str::to_lowercase);
        MatchCheck {
            kind: kind.into(),
            matcher: matcher.into(),
            template,
            lowered,
        }
    }

    /// The left side (`role`, `http`, `https`).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The right side, as written.
    pub fn matcher(&self) -> &str {
        &self.matcher
    }
}

/// A generic `left:right` check.
#[derive(Debug, Clone)]
pub struct GenericCheck {
    inner: MatchCheck,
    meaning: KindMeaning,
}

impl GenericCheck {
    /// The left side, as written.
    pub fn kind(&self) -> &str {
        &self.inner.kind
    }

    /// The right side, as written.
    pub fn matcher(&self) -> &str {
        &self.inner.matcher
    }
}

/// A check of an application-registered kind.
#[derive(Clone)]
pub struct CustomNode {
    kind: String,
    matcher: String,
    check: Arc<dyn CustomCheck>,
}

impl fmt::Debug for CustomNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomNode({}:{})", self.kind, self.matcher)
    }
}

impl CustomNode {
    /// The registered kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The right side, as written.
    pub fn matcher(&self) -> &str {
        &self.matcher
    }
}

impl Check {
    /// Builds the check for one `kind:match` atom, as oslo's `_parse_check` does (the kind is
    /// case-sensitive; `http`/`https` first, then registered kinds, `rule`, `role`, then generic).
    pub(crate) fn atom(kind: &str, matcher: &str, custom: Option<Arc<dyn CustomCheck>>) -> Check {
        if kind == "http" || kind == "https" {
            // The URL is the whole atom, `%`-formatted with the target.
            let mut m = MatchCheck::new(kind, matcher);
            m.template = Template::parse(&format!("{kind}:{matcher}"));
            m.lowered = None;
            return Check::Http(m);
        }
        if let Some(check) = custom {
            return Check::Custom(CustomNode {
                kind: kind.into(),
                matcher: matcher.into(),
                check,
            });
        }
        match kind {
            "rule" => Check::Rule(matcher.into()),
            "role" => Check::Role(MatchCheck::new(kind, matcher)),
            _ => Check::Generic(GenericCheck {
                inner: MatchCheck {
                    lowered: None,
                    ..MatchCheck::new(kind, matcher)
                },
                meaning: literal::classify(kind),
            }),
        }
    }

    /// The `rule:` names this check refers to, directly (not through other rules).
    pub fn referenced_rules(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |c| {
            if let Check::Rule(name) = c {
                out.push(name.as_str());
            }
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Check)) {
        f(self);
        match self {
            Check::Not(c) => c.walk(f),
            Check::And(cs) | Check::Or(cs) => cs.iter().for_each(|c| c.walk(f)),
            _ => {}
        }
    }

    /// Evaluates the check outside an enforcer: `rule:` references find nothing (and so deny).
    ///
    /// `target` and `creds` must be JSON objects.
    pub fn evaluate(&self, target: &Value, creds: &Value) -> Result<bool, crate::Error> {
        let target = target.as_object().ok_or(crate::Error::InvalidTarget)?;
        let creds = creds.as_object().ok_or_else(|| {
            crate::Error::InvalidContext("credentials must be a JSON object".into())
        })?;
        let rules = RuleLookup {
            rules: &HashMap::new(),
            default_rule: None,
        };
        let mut cx = EvalCx::new(target, creds, &rules, None);
        self.eval(&mut cx).map_err(|e| crate::Error::Check {
            rule: self.to_string(),
            message: e,
        })
    }

    /// Evaluates the check with `rules` for its `rule:` references (a missing name falls back to
    /// `default_rule`, as oslo's `Rules`), as oslo calls a check directly: no scope check, no
    /// `system_scope` mapping. `current_rule` is what custom checks see.
    pub fn evaluate_with(
        &self,
        target: &Value,
        creds: &Value,
        rules: &HashMap<String, Check>,
        default_rule: Option<&str>,
        current_rule: Option<&str>,
    ) -> Result<bool, crate::Error> {
        let target = target.as_object().ok_or(crate::Error::InvalidTarget)?;
        let creds = creds.as_object().ok_or_else(|| {
            crate::Error::InvalidContext("credentials must be a JSON object".into())
        })?;
        let lookup = RuleLookup {
            rules,
            default_rule,
        };
        let mut cx = EvalCx::new(target, creds, &lookup, current_rule);
        if let Some(name) = current_rule
            && let Some((resolved, _)) = lookup.get(name)
        {
            cx.enter(resolved);
        }
        self.eval(&mut cx).map_err(|e| crate::Error::Check {
            rule: self.to_string(),
            message: e,
        })
    }

    pub(crate) fn eval<'r>(&'r self, cx: &mut EvalCx<'r, '_>) -> Result<bool, String> {
        cx.steps += 1;
        if cx.steps > MAX_STEPS {
            return Err(format!("evaluation took more than {MAX_STEPS} steps"));
        }
        // Nesting inside a rule is bounded at parse time, `rule:` hops here; together they could still
        // go deep enough to overflow the stack, so the total is bounded too.
        if cx.depth >= MAX_EVAL_DEPTH {
            return Err(format!("rules nest deeper than {MAX_EVAL_DEPTH} levels"));
        }
        cx.depth += 1;
        let r = self.eval_node(cx);
        cx.depth -= 1;
        r
    }

    fn eval_node<'r>(&'r self, cx: &mut EvalCx<'r, '_>) -> Result<bool, String> {
        match self {
            Check::True => Ok(true),
            Check::False => Ok(false),
            Check::Not(c) => Ok(!c.eval(cx)?),
            Check::And(cs) => {
                for c in cs {
                    if !c.eval(cx)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Check::Or(cs) => {
                for c in cs {
                    if c.eval(cx)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Check::Rule(name) => {
                let Some((resolved_name, rule)) = cx.rules.get(name) else {
                    return Ok(false);
                };
                if cx.stack.contains(&resolved_name) {
                    return Err(format!(
                        "rule `{resolved_name}` refers to itself through `rule:{name}`"
                    ));
                }
                if cx.stack.len() >= MAX_RULE_DEPTH {
                    return Err(format!("rule references nest deeper than {MAX_RULE_DEPTH}"));
                }
                cx.stack.push(resolved_name);
                let r = rule.eval(cx);
                cx.stack.pop();
                r
            }
            Check::Role(m) => {
                let Some(wanted) = m.render_lower(cx.target)? else {
                    return Ok(false);
                };
                let Some(roles) = cx.creds.get("roles") else {
                    return Ok(false);
                };
                role_in(&wanted, roles)
            }
            Check::Generic(g) => {
                let Some(wanted) = g.inner.template.render(cx.target)? else {
                    return Ok(false);
                };
                match &g.meaning {
                    KindMeaning::Literal(lit) => Ok(*lit == *wanted),
                    KindMeaning::Raises(e) => Err(e.clone()),
                    KindMeaning::Path(path) => find_in(cx.creds, path, &wanted),
                }
            }
            Check::Http(m) => Self::remote(m, cx),
            Check::Custom(c) => c.check.check(&CheckRequest {
                kind: &c.kind,
                matcher: &c.matcher,
                target: cx.target,
                creds: cx.creds,
                current_rule: cx.current_rule,
            }),
        }
    }
}

impl Check {
    #[cfg(feature = "http")]
    fn remote(m: &MatchCheck, cx: &EvalCx<'_, '_>) -> Result<bool, String> {
        // Unlike `role:`, a missing key is an error out of the check in oslo (its `KeyError` escapes).
        let url = m
            .template
            .render(cx.target)?
            .ok_or("KeyError: a `%(key)s` of the URL is not in the target")?;
        let default = crate::remote::RemoteConfig::default();
        crate::remote::check(
            cx.remote.unwrap_or(&default),
            m.kind == "https",
            &url,
            cx.current_rule,
            cx.target,
            cx.creds,
        )
    }

    #[cfg(not(feature = "http"))]
    fn remote(m: &MatchCheck, _cx: &EvalCx<'_, '_>) -> Result<bool, String> {
        Err(format!(
            "remote `{}:` checks need the `http` feature of oslo-policy",
            m.kind
        ))
    }
}

impl MatchCheck {
    fn render_lower<'a>(
        &'a self,
        target: &'a Map<String, Value>,
    ) -> Result<Option<Cow<'a, str>>, String> {
        if let Some(l) = &self.lowered {
            return Ok(Some(Cow::Borrowed(l)));
        }
        Ok(self.template.render(target)?.map(|s| {
            if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
                s
            } else {
                Cow::Owned(s.to_lowercase())
            }
        }))
    }
}

fn lower_eq(role: &str, wanted: &str) -> bool {
    if role.is_ascii() && wanted.is_ascii() {
        role.eq_ignore_ascii_case(wanted)
    } else {
        role.to_lowercase() == wanted
    }
}

/// `match.lower() in [x.lower() for x in creds['roles']]`, iterating as Python does.
fn role_in(wanted: &str, roles: &Value) -> Result<bool, String> {
    let lower_of = |v: &Value| -> Result<bool, String> {
        match v {
            Value::String(s) => Ok(lower_eq(s, wanted)),
            other => Err(format!(
                "'{}' object has no attribute 'lower'",
                py_type(other)
            )),
        }
    };
    match roles {
        Value::Array(items) => {
            // Python builds the whole lowered list first, so a bad item fails even after a match.
            let mut found = false;
            for item in items {
                found |= lower_of(item)?;
            }
            Ok(found)
        }
        Value::Object(map) => Ok(map.keys().any(|k| lower_eq(k, wanted))),
        Value::String(s) => Ok(s
            .chars()
            .any(|c| lower_eq(c.encode_utf8(&mut [0; 4]), wanted))),
        other => Err(format!("'{}' object is not iterable", py_type(other))),
    }
}

fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `GenericCheck._find_in_dict`: follow `path` through mappings, fanning out over lists.
fn find_in(creds: &Map<String, Value>, path: &[String], wanted: &str) -> Result<bool, String> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(false);
    };
    match creds.get(first) {
        None => Ok(false),
        Some(v) => find_value(v, rest, wanted, 0),
    }
}

fn find_value(v: &Value, path: &[String], wanted: &str, depth: usize) -> Result<bool, String> {
    if depth > 256 {
        return Err("credentials nest too deep".into());
    }
    if let Value::Array(items) = v {
        for item in items {
            if find_rest(item, path, wanted, depth + 1)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    find_rest(v, path, wanted, depth + 1)
}

fn find_rest(v: &Value, path: &[String], wanted: &str, depth: usize) -> Result<bool, String> {
    let Some((key, rest)) = path.split_first() else {
        return Ok(python::str_of(v) == wanted);
    };
    match v {
        Value::Object(map) => match map.get(key) {
            None => Ok(false),
            Some(next) => find_value(next, rest, wanted, depth),
        },
        Value::String(_) => Err("string indices must be integers, not 'str'".into()),
        Value::Array(_) => Err("list indices must be integers or slices, not str".into()),
        other => Err(format!("'{}' object is not subscriptable", py_type(other))),
    }
}

/// How `rule:NAME` finds its rule: the rule set, and the default rule for missing names.
#[derive(Debug)]
pub(crate) struct RuleLookup<'r> {
    pub(crate) rules: &'r HashMap<String, Check>,
    pub(crate) default_rule: Option<&'r str>,
}

impl<'r> RuleLookup<'r> {
    /// `Rules.__getitem__` with `__missing__`: the named rule, else the default rule when that exists.
    pub(crate) fn get(&self, name: &str) -> Option<(&'r str, &'r Check)> {
        if let Some((k, v)) = self.rules.get_key_value(name) {
            return Some((k.as_str(), v));
        }
        let default = self.default_rule.filter(|d| !d.is_empty())?;
        self.rules
            .get_key_value(default)
            .map(|(k, v)| (k.as_str(), v))
    }
}

/// The state of one evaluation.
pub(crate) struct EvalCx<'r, 'd> {
    pub(crate) target: &'d Map<String, Value>,
    pub(crate) creds: &'d Map<String, Value>,
    pub(crate) rules: &'d RuleLookup<'r>,
    pub(crate) current_rule: Option<&'d str>,
    /// How remote checks call out; `None` for the defaults.
    pub(crate) remote: Option<&'d crate::remote::RemoteConfig>,
    stack: Vec<&'r str>,
    steps: u32,
    depth: usize,
}

impl<'r, 'd> EvalCx<'r, 'd> {
    pub(crate) fn new(
        target: &'d Map<String, Value>,
        creds: &'d Map<String, Value>,
        rules: &'d RuleLookup<'r>,
        current_rule: Option<&'d str>,
    ) -> Self {
        EvalCx {
            target,
            creds,
            rules,
            current_rule,
            remote: None,
            stack: Vec::new(),
            steps: 0,
            depth: 0,
        }
    }

    /// Marks `name` as being evaluated, so that a reference back to it is reported as a cycle.
    pub(crate) fn enter(&mut self, name: &'r str) {
        self.stack.push(name);
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::True => f.write_str("@"),
            Check::False => f.write_str("!"),
            Check::Not(c) => write!(f, "not {c}"),
            Check::And(cs) | Check::Or(cs) => {
                let op = if matches!(self, Check::And(_)) {
                    " and "
                } else {
                    " or "
                };
                f.write_str("(")?;
                for (i, c) in cs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str(")")
            }
            Check::Rule(name) => write!(f, "rule:{name}"),
            Check::Role(m) | Check::Http(m) => write!(f, "{}:{}", m.kind, m.matcher),
            Check::Generic(g) => write!(f, "{}:{}", g.inner.kind, g.inner.matcher),
            Check::Custom(c) => write!(f, "{}:{}", c.kind, c.matcher),
        }
    }
}

/// Equality as oslo.policy's: same kind of node, same kind and match strings, same children.
impl PartialEq for Check {
    fn eq(&self, other: &Check) -> bool {
        match (self, other) {
            (Check::True, Check::True) | (Check::False, Check::False) => true,
            (Check::Not(a), Check::Not(b)) => a == b,
            (Check::And(a), Check::And(b)) | (Check::Or(a), Check::Or(b)) => a == b,
            (Check::Rule(a), Check::Rule(b)) => a == b,
            (Check::Role(a), Check::Role(b)) | (Check::Http(a), Check::Http(b)) => {
                a.kind == b.kind && a.matcher == b.matcher
            }
            (Check::Generic(a), Check::Generic(b)) => {
                a.inner.kind == b.inner.kind && a.inner.matcher == b.inner.matcher
            }
            (Check::Custom(a), Check::Custom(b)) => a.kind == b.kind && a.matcher == b.matcher,
            _ => false,
        }
    }
}
