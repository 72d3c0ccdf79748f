#![doc = include_str!("../README.md")]

mod cli;
mod conf;
mod error;
mod fasthash;
pub mod generator;
mod ini;
mod location;
mod opt;
#[cfg(feature = "stevedore")]
pub mod plugins;
mod resolve;
mod textwrap;
#[cfg(feature = "toml")]
mod toml_layer;
pub mod types;
pub mod validator;

pub use cli::SubCommand;
pub use conf::{
    Change, ChosenSubCommand, ConfigOpts, EnvSource, MutateHook, ParseArgs, Resolved, env_var_name,
    find_config_dirs, find_config_dirs_in, find_config_files, find_config_files_in,
};
pub use error::{Error, ErrorKind};
pub use ini::{Entry, IniDocument, IniError, Section};
pub use location::Location;
pub use opt::{DeprecatedOpt, IntoDefault, Opt, OptGroup};
pub use types::{OptType, Value};
