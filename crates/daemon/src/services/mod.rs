//! The daemon's runtime services, peers that each take the shared [`crate::context::Daemon`]:
//!
//! - [`serve`]: the main loop and all the wiring (open the store, build the context, bind,
//!   spawn every service, signals, drain); [`reload`]: SIGHUP and `certmail reload`,
//!   refused when a [`restart_keys`] key changed.
//! - [`listener`] (connection limits) and [`protocols`] (IMAP and SMTP per connection).
//! - [`http`] with [`metrics`] and [`state_metrics`] (`/metrics`, autoconfig), [`health`]
//!   (`/healthz`) and [`client_config`] (Thunderbird, Outlook and Apple set-up files); the
//!   connections they count are [`crate::connections`].
//! - [`relay`] (the outbound queue runner, reloadable), [`notices`] (daily expiry notices,
//!   new-device notices), [`revocation`] (CRLs reaching live sessions).
//! - [`web`]: the self-service web listener (crates/web) and its context.
//! - [`spam`]: learning from what users move into and out of Junk (rspamd).
//! - [`admin_socket`]: the admin socket's server side.
//! - [`notify`] (sd_notify) and [`logging`].
//! - [`cluster`]: on PostgreSQL, the node's LISTEN connection and session leases.
//!
//! Rules: no service imports [`serve`] or [`reload`] except the wiring and the admin socket
//! (which implements [`crate::admin::DaemonControl`]); each takes what it needs from the
//! context.

pub mod admin_socket;
pub mod client_config;
pub mod cluster;
pub mod health;
pub mod http;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod notices;
pub mod notify;
pub mod protocols;
pub mod proxy_header;
pub mod relay;
pub mod reload;
pub mod restart_keys;
pub mod revocation;
pub mod serve;
pub mod spam;
pub mod state_metrics;
pub mod web;
