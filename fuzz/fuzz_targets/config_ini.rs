#![no_main]
//! The oslo INI parser, and `$name` interpolation, on arbitrary input: never a panic.

use libfuzzer_sys::fuzz_target;
use oslo_config::{ConfigOpts, EnvSource, IniDocument, Opt};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match IniDocument::parse(text) {
        Ok(doc) => {
            for section in doc.sections() {
                let norm = if section.name == "DEFAULT" {
                    section.name.clone()
                } else {
                    section.name.to_lowercase()
                };
                for entry in &section.entries {
                    assert!(doc.contains(&norm, &entry.key));
                    let _ = doc.last(&norm, &entry.key);
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }

    // The same text as a value to interpolate, referenced from other options.
    let mut conf = ConfigOpts::new();
    conf.set_env(EnvSource::Disabled);
    let setup = conf
        .register_opt(Opt::string("a"), None)
        .and_then(|_| conf.register_opt(Opt::string("b").default("[$a]"), None))
        .and_then(|_| conf.register_opt(Opt::integer("n").default("${a}"), Some("g")))
        .and_then(|_| conf.register_opt(Opt::list("l").default("$b,x"), Some("g")))
        .and_then(|_| conf.set_override("a", text, None));
    if setup.is_ok() {
        let _ = conf.get("b", None);
        let _ = conf.get("n", Some("g"));
        let _ = conf.get("l", Some("g"));
    }
});
