//! [`DispatchExtensionManager`] and [`NameDispatchExtensionManager`]: choose the extensions per call.

use std::collections::HashMap;

use serde_json::Value;

use super::{ManagerBuilder, call_method, invoke_one};
use crate::error::Error;
use crate::manager::ExtensionManager;
use crate::manager::extension::deref_to_extension_manager;
use crate::plugin::{CallMethod, Extension};

/// Loads the plugins a check function accepts, and chooses which of them to call on each `map` (Python's
/// `DispatchExtensionManager`).
///
/// Its `map` and `map_method` take a filter first; they hide [`ExtensionManager::map`].
pub struct DispatchExtensionManager<T> {
    inner: ExtensionManager<T>,
}

deref_to_extension_manager!(DispatchExtensionManager);

impl<T: 'static> DispatchExtensionManager<T> {
    /// Starts building a manager over the plugins of `namespace` that `check` accepts.
    pub fn builder(
        namespace: impl Into<String>,
        check: impl Fn(&Extension<T>) -> bool + 'static,
    ) -> ManagerBuilder<'static, T, DispatchExtensionManager<T>> {
        ManagerBuilder::new(namespace).set_check(Box::new(check))
    }

    /// A test instance over ready-made extensions.
    pub fn from_extensions(extensions: Vec<Extension<T>>) -> Self {
        DispatchExtensionManager {
            inner: ExtensionManager::from_extensions(extensions),
        }
    }
}

impl<'r, T: 'static> ManagerBuilder<'r, T, DispatchExtensionManager<T>> {
    /// Loads the plugins and keeps the accepted ones.
    pub fn build(mut self) -> Result<DispatchExtensionManager<T>, Error> {
        let extensions = self.load()?;
        Ok(DispatchExtensionManager {
            inner: ExtensionManager {
                core: self.core(extensions),
            },
        })
    }
}

impl<T> DispatchExtensionManager<T> {
    /// Calls `f` on each extension `filter` accepts, in order, under the propagate-or-log rule. An empty
    /// manager is [`Error::NoMatches`]; a filter that accepts nothing gives an empty list.
    pub fn map<U, E>(
        &self,
        mut filter: impl FnMut(&Extension<T>) -> bool,
        mut f: impl FnMut(&Extension<T>) -> Result<U, E>,
    ) -> Result<Vec<U>, Error>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if self.inner.is_empty() {
            return Err(Error::NoMatches {
                namespace: self.inner.namespace().to_owned(),
                name: None,
            });
        }
        let mut out = Vec::new();
        for ext in self.inner.extensions() {
            if filter(ext) {
                invoke_one(&self.inner.core, &mut out, ext, &mut f)?;
            }
        }
        Ok(out)
    }
}

impl<T: CallMethod> DispatchExtensionManager<T> {
    /// Calls `method` on the objects of the extensions `filter` accepts.
    pub fn map_method(
        &self,
        filter: impl FnMut(&Extension<T>) -> bool,
        method: &str,
        input: &Value,
    ) -> Result<Vec<Value>, Error> {
        self.map(filter, |e| call_method(e, method, input))
    }
}

/// Like [`DispatchExtensionManager`], but each `map` names the extensions to call, in the order to call
/// them (Python's `NameDispatchExtensionManager`). Unknown names are skipped; when several extensions share
/// a name, the last one is called.
pub struct NameDispatchExtensionManager<T> {
    inner: ExtensionManager<T>,
    by_name: HashMap<String, usize>,
}

deref_to_extension_manager!(NameDispatchExtensionManager);

impl<T: 'static> NameDispatchExtensionManager<T> {
    /// Starts building a manager over the plugins of `namespace` that `check` accepts.
    pub fn builder(
        namespace: impl Into<String>,
        check: impl Fn(&Extension<T>) -> bool + 'static,
    ) -> ManagerBuilder<'static, T, NameDispatchExtensionManager<T>> {
        ManagerBuilder::new(namespace).set_check(Box::new(check))
    }

    /// A test instance over ready-made extensions.
    pub fn from_extensions(extensions: Vec<Extension<T>>) -> Self {
        let inner = ExtensionManager::from_extensions(extensions);
        let by_name = index_last(&inner);
        NameDispatchExtensionManager { inner, by_name }
    }
}

fn index_last<T>(mgr: &ExtensionManager<T>) -> HashMap<String, usize> {
    mgr.extensions()
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name().to_owned(), i))
        .collect()
}

impl<'r, T: 'static> ManagerBuilder<'r, T, NameDispatchExtensionManager<T>> {
    /// Loads the plugins and keeps the accepted ones.
    pub fn build(mut self) -> Result<NameDispatchExtensionManager<T>, Error> {
        let extensions = self.load()?;
        let inner = ExtensionManager {
            core: self.core(extensions),
        };
        let by_name = index_last(&inner);
        Ok(NameDispatchExtensionManager { inner, by_name })
    }
}

impl<T> NameDispatchExtensionManager<T> {
    /// The extension `map` calls for `name`.
    pub fn by_name(&self, name: &str) -> Option<&Extension<T>> {
        self.by_name
            .get(name)
            .and_then(|&i| self.inner.extensions().get(i))
    }

    /// Calls `f` on the extensions called `names`, in that order, under the propagate-or-log rule. Names
    /// with no extension are skipped; an empty manager gives an empty list.
    pub fn map<N, U, E>(
        &self,
        names: impl IntoIterator<Item = N>,
        mut f: impl FnMut(&Extension<T>) -> Result<U, E>,
    ) -> Result<Vec<U>, Error>
    where
        N: AsRef<str>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut out = Vec::new();
        for name in names {
            match self.by_name(name.as_ref()) {
                Some(ext) => invoke_one(&self.inner.core, &mut out, ext, &mut f)?,
                None => tracing::debug!(
                    namespace = self.inner.namespace(),
                    name = name.as_ref(),
                    "missing extension being ignored"
                ),
            }
        }
        Ok(out)
    }
}

impl<T: CallMethod> NameDispatchExtensionManager<T> {
    /// Calls `method` on the objects of the extensions called `names`.
    pub fn map_method<N: AsRef<str>>(
        &self,
        names: impl IntoIterator<Item = N>,
        method: &str,
        input: &Value,
    ) -> Result<Vec<Value>, Error> {
        self.map(names, |e| call_method(e, method, input))
    }
}
