//! Option namespaces found through stevedore (feature `stevedore`), as `oslo-config-generator` finds the
//! `oslo.config.opts` and `oslo.config.opts.defaults` entry points.
//!
//! With this feature, [`list_opts`](crate::generator::list_opts) (what `oslo-config-generator
//! --namespace` and `oslo-config-validator` use) asks a stevedore [`NamedExtensionManager`] for the
//! plugins of [`OPTS`] called by the requested names. A plugin's factory is its list function: it takes
//! no argument and returns the options by group. Before any list function runs, the plugins of
//! [`OPTS_DEFAULTS`] with the same names are invoked — Python's hooks that let an application change the
//! defaults of the libraries it uses before their options are listed; here such a hook sets whatever
//! its crate's list functions read.
//!
//! ```
//! use oslo_config::generator::{GroupedOpts, list_opts, sample_ini};
//! use oslo_config::Opt;
//! use oslo_config::plugins::OPTS;
//!
//! fn my_opts(_: &stevedore::InvokeArgs) -> Result<GroupedOpts, stevedore::PluginError> {
//!     Ok(vec![(None, vec![Opt::integer("workers").default(4).help("Worker processes")])])
//! }
//! stevedore::register! { namespace: OPTS, name: "doc.stevedore", factory: my_opts }
//!
//! let found = list_opts(&["doc.stevedore".to_owned()]).unwrap();
//! assert!(sample_ini(&found, &Default::default()).contains("#workers = 4\n"));
//! ```
//!
//! The namespaces registered with [`OptList`](crate::generator::OptList) (through `inventory`, how the
//! other oslo crates list theirs) are added to the same stevedore namespace at first use, so both kinds
//! of registration are found, listed and selected the same way; a name registered both ways lists the
//! options of both, as Python lists every entry point of a name. An unknown name is
//! [`Error::NoSuchNamespace`]; a list function or a defaults hook that fails is [`Error::Plugin`].

use std::any::Any;
use std::sync::OnceLock;

use stevedore::{EntryPoint, InvokeArgs, NamedExtensionManager, Origin, PluginError, Registry};

use crate::error::Error;
use crate::generator::{GroupedOpts, NamespaceOpts};

/// The namespace of option lists (Python's `oslo.config.opts` entry points).
pub const OPTS: &str = "oslo.config.opts";

/// The namespace of the hooks that update defaults before options are listed (Python's
/// `oslo.config.opts.defaults` entry points). A plugin's factory is the hook; what it returns is
/// ignored (return `()`).
pub const OPTS_DEFAULTS: &str = "oslo.config.opts.defaults";

/// The factory of the entries added for [`OptList`](crate::generator::OptList)s; never invoked, since
/// those lists are read through `inventory` by name.
fn listed_by_inventory(
    _: &InvokeArgs,
    _: Option<&mut dyn Any>,
) -> Result<Option<Box<dyn Any>>, PluginError> {
    Err(PluginError::new(
        "this namespace is listed through `OptList`, not invoked",
    ))
}

/// The compiled-in plugins plus an entry per `OptList` namespace, made once per process.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<&'static Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = Registry::from_static();
        for namespace in crate::generator::inventory_namespaces() {
            registry.add(EntryPoint::from_factory(
                OPTS,
                namespace,
                format!("oslo_config::generator::OptList({namespace})"),
                listed_by_inventory,
            ));
        }
        registry.leak()
    })
}

/// Every name of [`OPTS`], sorted (the stevedore plugins and the `OptList`s).
pub(crate) fn namespaces() -> Vec<&'static str> {
    let mut names = registry().names(OPTS);
    names.dedup();
    names
}

fn plugin_error(err: stevedore::Error) -> Error {
    match err {
        stevedore::Error::Load {
            namespace,
            name,
            source,
            ..
        } => Error::Plugin {
            namespace,
            name,
            reason: source.message().to_owned(),
        },
        other => Error::Plugin {
            namespace: OPTS.to_owned(),
            name: String::new(),
            reason: other.to_string(),
        },
    }
}

/// The options of the named namespaces, in the order given.
pub(crate) fn list_opts(namespaces: &[String]) -> Result<Vec<NamespaceOpts>, Error> {
    // Load the list functions first (nothing is listed yet), as the generator does.
    let loaders = NamedExtensionManager::<GroupedOpts>::builder(OPTS, namespaces.iter().cloned())
        .static_registry(registry())
        .ignore_missing_names()
        .on_load_failure(|_, err| Err(err.clone()))
        .build()
        .map_err(plugin_error)?;
    if let Some(missing) = loaders.missing_names().first() {
        return Err(Error::NoSuchNamespace {
            name: missing.clone(),
        });
    }
    // Then let the hooks update defaults.
    NamedExtensionManager::<()>::builder(OPTS_DEFAULTS, namespaces.iter().cloned())
        .static_registry(registry())
        .invoke_on_load(InvokeArgs::new())
        .ignore_missing_names()
        .on_load_failure(|_, err| Err(err.clone()))
        .build()
        .map_err(plugin_error)?;
    // Then list, each requested name in turn, every plugin of that name in registry order.
    namespaces
        .iter()
        .map(|ns| {
            let mut groups = GroupedOpts::new();
            for ext in loaders.extensions().iter().filter(|e| e.name() == ns) {
                if *ext.entry_point().origin() == Origin::Runtime {
                    for listed in crate::generator::inventory_opts(std::slice::from_ref(ns))? {
                        groups.extend(listed.groups);
                    }
                    continue;
                }
                let Some(plugin) = ext.plugin() else {
                    continue;
                };
                let listed = plugin
                    .create::<GroupedOpts>(&InvokeArgs::new())
                    .map_err(|err| Error::Plugin {
                        namespace: OPTS.to_owned(),
                        name: ns.clone(),
                        reason: err.message().to_owned(),
                    })?;
                groups.extend(listed);
            }
            Ok(NamespaceOpts {
                namespace: ns.clone(),
                groups,
            })
        })
        .collect()
}
