//! What an operator runs to see which plugins a build contains.

use std::fmt;

use crate::registry::Registry;

/// A table of the plugins of a registry, namespace by namespace, with the target of each and where it came
/// from; [`Display`](fmt::Display) prints it.
///
/// ```
/// let registry = stevedore::Registry::new();
/// assert_eq!(registry.listing().to_string(), "no plugins registered\n");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Listing<'a> {
    registry: &'a Registry,
    namespace: Option<&'a str>,
}

impl Registry {
    /// Every plugin of the registry.
    pub fn listing(&self) -> Listing<'_> {
        Listing {
            registry: self,
            namespace: None,
        }
    }

    /// The plugins of one namespace.
    pub fn listing_of<'a>(&'a self, namespace: &'a str) -> Listing<'a> {
        Listing {
            registry: self,
            namespace: Some(namespace),
        }
    }
}

impl fmt::Display for Listing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let namespaces: Vec<&str> = match self.namespace {
            Some(ns) => vec![ns],
            None => self.registry.namespaces().collect(),
        };
        let mut any = false;
        for ns in namespaces {
            let entries: Vec<_> = self.registry.entry_points(ns).collect();
            if entries.is_empty() {
                continue;
            }
            any = true;
            writeln!(f, "{ns}")?;
            let name_w = entries.iter().map(|e| e.name().len()).max().unwrap_or(0);
            let target_w = entries.iter().map(|e| e.target().len()).max().unwrap_or(0);
            for e in entries {
                writeln!(
                    f,
                    "  {:name_w$}  {:target_w$}  {}",
                    e.name(),
                    e.target(),
                    e.origin()
                )?;
            }
        }
        if !any {
            match self.namespace {
                Some(ns) => writeln!(f, "no plugins registered in `{ns}`")?,
                None => writeln!(f, "no plugins registered")?,
            }
        }
        Ok(())
    }
}
