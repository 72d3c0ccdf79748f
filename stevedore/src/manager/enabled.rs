//! [`EnabledExtensionManager`]: the plugins a check function accepts.

use super::ManagerBuilder;
use crate::error::Error;
use crate::manager::ExtensionManager;
use crate::manager::extension::deref_to_extension_manager;
use crate::plugin::Extension;

/// Loads (and, if asked, invokes) every plugin, then keeps those the check function accepts (Python's
/// `EnabledExtensionManager`).
pub struct EnabledExtensionManager<T> {
    inner: ExtensionManager<T>,
}

deref_to_extension_manager!(EnabledExtensionManager);

impl<T: 'static> EnabledExtensionManager<T> {
    /// Starts building a manager over the plugins of `namespace` that `check` accepts.
    pub fn builder(
        namespace: impl Into<String>,
        check: impl Fn(&Extension<T>) -> bool + 'static,
    ) -> ManagerBuilder<'static, T, EnabledExtensionManager<T>> {
        ManagerBuilder::new(namespace).set_check(Box::new(check))
    }

    /// A test instance over ready-made extensions (no check runs).
    pub fn from_extensions(extensions: Vec<Extension<T>>) -> Self {
        EnabledExtensionManager {
            inner: ExtensionManager::from_extensions(extensions),
        }
    }
}

impl<'r, T: 'static> ManagerBuilder<'r, T, EnabledExtensionManager<T>> {
    /// Loads the plugins and keeps the accepted ones.
    pub fn build(mut self) -> Result<EnabledExtensionManager<T>, Error> {
        let extensions = self.load()?;
        Ok(EnabledExtensionManager {
            inner: ExtensionManager {
                core: self.core(extensions),
            },
        })
    }
}
