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
}
