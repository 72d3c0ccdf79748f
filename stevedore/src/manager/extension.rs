//! [`ExtensionManager`]: every plugin of a namespace.

use serde_json::Value;

use super::{Core, ManagerBuilder, call_method, invoke_one, map_failure};
use crate::error::Error;
use crate::plugin::{CallMethod, Extension};

/// Loads every plugin of a namespace (Python's `stevedore.ExtensionManager`), and is what the other
/// managers are built on: they all dereference to one.
///
/// ```
/// use stevedore::{ExtensionManager, Extension};
///
/// // A test instance from ready-made extensions (Python's `make_test_instance`).
/// let mgr = ExtensionManager::builder("TESTING")
///     .with_extensions(vec![Extension::new("a", 1), Extension::new("b", 2)])
///     .build()
///     .unwrap();
/// let doubled = mgr.map(|e| Ok::<_, String>(e.obj().copied().unwrap_or(0) * 2)).unwrap();
/// assert_eq!(doubled, vec![2, 4]);
/// ```
pub struct ExtensionManager<T> {
    pub(super) core: Core<T>,
}

impl<T> std::fmt::Debug for ExtensionManager<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt(f)
    }
}

impl<T: 'static> ExtensionManager<T> {
    /// Starts building a manager over `namespace`.
    pub fn builder(
        namespace: impl Into<String>,
    ) -> ManagerBuilder<'static, T, ExtensionManager<T>> {
        ManagerBuilder::new(namespace)
    }

    /// A test instance over ready-made extensions, in namespace `TESTING` (Python's `make_test_instance`).
    pub fn from_extensions(extensions: Vec<Extension<T>>) -> Self {
        ExtensionManager {
            core: ManagerBuilder::<T, Self>::new("TESTING").core(extensions),
        }
    }
}

impl<T: 'static> ManagerBuilder<'_, T, ExtensionManager<T>> {
    /// Loads every plugin of the namespace.
    pub fn build(mut self) -> Result<ExtensionManager<T>, Error> {
        let extensions = self.load()?;
        Ok(ExtensionManager {
            core: self.core(extensions),
        })
    }
}

impl<T> ExtensionManager<T> {
    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.core.namespace
    }

    /// The names of the extensions, in the order `map` uses.
    pub fn names(&self) -> Vec<&str> {
        self.core.extensions.iter().map(Extension::name).collect()
    }

    /// The extensions, in the order `map` uses.
    pub fn extensions(&self) -> &[Extension<T>] {
        &self.core.extensions
    }

    /// The extensions, mutably.
    pub fn extensions_mut(&mut self) -> &mut [Extension<T>] {
        &mut self.core.extensions
    }

    /// Takes the extensions out.
    pub fn into_extensions(self) -> Vec<Extension<T>> {
        self.core.extensions
    }

    /// Iterates the extensions in the order `map` uses.
    pub fn iter(&self) -> std::slice::Iter<'_, Extension<T>> {
        self.core.extensions.iter()
    }

    /// How many extensions were loaded.
    pub fn len(&self) -> usize {
        self.core.extensions.len()
    }

    /// True when nothing was loaded.
    pub fn is_empty(&self) -> bool {
        self.core.extensions.is_empty()
    }

    /// True when an extension of this name was loaded.
    pub fn contains(&self, name: &str) -> bool {
        self.core.extensions.iter().any(|e| e.name() == name)
    }

    /// Whether `map` returns the first error (true) or logs and skips errors.
    pub fn propagates_map_exceptions(&self) -> bool {
        self.core.propagate
    }

    /// The extension called `name` (Python's `mgr[name]`). When several share the name, the conflict
    /// resolver chooses, once, on the first lookup; its refusal is returned on every lookup.
    pub fn get(&self, name: &str) -> Result<Option<&Extension<T>>, Error> {
        let by_name = self.core.by_name()?;
        Ok(by_name.get(name).map(|&i| &self.core.extensions[i]))
    }

    /// `(name, extension)` for each distinct name, duplicates resolved as in [`get`](Self::get), in the order
    /// names first appear.
    pub fn items(&self) -> Result<Vec<(&str, &Extension<T>)>, Error> {
        let by_name = self.core.by_name()?;
        let mut seen = std::collections::HashSet::new();
        Ok(self
            .core
            .extensions
            .iter()
            .filter(|e| seen.insert(e.name()))
            .filter_map(|e| {
                by_name
                    .get(e.name())
                    .map(|&i| (e.name(), &self.core.extensions[i]))
            })
            .collect())
    }

    /// Calls `f` on each extension in order and collects the results.
    ///
    /// Fails with [`Error::NoMatches`] when the manager is empty. When `f` fails, the manager either returns
    /// [`Error::Map`] at once (the remaining extensions are not called) or, by default, logs the error and
    /// leaves that result out.
    pub fn map<U, E>(
        &self,
        mut f: impl FnMut(&Extension<T>) -> Result<U, E>,
    ) -> Result<Vec<U>, Error>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if self.core.extensions.is_empty() {
            return Err(Error::NoMatches {
                namespace: self.core.namespace.clone(),
                name: None,
            });
        }
        let mut out = Vec::with_capacity(self.core.extensions.len());
        for ext in &self.core.extensions {
            invoke_one(&self.core, &mut out, ext, &mut f)?;
        }
        Ok(out)
    }

    /// Calls `f` on each extension mutably; otherwise as [`map`](Self::map).
    pub fn map_mut<U, E>(
        &mut self,
        mut f: impl FnMut(&mut Extension<T>) -> Result<U, E>,
    ) -> Result<Vec<U>, Error>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if self.core.extensions.is_empty() {
            return Err(Error::NoMatches {
                namespace: self.core.namespace.clone(),
                name: None,
            });
        }
        let mut out = Vec::with_capacity(self.core.extensions.len());
        let mut extensions = std::mem::take(&mut self.core.extensions);
        let mut result = Ok(());
        for ext in &mut extensions {
            let r = match f(ext) {
                Ok(v) => {
                    out.push(v);
                    Ok(())
                }
                Err(e) => map_failure(&self.core, ext.name(), e.into()),
            };
            if r.is_err() {
                result = r;
                break;
            }
        }
        self.core.extensions = extensions;
        result.map(|()| out)
    }
}

impl<T: CallMethod> ExtensionManager<T> {
    /// Calls `method` with `input` on every extension's object, as [`map`](Self::map) (Python's
    /// `map_method`). An extension that was not invoked on load counts as a failed call.
    pub fn map_method(&self, method: &str, input: &Value) -> Result<Vec<Value>, Error> {
        self.map(|e| call_method(e, method, input))
    }
}

impl<'a, T> IntoIterator for &'a ExtensionManager<T> {
    type Item = &'a Extension<T>;
    type IntoIter = std::slice::Iter<'a, Extension<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Lets the other managers share [`ExtensionManager`]'s methods.
macro_rules! deref_to_extension_manager {
    ($ty:ident) => {
        impl<T> std::ops::Deref for $ty<T> {
            type Target = $crate::manager::ExtensionManager<T>;

            fn deref(&self) -> &Self::Target {
                &self.inner
            }
        }

        impl<T> std::fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($ty)).field(&self.inner).finish()
            }
        }

        impl<T> std::ops::DerefMut for $ty<T> {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.inner
            }
        }
    };
}
pub(crate) use deref_to_extension_manager;
