//! The full-text search index in sled (rules in [`crate::search_index`]): one tree,
//! `search`, whose keys start with a kind byte. Document numbers count per account from 1.
//!
//! - `d` ‖ account ‖ blob id → document number (u64 BE): the body has postings for this
//!   account; number 0 marks a body with too many n-grams to index, which also has
//! - `u` ‖ account ‖ blob id → nothing: a candidate of every search;
//! - `g` ‖ account ‖ document → blob id ‖ its postings (8 bytes each): which body a
//!   document is, and what to remove later;
//! - `p` ‖ account ‖ posting ‖ block (u64 BE) → the documents of that block holding the
//!   posting ([`posting_list`]: sorted varints, at most 1 KiB): the inverted index;
//! - `n` ‖ account → the account's next document number;
//! - `o` ‖ account ‖ document → nothing: a document whose body the account no longer holds,
//!   its postings still to remove.
//!
//! Postings are written in the transaction that stores the body for the account
//! ([`MessageTrees::index_postings`], after `store_blob`): one read-modify-write of the
//! current block of each of the message's postings. The transaction that drops the
//! account's last reference ([`MessageTrees::unindex`]) removes the `d` record and queues an
//! `o`; until [`Inner::purge_search_orphans`] takes the document out of its lists (a few
//! after each expunge, all in `store reindex`), a search may still find it, but its body is
//! no longer in any mailbox the account lists, so it is no candidate.
//!
//! A search reads the lists of the needle's postings, intersects them, and maps the
//! documents found to bodies through `g`. That answers for the mailbox only if every body
//! the account holds has a `d` record: true of a store created by this format, and of any
//! store once `store reindex` has run (`meta` key [`COMPLETE`]). Until then (a store
//! upgraded from format 3, whose index was dropped, or one a copy is filling) a search also
//! reads the account's `d` records and treats each listed body without one as a candidate.
//!
//! On disk, per message and account: about one byte per distinct n-gram in the lists (a
//! posting list of a common n-gram holds a block of 512 documents in about 512 bytes), 8
//! bytes of `g` per n-gram, and sled's overhead per list value.

use std::collections::{HashMap, HashSet};

use ::sled::transaction::TransactionalTree;

use super::keys::{account_prefix, corrupt, decode_u64, split_account_key, tail32};
use super::mailboxes::MessageTrees;
use super::posting_list;
use super::tx::{TxResult, finish, lift, next_counter};
use super::{Inner, Trees};
use crate::error::{Result, StoreError};
use crate::model::BlobId;
use crate::search_index::GramHash;

const DOC: u8 = b'd';
const UNINDEXED_BODY: u8 = b'u';
const FORWARD: u8 = b'g';
const POSTING: u8 = b'p';
const NEXT_DOC: u8 = b'n';
const ORPHAN: u8 = b'o';
/// The document number of a body with more n-grams than are indexed.
const UNINDEXED: u64 = 0;
/// `meta` key present when every body an account holds has a `d` record.
pub(super) const COMPLETE: &[u8] = b"search_index_complete";
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

fn list_key(account: &str, posting: &[u8], doc: u64) -> Vec<u8> {
    let block = posting_list::block_of(doc).to_be_bytes();
    key(POSTING, account, &[posting, &block])
}

/// The last 8 bytes of a key, as a number (a document or a block).
fn number_at_end(k: &[u8]) -> Result<u64> {
    let start = k.len().saturating_sub(8);
    decode_u64(k, &k[start..])
}

/// Adds `doc` to the list of each of `postings`.
fn add_to_lists(
    search: &TransactionalTree,
    account: &str,
    postings: &[GramHash],
    doc: u64,
) -> TxResult<()> {
    for posting in postings {
        let k = list_key(account, posting, doc);
        let old = search.get(&k)?;
        let new = lift(posting_list::with(old.as_deref(), doc))?;
        search.insert(k, new)?;
    }
    Ok(())
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
            None => {
                self.search
                    .insert(key(UNINDEXED_BODY, account, &[&blob.0]), &[])?;
                UNINDEXED
            }
            Some(postings) => {
                let doc = next_counter(self.search, &key(NEXT_DOC, account, &[]), 1)?;
                add_to_lists(self.search, account, postings, doc)?;
                let mut forward = Vec::with_capacity(32 + 8 * postings.len());
                forward.extend_from_slice(&blob.0);
                for posting in postings {
                    forward.extend_from_slice(posting);
                }
                self.search
                    .insert(key(FORWARD, account, &[&doc.to_be_bytes()]), forward)?;
                doc
            }
        };
        self.search.insert(dk, &doc.to_be_bytes())?;
        Ok(())
    }

    /// Forgets `account`'s postings of `blob` (its last reference is gone): the body is no
    /// candidate now and its document is queued for removal from the lists.
    pub(crate) fn unindex(&self, account: &str, blob: &BlobId) -> TxResult<()> {
        let dk = doc_key(account, blob);
        if let Some(value) = self.search.remove(dk.as_slice())? {
            match lift(decode_u64(&dk, &value))? {
                UNINDEXED => {
                    self.search
                        .remove(key(UNINDEXED_BODY, account, &[&blob.0]))?;
                }
                doc => {
                    self.search
                        .insert(key(ORPHAN, account, &[&doc.to_be_bytes()]), &[])?;
                }
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
        if !self.t.meta.contains_key(COMPLETE)? {
            return self
                .candidates_by_document_map(account, blobs, &hits)
                .map(Some);
        }
        let mut wanted: HashSet<BlobId> = HashSet::with_capacity(hits.len());
        for doc in hits {
            let forward = key(FORWARD, account, &[&doc.to_be_bytes()]);
            if let Some(value) = self.t.search.get(&forward)? {
                wanted.insert(BlobId(tail32(value.get(..32).unwrap_or_default())?));
            }
        }
        for entry in self.t.search.scan_prefix(key(UNINDEXED_BODY, account, &[])) {
            wanted.insert(BlobId(tail32(&entry?.0)?));
        }
        Ok(Some(blobs.iter().map(|b| wanted.contains(b)).collect()))
    }

    /// Candidates while some held bodies may lack a `d` record: each such body is one.
    fn candidates_by_document_map(
        &self,
        account: &str,
        blobs: &[BlobId],
        hits: &[u64],
    ) -> Result<Vec<bool>> {
        let mut docs: HashMap<BlobId, u64> = HashMap::new();
        for entry in self.t.search.scan_prefix(key(DOC, account, &[])) {
            let (k, v) = entry?;
            docs.insert(BlobId(tail32(&k)?), decode_u64(&k, &v)?);
        }
        Ok(blobs
            .iter()
            .map(|blob| match docs.get(blob) {
                None | Some(&UNINDEXED) => true,
                Some(doc) => hits.binary_search(doc).is_ok(),
            })
            .collect())
    }

    /// The account's documents that have every one of `postings`, sorted.
    fn documents_with(&self, account: &str, postings: &[GramHash]) -> Result<Vec<u64>> {
        let mut hits: Option<Vec<u64>> = None;
        for posting in postings {
            let mut found = Vec::new();
            for entry in self.t.search.scan_prefix(key(POSTING, account, &[posting])) {
                let (k, v) = entry?;
                posting_list::decode_into(number_at_end(&k)?, &v, &mut found)?;
            }
            let found = match hits {
                None => found,
                Some(before) => posting_list::intersect(&before, &found),
            };
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
            finish(
                self.t
                    .search
                    .transaction(|search| purge_orphan(search, &orphan)),
            )?;
            purged += 1;
        }
        Ok(purged)
    }

    /// A few orphans' postings go after each write that may free bodies.
    pub(crate) fn purge_some_search_orphans(&self) -> Result<()> {
        self.purge_search_orphans(PURGE_PER_WRITE).map(|_| ())
    }

    /// See [`crate::store::MailboxStore::reindex`]; afterwards every held body has a `d`
    /// record, which the store notes ([`COMPLETE`]).
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
        self.t.meta.insert(COMPLETE, &[])?;
        Ok(indexed)
    }
}

impl super::SledStore {
    /// Bytes of keys and values in the search index (what it adds to the store before
    /// sled's own overhead), and its number of entries; for `certmail-bench search`.
    /// Reads the whole index: call it from a blocking context.
    pub fn search_index_size(&self) -> Result<(u64, u64)> {
        let (mut bytes, mut entries) = (0, 0);
        for entry in self.inner.t.search.iter() {
            let (k, v) = entry?;
            bytes += (k.len() + v.len()) as u64;
            entries += 1;
        }
        Ok((bytes, entries))
    }
}

/// Format 3 → 4: drops the index of one key per posting (with its document counter); the
/// store is left without [`COMPLETE`] until `store reindex` rebuilds it.
pub(super) fn upgrade_3_to_4(t: &Trees) -> Result<()> {
    let dropped = t.search.len();
    t.search.clear()?;
    t.meta.remove(b"next_search_doc")?;
    t.meta.remove(COMPLETE)?;
    t.meta.insert(b"format_version", &4u32.to_be_bytes())?;
    tracing::warn!(
        dropped_keys = dropped,
        "store format upgraded from 3 to 4: the search index changed layout and was dropped; \
         stop certmail and run `certmail store reindex` to rebuild it"
    );
    Ok(())
}

/// Says at every open, while some held bodies may lack postings, what to run.
pub(super) fn warn_if_incomplete(t: &Trees) -> Result<()> {
    if !t.meta.contains_key(COMPLETE)? && !t.account_blobs.is_empty() {
        tracing::warn!(
            "the search index does not cover all stored mail (a store upgraded from format 3, \
             or an unfinished copy): SEARCH BODY/TEXT stay right but read that mail in full; \
             stop certmail and run `certmail store reindex` to index it"
        );
    }
    Ok(())
}

/// Takes one orphaned document out of the lists of its postings, in one transaction with
/// the deliveries that add to the same lists.
fn purge_orphan(search: &TransactionalTree, orphan: &[u8]) -> TxResult<()> {
    let rest = orphan.get(1..).unwrap_or_default();
    let Some((account, number)) = split_account_key(rest) else {
        return lift(Err(corrupt(orphan, "bad orphan key")));
    };
    let doc = lift(decode_u64(orphan, number))?;
    let forward = key(FORWARD, account, &[number]);
    if let Some(value) = search.get(&forward)? {
        for posting in value.get(32..).unwrap_or_default().chunks_exact(8) {
            let k = list_key(account, posting, doc);
            let Some(old) = search.get(&k)? else {
                continue;
            };
            match lift(posting_list::without(&old, doc))? {
                Some(new) => search.insert(k, new)?,
                None => search.remove(k)?,
            };
        }
    }
    search.remove(forward)?;
    search.remove(orphan)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::crypto::KeyFile;
    use crate::model::{Account, NewMessage};
    use crate::prelude::*;
    use crate::sled_store::SledStore;

    /// A new store in a temporary directory (kept while the handle lives) with hong in it.
    async fn hong_store() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_async(dir.path(), KeyFile::from_bytes([3; 32]))
            .await
            .unwrap();
        let account = Account::new("hong", "홍길동", vec!["hong@example.kr".into()], 1);
        store.create_account(account).await.unwrap();
        (dir, store)
    }

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
        let (_dir, store) = hong_store().await;
        let many = vec![mail("분기 보고서입니다"), mail("점심 메뉴")];
        store
            .append_many("hong", "INBOX", many, crate::MailQuota::Unlimited)
            .await
            .unwrap();
        store.inner.t.search.clear().unwrap();
        store.inner.t.meta.remove(super::COMPLETE).unwrap();

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
        let (_dir, store) = hong_store().await;
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
        let left: Vec<_> = store
            .inner
            .t
            .search
            .iter()
            .keys()
            .map(|k| k.unwrap())
            .collect();
        assert_eq!(left.len(), 1, "every posting removed: {left:?}");
        assert_eq!(
            left[0][0],
            super::NEXT_DOC,
            "only the account's document counter stays"
        );
    }

    /// Lists that span several blocks find exactly the documents that hold the needle,
    /// before and after expunged documents are taken out of them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn posting_lists_across_blocks_find_every_document() {
        let (_dir, store) = hong_store().await;
        let blocks = 2 * super::posting_list::BLOCK_DOCS + 100;
        let many = (0..blocks)
            .map(|n| match n % 100 {
                7 => mail(&format!("{n}번 보고서입니다")),
                _ => mail(&format!("{n}번 점심 메뉴")),
            })
            .collect();
        store
            .append_many("hong", "INBOX", many, crate::MailQuota::Unlimited)
            .await
            .unwrap();
        let expect =
            |uids: &[u32]| -> Vec<bool> { uids.iter().map(|uid| (uid - 1) % 100 == 7).collect() };
        let ask = || async {
            let metas = store.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
            let uids: Vec<u32> = metas.iter().map(|m| m.uid).collect();
            let blobs = metas.iter().map(|m| m.blob).collect();
            let found = store
                .search_candidates("hong", blobs, vec!["보고서".into()])
                .await
                .unwrap();
            (found, uids)
        };
        let (found, uids) = ask().await;
        assert_eq!(found, Some(expect(&uids)));
        // Expunge every third message, the needle's included, and purge their documents.
        let change = crate::FlagChange {
            uids: (1..=blocks as u32).filter(|u| u % 3 == 0).collect(),
            op: crate::FlagOp::Add,
            flags: vec!["\\Deleted".into()],
            unchanged_since: None,
        };
        store.set_flags("hong", "INBOX", change).await.unwrap();
        store.expunge("hong", "INBOX", None).await.unwrap();
        store.inner.purge_search_orphans(usize::MAX).unwrap();
        let (found, uids) = ask().await;
        assert_eq!(uids.len() as u64, blocks - blocks / 3);
        assert_eq!(found, Some(expect(&uids)));
    }
}
