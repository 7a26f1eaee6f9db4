//! The crate's error type.

/// Errors of the IMAP protocol layer.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// The client sent something that is not IMAP (or not valid here); the connection
    /// answers BAD or closes. The client's fault.
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// A response could not be built from our own data (a bug or data we cannot encode).
    /// Our fault.
    #[error("cannot build response: {0}")]
    Response(String),
    /// The client exceeded a configured limit (command size, literal size, literal memory,
    /// bad commands). The client's fault; the text is safe to log.
    #[error("limit exceeded: {0}")]
    Limit(&'static str),
}
