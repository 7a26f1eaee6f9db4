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
    /// The outbound relay's TLS settings are unusable (CA file, client certificate or key).
    /// The text names the file's part, never key material.
    #[error("relay TLS: {0}")]
    Tls(String),
    /// The outbound relay's DNS resolver could not be set up.
    #[error("relay DNS: {0}")]
    Dns(String),
}
