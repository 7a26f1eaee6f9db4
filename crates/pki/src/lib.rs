//! certmail-pki: who a GPKI/EPKI client certificate names, and whether it may sign in.
//!
//! Modules:
//! - [`refusal`]: [`Refusal`] and [`RefusalReason`], DESIGN.md's refusal table (codes, IMAP
//!   and SMTP replies, order). Shared with crates/auth and the protocol crates.
//! - [`config`]: [`PkiConfig`], the `[pki]` section (directories, policy allowlists).
//! - [`trust`]: [`Pki`], the loaded issuing CAs and CRL store, reloadable.
//! - [`identity`]: [`Pki::check`] → [`Identity`] or [`Refusal`], rows 1–8 of the table.
//! - [`name`]: the person's name in a certificate and the NFC comparison.
//! - [`crl`]: CRLs verified and keyed by distribution-point URI (never "any CRL of the issuer").
//! - [`verifier`]: [`GpkiClientVerifier`], the rustls verifier (proof of possession only).
//! - [`tls`]: rustls `ServerConfig` helpers (ring provider, TLS 1.2 and 1.3).
//! - `testpki` (feature `testpki`): a test/dev PKI shaped like GPKI/EPKI/NPKI.
//!
//! Rules: the TLS layer refuses only what it must (an unparseable certificate, a failed proof
//! of possession); every other decision is made at sign-in so the user hears why. Time is
//! passed in (`now`, Unix seconds). Nothing here logs key material.
#![forbid(unsafe_code)]

pub mod config;
pub mod crl;
pub mod error;
pub mod identity;
mod issuer;
pub mod name;
pub mod refusal;
pub mod tls;
pub mod trust;
pub mod verifier;
mod x509;

#[cfg(feature = "testpki")]
pub mod testpki;

pub use config::PkiConfig;
pub use error::{Error, Result};
pub use identity::{CertSummary, Identity, PkiKind, cdp_uris_of, cert_summary, spki_sha256_of};
pub use name::{extract_name, names_match};
pub use refusal::{Refusal, RefusalReason};
pub use tls::{server_config, server_config_from_pem};
pub use trust::{Pki, now_unix};
pub use verifier::{GpkiClientVerifier, spki_der};
pub use x509::der_tlv;
