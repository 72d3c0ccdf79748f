//! [`DriverManager`]: exactly one plugin, chosen by name.

use std::sync::Arc;

use super::{ManagerBuilder, error_on_conflict, warn_on_missing_names};
use crate::error::Error;
use crate::manager::ExtensionManager;
use crate::manager::extension::deref_to_extension_manager;
use crate::manager::named::missing_names_options;
use crate::plugin::{EntryPoint, Extension};

/// Loads the one plugin called `name` (Python's `DriverManager`): a storage backend, a transport, an engine
/// chosen in configuration.
///
/// Unlike the other managers, a plugin that fails to load or to be invoked fails the build (the error is
/// returned, not logged); no plugin of that name is [`Error::NoMatches`]; several are given to the conflict
/// resolver, which by default refuses with [`Error::MultipleMatches`].
pub struct DriverManager<T> {
    inner: ExtensionManager<T>,
    name: String,
}

deref_to_extension_manager!(DriverManager);

impl<T: 'static> DriverManager<T> {
    /// Starts building the driver `name` of `namespace`.
    pub fn builder(
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> ManagerBuilder<'static, T, DriverManager<T>> {
        let mut b = ManagerBuilder::new(namespace).set_names(vec![name.into()]);
        b.on_missing = Some(Box::new(warn_on_missing_names));
        b.resolver = Arc::new(error_on_conflict);
        b.on_load_failure = Some(Box::new(|_: &EntryPoint, err| Err(err.clone())));
        b
    }

    /// A test instance around one ready-made extension.
    pub fn from_extension(extension: Extension<T>) -> Self {
        let name = extension.name().to_owned();
        DriverManager {
            inner: ExtensionManager::from_extensions(vec![extension]),
            name,
        }
    }
}

missing_names_options!(DriverManager);

impl<'r, T: 'static> ManagerBuilder<'r, T, DriverManager<T>> {
    /// Loads the driver.
    pub fn build(mut self) -> Result<DriverManager<T>, Error> {
        let test_instance = self.extensions.is_some();
        let mut extensions = self.load()?;
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
        if extensions.is_empty() {
            return Err(Error::NoMatches {
                namespace: self.namespace.clone(),
                name: Some(name),
            });
        }
        if extensions.len() > 1 {
            let candidates: Vec<&EntryPoint> =
                extensions.iter().map(Extension::entry_point).collect();
            let chosen = (self.resolver)(&self.namespace, &name, &candidates)?;
            if chosen >= extensions.len() {
                return Err(Error::MultipleMatches {
                    namespace: self.namespace.clone(),
                    name,
                    targets: candidates.iter().map(|e| e.target().to_owned()).collect(),
                });
            }
            let one = extensions.swap_remove(chosen);
            extensions = vec![one];
        }
        Ok(DriverManager {
            inner: ExtensionManager {
                core: self.core(extensions),
            },
            name,
        })
    }
}

impl<T> DriverManager<T> {
    /// The driver's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The one extension.
    pub fn extension(&self) -> Option<&Extension<T>> {
        self.inner.extensions().first()
    }

    /// The driver object (`None` unless the manager invoked it on load).
    pub fn driver(&self) -> Option<&T> {
        self.extension().and_then(Extension::obj)
    }

    /// The driver object, mutably.
    pub fn driver_mut(&mut self) -> Option<&mut T> {
        self.inner
            .extensions_mut()
            .first_mut()
            .and_then(Extension::obj_mut)
    }

    /// Takes the driver object out.
    pub fn into_driver(self) -> Option<T> {
        self.inner
            .into_extensions()
            .into_iter()
            .next()
            .and_then(Extension::into_obj)
    }

    /// Calls `f` on the driver and returns its result (Python's `mgr(func)`): `None` when `f` failed and
    /// the manager logs map errors.
    pub fn call<U, E>(
        &self,
        f: impl FnMut(&Extension<T>) -> Result<U, E>,
    ) -> Result<Option<U>, Error>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Ok(self.inner.map(f)?.into_iter().next())
    }
}
