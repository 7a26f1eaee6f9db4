//! The auth crate's error type.

/// What can go wrong in account and sign-in handling (refusals are not errors: they are
/// [`certmail_pki::Refusal`]s).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Hashing or verifying a password failed (not a mismatch).
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    /// A certificate could not be read.
    #[error("certificate: {0}")]
    Certificate(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] certmail_store::StoreError),
}
