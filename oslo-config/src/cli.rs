//! The command line, through clap: every CLI option becomes a flag (`--name`, `--group-name`, a short
//! alias, deprecated aliases, `--noname` for booleans) or a positional argument, plus `--config-file`
//! and `--config-dir`. The result is the sequence of events in argv order, so that config files and flags
//! can be applied in the order oslo applies them.

use clap::{Arg, ArgAction, Command};

use crate::error::Error;
use crate::opt::Opt;
use crate::types::OptType;

/// How the program presents itself on the command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct CliSettings {
    pub(crate) prog: String,
    pub(crate) version: Option<String>,
    pub(crate) usage: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) epilog: Option<String>,
}

/// One sub-command of a program (oslo's `SubCommandOpt` handler adding a sub-parser).
///
/// ```
/// use oslo_config::{Opt, SubCommand};
///
/// let sync = SubCommand::new("db_sync")
///     .help("Upgrade the database schema")
///     .arg(Opt::string("version").positional().required(false));
/// assert_eq!(sync.name(), "db_sync");
/// ```
#[derive(Debug, Clone)]
pub struct SubCommand {
    pub(crate) name: String,
    pub(crate) help: Option<String>,
    pub(crate) args: Vec<Opt>,
}

impl SubCommand {
    /// A sub-command.
    pub fn new(name: impl Into<String>) -> Self {
        SubCommand {
            name: name.into(),
            help: None,
            args: Vec::new(),
        }
    }

    /// Its help.
    pub fn help(mut self, text: impl Into<String>) -> Self {
        self.help = Some(text.into());
        self
    }

    /// An argument of the sub-command: a positional or a `--flag` option.
    pub fn arg(mut self, opt: Opt) -> Self {
        self.args.push(opt);
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// One thing that happened on the command line, in argv order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// `--config-file PATH`.
    ConfigFile(String),
    /// `--config-dir DIR`.
    ConfigDir(String),
    /// A value for the CLI option at this index of the option list.
    Value {
        opt: usize,
        raw: String,
        flag: String,
    },
}

/// The sub-command chosen on the command line, with its arguments' raw values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubMatch {
    pub(crate) name: String,
    pub(crate) values: Vec<(usize, Vec<String>)>,
}

/// The result of parsing argv.
#[derive(Debug, Clone, Default)]
pub(crate) struct CliParse {
    pub(crate) events: Vec<Event>,
    pub(crate) sub: Option<SubMatch>,
}

fn long_name(group: Option<&str>, prefix: &str, name: &str) -> String {
    match group {
        Some(g) => format!("{g}-{prefix}{name}"),
        None => format!("{prefix}{name}"),
    }
}

fn add_opt(
    cmd: Command,
    i: usize,
    group: Option<&str>,
    opt: &Opt,
    pos_index: &mut usize,
) -> Command {
    let id = format!("o{i}");
    let mut arg = Arg::new(id.clone()).help(opt.help.clone());
    if let Some(g) = group {
        arg = arg.help_heading(g.to_owned());
    }
    if opt.positional {
        *pos_index += 1;
        arg = arg
            .index(*pos_index)
            .value_name(
                opt.rare()
                    .metavar
                    .clone()
                    .unwrap_or_else(|| opt.dest_name().to_owned()),
            )
            .required(opt.is_required());
        arg = if opt.multi {
            arg.action(ArgAction::Append)
                .num_args(if opt.is_required() { 1.. } else { 0.. })
        } else {
            arg.action(ArgAction::Set).num_args(1)
        };
        return cmd.arg(arg);
    }
    // oslo: a deprecated name without a group is offered without any group prefix.
    let deprecated: Vec<(Option<String>, String)> = opt
        .all_deprecated()
        .into_iter()
        .filter(|d| d.name.is_some() || d.group.is_some())
        .map(|d| {
            let dname = d.name.clone().unwrap_or_else(|| opt.name.to_string());
            (d.group.filter(|g| g != "DEFAULT"), dname)
        })
        .filter(|(g, n)| long_name(g.as_deref(), "", n) != long_name(group, "", &opt.name))
        .collect();
    arg = arg
        .long(long_name(group, "", &opt.name))
        .action(ArgAction::Append);
    for (g, n) in &deprecated {
        arg = arg.alias(long_name(g.as_deref(), "", n));
    }
    if let Some(s) = opt.short {
        arg = arg.short(s);
    }
    if matches!(opt.core.ty, OptType::Boolean) {
        arg = arg.num_args(0).default_missing_value("true");
        let mut inverse = Arg::new(format!("n{i}"))
            .long(long_name(group, "no", &opt.name))
            .action(ArgAction::Append)
            .num_args(0)
            .default_missing_value("false")
            .help(format!(
                "The inverse of --{}",
                long_name(group, "", &opt.name)
            ));
        for (g, n) in &deprecated {
            inverse = inverse.alias(long_name(g.as_deref(), "no", n));
        }
        if let Some(g) = group {
            inverse = inverse.help_heading(g.to_owned());
        }
        return cmd.arg(arg).arg(inverse);
    }
    arg = arg.num_args(1).allow_negative_numbers(true).value_name(
        opt.rare()
            .metavar
            .clone()
            .unwrap_or_else(|| opt.dest_name().to_uppercase()),
    );
    cmd.arg(arg)
}

/// Builds the clap command for the options and sub-commands.
pub(crate) fn command(
    settings: &CliSettings,
    opts: &[(Option<&str>, &Opt)],
    subs: &[SubCommand],
) -> Command {
    let mut cmd = Command::new(settings.prog.clone())
        .no_binary_name(true)
        .infer_long_args(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("config-file")
                .long("config-file")
                .value_name("PATH")
                .action(ArgAction::Append)
                .num_args(1)
                .help(
                    "Path to a config file to use. Multiple config files can be specified, with values in \
                     later files taking precedence. This option must be set from the command-line.",
                ),
        )
        .arg(
            Arg::new("config-dir")
                .long("config-dir")
                .value_name("DIR")
                .action(ArgAction::Append)
                .num_args(1)
                .help(
                    "Path to a config directory to pull `*.conf` files from. This file set is sorted, so \
                     as to provide a predictable parse order if individual options are over-ridden. The \
                     set is parsed after the file(s) specified via previous --config-file, arguments \
                     hence over-ridden options in the directory take precedence. This option must be set \
                     from the command-line.",
                ),
        );
    if let Some(v) = &settings.version {
        cmd = cmd.version(v.clone()).arg(
            Arg::new("version")
                .long("version")
                .action(ArgAction::Version)
                .help("show program's version number and exit"),
        );
    }
    if let Some(u) = &settings.usage {
        cmd = cmd.override_usage(u.clone());
    }
    if let Some(d) = &settings.description {
        cmd = cmd.about(d.clone());
    }
    if let Some(e) = &settings.epilog {
        cmd = cmd.after_help(e.clone());
    }
    let mut pos = 0usize;
    for (i, (group, opt)) in opts.iter().enumerate() {
        cmd = add_opt(cmd, i, *group, opt, &mut pos);
    }
    for sub in subs {
        let mut sc = Command::new(sub.name.clone());
        if let Some(h) = &sub.help {
            sc = sc.about(h.clone());
        }
        let mut spos = 0usize;
        for (i, a) in sub.args.iter().enumerate() {
            sc = add_opt(sc, i, None, a, &mut spos);
        }
        cmd = cmd.subcommand(sc);
    }
    // oslo makes its sub-parsers required (`subparsers.required = True`): a command line without one
    // is a usage error, exit status 2.
    if !subs.is_empty() {
        cmd = cmd.subcommand_required(true);
    }
    cmd
}

/// The spelling of a flag to report as a value's origin: the long form, or the short alias when only that
/// one appears on the command line. (clap's indices count values too, so they order events but do not
/// point into argv.)
fn flag_text(args: &[String], long: &str, short: Option<char>) -> String {
    let long_flag = format!("--{long}");
    if let Some(s) = short {
        let short_flag = format!("-{s}");
        let long_used = args
            .iter()
            .any(|a| a == &long_flag || a.starts_with(&format!("{long_flag}=")));
        if !long_used
            && args
                .iter()
                .any(|a| a.starts_with(&short_flag) && !a.starts_with("--"))
        {
            return short_flag;
        }
    }
    long_flag
}

/// Parses argv (without the program name) into events in argv order.
pub(crate) fn parse(
    settings: &CliSettings,
    opts: &[(Option<&str>, &Opt)],
    subs: &[SubCommand],
    args: &[String],
) -> Result<CliParse, Error> {
    let cmd = command(settings, opts, subs);
    let m = cmd.try_get_matches_from(args).map_err(|e| {
        let exit_code = match e.kind() {
            clap::error::ErrorKind::DisplayHelp
            | clap::error::ErrorKind::DisplayVersion
            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
            _ => 2,
        };
        Error::CommandLine {
            message: e.render().to_string(),
            exit_code,
        }
    })?;
    let mut events: Vec<(usize, usize, Event)> = Vec::new();
    for (id, is_file) in [("config-file", true), ("config-dir", false)] {
        if let (Some(vals), Some(idx)) = (m.get_raw(id), m.indices_of(id)) {
            for (v, i) in vals.zip(idx) {
                let v = v.to_string_lossy().into_owned();
                events.push((
                    i,
                    0,
                    if is_file {
                        Event::ConfigFile(v)
                    } else {
                        Event::ConfigDir(v)
                    },
                ));
            }
        }
    }
    for (i, (group, opt)) in opts.iter().enumerate() {
        let is_bool = matches!(opt.core.ty, OptType::Boolean);
        for (id, prefix) in [(format!("o{i}"), ""), (format!("n{i}"), "no")] {
            if prefix == "no" && (!is_bool || opt.positional) {
                continue;
            }
            let (Some(vals), Some(idx)) = (m.get_raw(&id), m.indices_of(&id)) else {
                continue;
            };
            let flag = if opt.positional {
                opt.dest_name().to_owned()
            } else {
                let short = if prefix.is_empty() { opt.short } else { None };
                flag_text(args, &long_name(*group, prefix, &opt.name), short)
            };
            for (v, at) in vals.zip(idx) {
                let raw = v.to_string_lossy().into_owned();
                events.push((
                    at,
                    1,
                    Event::Value {
                        opt: i,
                        raw,
                        flag: flag.clone(),
                    },
                ));
            }
        }
    }
    events.sort_by_key(|(at, order, _)| (*at, *order));
    let sub = m.subcommand().map(|(name, sm)| {
        let mut values = Vec::new();
        if let Some(sc) = subs.iter().find(|s| s.name == name) {
            for (i, _) in sc.args.iter().enumerate() {
                let id = format!("o{i}");
                let mut vals: Vec<String> = sm
                    .get_raw(&id)
                    .map(|v| v.map(|x| x.to_string_lossy().into_owned()).collect())
                    .unwrap_or_default();
                if matches!(sc.args.get(i).map(|a| &a.core.ty), Some(OptType::Boolean))
                    && let Some(neg) = sm.get_raw(&format!("n{i}"))
                {
                    vals.extend(neg.map(|x| x.to_string_lossy().into_owned()));
                }
                if !vals.is_empty() {
                    values.push((i, vals));
                }
            }
        }
        SubMatch {
            name: name.to_owned(),
            values,
        }
    });
    Ok(CliParse {
        events: events.into_iter().map(|(_, _, e)| e).collect(),
        sub,
    })
}

/// The command line of one of this crate's tools (`oslo-config-generator`, `oslo-config-validator`):
/// a `ConfigOpts` with `opts` registered and `args` (without the program name) parsed, reading no
/// config file and no environment. On `--help`, `--version` or a bad argument it prints what the
/// parser says and gives the exit code to return instead.
pub(crate) fn tool_conf(
    prog: &str,
    opts: impl IntoIterator<Item = Opt>,
    args: Vec<String>,
) -> Result<crate::ConfigOpts, i32> {
    let mut conf = crate::ConfigOpts::new();
    if let Err(e) = conf.register_cli_opts(opts, None) {
        eprintln!("{e}");
        return Err(1);
    }
    let parsed = conf.parse(
        crate::ParseArgs::new(args)
            .prog(prog)
            .version(env!("CARGO_PKG_VERSION"))
            .default_config_files(Vec::<String>::new())
            .default_config_dirs(Vec::<String>::new())
            .use_env(false),
    );
    if let Err(e) = parsed {
        let code = e.exit_code();
        if code == 0 {
            print!("{e}");
        } else {
            eprintln!("{e}");
        }
        return Err(code);
    }
    Ok(conf)
}
