//! [`HookManager`]: every plugin registered under one name.

use super::ManagerBuilder;
use crate::error::Error;
use crate::manager::ExtensionManager;
use crate::manager::extension::deref_to_extension_manager;
use crate::manager::named::missing_names_options;
use crate::plugin::Extension;

/// Loads every plugin of a namespace that shares one name (Python's `HookManager`): hooks several crates or
/// libraries contribute. Finding none is not an error (there is no missing-names callback by default), but
/// mapping over none is [`Error::NoMatches`].
pub struct HookManager<T> {
    inner: ExtensionManager<T>,
    name: String,
}

deref_to_extension_manager!(HookManager);

impl<T: 'static> HookManager<T> {
    /// Starts building the hooks called `name` in `namespace`.
    pub fn builder(
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> ManagerBuilder<'static, T, HookManager<T>> {
        ManagerBuilder::new(namespace).set_names(vec![name.into()])
    }
}

missing_names_options!(HookManager);

impl<'r, T: 'static> ManagerBuilder<'r, T, HookManager<T>> {
    /// Loads the hooks.
    pub fn build(mut self) -> Result<HookManager<T>, Error> {
        let test_instance = self.extensions.is_some();
        let extensions = self.load()?;
        let name = match (&self.names, test_instance) {
            (Some(names), false) => names.first().cloned().unwrap_or_default(),
            _ => extensions
                .first()
                .map(|e| e.name().to_owned())
                .unwrap_or_default(),
        };
        if !test_instance {
            self.report_missing(&extensions)?;
        }
        Ok(HookManager {
            inner: ExtensionManager {
                core: self.core(extensions),
            },
            name,
        })
    }
}

impl<T> HookManager<T> {
    /// The hooks' name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hooks called `name`, in the order `map` uses (Python's `mgr[name]`); `None` for any other name.
    pub fn get(&self, name: &str) -> Option<&[Extension<T>]> {
        (name == self.name).then(|| self.inner.extensions())
    }
}
