#![doc = include_str!("../README.md")]
// The docs describe the `dynamic` feature too; without it, its items are not there to link to.
#![cfg_attr(not(feature = "dynamic"), allow(rustdoc::broken_intra_doc_links))]

mod error;
mod listing;
mod manager;
mod plugin;
mod registry;

#[cfg(feature = "dynamic")]
pub mod dynamic;

pub use error::{Error, PluginError};
pub use listing::Listing;
pub use manager::{
    ConflictResolver, DispatchExtensionManager, DriverManager, EnabledExtensionManager,
    ExtensionManager, HookManager, LoadFailureCallback, ManagerBuilder, MissingNamesCallback,
    NameDispatchExtensionManager, NamedExtensionManager, error_on_conflict, ignore_conflicts,
    warn_on_missing_names,
};
pub use plugin::{
    CallMethod, EntryPoint, Extension, Factory, InvokeArgs, Origin, Plugin, StaticPlugin,
    place_object,
};
pub use registry::Registry;

/// What [`register!`] expands to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;

    pub use crate::plugin::place_object;
}

/// Registers a compiled-in plugin, from any crate of the program.
///
/// The factory is a function (or a closure with no captures) taking [`&InvokeArgs`](InvokeArgs) and
/// returning `Result<T, E>` where `E` converts into [`PluginError`] (a `String` or `&str` does); a
/// manager built for `T` gets the object. The target shown in listings and errors is the factory's path
/// in the registering crate, unless `target:` says otherwise.
///
/// ```
/// use stevedore::{DriverManager, InvokeArgs, PluginError};
///
/// pub trait Greeter {
///     fn greet(&self, who: &str) -> String;
/// }
///
/// struct Hello(String);
///
/// impl Greeter for Hello {
///     fn greet(&self, who: &str) -> String {
///         format!("{}, {who}", self.0)
///     }
/// }
///
/// fn hello(args: &InvokeArgs) -> Result<Box<dyn Greeter>, PluginError> {
///     let word = args.get("word").and_then(|v| v.as_str()).unwrap_or("hello");
///     Ok(Box::new(Hello(word.to_owned())))
/// }
///
/// stevedore::register! { namespace: "example.greeters", name: "hello", factory: hello }
///
/// let mgr = DriverManager::<Box<dyn Greeter>>::builder("example.greeters", "hello")
///     .invoke_on_load(InvokeArgs::new().kwarg("word", "hi"))
///     .build()
///     .unwrap();
/// assert_eq!(mgr.driver().unwrap().greet("there"), "hi, there");
/// ```
#[macro_export]
macro_rules! register {
    (namespace: $namespace:expr, name: $name:expr, factory: $factory:expr $(,)?) => {
        $crate::register! {
            namespace: $namespace,
            name: $name,
            target: ::core::concat!(::core::module_path!(), "::", ::core::stringify!($factory)),
            factory: $factory,
        }
    };
    (namespace: $namespace:expr, name: $name:expr, target: $target:expr, factory: $factory:expr $(,)?) => {
        $crate::__private::inventory::submit! {
            $crate::StaticPlugin::new($namespace, $name, $target, {
                fn __stevedore_factory(
                    args: &$crate::InvokeArgs,
                    slot: ::core::option::Option<&mut dyn ::core::any::Any>,
                ) -> ::core::result::Result<
                    ::core::option::Option<::std::boxed::Box<dyn ::core::any::Any>>,
                    $crate::PluginError,
                > {
                    match ($factory)(args) {
                        ::core::result::Result::Ok(obj) => {
                            ::core::result::Result::Ok($crate::__private::place_object(obj, slot))
                        }
                        ::core::result::Result::Err(err) => ::core::result::Result::Err(::core::convert::Into::into(err)),
                    }
                }
                __stevedore_factory
            })
        }
    };
}
