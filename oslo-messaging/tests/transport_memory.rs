//! The shared transport suite on `memory://`.

mod suite;

transport_suite!(Some(String::from("memory://")));
