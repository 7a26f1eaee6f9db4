//! The daemon's configuration: the types live in the `certmail-config` crate (so the test
//! kit and the benchmark write configuration files by serialising them); this re-export
//! keeps them at `crate::config`.

pub use certmail_config::*;
