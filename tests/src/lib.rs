//! Black-box tests of the certmail daemon: the real binary (`$CERTMAIL_BIN`, default
//! `target/debug/certmail`) driven by real clients over loopback.
//!
//! [`DaemonProcess`] starts the binary, waits for its `listening NAME ADDR:PORT` lines and
//! kills it when dropped. Every wait is bounded.
#![forbid(unsafe_code)]

pub mod cert_kinds;
pub mod cluster;
pub mod delivered;
pub mod imap_session;
pub mod lines;
pub mod matrix_setup;
pub mod metrics;
pub mod outside;
pub mod procfs;
pub mod revocation;
pub mod rspamd;
pub mod signin_client;
pub mod slapd;
pub mod web;

/// The test kit's installation, under the name the tests use.
pub use certmail_testkit::install as fixtures;
pub use certmail_testkit::process::{DaemonProcess, certmail_bin, run_certmail};
pub use certmail_testkit::tls;
