//! Option namespaces of another crate (this test crate) registered through stevedore under
//! `oslo.config.opts` (and a defaults hook under `oslo.config.opts.defaults`), found by
//! `oslo-config-generator --namespace`; `OptList` registrations found through the same manager.
#![cfg(feature = "stevedore")]

use std::sync::atomic::{AtomicI64, Ordering};

use oslo_config::generator::{
    GroupedOpts, OptList, list_opts, main_with_args, registered_namespaces,
};
use oslo_config::plugins::{OPTS, OPTS_DEFAULTS, registry};
use oslo_config::{Error, Opt, OptGroup};
use stevedore::{InvokeArgs, Origin, PluginError};

/// The default of `[my_service] workers`, changed by the defaults hook of `my.ns`.
static WORKERS: AtomicI64 = AtomicI64::new(4);

fn my_ns(_: &InvokeArgs) -> Result<GroupedOpts, PluginError> {
    Ok(vec![
        (
            Some(OptGroup::new("my_service").help("Options of my service.")),
            vec![
                Opt::integer("workers")
                    .default(WORKERS.load(Ordering::SeqCst))
                    .help("How many workers to start."),
            ],
        ),
        (
            None,
            vec![
                Opt::string("my_host")
                    .default("localhost")
                    .help("Where I run."),
            ],
        ),
    ])
}

fn my_ns_defaults(_: &InvokeArgs) -> Result<(), PluginError> {
    WORKERS.store(8, Ordering::SeqCst);
    Ok(())
}

fn failing(_: &InvokeArgs) -> Result<GroupedOpts, PluginError> {
    Err(PluginError::new("the option list is broken"))
}

fn shared_from_stevedore(_: &InvokeArgs) -> Result<GroupedOpts, PluginError> {
    Ok(vec![(
        None,
        vec![Opt::boolean("from_stevedore").help("Listed by a plugin.")],
    )])
}

fn shared_from_inventory() -> GroupedOpts {
    vec![(
        None,
        vec![Opt::boolean("from_inventory").help("Listed by an OptList.")],
    )]
}

stevedore::register! { namespace: OPTS, name: "my.ns", factory: my_ns }
stevedore::register! { namespace: OPTS_DEFAULTS, name: "my.ns", factory: my_ns_defaults }
stevedore::register! { namespace: OPTS, name: "my.failing", factory: failing }
stevedore::register! { namespace: OPTS, name: "my.shared", factory: shared_from_stevedore }
inventory::submit! { OptList { namespace: "my.shared", list: shared_from_inventory } }

fn generate(args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.conf");
    let mut argv: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    argv.extend(["--output-file".to_owned(), out.display().to_string()]);
    let code = main_with_args(argv);
    (code, std::fs::read_to_string(&out).unwrap_or_default())
}

#[test]
fn the_generator_finds_a_namespace_registered_through_stevedore() {
    let (code, sample) = generate(&["--namespace", "my.ns"]);
    assert_eq!(code, 0);
    assert!(sample.contains("# From my.ns\n"), "{sample}");
    assert!(sample.contains("[my_service]\n"), "{sample}");
    assert!(
        sample.contains("# Where I run. (string value)\n#my_host = localhost\n"),
        "{sample}"
    );
    // The `oslo.config.opts.defaults` hook of `my.ns` ran before the options were listed.
    assert!(
        sample.contains("# How many workers to start. (integer value)\n#workers = 8\n"),
        "{sample}"
    );
}

#[test]
fn both_kinds_of_registration_are_listed_and_selected() {
    let names = registered_namespaces();
    for ns in ["my.ns", "my.failing", "my.shared"] {
        assert!(names.contains(&ns), "{ns} in {names:?}");
    }
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    // `my.shared` is registered both ways: both lists are given, stevedore's plugin first.
    let found = list_opts(&["my.shared".to_owned()]).unwrap();
    let opts: Vec<String> = found[0]
        .groups
        .iter()
        .flat_map(|(_, opts)| opts.iter().map(|o| o.dest_name().to_owned()))
        .collect();
    assert_eq!(opts, ["from_stevedore", "from_inventory"]);
    // The OptList entry is in the registry the generator uses, with where it came from.
    let listing = registry().listing_of(OPTS).to_string();
    assert!(
        listing.contains("oslo_config::generator::OptList(my.shared)"),
        "{listing}"
    );
    let origins: Vec<&Origin> = registry()
        .entry_points(OPTS)
        .filter(|e| e.name() == "my.shared")
        .map(|e| e.origin())
        .collect();
    assert_eq!(origins, [&Origin::Static, &Origin::Runtime]);
}

#[test]
fn unknown_and_failing_namespaces_are_errors() {
    let err = list_opts(&["my.ns".to_owned(), "no.such.ns".to_owned()]).unwrap_err();
    assert!(
        matches!(&err, Error::NoSuchNamespace { name } if name == "no.such.ns"),
        "{err:?}"
    );
    let err = list_opts(&["my.failing".to_owned()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not load `my.failing` from the `oslo.config.opts` namespace: the option list is broken"
    );
    let (code, _) = generate(&["--namespace", "my.failing"]);
    assert_eq!(code, 1);
}
