//! certmail, the daemon and its command-line interface, as a library; `main.rs` only parses
//! the command line and calls [`cli::run`].
//!
//! # Map
//!
//! From the bottom up; a module imports only modules above it in this list, never one
//! below (no import cycle):
//!
//! - [`dates`]: every date printed or read (RFC 3339, days, `--since` forms), via chrono;
//!   a leaf.
//! - [`crl_fetch`]: the `certmail crl fetch` job (LDAP/HTTP distribution points into
//!   `[pki] crl_dir`) and its `[crl_fetch]` section; it imports nothing of this crate.
//! - [`config`]: the TOML configuration, checked key by key.
//! - [`tls`]: reloadable rustls configs and the PKI behind them.
//! - [`connections`]: the kinds of listener and each daemon's counts of connections on
//!   them; a leaf.
//! - [`context`]: [`context::Daemon`], the shared handles every runtime service receives,
//!   and [`context::open_store`], the one way to open the mail store. A leaf: it imports
//!   only `config`, `tls` and `connections`.
//! - [`admin`]: the admin protocol ([`admin::Request`], [`admin::Response`]) and one small
//!   handler per command family (accounts, certs, aliases, devices, sessions, queue,
//!   operations, daemon control), run by [`admin::execute`] on an [`admin::AdminContext`].
//!   No clap and no printing; what only a running daemon can do (reload) it asks through
//!   the [`admin::DaemonControl`] trait, which the services implement.
//! - [`services`]: the runtime, as peers that each take the [`context::Daemon`]: the main
//!   loop and its wiring ([`services::serve`]), reload, listeners and protocols, HTTP
//!   (metrics, autoconfig), the outbound relay, daily notices, revocation, the admin
//!   socket's server side.
//! - [`cli`]: clap types, the client side of the admin socket and the printers; each
//!   subcommand runs from [`cli::run`].
//!
//! # Rules
//!
//! - No blocking call on the async runtime (store opening and file reads at reload run on
//!   the blocking pool).
//! - Secrets never reach logs; every refusal says why.
//! - With the daemon stopped, an admin request runs in the CLI process on the store by the
//!   same [`admin::execute`] the daemon uses, so both paths behave alike.
#![forbid(unsafe_code)]

pub mod admin;
pub mod cli;
pub mod config;
pub mod connections;
pub mod context;
pub mod crl_fetch;
pub mod dates;
pub mod services;
pub mod tls;
