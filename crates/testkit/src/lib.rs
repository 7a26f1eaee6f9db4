//! The test kit: what the black-box tests in `tests/`, the crates' own tests and the
//! benchmark share, written once.
//!
//! - [`install`]: a throw-away installation (test PKI, a configuration written by
//!   serialising `certmail_config::Config`, accounts made through the real CLI);
//! - [`backend`]: sled, or PostgreSQL with `CERTMAIL_TEST_STORE=postgres`;
//! - [`process`]: the certmail binary as a child process;
//! - [`tls`]: the TLS client config (trusting the test server CA, presenting a client
//!   certificate) and connecting as `localhost`;
//! - [`pki`]: CRLs and certificate files on top of `certmail_pki::testpki`;
//! - [`sink`]: an SMTP server that takes mail (or refuses it) on 127.0.0.1 port 0;
//! - [`store`]: a store wrapper for paused-clock tests and fault injection;
//! - [`knot`]: a Knot DNS server on 127.0.0.1 with DNSSEC-signed test zones (DANE).
//!
//! Everything here is for tests: it panics or returns `anyhow` errors freely, and no
//! shipped binary depends on it (the benchmark is a development tool).
#![forbid(unsafe_code)]

pub mod backend;
pub mod install;
pub mod knot;
pub mod pki;
pub mod policy_server;
pub mod ports;
pub mod process;
pub mod sink;
pub mod store;
pub mod tls;

pub use install::{Installation, LISTENERS};
