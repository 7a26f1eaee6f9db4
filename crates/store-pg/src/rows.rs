//! Rows to records: the column lists the queries select and their conversions. Integers
//! are `bigint` in the database; values outside the record's range are reported as
//! corruption, never truncated.

use certmail_store::{BlobId, Mailbox, MessageMeta, SpecialUse, StoreError};
use tokio_postgres::Row;

use crate::error::out_of_range;

/// The columns [`mailbox`] reads, in order, from `mailboxes`; `subscribed` comes from the
/// account's subscription list (a name there may have no mailbox, RFC 3501 §6.3.6).
pub(crate) const MAILBOX_COLUMNS: &str = "id, name, uid_validity, uid_next, highest_modseq, \
     special_use, EXISTS (SELECT 1 FROM subscriptions s \
     WHERE s.account = mailboxes.account AND s.name = mailboxes.name) AS subscribed, \
     message_count, total_size";

/// The columns [`message`] reads, in order.
pub(crate) const MESSAGE_COLUMNS: &str = "uid, modseq, flags, internal_date, size, blob";

pub(crate) fn u32_of(what: &str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| out_of_range(what, v))
}

pub(crate) fn u64_of(what: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| out_of_range(what, v))
}

/// A count, size or MODSEQ for a `bigint` column (all stay far below 2^63).
pub(crate) fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn blob_of(bytes: &[u8]) -> Result<BlobId, StoreError> {
    let id: [u8; 32] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        record: "postgresql blob id".into(),
        reason: format!("{} bytes, expected 32", bytes.len()),
    })?;
    Ok(BlobId(id))
}

pub(crate) fn spki_of(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt {
        record: "postgresql spki".into(),
        reason: format!("{} bytes, expected 32", bytes.len()),
    })
}

/// A mailbox from a row of [`MAILBOX_COLUMNS`].
pub(crate) fn mailbox(row: &Row) -> Result<Mailbox, StoreError> {
    let special: Option<String> = row.get(5);
    Ok(Mailbox {
        id: u64_of("mailbox id", row.get(0))?,
        name: row.get(1),
        uid_validity: u32_of("uid_validity", row.get(2))?,
        uid_next: u32_of("uid_next", row.get(3))?,
        highest_modseq: u64_of("highest_modseq", row.get(4))?,
        special_use: special.as_deref().and_then(SpecialUse::from_attr),
        subscribed: row.get(6),
        exists: u32_of("message_count", row.get(7))?,
        size: u64_of("total_size", row.get(8))?,
    })
}

/// A message from a row of [`MESSAGE_COLUMNS`].
pub(crate) fn message(row: &Row) -> Result<MessageMeta, StoreError> {
    let blob: &[u8] = row.get(5);
    Ok(MessageMeta {
        uid: u32_of("uid", row.get(0))?,
        modseq: u64_of("modseq", row.get(1))?,
        flags: row.get(2),
        internal_date: row.get(3),
        size: u64_of("size", row.get(4))?,
        blob: blob_of(blob)?,
    })
}
