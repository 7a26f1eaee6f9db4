//! certmail-web: the self-service HTTPS front (issue 16). People sign up with their
//! GPKI/EPKI certificate, change their password, enrol TOTP, manage devices and read their
//! own access record; organisation admins approve sign-ups in their organisation.
//!
//! Map:
//! - [`config`]: [`WebConfig`], the `[web]` section (the daemon's config crate embeds it).
//! - [`context`]: [`WebContext`], the handles the daemon passes in (store, PKI, sign-in
//!   policy, session registry).
//! - [`server`]: [`WebServer`] (one connection at a time, reloadable) and [`serve`] (a whole
//!   listener): HTTPS on the daemon's tokio-rustls acceptor, hyper 1 through
//!   axum; the peer certificate of each connection reaches the handlers as a [`Peer`].
//! - `identity`: who the certificate names, through the same check as IMAP/SMTP
//!   (`certmail_pki` check, binding, name, account state: DESIGN.md's refusal table).
//! - `services/`: what a person or an org admin can do (one function per action); the JSON
//!   API (`api`) and the HTML pages (`pages/`) both call these and nothing else.
//! - `security`: security headers, the Origin check and form token (CSRF), per-IP rate limit.
//! - `cookie`: the short-lived browser session bound to the certificate's SPKI.
//! - [`role`]: the org-admin role, kept in `Account.settings` (no store-format change).
//! - `i18n`: Korean first, English by `Accept-Language`. `qr`: the TOTP QR code as SVG.
//! - [`error`]: [`WebError`], the one error enum; refusals carry the refusal table's code.
//!
//! Rules: a password or TOTP code never reaches the audit log, the log or a URL (they come
//! only in request bodies, and [`certmail_auth::Secret`] holds them); every state change is
//! checked for a same-origin `Origin` header; every password check goes through
//! `certmail_auth::signin::sign_in` (protocol `web`), so lockout counting, the per-IP
//! throttle, TOTP and the audit events are those of IMAP and SMTP. No blocking call on the
//! async runtime (password hashing runs on the blocking pool inside `certmail_auth`).
#![forbid(unsafe_code)]

mod api;
mod caller;
pub mod config;
pub mod context;
mod cookie;
pub mod error;
mod i18n;
mod identity;
mod pages;
mod qr;
pub mod role;
mod router;
mod security;
pub mod server;
mod services;

pub use config::WebConfig;
pub use context::{Notice, WebContext};
pub use cookie::SharedWeb;
pub use error::WebError;
pub use identity::Peer;
pub use server::{WebServer, serve};
