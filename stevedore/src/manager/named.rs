//! [`NamedExtensionManager`]: the plugins named by configuration.

use super::{ManagerBuilder, resolve_names, warn_on_missing_names};
use crate::error::Error;
use crate::manager::ExtensionManager;
use crate::manager::extension::deref_to_extension_manager;
use crate::plugin::Extension;

/// Loads only the plugins whose names are listed (Python's `NamedExtensionManager`), typically from a
/// configuration option such as `mechanism_drivers = openvswitch,l2population`.
///
/// Plugins that are not listed are never loaded nor invoked: their libraries are not even opened. Names
/// that are not registered go to the missing-names callback (by default a warning). The extensions keep
/// registry order unless [`name_order`](ManagerBuilder::name_order) asks for the order of the list.
pub struct NamedExtensionManager<T> {
    inner: ExtensionManager<T>,
    requested: Vec<String>,
    missing: Vec<String>,
}

deref_to_extension_manager!(NamedExtensionManager);

impl<T: 'static> NamedExtensionManager<T> {
    /// Starts building a manager over the plugins of `namespace` called one of `names`.
    pub fn builder<I, S>(
        namespace: impl Into<String>,
        names: I,
    ) -> ManagerBuilder<'static, T, NamedExtensionManager<T>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut b =
            ManagerBuilder::new(namespace).set_names(names.into_iter().map(Into::into).collect());
        b.on_missing = Some(Box::new(warn_on_missing_names));
        b
    }

    /// A test instance over ready-made extensions; the requested names are theirs.
    pub fn from_extensions(extensions: Vec<Extension<T>>) -> Self {
        let requested = extensions.iter().map(|e| e.name().to_owned()).collect();
        NamedExtensionManager {
            inner: ExtensionManager::from_extensions(extensions),
            requested,
            missing: Vec::new(),
        }
    }
}

impl<T> NamedExtensionManager<T> {
    /// The names asked for.
    pub fn requested_names(&self) -> &[String] {
        &self.requested
    }

    /// The names asked for that were not loaded (not registered, or failed to load), sorted.
    pub fn missing_names(&self) -> &[String] {
        &self.missing
    }
}

/// The missing-names options of named managers, drivers and hooks.
macro_rules! missing_names_options {
    ($manager:ident) => {
        impl<'r, T: 'static> ManagerBuilder<'r, T, $manager<T>> {
            /// Called with the names that were asked for but not loaded; an `Err` stops the build.
            pub fn on_missing_names(
                mut self,
                callback: impl FnMut(&str, &[String]) -> Result<(), Error> + 'static,
            ) -> Self {
                self.on_missing = Some(Box::new(callback));
                self
            }

            /// Says nothing about missing names.
            pub fn ignore_missing_names(mut self) -> Self {
                self.on_missing = None;
                self
            }
        }
    };
}
pub(crate) use missing_names_options;

missing_names_options!(NamedExtensionManager);

impl<'r, T: 'static> ManagerBuilder<'r, T, NamedExtensionManager<T>> {
    /// Orders the extensions as the names were listed (missing names skipped; duplicated names resolved by
    /// the conflict resolver, and a name listed twice appears once).
    pub fn name_order(mut self, name_order: bool) -> Self {
        self.name_order = name_order;
        self
    }

    /// Loads the named plugins.
    pub fn build(mut self) -> Result<NamedExtensionManager<T>, Error> {
        let test_instance = self.extensions.is_some();
        let mut extensions = self.load()?;
        let requested = match (&self.names, test_instance) {
            (Some(names), false) => names.clone(),
            _ => extensions.iter().map(|e| e.name().to_owned()).collect(),
        };
        let missing = if test_instance {
            Vec::new()
        } else {
            self.report_missing(&extensions)?
        };
        if self.name_order && !test_instance {
            let by_name = resolve_names(&self.namespace, &extensions, &self.resolver)?;
            let mut slots: Vec<Option<Extension<T>>> = extensions.into_iter().map(Some).collect();
            extensions = requested
                .iter()
                .filter_map(|n| by_name.get(n.as_str()))
                .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
                .collect();
        }
        Ok(NamedExtensionManager {
            inner: ExtensionManager {
                core: self.core(extensions),
            },
            requested,
            missing,
        })
    }
}
