//! Vacation reply marks (RFC 5230 §4.2): `meta` keys `reply/` + (account, handle, sender)
//! → [`ReplyMark`]. They live in `meta` because a delivery's transaction already spans it
//! (sled transactions span at most eight trees, and delivery uses all eight), so checking
//! and writing a mark happens in the transaction that queues the reply.

use super::Inner;
use super::keys::{decode, encode, push_str};
use super::tx::{TxResult, get, put};
use crate::error::{Result, StoreError};
use crate::model::ReplyMark;

const PREFIX: &[u8] = b"reply/";

/// The `meta` prefix of one account's marks.
fn account_marks(account: &str) -> Vec<u8> {
    let mut k = PREFIX.to_vec();
    push_str(&mut k, account);
    k
}

/// The `meta` key of a (normalised) mark.
fn mark_key(mark: &ReplyMark) -> Vec<u8> {
    let mut k = account_marks(&mark.account);
    push_str(&mut k, &mark.handle);
    push_str(&mut k, &mark.sender);
    k
}

/// Inside a delivery's transaction: `false` if a live mark of the same (account, handle,
/// sender) holds the reply back; otherwise records `mark` and returns `true`.
pub(crate) fn claim(
    meta: &::sled::transaction::TransactionalTree,
    mark: &ReplyMark,
) -> TxResult<bool> {
    let mark = mark.normalized();
    let key = mark_key(&mark);
    if let Some(old) = get::<ReplyMark>(meta, &key)?
        && old.holds_at(mark.sent_at)
    {
        return Ok(false);
    }
    put(meta, &key, &mark)?;
    Ok(true)
}

impl Inner {
    /// How many marks the store holds (every account's).
    pub(crate) fn reply_mark_count(&self) -> Result<u64> {
        let mut n = 0;
        for key in self.t.meta.scan_prefix(PREFIX).keys() {
            key?;
            n += 1;
        }
        Ok(n)
    }

    pub(crate) fn reply_marks(&self, account: &str) -> Result<Vec<ReplyMark>> {
        let prefix = account_marks(&account.to_lowercase());
        let mut out = Vec::new();
        for entry in self.t.meta.scan_prefix(prefix) {
            let (k, v) = entry?;
            out.push(decode::<ReplyMark>(&k, &v)?);
        }
        Ok(out)
    }

    pub(crate) fn put_reply_mark(&self, mark: &ReplyMark) -> Result<()> {
        let mark = mark.normalized();
        if !self.t.accounts.contains_key(&mark.account)? {
            return Err(StoreError::AccountNotFound(mark.account));
        }
        self.t.meta.insert(mark_key(&mark), encode(&mark))?;
        Ok(())
    }

    pub(crate) fn prune_reply_marks(&self, now: i64) -> Result<u64> {
        let mut pruned = 0;
        for entry in self.t.meta.scan_prefix(PREFIX) {
            let (k, v) = entry?;
            let mark = decode::<ReplyMark>(&k, &v)?;
            // Compare-and-swap: a mark renewed since the scan stays.
            if !mark.holds_at(now)
                && self
                    .t
                    .meta
                    .compare_and_swap(&k, Some(v), None::<&[u8]>)?
                    .is_ok()
            {
                pruned += 1;
            }
        }
        Ok(pruned)
    }

    pub(crate) fn delete_reply_marks_of(&self, account: &str) -> Result<()> {
        for key in self.t.meta.scan_prefix(account_marks(account)).keys() {
            self.t.meta.remove(key?)?;
        }
        Ok(())
    }
}
