//! Helpers for code running inside sled transactions.
//!
//! Transaction closures may run more than once (sled retries on conflict), so they have no
//! side effects besides their writes; anything expensive (sealing, scanning) is done before.

use ::sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::{decode, decode_u64, encode};
use crate::error::{Result, StoreError};

/// The result type inside a transaction closure.
pub(crate) type TxResult<T> = ConflictableTransactionResult<T, StoreError>;

/// Aborts the transaction with `e`.
pub(crate) fn abort<T>(e: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

/// Lifts a plain `Result` into the transaction.
pub(crate) fn lift<T>(r: Result<T>) -> TxResult<T> {
    r.map_err(ConflictableTransactionError::Abort)
}

/// The outcome of a transaction as a store result.
pub(crate) fn finish<T>(r: std::result::Result<T, TransactionError<StoreError>>) -> Result<T> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Db(e),
    })
}

/// Reads and decodes a record.
pub(crate) fn get<T: DeserializeOwned>(
    tree: &TransactionalTree,
    key: &[u8],
) -> TxResult<Option<T>> {
    match tree.get(key)? {
        Some(v) => lift(decode(key, &v)).map(Some),
        None => Ok(None),
    }
}

/// Encodes and writes a record.
pub(crate) fn put<T: Serialize>(tree: &TransactionalTree, key: &[u8], value: &T) -> TxResult<()> {
    tree.insert(key, encode(value))?;
    Ok(())
}

/// Adds `delta` to a u64 counter (absent = 0); removes it when it reaches 0.
/// Returns the new value.
pub(crate) fn add_count(tree: &TransactionalTree, key: &[u8], delta: i64) -> TxResult<u64> {
    let old = match tree.get(key)? {
        Some(v) => lift(decode_u64(key, &v))?,
        None => 0,
    };
    let new = old.saturating_add_signed(delta);
    if new == 0 {
        tree.remove(key)?;
    } else {
        tree.insert(key, &new.to_be_bytes())?;
    }
    Ok(new)
}

/// Takes the next value of a u64 counter in `meta`: the stored value, raised to `floor`.
pub(crate) fn next_counter(meta: &TransactionalTree, key: &[u8], floor: u64) -> TxResult<u64> {
    let stored = match meta.get(key)? {
        Some(v) => lift(decode_u64(key, &v))?,
        None => 0,
    };
    let value = stored.max(floor);
    meta.insert(key, &(value + 1).to_be_bytes())?;
    Ok(value)
}
