//! The suite's demo: each crate shows itself at work on embedded defaults.
//!
//! `cargo run -p oslo-tests --bin demo` runs every part in order; `demo NAME...` runs only the named parts.
//! Each part is a module behind the feature of its crate, and one line in [`PARTS`].

// One module per crate, behind its feature (rustfmt keeps them sorted).
// --- parts ---
#[cfg(feature = "config")]
pub mod config;
#[cfg(feature = "db")]
pub mod db;
#[cfg(feature = "messaging")]
pub mod messaging;
#[cfg(feature = "policy")]
pub mod policy;
#[cfg(feature = "rootwrap")]
pub mod rootwrap;
#[cfg(feature = "stevedore")]
pub mod stevedore;
#[cfg(feature = "taskflow")]
pub mod taskflow;

/// One part of the demo.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    /// The crate the part shows, as named on the command line.
    pub name: &'static str,
    /// Runs the part, printing to standard output.
    pub run: fn() -> Result<(), String>,
}

/// Every part of the demo, in the order they run.
pub const PARTS: &[Part] = &[
    // --- oslo-config part ---
    #[cfg(feature = "config")]
    Part {
        name: "config",
        run: config::run,
    },
    // --- oslo-policy part ---
    #[cfg(feature = "policy")]
    Part {
        name: "policy",
        run: policy::run,
    },
    // --- oslo-rootwrap part ---
    #[cfg(feature = "rootwrap")]
    Part {
        name: "rootwrap",
        run: rootwrap::run,
    },
    // --- oslo-messaging part ---
    #[cfg(feature = "messaging")]
    Part {
        name: "messaging",
        run: messaging::run,
    },
    // --- oslo-db part ---
    #[cfg(feature = "db")]
    Part {
        name: "db",
        run: db::run,
    },
    // --- taskflow part ---
    #[cfg(feature = "taskflow")]
    Part {
        name: "taskflow",
        run: taskflow::run,
    },
    // --- stevedore part ---
    #[cfg(feature = "stevedore")]
    Part {
        name: "stevedore",
        run: stevedore::run,
    },
];
