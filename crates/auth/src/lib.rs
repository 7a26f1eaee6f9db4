//! certmail-auth: accounts and sign-in policy.
//!
//! Modules: [`password`] (argon2id), [`secret`] ([`Secret`], which never prints itself),
//! [`policy`] (lockout, per-IP throttle, password rules, network allowlists), [`signin`]
//! (the decision, in DESIGN.md's table order), [`totp`] (RFC 6238), [`handshake`] (a user
//! listener's TLS handshake, its failures audited), [`vacation`] (the out-of-office reply
//! the CLI and the self-service page set, one set of rules for both).
//! The sign-in decision combines the certificate identity from `certmail-pki` with the
//! account in the store; every refusal is a `certmail_pki::Refusal` with its reason.
//!
//! Rule: CPU-heavy work (password hashing) runs on the blocking pool with bounded
//! concurrency, never on the async runtime.
#![forbid(unsafe_code)]

pub mod accounts;
mod binding;
mod error;
mod factor;
pub mod handshake;
pub mod password;
pub mod policy;
pub mod remembered;
mod rules;
mod secret;
pub mod signin;
pub mod totp;
pub mod vacation;

pub use binding::{
    BindRefusal, Inspection, RefusalReport, bind_certificate, binding_for,
    cert_der_from_file_bytes, inspect,
};
pub use error::AuthError;
pub use factor::{device_network, record_client};
pub use secret::Secret;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
