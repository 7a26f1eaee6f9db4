//! certmail-managesieve: the ManageSieve server (RFC 5804), where people keep their Sieve
//! filters from Thunderbird's Sieve add-on or `sieve-connect`.
//!
//! Modules:
//! - [`proto`]: bytes to commands and responses to bytes (the [`proto::Framer`] with its
//!   literals and limits, [`proto::Command`], [`proto::Response`]); no tokio, no store, no
//!   clock.
//! - `session`: one connection's state (`NotAuthenticated`, `AwaitingPlain`,
//!   `Authenticated`), the store-free commands, STARTTLS and AUTHENTICATE.
//! - `signin`: AUTHENTICATE "PLAIN" decided by `certmail_auth::signin` (certificate,
//!   binding, account, password, TOTP, throttle, lockout) and the session registry (one
//!   active session per account), exactly as IMAP decides it.
//! - `scripts`: PUTSCRIPT, CHECKSCRIPT, LISTSCRIPTS, SETACTIVE, GETSCRIPT, DELETESCRIPT,
//!   RENAMESCRIPT and HAVESPACE on the store's `ScriptStore`, scripts checked by
//!   `certmail_sieve::compile`, changes written to the audit log.
//! - `server`: the tokio driver: greeting, STARTTLS on the daemon's client-certificate TLS
//!   config, idle timeout, session kicks and shutdown. It is the only place that awaits the
//!   socket.
//!
//! Rules: sign-in only over TLS with a client certificate; every refusal is a `NO` with a
//! sentence; every size from the network is bounded (`[sieve] max_line_length`,
//! `max_script_size`).
#![forbid(unsafe_code)]

pub mod proto;
mod scripts;
mod server;
mod session;
mod signin;
#[cfg(test)]
mod testing;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use server::serve;

/// What every ManageSieve connection shares (rebuilt by the daemon on reload).
pub struct ManageSieveContext {
    /// The mail store (scripts, accounts, audit log).
    pub store: Arc<dyn certmail_store::Store>,
    /// The single-active-session registry shared with IMAP and SMTP.
    pub registry: Arc<dyn certmail_session::SessionRegistry>,
    /// Settings from the configuration.
    pub settings: Settings,
}

/// The settings of `[sieve]` and the daemon's sign-in policy.
pub struct Settings {
    /// The server's name, in the greeting.
    pub hostname: String,
    /// The daemon's one sign-in policy (its throttle and lockout shared with IMAP and SMTP).
    pub sign_in: certmail_auth::signin::SignInPolicy,
    /// Replace or reject a second device (`[auth] session_policy`).
    pub session_policy: certmail_session::SessionPolicy,
    /// `[sieve] max_script_size` and `max_scripts`.
    pub quota: certmail_store::ScriptQuota,
    /// The interpreter's limits that PUTSCRIPT and CHECKSCRIPT compile with (delivery's).
    pub limits: certmail_sieve::Limits,
    /// `[sieve] max_line_length`.
    pub max_line: usize,
    /// `[sieve] max_bad_commands`: bad commands before the connection is closed.
    pub max_bad_commands: u32,
    /// `[sieve] idle_timeout_secs`.
    pub idle_timeout: Duration,
    /// `[limits] tls_handshake_timeout_secs`.
    pub tls_handshake_timeout: Duration,
}

/// One accepted connection and what it is served with.
pub struct Connection {
    /// The socket.
    pub tcp: tokio::net::TcpStream,
    /// The client's address.
    pub peer: SocketAddr,
    /// The TLS config that asks for a client certificate (the daemon's, as IMAP's).
    pub tls: Arc<rustls::ServerConfig>,
    /// The trust store and CRLs behind the identity check.
    pub pki: Arc<certmail_pki::Pki>,
    /// Fires when the daemon shuts down.
    pub shutdown: CancellationToken,
}
