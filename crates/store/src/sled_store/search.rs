//! The full-text search index in sled (rules in [`crate::search_index`]): one tree,
//! `search`, whose keys start with a kind byte.
//!
//! - `d` ‖ account ‖ blob id → document number (u64 BE): the body has postings for this
//!   account; number 0 marks a body with too many n-grams to index (always a candidate);
//! - `g` ‖ account ‖ document → blob id ‖ its postings (8 bytes each): what to remove later;
//! - `p` ‖ account ‖ posting ‖ document → nothing: the inverted index a search scans;
//! - `o` ‖ account ‖ document → nothing: a document whose body the account no longer holds,
//!   its postings still to remove.
//!
//! Postings are written in the transaction that stores the body for the account
//! ([`MessageTrees::index_postings`], after `store_blob`); the `d` record goes in the
//! transaction that drops the account's last reference ([`MessageTrees::unindex`]), which
//! makes the postings unreachable at once. Removing them (thousands of keys per body) is
//! left out of that transaction: `o` queues them and [`Inner::purge_search_orphans`]
//! removes a few documents' worth after each expunge, and every one in `store reindex`.
//!
//! On disk, per message and account: one `p` key per distinct n-gram (1 + 2 + account
//! length + 8 + 8 bytes) and 8 bytes of `g` per n-gram, plus sled's per-entry overhead.

use std::collections::{HashMap, HashSet};

use ::sled::Batch;

use super::Inner;
use super::keys::{account_prefix, corrupt, decode_u64, split_account_key, tail32};
use super::mailboxes::MessageTrees;
use super::tx::{TxResult, next_counter};
use crate::error::{Result, StoreError};
use crate::model::BlobId;
use crate::search_index::GramHash;

const DOC: u8 = b'd';
const FORWARD: u8 = b'g';
const POSTING: u8 = b'p';
const ORPHAN: u8 = b'o';
/// The document number of a body with more n-grams than are indexed.
const UNINDEXED: u64 = 0;
/// `meta` counter of document numbers.
const NEXT_DOC: &[u8] = b"next_search_doc";
/// Orphaned documents whose postings one expunge removes after its transaction.
const PURGE_PER_WRITE: usize = 8;

fn key(kind: u8, account: &str, tail: &[&[u8]]) -> Vec<u8> {
    let mut k = vec![kind];
    k.extend_from_slice(&account_prefix(account));
    for part in tail {
        k.extend_from_slice(part);
    }
    k
}

fn doc_key(account: &str, blob: &BlobId) -> Vec<u8> {
    key(DOC, account, &[&blob.0])
}

/// The document number at the end of a key.
fn doc_of(k: &[u8]) -> Result<u64> {
    let start = k.len().saturating_sub(8);
    decode_u64(k, &k[start..])
}

impl MessageTrees<'_> {
    /// Gives `blob` postings for `account` unless it has them (call where the account's
    /// reference to the body is added); `None` marks it as too large to index.
    pub(crate) fn index_postings(
        &self,
        account: &str,
        blob: &BlobId,
        postings: Option<&[GramHash]>,
    ) -> TxResult<()> {
        let dk = doc_key(account, blob);
        if self.search.get(&dk)?.is_some() {
            return Ok(());
        }
        let doc = match postings {
            None => UNINDEXED,
            Some(postings) => {
                let doc = next_counter(self.meta, NEXT_DOC, 1)?;
                let number = doc.to_be_bytes();
                let mut forward = Vec::with_capacity(32 + 8 * postings.len());
                forward.extend_from_slice(&blob.0);
                for posting in postings {
                    forward.extend_from_slice(posting);
                    self.search
                        .insert(key(POSTING, account, &[posting, &number]), &[])?;
                }
                self.search
                    .insert(key(FORWARD, account, &[&number]), forward)?;
                doc
            }
        };
        self.search.insert(dk, &doc.to_be_bytes())?;
        Ok(())
    }

    /// Forgets `account`'s postings of `blob` (its last reference is gone): they become
    /// unreachable now and are queued for removal.
    pub(crate) fn unindex(&self, account: &str, blob: &BlobId) -> TxResult<()> {
        let dk = doc_key(account, blob);
        if let Some(value) = self.search.remove(dk.as_slice())? {
            let doc = super::tx::lift(decode_u64(&dk, &value))?;
            if doc != UNINDEXED {
                self.search
                    .insert(key(ORPHAN, account, &[&doc.to_be_bytes()]), &[])?;
            }
        }
        Ok(())
    }
}

impl Inner {
    /// See [`crate::store::MailboxStore::search_candidates`].
    pub(crate) fn search_candidates(
        &self,
        account: &str,
        blobs: &[BlobId],
        needles: &[String],
    ) -> Result<Option<Vec<bool>>> {
        let postings = self.gram_key.needles_postings(needles);
        if postings.is_empty() {
            return Ok(None);
        }
        let hits = self.documents_with(account, &postings)?;
        let mut docs: HashMap<BlobId, u64> = HashMap::new();
        for entry in self.t.search.scan_prefix(key(DOC, account, &[])) {
            let (k, v) = entry?;
            docs.insert(BlobId(tail32(&k)?), decode_u64(&k, &v)?);
        }
        Ok(Some(
            blobs
                .iter()
                .map(|blob| match docs.get(blob) {
                    None | Some(&UNINDEXED) => true,
                    Some(doc) => hits.contains(doc),
                })
                .collect(),
        ))
    }

    /// The account's documents that have every one of `postings`.
    fn documents_with(&self, account: &str, postings: &[GramHash]) -> Result<HashSet<u64>> {
        let mut hits: Option<HashSet<u64>> = None;
        for posting in postings {
            let mut found = HashSet::new();
            for entry in self.t.search.scan_prefix(key(POSTING, account, &[posting])) {
                let doc = doc_of(&entry?.0)?;
                if hits.as_ref().is_none_or(|h| h.contains(&doc)) {
                    found.insert(doc);
                }
            }
            let empty = found.is_empty();
            hits = Some(found);
            if empty {
                break;
            }
        }
        Ok(hits.unwrap_or_default())
    }

    /// Removes the postings of up to `limit` orphaned documents; returns how many.
    pub(crate) fn purge_search_orphans(&self, limit: usize) -> Result<usize> {
        let mut purged = 0;
        for entry in self.t.search.scan_prefix([ORPHAN]).take(limit) {
            let (orphan, _) = entry?;
            let rest = orphan.get(1..).unwrap_or_default();
            let (account, number) =
                split_account_key(rest).ok_or_else(|| corrupt(&orphan, "bad orphan key"))?;
            let forward = key(FORWARD, account, &[number]);
            let mut batch = Batch::default();
            if let Some(value) = self.t.search.get(&forward)? {
                for posting in value.get(32..).unwrap_or_default().chunks_exact(8) {
                    batch.remove(key(POSTING, account, &[posting, number]));
                }
            }
            batch.remove(forward);
            batch.remove(&orphan[..]);
            self.t.search.apply_batch(batch)?;
            purged += 1;
        }
        Ok(purged)
    }

    /// A few orphans' postings go after each write that may free bodies.
    pub(crate) fn purge_some_search_orphans(&self) -> Result<()> {
        self.purge_search_orphans(PURGE_PER_WRITE).map(|_| ())
    }

    /// See [`crate::store::MailboxStore::reindex`].
    pub(crate) fn reindex(&self) -> Result<u64> {
        self.purge_search_orphans(usize::MAX)?;
        let mut indexed = 0;
        for entry in self.t.account_blobs.iter() {
            let (held, _) = entry?;
            let (account, _) =
                split_account_key(&held).ok_or_else(|| corrupt(&held, "bad account key"))?;
            let blob = BlobId(tail32(&held)?);
            if self.t.search.contains_key(doc_key(account, &blob))? {
                continue;
            }
            let body = match self.blob_body(&blob) {
                Ok(body) => body,
                Err(StoreError::MessageNotFound) => continue,
                Err(e) => return Err(e),
            };
            let postings = self.gram_key.message_postings(&body);
            let done = self.with_message_trees(|mt| {
                if mt.account_blobs.get(&held)?.is_none() {
                    return Ok(false); // expunged meanwhile
                }
                mt.index_postings(account, &blob, postings.as_deref())?;
                Ok(true)
            })?;
            indexed += u64::from(done);
        }
        Ok(indexed)
    }
}

#[cfg(test)]
mod tests {
    use crate::crypto::KeyFile;
    use crate::model::{Account, NewMessage};
    use crate::prelude::*;
    use crate::sled_store::SledStore;

    fn mail(text: &str) -> NewMessage {
        let body = format!("From: 김민준 <minjun@example.kr>\r\nSubject: 안내\r\n\r\n{text}\r\n");
        NewMessage {
            body: body.into_bytes(),
            flags: vec![],
            internal_date: 1_700_000_000,
        }
    }

    /// A store written before the index existed has an empty `search` tree: its mail is a
    /// candidate of every search (answers stay right) until `reindex` gives it postings.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mail_from_before_the_index_is_searched_then_reindexed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_async(dir.path(), KeyFile::from_bytes([3; 32]))
            .await
            .unwrap();
        let account = Account::new("hong", "홍길동", vec!["hong@example.kr".into()], 1);
        store.create_account(account).await.unwrap();
        let many = vec![mail("분기 보고서입니다"), mail("점심 메뉴")];
        store
            .append_many("hong", "INBOX", many, crate::MailQuota::Unlimited)
            .await
            .unwrap();
        store.inner.t.search.clear().unwrap();
        store.inner.t.meta.remove(super::NEXT_DOC).unwrap();

        let metas = store.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
        let blobs: Vec<_> = metas.iter().map(|m| m.blob).collect();
        let ask = || store.search_candidates("hong", blobs.clone(), vec!["보고서".into()]);
        assert_eq!(ask().await.unwrap(), Some(vec![true, true]));
        assert_eq!(store.reindex().await.unwrap(), 2);
        assert_eq!(ask().await.unwrap(), Some(vec![true, false]));
        assert_eq!(store.reindex().await.unwrap(), 0);
    }

    /// Expunged mail's postings are removed after the expunge, not left to grow.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expunged_postings_are_purged() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_async(dir.path(), KeyFile::from_bytes([3; 32]))
            .await
            .unwrap();
        let account = Account::new("hong", "홍길동", vec!["hong@example.kr".into()], 1);
        store.create_account(account).await.unwrap();
        store
            .append("hong", "INBOX", mail("분기 보고서입니다"))
            .await
            .unwrap();
        let indexed = store.inner.t.search.len();
        assert!(indexed > 10, "postings written: {indexed}");
        let change = crate::FlagChange {
            uids: vec![1],
            op: crate::FlagOp::Add,
            flags: vec!["\\Deleted".into()],
            unchanged_since: None,
        };
        store.set_flags("hong", "INBOX", change).await.unwrap();
        store.expunge("hong", "INBOX", None).await.unwrap();
        assert_eq!(store.inner.t.search.len(), 0, "every posting removed");
    }
}
