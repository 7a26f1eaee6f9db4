//! Mail authentication: SPF, DKIM and DMARC for mail other servers send us on port 25, and
//! DKIM signatures for mail we send out. Built on the `mail-auth` crate (0.13, ring).
//!
//! - [`InboundVerifier`]: what the inbound driver asks after DATA on the MX listener. It
//!   returns a [`Verdict`]: the `Authentication-Results:` header to prepend (RFC 8601) and
//!   what to do with the message ([`Disposition`]). The SMTP context holds it as an optional
//!   trait object, so a server (or a test) without DNS simply has none.
//! - [`DnsVerifier`]: the real verifier, on one DNS resolver that can be pointed at
//!   explicit name servers ([`VerifierSettings`]).
//! - [`DkimSigner`]: per-domain DKIM keys (RSA or Ed25519) that sign outbound mail.
//! - [`results`]: pure helpers for the header (strip forged copies of ours, prepend).
//!
//! Rules: the protocol layer never sees any of this (the DNS work happens in the inbound
//! driver after the body is complete); a DNS failure never loses mail (temporary errors
//! are recorded in the header and the message is delivered); keys never reach Debug output.
//!
//! # Policy
//!
//! - DMARC (RFC 7489 §6.6): a failing message whose domain publishes `p=reject` is refused
//!   with `550 5.7.1`; `p=quarantine` goes to the recipient's `\Junk` mailbox (created if
//!   missing). [`VerifierSettings::dmarc_policy_override`] replaces the published policy
//!   per domain (e.g. `none` for a partner whose forwarding breaks alignment).
//! - Our own domains: mail arriving from outside (unauthenticated port 25) whose envelope
//!   sender is in one of our local domains is refused unless SPF passes for it, and mail
//!   whose From: header is in one of our domains is refused unless DMARC passes for it
//!   (an aligned SPF pass or DKIM signature). A local domain that publishes SPF for a
//!   partner relay (or whose mail is DKIM-signed by us) still gets through; a forger does not.

mod dkim_sign;
pub mod results;
#[cfg(any(test, feature = "testdns"))]
pub mod testdns;
mod verify;

#[cfg(test)]
mod tests;

pub use dkim_sign::{DkimKeyConfig, DkimSigner, generate_ed25519_pem, generate_rsa_pem};
pub use verify::{DmarcOverride, DnsVerifier, VerifierSettings};

use std::net::IpAddr;

use crate::proto::Reply;

/// What the inbound driver knows about a message from another server.
#[derive(Debug, Clone, Copy)]
pub struct InboundMessage<'a> {
    /// The client's IP address (SPF's `<ip>`).
    pub client_ip: IpAddr,
    /// The name the client gave in EHLO/HELO.
    pub helo: &'a str,
    /// The envelope sender (MAIL FROM), empty for the null sender.
    pub mail_from: &'a str,
    /// The message as received (headers and body, CRLF line ends).
    pub message: &'a [u8],
}

/// What to do with a verified message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Deliver to the recipients' INBOX.
    Deliver,
    /// Deliver to the recipients' `\Junk` mailbox (DMARC `p=quarantine` failed).
    Junk,
    /// Refuse the message with this reply (`550 5.7.1 …`).
    Reject(Reply),
}

/// The outcome of verifying one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The `Authentication-Results:` header field, CRLF-terminated, to prepend.
    pub header: String,
    /// Where the message goes.
    pub disposition: Disposition,
}

/// Verifies mail from other servers (SPF, DKIM, DMARC) and says what to do with it.
#[async_trait::async_trait]
pub trait InboundVerifier: Send + Sync + 'static {
    /// Verifies one message. Never fails: DNS trouble is reported in the header as
    /// `temperror` and the message is delivered.
    async fn verify(&self, message: InboundMessage<'_>) -> Verdict;
}
