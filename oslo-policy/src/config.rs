//! The `[oslo_policy]` options through oslo-config (the `oslo-config` feature): registered with the
//! names, types, defaults and help of oslo.policy 6.0, listed for `oslo-config-generator` under the
//! `oslo.policy` namespace, and read back into an [`EnforcerBuilder`].
//!
//! ```
//! use oslo_config::{ConfigOpts, ParseArgs};
//! use oslo_policy::{Enforcer, config};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("policy.yaml"), "\"compute:get\": \"role:reader\"\n")?;
//! let conf_file = dir.path().join("api.conf");
//! std::fs::write(&conf_file, "[oslo_policy]\npolicy_default_rule = \n")?;
//!
//! let mut conf = ConfigOpts::new();
//! config::register_opts(&mut conf)?;
//! conf.parse(ParseArgs::new(["--config-file", conf_file.to_str().unwrap()]).use_env(false))?;
//!
//! // `policy.yaml` is found next to the config file, as oslo's `conf.find_file` finds it.
//! let enforcer = Enforcer::builder_from_config(&conf)?.build();
//! let creds = serde_json::json!({"roles": ["reader"]});
//! assert!(enforcer.enforce("compute:get", &serde_json::json!({}), &creds)?);
//! # Ok(())
//! # }
//! ```

use std::path::PathBuf;
use std::time::Duration;

use oslo_config::{ConfigOpts, Opt, OptGroup};

use crate::enforcer::{Enforcer, EnforcerBuilder};
use crate::remote::RemoteConfig;

/// The group the options live in.
pub const GROUP: &str = "oslo_policy";

/// The namespace `oslo-config-generator --namespace` knows these options by.
pub const NAMESPACE: &str = "oslo.policy";

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// The options of `[oslo_policy]`, in oslo.policy's order.
///
/// oslo.policy 6.0 removed `enforce_scope` (scope is always checked), so it is not here: a config file
/// that still sets it is read without error and the line is ignored, as in Python.
pub fn opts() -> Vec<Opt> {
    vec![
        Opt::boolean("enforce_new_defaults").default(true).help(
            "This option controls whether or not to use old deprecated defaults when evaluating \
             policies. If ``True``, the old deprecated defaults are not going to be evaluated. This \
             means if any existing token is allowed for old defaults but is disallowed for new \
             defaults, it will be disallowed. If ``False``, the deprecated policy check string is \
             logically OR'd with the new policy check string, allowing for a graceful upgrade \
             experience between releases with new policies, which is the default behavior.",
        ),
        Opt::string("policy_file").default("policy.yaml").help(
            "The relative or absolute path of a file that maps roles to permissions for a given \
             service. Relative paths must be specified in relation to the configuration file \
             setting this option.",
        ),
        Opt::string("policy_default_rule")
            .default("default")
            .help("Default rule. Enforced when a requested rule is not found."),
        Opt::multi_string("policy_dirs").default(["policy.d"]).help(
            "Directories where policy configuration files are stored. They can be relative to any \
             directory in the search path defined by the config_dir option, or absolute paths. The \
             file defined by policy_file must exist for these directories to be searched.  Missing \
             or empty directories are ignored.",
        ),
        Opt::string("remote_content_type")
            .choices([FORM, JSON])
            .default(FORM)
            .help("Content Type to send and receive data for REST based policy check"),
        Opt::boolean("remote_ssl_verify_server_crt")
            .default(false)
            .help("server identity verification for REST based policy check"),
        Opt::string("remote_ssl_ca_crt_file")
            .help("Absolute path to ca cert file for REST based policy check"),
        Opt::string("remote_ssl_client_crt_file")
            .help("Absolute path to client cert for REST based policy check"),
        Opt::string("remote_ssl_client_key_file")
            .help("Absolute path client key file REST based policy check"),
        // oslo.policy's default is the integer 60 (the sample file shows `60`); the value reads as 60.0.
        Opt::float("remote_timeout")
            .default(60)
            .min(0)
            .help("Timeout in seconds for REST based policy check"),
    ]
}

/// The options by group, as oslo.policy's `list_opts` (what the generator lists for `oslo.policy`).
pub fn list_opts() -> Vec<(Option<OptGroup>, Vec<Opt>)> {
    vec![(Some(OptGroup::new(GROUP)), opts())]
}

inventory::submit! {
    oslo_config::generator::OptList { namespace: NAMESPACE, list: list_opts }
}

/// Registers the `[oslo_policy]` options (registering them again is harmless).
///
/// The options may be registered before or after [`ConfigOpts::parse`]: files are read for them either way.
pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), oslo_config::Error> {
    conf.register_opts(opts(), Some(GROUP))
}

/// Registers the options and replaces the default of `policy_file` (oslo's
/// `oslo_policy.opts.set_defaults(conf, policy_file=...)`).
///
/// The other defaults (oslo's `**kwargs`) are set with [`ConfigOpts::set_default`] on group [`GROUP`],
/// which checks the value against the option's type.
pub fn set_defaults(
    conf: &mut ConfigOpts,
    policy_file: Option<&str>,
) -> Result<(), oslo_config::Error> {
    register_opts(conf)?;
    if let Some(file) = policy_file {
        conf.set_default("policy_file", file, Some(GROUP))?;
    }
    Ok(())
}

fn get_string(conf: &ConfigOpts, name: &str) -> Result<Option<String>, oslo_config::Error> {
    conf.get_str(name, Some(GROUP))
}

/// The `remote_*` options as a [`RemoteConfig`].
pub fn remote_config(conf: &ConfigOpts) -> Result<RemoteConfig, oslo_config::Error> {
    let timeout = conf
        .get_float("remote_timeout", Some(GROUP))?
        .unwrap_or(60.0);
    // The option's minimum is 0; a value too large for a duration is capped rather than refused.
    let timeout = Duration::try_from_secs_f64(timeout).unwrap_or(Duration::MAX);
    Ok(RemoteConfig {
        json_content: get_string(conf, "remote_content_type")?.as_deref() == Some(JSON),
        verify_server: conf
            .get_bool("remote_ssl_verify_server_crt", Some(GROUP))?
            .unwrap_or(false),
        ca_file: get_string(conf, "remote_ssl_ca_crt_file")?.map(PathBuf::from),
        client_cert_file: get_string(conf, "remote_ssl_client_crt_file")?.map(PathBuf::from),
        client_key_file: get_string(conf, "remote_ssl_client_key_file")?.map(PathBuf::from),
        timeout,
    })
}

/// Where oslo.config's `find_file` looks, as far as the public API of [`ConfigOpts`] tells: the
/// `--config-dir` directories, then the directories of the config files, last file first.
fn search_dirs(conf: &ConfigOpts) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = conf
        .config_dirs()
        .into_iter()
        .filter(|d| d.is_dir())
        .collect();
    for file in conf.config_files().iter().rev() {
        if let Some(parent) = file.parent() {
            let parent = if parent.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                parent.to_path_buf()
            };
            if !dirs.contains(&parent) {
                dirs.push(parent);
            }
        }
    }
    // oslo's standard directories that do not depend on the project name (which `ConfigOpts` does not
    // tell); the project's own (`~/.<project>`, `/etc/<project>`) are covered by `find_file` at build time.
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home));
    }
    dirs.push(PathBuf::from("/etc"));
    dirs
}

/// A path as oslo.policy takes it: found now through `conf.find_file` (absolute paths are kept), or
/// left relative for the enforcer to look for in the search dirs when it loads.
fn located(conf: &ConfigOpts, path: &str) -> Result<PathBuf, oslo_config::Error> {
    if std::path::Path::new(path).is_absolute() {
        return Ok(PathBuf::from(path));
    }
    Ok(conf.find_file(path)?.unwrap_or_else(|| PathBuf::from(path)))
}

impl Enforcer {
    /// A builder set from the `[oslo_policy]` options of a parsed [`ConfigOpts`], as oslo.policy's
    /// `Enforcer(conf)` reads them: `policy_file`, `policy_dirs`, `policy_default_rule` (empty: no default
    /// rule), `enforce_new_defaults` and the `remote_*` options.
    ///
    /// Relative paths are looked up as oslo's `conf.find_file` does: in the `--config-dir` directories,
    /// then next to the config files (and, when found there, oslo's standard directories). A file
    /// that does not exist yet is looked for again, in the config directories, when the rules load.
    ///
    /// The options must be registered ([`register_opts`]) and the configuration parsed; otherwise the
    /// error is oslo-config's (no such group, not initialized).
    pub fn builder_from_config(conf: &ConfigOpts) -> Result<EnforcerBuilder, oslo_config::Error> {
        let policy_file = get_string(conf, "policy_file")?.unwrap_or_else(|| "policy.yaml".into());
        let dirs = conf
            .get_str_list("policy_dirs", Some(GROUP))?
            .unwrap_or_default();
        let default_rule = get_string(conf, "policy_default_rule")?.filter(|r| !r.is_empty());
        let enforce_new_defaults = conf
            .get_bool("enforce_new_defaults", Some(GROUP))?
            .unwrap_or(true);
        let policy_dirs = dirs
            .iter()
            .map(|d| located(conf, d))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Enforcer::builder()
            .policy_file(located(conf, &policy_file)?)
            .policy_dirs(policy_dirs)
            .search_dirs(search_dirs(conf))
            .default_rule(default_rule.as_deref())
            .enforce_new_defaults(enforce_new_defaults)
            .remote(remote_config(conf)?))
    }
}
