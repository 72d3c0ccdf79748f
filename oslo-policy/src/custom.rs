//! Checks of kinds the application defines, as oslo.policy's `register`.
//!
//! A custom check handles every `KIND:MATCH` atom of its kind. Register it at runtime on an
//! [`EnforcerBuilder`](crate::EnforcerBuilder) (or a [`CheckRegistry`]), or statically, for every
//! enforcer of the program, with [`register_check!`](crate::register_check).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// What a custom check sees when it runs.
#[derive(Debug, Clone, Copy)]
pub struct CheckRequest<'a> {
    /// The left side of the atom (the registered kind).
    pub kind: &'a str,
    /// The right side of the atom, as written (no `%(key)s` substitution is done for custom checks).
    pub matcher: &'a str,
    /// The target of the operation.
    pub target: &'a Map<String, Value>,
    /// The credentials of the caller.
    pub creds: &'a Map<String, Value>,
    /// The name of the rule being enforced, when enforcing by name.
    pub current_rule: Option<&'a str>,
}

/// A check kind defined by the application.
///
/// An `Err` is an error of the check (Python's exception escaping the check): `enforce` returns it.
pub trait CustomCheck: Send + Sync {
    /// Decides the atom `request.kind:request.matcher`.
    fn check(&self, request: &CheckRequest<'_>) -> Result<bool, String>;
}

impl<F> CustomCheck for F
where
    F: Fn(&CheckRequest<'_>) -> Result<bool, String> + Send + Sync,
{
    fn check(&self, request: &CheckRequest<'_>) -> Result<bool, String> {
        self(request)
    }
}

/// A custom check registered for the whole program; see [`register_check!`](crate::register_check).
pub struct StaticCheck {
    /// The kind it handles.
    pub kind: &'static str,
    /// The check.
    pub check: &'static dyn CustomCheck,
}

impl fmt::Debug for StaticCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StaticCheck({})", self.kind)
    }
}

inventory::collect!(StaticCheck);

/// Registers a [`CustomCheck`] for every enforcer and parser of the program.
///
/// ```
/// use oslo_policy::{CheckRequest, register_check};
///
/// struct Weekday;
/// impl oslo_policy::CustomCheck for Weekday {
///     fn check(&self, r: &CheckRequest<'_>) -> Result<bool, String> {
///         Ok(r.matcher == "any")
///     }
/// }
/// register_check!("weekday", Weekday);
///
/// let check = oslo_policy::parse_rule("weekday:any").check;
/// assert!(check.evaluate(&serde_json::json!({}), &serde_json::json!({})).unwrap());
/// ```
#[macro_export]
macro_rules! register_check {
    ($kind:expr, $check:expr) => {
        $crate::__inventory::submit! {
            $crate::StaticCheck { kind: $kind, check: &$check }
        }
    };
}

/// The custom check kinds a parser knows: the static ones plus those registered at runtime.
#[derive(Clone, Default)]
pub struct CheckRegistry {
    runtime: HashMap<String, Arc<dyn CustomCheck>>,
}

impl fmt::Debug for CheckRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckRegistry")
            .field("runtime", &self.runtime.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl CheckRegistry {
    /// A registry with only the statically registered checks.
    pub fn new() -> CheckRegistry {
        CheckRegistry::default()
    }

    /// Registers `check` for `kind`, replacing an earlier one (a runtime registration wins over a
    /// static one of the same kind).
    pub fn register(&mut self, kind: impl Into<String>, check: impl CustomCheck + 'static) {
        self.runtime.insert(kind.into(), Arc::new(check));
    }

    /// The check for `kind`, if one is registered.
    pub(crate) fn get(&self, kind: &str) -> Option<Arc<dyn CustomCheck>> {
        if let Some(c) = self.runtime.get(kind) {
            return Some(c.clone());
        }
        inventory::iter::<StaticCheck>
            .into_iter()
            .find(|s| s.kind == kind)
            .map(|s| Arc::new(StaticRef(s.check)) as Arc<dyn CustomCheck>)
    }
}

struct StaticRef(&'static dyn CustomCheck);

impl CustomCheck for StaticRef {
    fn check(&self, request: &CheckRequest<'_>) -> Result<bool, String> {
        self.0.check(request)
    }
}
