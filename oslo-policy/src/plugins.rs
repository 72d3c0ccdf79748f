//! Check kinds found through stevedore (feature `stevedore`), as oslo.policy finds the kinds of the
//! `oslo.policy.rule_checks` entry points.
//!
//! oslo.policy loads every plugin of `oslo.policy.rule_checks` once per process and looks the kind of each
//! `kind:match` atom up there first, before the checks registered with `register()`; its own `http` and
//! `https` kinds are registered there. With this feature the same happens here: `http` and `https` are
//! registered under that namespace with [`stevedore::register!`], the parser asks an
//! [`ExtensionManager`] built once per process, and another crate of the program adds a check kind by
//! registering a factory that returns a [`RuleCheck`]:
//!
//! ```
//! use oslo_policy::plugins::{RULE_CHECKS, RuleCheck};
//! use oslo_policy::CheckRequest;
//!
//! fn weekday(_: &stevedore::InvokeArgs) -> Result<RuleCheck, stevedore::PluginError> {
//!     Ok(RuleCheck::new(|r: &CheckRequest<'_>| Ok::<_, String>(r.matcher == "any")))
//! }
//! stevedore::register! { namespace: RULE_CHECKS, name: "doc-weekday", factory: weekday }
//!
//! let check = oslo_policy::parse_rule("doc-weekday:any or role:admin").check;
//! assert!(check.evaluate(&serde_json::json!({}), &serde_json::json!({})).unwrap());
//! ```
//!
//! Precedence, as in oslo.policy: a kind found here wins over a check registered on the enforcer or
//! with [`register_check!`](crate::register_check); `http` and `https` always are the built-in remote
//! checks (they need the enforcer's remote options). When several plugins share a kind, the last in
//! stevedore's order is used (Python keeps the last of its entry points). A plugin whose factory fails
//! is logged and left out, as oslo.policy's `ExtensionManager` does, and the kind is then looked up
//! among the other checks.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use stevedore::{ExtensionManager, InvokeArgs, PluginError};

use crate::check::Check;
use crate::custom::CustomCheck;

/// The namespace of check kinds (Python's `oslo.policy.rule_checks` entry points).
pub const RULE_CHECKS: &str = "oslo.policy.rule_checks";

/// What the factory of a [`RULE_CHECKS`] plugin returns: the check that decides every atom of its kind.
#[derive(Clone)]
pub struct RuleCheck(Kind);

#[derive(Clone)]
enum Kind {
    /// The built-in `http:` / `https:` remote check.
    Remote,
    Custom(Arc<dyn CustomCheck>),
}

impl RuleCheck {
    /// A kind decided by `check`.
    pub fn new(check: impl CustomCheck + 'static) -> Self {
        RuleCheck(Kind::Custom(Arc::new(check)))
    }
}

impl fmt::Debug for RuleCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Remote => f.write_str("RuleCheck(remote)"),
            Kind::Custom(_) => f.write_str("RuleCheck(custom)"),
        }
    }
}

fn remote(_: &InvokeArgs) -> Result<RuleCheck, PluginError> {
    Ok(RuleCheck(Kind::Remote))
}

stevedore::register! {
    namespace: RULE_CHECKS,
    name: "http",
    target: "oslo_policy::Check::Http",
    factory: remote,
}
stevedore::register! {
    namespace: RULE_CHECKS,
    name: "https",
    target: "oslo_policy::Check::Http",
    factory: remote,
}

/// The kinds of [`RULE_CHECKS`], loaded once per process (Python's `get_extensions`).
fn extensions() -> &'static HashMap<String, RuleCheck> {
    static EXTENSIONS: OnceLock<HashMap<String, RuleCheck>> = OnceLock::new();
    EXTENSIONS.get_or_init(|| {
        match ExtensionManager::<RuleCheck>::builder(RULE_CHECKS)
            .invoke_on_load(InvokeArgs::new())
            .build()
        {
            // Later extensions of a name replace earlier ones, as Python's dict comprehension.
            Ok(manager) => manager
                .extensions()
                .iter()
                .filter_map(|e| e.obj().map(|c| (e.name().to_owned(), c.clone())))
                .collect(),
            Err(err) => {
                tracing::error!(namespace = RULE_CHECKS, error = %err, "could not load the check kinds");
                HashMap::new()
            }
        }
    })
}

/// The check for the atom `kind:matcher` when `kind` is a plugin of [`RULE_CHECKS`].
pub(crate) fn extension_check(kind: &str, matcher: &str) -> Option<Check> {
    match &extensions().get(kind)?.0 {
        Kind::Remote => Some(Check::atom(kind, matcher, None)),
        Kind::Custom(check) => Some(Check::atom(kind, matcher, Some(check.clone()))),
    }
}
