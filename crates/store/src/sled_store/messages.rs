//! Messages: append, read by UID range, flags with MODSEQ, copy, move, expunge.
//!
//! Bodies are sealed outside the transaction (AAD `blobs/<sha256>`) and stored only if no
//! record holds them yet; every message adds one reference.

use std::ops::RangeInclusive;

use ::sled::IVec;
use ::sled::Transactional;
use ::sled::transaction::TransactionalTree;

use super::Inner;
use super::keys::{account_blob_key, account_prefix, decode, decode_u64, mailbox_key, message_key};
use super::mailboxes::MessageTrees;
use super::tx::{TxResult, abort, add_count, finish, get, put};
use crate::error::{Result, StoreError};
use crate::model::{
    BlobId, CopyUid, FlagChange, MailQuota, Mailbox, MessageMeta, NewMessage, StoreResult,
};
use crate::rules::Transfer;
use crate::rules::{normalize_flags, normalize_name};

/// Associated data of a sealed message body: `blobs/<sha256>`.
pub fn blob_aad(blob: &BlobId) -> Vec<u8> {
    [&b"blobs/"[..], &blob.0].concat()
}

/// Reads a mailbox inside a transaction, or aborts with `MailboxNotFound`.
pub(crate) fn mailbox_tx(
    mailboxes: &TransactionalTree,
    account: &str,
    name: &str,
) -> TxResult<Mailbox> {
    match get::<Mailbox>(mailboxes, &mailbox_key(account, name))? {
        Some(m) => Ok(m),
        None => abort(StoreError::MailboxNotFound(name.to_owned())),
    }
}

/// Allocates the next UID of a mailbox (strictly increasing, never reused).
pub(crate) fn take_uid(mailbox: &mut Mailbox) -> TxResult<u32> {
    let uid = mailbox.uid_next;
    if uid == u32::MAX {
        return abort(StoreError::UidsExhausted(mailbox.name.clone()));
    }
    mailbox.uid_next += 1;
    Ok(uid)
}

/// Stores the body if no record holds it yet and adds one reference (no account's).
pub(crate) fn store_unowned_blob(
    blobs: &TransactionalTree,
    blob_refs: &TransactionalTree,
    blob: &BlobId,
    sealed: &[u8],
) -> TxResult<()> {
    if blob_refs.get(blob.0)?.is_none() {
        super::chunks::write(blobs, blob, sealed)?;
    }
    add_count(blob_refs, &blob.0, 1)?;
    Ok(())
}

impl MessageTrees<'_> {
    /// Stores the body if no record holds it yet and adds a reference for `account`.
    pub(crate) fn store_blob(&self, account: &str, blob: &BlobId, sealed: &[u8]) -> TxResult<()> {
        store_unowned_blob(self.blobs, self.blob_refs, blob, sealed)?;
        add_count(self.account_blobs, &account_blob_key(account, blob), 1)?;
        Ok(())
    }

    /// Adds one message to a mailbox record and the messages tree.
    pub(crate) fn add_message(
        &self,
        mailbox: &mut Mailbox,
        mut meta: MessageMeta,
    ) -> TxResult<u32> {
        meta.uid = take_uid(mailbox)?;
        mailbox.exists += 1;
        mailbox.size += meta.size;
        put(self.messages, &message_key(mailbox.id, meta.uid), &meta)?;
        Ok(meta.uid)
    }
}

impl Inner {
    /// Seals a body for storage; returns its id and the sealed value. Sealing happens even
    /// if the body is already stored, since the last reference may go before the transaction.
    pub(crate) fn seal_body(&self, body: &[u8]) -> Result<(BlobId, IVec)> {
        let blob = BlobId::of(body);
        let sealed = self.sealer.seal(&blob_aad(&blob), body)?;
        Ok((blob, IVec::from(sealed)))
    }

    pub(crate) fn append(
        &self,
        account: &str,
        mailbox: &str,
        message: NewMessage,
    ) -> Result<(u32, u32, u64)> {
        let appended = self.append_many(account, mailbox, vec![message], MailQuota::Unlimited)?;
        appended
            .into_iter()
            .next()
            .ok_or(StoreError::MessageNotFound)
    }

    /// Appends `messages` in one transaction (RFC 3502: all or none), in order.
    pub(crate) fn append_many(
        &self,
        account: &str,
        mailbox: &str,
        messages: Vec<NewMessage>,
        quota: MailQuota,
    ) -> Result<Vec<(u32, u32, u64)>> {
        let name = normalize_name(mailbox)?;
        let _quota = self.lock_quota(quota, &[account]);
        let adding = messages.iter().map(|m| m.body.len() as u64).sum();
        if !quota.fits(self.usage_for(quota, account)?, adding) {
            return Err(StoreError::OverQuota {
                account: account.to_owned(),
            });
        }
        let mut sealed = Vec::with_capacity(messages.len());
        for message in &messages {
            let (blob, body) = self.seal_body(&message.body)?;
            let meta = MessageMeta {
                uid: 0,
                modseq: 0,
                flags: normalize_flags(&message.flags),
                internal_date: message.internal_date,
                size: message.body.len() as u64,
                blob,
            };
            let postings = self.gram_key.message_postings(&message.body);
            sealed.push((meta, body, postings));
        }
        self.with_message_trees(|mt| {
            let mut mbox = mailbox_tx(mt.mailboxes, account, &name)?;
            let mut appended = Vec::with_capacity(sealed.len());
            for (meta, body, postings) in &sealed {
                mt.store_blob(account, &meta.blob, body)?;
                mt.index_postings(account, &meta.blob, postings.as_deref())?;
                mbox.highest_modseq += 1;
                let message = MessageMeta {
                    modseq: mbox.highest_modseq,
                    ..meta.clone()
                };
                let uid = mt.add_message(&mut mbox, message)?;
                appended.push((mbox.uid_validity, uid, mbox.highest_modseq));
            }
            put(mt.mailboxes, &mailbox_key(account, &name), &mbox)?;
            Ok(appended)
        })
    }

    /// Runs a transaction over the trees messages live in (and the queue's).
    pub(crate) fn with_message_trees<T>(
        &self,
        op: impl Fn(&MessageTrees<'_>) -> TxResult<T>,
    ) -> Result<T> {
        let t = &self.t;
        let trees = (
            &t.meta,
            &t.queue,
            &t.mailboxes,
            &t.messages,
            &t.expunged,
            &t.blobs,
            &t.blob_refs,
            &t.account_blobs,
            &t.search,
        );
        finish(trees.transaction(
            |(
                meta,
                queue,
                mailboxes,
                messages,
                expunged,
                blobs,
                blob_refs,
                account_blobs,
                search,
            )| {
                op(&MessageTrees {
                    meta,
                    queue,
                    mailboxes,
                    messages,
                    expunged,
                    blobs,
                    blob_refs,
                    account_blobs,
                    search,
                })
            },
        ))
    }

    fn existing_mailbox(&self, account: &str, name: &str) -> Result<Mailbox> {
        let name = normalize_name(name)?;
        self.mailbox_record(account, &name)?
            .ok_or(StoreError::MailboxNotFound(name))
    }

    pub(crate) fn messages(
        &self,
        account: &str,
        mailbox: &str,
        uids: RangeInclusive<u32>,
    ) -> Result<Vec<MessageMeta>> {
        Ok(self.messages_upto(account, mailbox, uids, usize::MAX)?.0)
    }

    /// The first `limit` messages in `uids`, and the UID to go on from if there are more.
    pub(crate) fn messages_upto(
        &self,
        account: &str,
        mailbox: &str,
        uids: RangeInclusive<u32>,
        limit: usize,
    ) -> Result<(Vec<MessageMeta>, Option<u32>)> {
        let mbox = self.existing_mailbox(account, mailbox)?;
        if uids.is_empty() {
            return Ok((Vec::new(), None)); // e.g. 5..=3: nothing to scan
        }
        let range = message_key(mbox.id, *uids.start())..=message_key(mbox.id, *uids.end());
        let mut out = Vec::new();
        for entry in self.t.messages.range(range) {
            let (k, v) = entry?;
            let meta: MessageMeta = decode(&k, &v)?;
            if out.len() == limit {
                return Ok((out, Some(meta.uid)));
            }
            out.push(meta);
        }
        Ok((out, None))
    }

    pub(crate) fn message_body(&self, account: &str, blob: &BlobId) -> Result<Vec<u8>> {
        if !self
            .t
            .account_blobs
            .contains_key(account_blob_key(account, blob))?
        {
            return Err(StoreError::MessageNotFound);
        }
        self.blob_body(blob)
    }

    /// Reads and decrypts a body, checking it hashes to its id.
    pub(crate) fn blob_body(&self, blob: &BlobId) -> Result<Vec<u8>> {
        let sealed =
            super::chunks::read(&self.t.blobs, blob)?.ok_or(StoreError::MessageNotFound)?;
        let aad = blob_aad(blob);
        let body = self.sealer.open(&aad, &sealed)?;
        if BlobId::of(&body) != *blob {
            return Err(StoreError::Decrypt {
                record: crate::crypto::printable(&aad),
            });
        }
        Ok(body)
    }

    pub(crate) fn set_flags(
        &self,
        account: &str,
        mailbox: &str,
        change: FlagChange,
    ) -> Result<StoreResult> {
        let name = normalize_name(mailbox)?;
        let change = change.normalized();
        let t = &self.t;
        finish(
            (&t.mailboxes, &t.messages).transaction(|(mailboxes, messages)| {
                let mut mbox = mailbox_tx(mailboxes, account, &name)?;
                let new_modseq = mbox.highest_modseq + 1;
                let mut result = StoreResult::default();
                for &uid in &change.uids {
                    let key = message_key(mbox.id, uid);
                    let Some(mut meta) = get::<MessageMeta>(messages, &key)? else {
                        continue;
                    };
                    if change.apply(&mut meta, new_modseq, &mut result) {
                        put(messages, &key, &meta)?;
                    }
                }
                if result.updated.iter().any(|u| u.modseq == new_modseq) {
                    mbox.highest_modseq = new_modseq;
                    put(mailboxes, &mailbox_key(account, &name), &mbox)?;
                }
                Ok(result)
            }),
        )
    }

    /// COPY and MOVE: one transaction adding to `to` and, for a move, expunging from `from`.
    pub(crate) fn copy(&self, transfer: &Transfer) -> Result<CopyUid> {
        let (account, from, to) = (&transfer.account, &transfer.from, &transfer.to);
        let remove_source = transfer.remove_source;
        let same = transfer.within_one_mailbox();
        let quota = transfer.quota;
        let _quota = self.lock_quota(quota, &[account]);
        let used = self.usage_for(quota, account)?;
        self.with_message_trees(|mt| {
            let mut adding = 0u64;
            let mut target = mailbox_tx(mt.mailboxes, account, to)?;
            let mut source = if same {
                target.clone()
            } else {
                mailbox_tx(mt.mailboxes, account, from)?
            };
            target.highest_modseq += 1;
            source.highest_modseq += 1;
            let mut pairs = Vec::new();
            for &uid in &transfer.uids {
                let key = message_key(source.id, uid);
                let Some(meta) = get::<MessageMeta>(mt.messages, &key)? else {
                    continue;
                };
                let copy = MessageMeta {
                    modseq: target.highest_modseq,
                    ..meta.clone()
                };
                let new_uid = mt.add_message(&mut target, copy)?;
                adding += meta.size;
                if remove_source {
                    let source = if same { &mut target } else { &mut source };
                    mt.messages.remove(&key)?;
                    mt.expunged
                        .insert(&key, &source.highest_modseq.to_be_bytes())?;
                    source.exists = source.exists.saturating_sub(1);
                    source.size = source.size.saturating_sub(meta.size);
                } else {
                    mt.ref_blob(account, &meta.blob)?;
                }
                pairs.push((uid, new_uid));
            }
            if !remove_source && !quota.fits(used, adding) {
                return abort(StoreError::OverQuota {
                    account: account.clone(),
                });
            }
            if !pairs.is_empty() {
                put(mt.mailboxes, &mailbox_key(account, to), &target)?;
                if remove_source && !same {
                    put(mt.mailboxes, &mailbox_key(account, from), &source)?;
                }
            }
            Ok((target.uid_validity, pairs))
        })
    }

    pub(crate) fn expunge(
        &self,
        account: &str,
        mailbox: &str,
        uids: Option<&[u32]>,
    ) -> Result<Vec<u32>> {
        let mbox = self.existing_mailbox(account, mailbox)?;
        let name = mbox.name.clone();
        let candidates: Vec<u32> = match uids {
            Some(uids) => {
                let mut uids = uids.to_vec();
                uids.sort_unstable();
                uids.dedup();
                uids
            }
            None => self
                .messages(account, &name, 1..=u32::MAX)?
                .into_iter()
                .filter(|m| m.has_flag("\\Deleted"))
                .map(|m| m.uid)
                .collect(),
        };
        self.with_message_trees(|mt| {
            let mut mbox = mailbox_tx(mt.mailboxes, account, &name)?;
            let modseq = mbox.highest_modseq + 1;
            let mut gone = Vec::new();
            for &uid in &candidates {
                let key = message_key(mbox.id, uid);
                let Some(meta) = get::<MessageMeta>(mt.messages, &key)? else {
                    continue;
                };
                if !meta.has_flag("\\Deleted") {
                    continue;
                }
                mt.messages.remove(&key)?;
                mt.expunged.insert(&key, &modseq.to_be_bytes())?;
                mt.unref_blob(account, &meta.blob)?;
                mbox.exists = mbox.exists.saturating_sub(1);
                mbox.size = mbox.size.saturating_sub(meta.size);
                gone.push(uid);
            }
            if !gone.is_empty() {
                mbox.highest_modseq = modseq;
                put(mt.mailboxes, &mailbox_key(account, &name), &mbox)?;
            }
            Ok(gone)
        })
    }

    pub(crate) fn expunged_since(
        &self,
        account: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<u32>> {
        let mbox = self.existing_mailbox(account, mailbox)?;
        let mut out = Vec::new();
        for entry in self.t.expunged.scan_prefix(mbox.id.to_be_bytes()) {
            let (k, v) = entry?;
            if decode_u64(&k, &v)? > modseq {
                out.push(super::keys::uid_of(&k)?);
            }
        }
        Ok(out)
    }

    pub(crate) fn changed_since(
        &self,
        account: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<MessageMeta>> {
        let mut all = self.messages(account, mailbox, 1..=u32::MAX)?;
        all.retain(|m| m.modseq > modseq);
        Ok(all)
    }

    pub(crate) fn account_usage(&self, account: &str) -> Result<u64> {
        let mut total = 0u64;
        for entry in self.t.mailboxes.scan_prefix(account_prefix(account)) {
            let (k, v) = entry?;
            total += decode::<Mailbox>(&k, &v)?.size;
        }
        Ok(total)
    }
}
