//! Record keys of the sled trees, and the small codecs for their values.
//!
//! Strings inside keys are length-prefixed (u16 big-endian), so a prefix scan for one
//! account never matches another whose id merely starts the same way. Numbers are big-endian
//! so that key order is numeric order.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::printable;
use crate::error::{Result, StoreError};
use crate::model::BlobId;

/// Appends `s` with its u16 length prefix.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
}

/// Prefix of every record of one account in a tree keyed by account first.
pub(crate) fn account_prefix(account: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + account.len());
    push_str(&mut k, account);
    k
}

/// `mailboxes` key: account, then the full mailbox name.
pub(crate) fn mailbox_key(account: &str, name: &str) -> Vec<u8> {
    let mut k = account_prefix(account);
    k.extend_from_slice(name.as_bytes());
    k
}

/// The account and the rest of a key that starts with [`account_prefix`]; `None` for a
/// key that cannot hold one.
pub(crate) fn split_account_key(key: &[u8]) -> Option<(&str, &[u8])> {
    let len = usize::from(u16::from_be_bytes(key.get(..2)?.try_into().ok()?));
    let account = std::str::from_utf8(key.get(2..2 + len)?).ok()?;
    Some((account, key.get(2 + len..)?))
}

/// The mailbox name back from a `mailboxes` key.
pub(crate) fn mailbox_name_of(key: &[u8], account: &str) -> String {
    String::from_utf8_lossy(&key[2 + account.len()..]).into_owned()
}

/// `messages` / `expunged` key: mailbox id, then UID.
pub(crate) fn message_key(mailbox_id: u64, uid: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&mailbox_id.to_be_bytes());
    k[8..].copy_from_slice(&uid.to_be_bytes());
    k
}

/// The UID back from a `messages` / `expunged` key.
pub(crate) fn uid_of(key: &[u8]) -> Result<u32> {
    let bytes: [u8; 4] = key
        .get(8..12)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt(key, "message key is not 12 bytes"))?;
    Ok(u32::from_be_bytes(bytes))
}

/// `account_blobs` key: account, then blob id.
pub(crate) fn account_blob_key(account: &str, blob: &BlobId) -> Vec<u8> {
    let mut k = account_prefix(account);
    k.extend_from_slice(&blob.0);
    k
}

/// `cert_idx` key of the by-account index.
pub(crate) fn cert_account_key(account: &str, spki: &[u8; 32]) -> Vec<u8> {
    let mut k = vec![b'a'];
    push_str(&mut k, account);
    k.extend_from_slice(spki);
    k
}

/// `cert_idx` prefix of the by-DN index.
pub(crate) fn cert_dn_prefix(issuer: &str, subject: &str) -> Vec<u8> {
    let mut k = vec![b'd'];
    push_str(&mut k, issuer);
    push_str(&mut k, subject);
    k
}

/// `cert_idx` key of the by-DN index.
pub(crate) fn cert_dn_key(issuer: &str, subject: &str, spki: &[u8; 32]) -> Vec<u8> {
    let mut k = cert_dn_prefix(issuer, subject);
    k.extend_from_slice(spki);
    k
}

/// Unix milliseconds as an order-preserving u64 (sign bit flipped).
pub(crate) fn time_key(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// The 32 bytes at the end of a key (SPKI hash or blob id).
pub(crate) fn tail32(key: &[u8]) -> Result<[u8; 32]> {
    key.len()
        .checked_sub(32)
        .and_then(|start| key[start..].try_into().ok())
        .ok_or_else(|| corrupt(key, "key shorter than 32 bytes"))
}

/// Serialises a record (postcard).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("postcard serialises plain data structs without failing")
}

/// Deserialises a record; `record` names it in the error.
pub fn decode<T: DeserializeOwned>(record: &[u8], bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| corrupt(record, &e.to_string()))
}

/// A big-endian u64 value (counters, MODSEQs).
pub(crate) fn decode_u64(record: &[u8], bytes: &[u8]) -> Result<u64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| corrupt(record, "expected an 8-byte counter"))?;
    Ok(u64::from_be_bytes(arr))
}

/// A `Corrupt` error for this record.
pub(crate) fn corrupt(record: &[u8], reason: &str) -> StoreError {
    StoreError::Corrupt {
        record: printable(record),
        reason: reason.to_owned(),
    }
}
