//! Rules registered in code: their defaults, documentation, scope types and deprecations.

use std::fmt;

use crate::check::Check;
use crate::error::Error;
use crate::parser::parse_rule;

/// One API operation a rule protects (`GET /servers/{id}`), for documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The URL path.
    pub path: String,
    /// The HTTP method.
    pub method: String,
}

impl Operation {
    /// An operation.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Operation {
        Operation {
            path: path.into(),
            method: method.into(),
        }
    }
}

/// An older rule that a [`RuleDefault`] replaces (oslo's `DeprecatedRule`).
#[derive(Debug, Clone)]
pub struct DeprecatedRule {
    name: String,
    check_str: String,
    check: Check,
    reason: Option<String>,
    since: Option<String>,
}

impl DeprecatedRule {
    /// The old rule `name` with its old default `check_str`, deprecated for `reason` since `since`.
    pub fn new(
        name: impl Into<String>,
        check_str: impl Into<String>,
        reason: impl Into<String>,
        since: impl Into<String>,
    ) -> DeprecatedRule {
        let check_str = check_str.into();
        DeprecatedRule {
            name: name.into(),
            check: parse_rule(&check_str).check,
            check_str,
            reason: Some(reason.into()),
            since: Some(since.into()),
        }
    }

    /// The old name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The old default, as written.
    pub fn check_str(&self) -> &str {
        &self.check_str
    }

    /// The old default, parsed.
    pub fn check(&self) -> &Check {
        &self.check
    }

    /// Why it was deprecated.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The release it was deprecated in.
    pub fn since(&self) -> Option<&str> {
        self.since.as_deref()
    }
}

/// A rule registered in code with its default (oslo's `RuleDefault` and `DocumentedRuleDefault`).
///
/// ```
/// use oslo_policy::{DeprecatedRule, RuleDefault};
///
/// let rule = RuleDefault::new("compute:get", "role:reader or rule:admin")
///     .description("Show a server.")
///     .operation("GET", "/servers/{id}")
///     .scope_types(["project"])
///     .deprecated_rule(DeprecatedRule::new("compute:show", "rule:admin_or_owner", "new roles", "2024.1"));
/// assert_eq!(rule.name(), "compute:get");
/// ```
#[derive(Debug, Clone)]
pub struct RuleDefault {
    name: String,
    check_str: String,
    check: Check,
    description: Option<String>,
    operations: Vec<Operation>,
    scope_types: Vec<String>,
    deprecated_rule: Option<DeprecatedRule>,
    deprecated_for_removal: bool,
    deprecated_reason: Option<String>,
    deprecated_since: Option<String>,
    parse_errors: Vec<crate::parser::ParseError>,
}

impl RuleDefault {
    /// A rule `name` whose default is `check_str`.
    pub fn new(name: impl Into<String>, check_str: impl Into<String>) -> RuleDefault {
        let check_str = check_str.into();
        let parsed = parse_rule(&check_str);
        RuleDefault {
            name: name.into(),
            check: parsed.check,
            parse_errors: parsed.errors,
            check_str,
            description: None,
            operations: Vec::new(),
            scope_types: Vec::new(),
            deprecated_rule: None,
            deprecated_for_removal: false,
            deprecated_reason: None,
            deprecated_since: None,
        }
    }

    /// Sets the description (shown in sample files).
    pub fn description(mut self, description: impl Into<String>) -> RuleDefault {
        self.description = Some(description.into());
        self
    }

    /// Adds an API operation the rule protects (a rule with operations is a documented rule, as oslo's
    /// `DocumentedRuleDefault`, and needs a description).
    pub fn operation(mut self, method: impl Into<String>, path: impl Into<String>) -> RuleDefault {
        self.operations.push(Operation::new(method, path));
        self
    }

    /// Sets the token scopes the rule may be used with (`system`, `domain`, `project`).
    pub fn scope_types<I, S>(mut self, scopes: I) -> RuleDefault
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scope_types = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the older rule this one replaces.
    pub fn deprecated_rule(mut self, rule: DeprecatedRule) -> RuleDefault {
        self.deprecated_rule = Some(rule);
        self
    }

    /// Marks the rule as going away.
    pub fn deprecated_for_removal(
        mut self,
        reason: impl Into<String>,
        since: impl Into<String>,
    ) -> RuleDefault {
        self.deprecated_for_removal = true;
        self.deprecated_reason = Some(reason.into());
        self.deprecated_since = Some(since.into());
        self
    }

    /// Checks oslo's constraints: unique scope types, a description for documented rules.
    pub fn validate(&self) -> Result<(), Error> {
        for (i, s) in self.scope_types.iter().enumerate() {
            if self.scope_types[..i].contains(s) {
                return Err(Error::InvalidRuleDefault(
                    "scope_types must be a list of unique strings".into(),
                ));
            }
        }
        if !self.operations.is_empty() && self.description.as_deref().is_none_or(str::is_empty) {
            return Err(Error::InvalidRuleDefault("description is required".into()));
        }
        Ok(())
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The default, as written.
    pub fn check_str(&self) -> &str {
        &self.check_str
    }

    /// The default, parsed.
    pub fn check(&self) -> &Check {
        &self.check
    }

    /// What did not parse in the default (it then denies where it failed, as in oslo).
    pub fn parse_errors(&self) -> &[crate::parser::ParseError] {
        &self.parse_errors
    }

    /// The description.
    pub fn get_description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The operations.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The scope types (empty: any scope).
    pub fn get_scope_types(&self) -> &[String] {
        &self.scope_types
    }

    /// The older rule this one replaces.
    pub fn get_deprecated_rule(&self) -> Option<&DeprecatedRule> {
        self.deprecated_rule.as_ref()
    }

    /// Whether the rule is going away.
    pub fn is_deprecated_for_removal(&self) -> bool {
        self.deprecated_for_removal
    }

    /// Why the rule is deprecated.
    pub fn deprecated_reason(&self) -> Option<&str> {
        self.deprecated_reason.as_deref()
    }

    /// Since when the rule is deprecated.
    pub fn deprecated_since(&self) -> Option<&str> {
        self.deprecated_since.as_deref()
    }
}

impl fmt::Display for RuleDefault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\": \"{}\"", self.name, self.check_str)
    }
}

/// The rules a crate registers for the tools, as Python's `oslo.policy.policies` entry points; see
/// [`register_policies!`](crate::register_policies).
#[derive(Debug)]
pub struct PolicyNamespace {
    /// The namespace (usually the service's name).
    pub name: &'static str,
    /// Lists the rules.
    pub rules: fn() -> Vec<RuleDefault>,
}

inventory::collect!(PolicyNamespace);

/// Registers a namespace of rules for the `oslopolicy-*` tools.
///
/// ```
/// fn list_rules() -> Vec<oslo_policy::RuleDefault> {
///     vec![oslo_policy::RuleDefault::new("demo:get", "role:reader")]
/// }
/// oslo_policy::register_policies!("demo", list_rules);
/// assert!(oslo_policy::namespace_rules("demo").is_some());
/// ```
#[macro_export]
macro_rules! register_policies {
    ($name:expr, $rules:expr) => {
        $crate::__inventory::submit! {
            $crate::PolicyNamespace { name: $name, rules: $rules }
        }
    };
}

/// The rules of a registered namespace.
pub fn namespace_rules(name: &str) -> Option<Vec<RuleDefault>> {
    inventory::iter::<PolicyNamespace>
        .into_iter()
        .find(|n| n.name == name)
        .map(|n| (n.rules)())
}
