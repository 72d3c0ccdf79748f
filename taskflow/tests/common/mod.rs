//! Code shared by taskflow's integration tests.

pub(crate) mod backend_suite;
