//! The crate's error type.

/// Errors of certmail-smtp.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The driver called a session method that answers a decision or event the session is
    /// not waiting for (e.g. `rcpt_result` while no `CheckRecipient` is outstanding). This
    /// is a bug in the driver, not something a client can cause.
    #[error("{call} called while the SMTP session was not waiting for it")]
    UnexpectedCall {
        /// The method that was called.
        call: &'static str,
    },
    /// A DKIM signing key from the configuration could not be used (unreadable file, not
    /// PEM, or neither an RSA nor an Ed25519 PKCS#8/PKCS#1 key). Our configuration's fault.
    #[error("DKIM key for {domain} ({path}): {reason}")]
    DkimKey {
        /// The signing domain the key is configured for.
        domain: String,
        /// The key file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The DNS resolver for SPF/DKIM/DMARC could not be built (e.g. an unreadable
    /// /etc/resolv.conf when no servers are configured).
    #[error("DNS resolver for mail authentication: {0}")]
    Resolver(String),
    /// The outbound relay's TLS settings are unusable (CA file, client certificate or key).
    /// The text names the file's part, never key material.
    #[error("relay TLS: {0}")]
    Tls(String),
    /// The outbound relay's DNS resolver could not be set up.
    #[error("relay DNS: {0}")]
    Dns(String),
    /// The spam filter (rspamd) did not answer, or not as rspamd answers (refused
    /// connection, timeout, an HTTP error, an answer that is not `/checkv2` JSON, a refused
    /// controller password). The text names the URL, never the password.
    #[error("spam filter: {0}")]
    SpamFilter(String),
}
