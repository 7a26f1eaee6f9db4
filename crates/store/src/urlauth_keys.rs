//! URLAUTH access keys (RFC 4467 §7) as both backends keep them: one random 32-byte key
//! per user and mailbox, sealed with the store key, the mailbox's id and the user's id as
//! associated data (so a key copied to another row does not open).

use crate::crypto::Sealer;
use crate::error::StoreError;

/// The associated data of `user`'s key for mailbox `mailbox_id`.
pub fn key_aad(mailbox_id: u64, user: &str) -> Vec<u8> {
    let mut aad = b"urlauth\0".to_vec();
    aad.extend_from_slice(&mailbox_id.to_be_bytes());
    aad.extend_from_slice(user.as_bytes());
    aad
}

/// Seals a fresh key for `user` and mailbox `mailbox_id`.
pub fn seal_key(
    sealer: &Sealer,
    mailbox_id: u64,
    user: &str,
    key: &[u8; 32],
) -> Result<Vec<u8>, StoreError> {
    sealer.seal(&key_aad(mailbox_id, user), key)
}

/// Opens a stored key; a value that is not 32 bytes once opened is `Corrupt`.
pub fn open_key(
    sealer: &Sealer,
    mailbox_id: u64,
    user: &str,
    sealed: &[u8],
) -> Result<[u8; 32], StoreError> {
    let key = sealer.open(&key_aad(mailbox_id, user), sealed)?;
    key.as_slice().try_into().map_err(|_| StoreError::Corrupt {
        record: format!("urlauth key of {user} for mailbox {mailbox_id}"),
        reason: format!("{} bytes, expected 32", key.len()),
    })
}
