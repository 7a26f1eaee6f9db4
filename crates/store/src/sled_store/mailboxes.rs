//! Mailboxes: create (with parents), rename (with children; INBOX special case), delete,
//! subscribe, and the shared removal of a mailbox's contents.

use ::sled::transaction::TransactionalTree;
use ::sled::{IVec, Transactional};

use super::Inner;
use super::keys::{
    account_blob_key, account_prefix, decode, mailbox_key, mailbox_name_of, message_key,
    split_account_key, uid_of,
};
use super::tx::{TxResult, abort, add_count, finish, get, next_counter, put};
use crate::error::{Result, StoreError};
use crate::model::{BlobId, INBOX, MAILBOX_DELIMITER, Mailbox, MessageMeta, SpecialUse};
use crate::rules::{ancestors, normalize_name, rename_names, uid_validity_seed};

/// How often a removal is retried when messages arrive between its scan and transaction.
const REMOVE_RETRIES: usize = 16;

/// Creates one mailbox record inside a transaction (the caller checked it is absent).
pub(crate) fn new_mailbox_tx(
    meta: &TransactionalTree,
    mailboxes: &TransactionalTree,
    account: &str,
    name: &str,
    special_use: Option<SpecialUse>,
    seed: u64,
) -> TxResult<Mailbox> {
    let id = next_counter(meta, b"next_mailbox_id", 1)?;
    let validity = next_counter(meta, b"next_uid_validity", seed)?;
    let mailbox = Mailbox {
        id,
        name: name.to_owned(),
        // Never 0 (RFC 3501 §2.3.1.1: nz-number); wraps only after 4e9 creations.
        uid_validity: (validity % u64::from(u32::MAX)).max(1) as u32,
        uid_next: 1,
        highest_modseq: 1,
        special_use,
        // Not read since format 2: the `subscriptions` tree says (see `with_subscription`).
        subscribed: false,
        exists: 0,
        size: 0,
    };
    put(mailboxes, &mailbox_key(account, name), &mailbox)?;
    Ok(mailbox)
}

/// Creates the missing ancestors of `name` inside a transaction.
fn create_parents_tx(
    meta: &TransactionalTree,
    mailboxes: &TransactionalTree,
    account: &str,
    name: &str,
    seed: u64,
) -> TxResult<()> {
    for parent in ancestors(name) {
        if mailboxes.get(mailbox_key(account, parent))?.is_none() {
            new_mailbox_tx(meta, mailboxes, account, parent, None, seed)?;
        }
    }
    Ok(())
}

/// Removes a body and its cached summary (its last reference is gone).
pub(crate) fn free_blob(blobs: &TransactionalTree, blob: &BlobId) -> TxResult<()> {
    super::chunks::remove(blobs, blob)?;
    blobs.remove(&summary_key(blob)[..])?;
    Ok(())
}

/// `blobs` key of a body's cached summary: the blob id, then `s`.
pub(crate) fn summary_key(blob: &BlobId) -> [u8; 33] {
    let mut k = [b's'; 33];
    k[..32].copy_from_slice(&blob.0);
    k
}

/// The trees a change of messages touches, inside one transaction (see
/// `Inner::with_message_trees`): a delivery also takes queue ids from `meta` and writes
/// `queue`.
pub(crate) struct MessageTrees<'a> {
    pub(crate) meta: &'a TransactionalTree,
    pub(crate) queue: &'a TransactionalTree,
    pub(crate) mailboxes: &'a TransactionalTree,
    pub(crate) messages: &'a TransactionalTree,
    pub(crate) expunged: &'a TransactionalTree,
    pub(crate) blobs: &'a TransactionalTree,
    pub(crate) blob_refs: &'a TransactionalTree,
    pub(crate) account_blobs: &'a TransactionalTree,
    pub(crate) search: &'a TransactionalTree,
}

impl MessageTrees<'_> {
    /// Adds a reference to a body held by `account` (the body itself must be stored).
    pub(crate) fn ref_blob(&self, account: &str, blob: &BlobId) -> TxResult<()> {
        add_count(self.blob_refs, &blob.0, 1)?;
        add_count(self.account_blobs, &account_blob_key(account, blob), 1)?;
        Ok(())
    }

    /// Drops a reference of `account` to a body, freeing the body with its last reference.
    pub(crate) fn unref_blob(&self, account: &str, blob: &BlobId) -> TxResult<()> {
        if add_count(self.account_blobs, &account_blob_key(account, blob), -1)? == 0 {
            self.unindex(account, blob)?;
        }
        if add_count(self.blob_refs, &blob.0, -1)? == 0 {
            free_blob(self.blobs, blob)?;
        }
        Ok(())
    }
}

/// What a mailbox held when scanned, for a removal transaction to check and delete.
pub(crate) struct MailboxSnapshot {
    pub(crate) name: String,
    pub(crate) mailbox: Mailbox,
    pub(crate) messages: Vec<(u32, BlobId)>,
    pub(crate) expunged: Vec<u32>,
}

impl Inner {
    /// Scans a mailbox's messages and expunge records.
    pub(crate) fn snapshot_mailbox(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<MailboxSnapshot>> {
        let Some(mailbox) = self.mailbox_record(account, name)? else {
            return Ok(None);
        };
        let prefix = mailbox.id.to_be_bytes();
        let mut messages = Vec::new();
        for entry in self.t.messages.scan_prefix(prefix) {
            let (k, v) = entry?;
            let meta: MessageMeta = decode(&k, &v)?;
            messages.push((meta.uid, meta.blob));
        }
        let mut expunged = Vec::new();
        for entry in self.t.expunged.scan_prefix(prefix) {
            expunged.push(uid_of(&entry?.0)?);
        }
        Ok(Some(MailboxSnapshot {
            name: name.to_owned(),
            mailbox,
            messages,
            expunged,
        }))
    }

    /// Reads a mailbox record by normalised name.
    pub(crate) fn mailbox_record(&self, account: &str, name: &str) -> Result<Option<Mailbox>> {
        let key = mailbox_key(account, name);
        match self.t.mailboxes.get(&key)? {
            Some(v) => Ok(Some(decode(&key, &v)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn create_mailbox(
        &self,
        account: &str,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<Mailbox> {
        let name = normalize_name(name)?;
        let _hierarchy = self.lock_hierarchy();
        if !self.t.accounts.contains_key(account.as_bytes())? {
            return Err(StoreError::AccountNotFound(account.to_owned()));
        }
        let seed = uid_validity_seed();
        let t = &self.t;
        let created = finish((&t.meta, &t.mailboxes).transaction(|(meta, mailboxes)| {
            if mailboxes.get(mailbox_key(account, &name))?.is_some() {
                return abort(StoreError::MailboxExists(name.clone()));
            }
            create_parents_tx(meta, mailboxes, account, &name, seed)?;
            new_mailbox_tx(meta, mailboxes, account, &name, special_use, seed)
        }))?;
        // A name still subscribed from before (its mailbox deleted) is subscribed again.
        self.with_subscription(account, created)
    }

    pub(crate) fn mailbox(&self, account: &str, name: &str) -> Result<Option<Mailbox>> {
        match normalize_name(name) {
            Ok(name) => self
                .mailbox_record(account, &name)?
                .map(|m| self.with_subscription(account, m))
                .transpose(),
            Err(_) => Ok(None),
        }
    }

    pub(crate) fn list_mailboxes(&self, account: &str) -> Result<Vec<Mailbox>> {
        let mut out = Vec::new();
        for entry in self.t.mailboxes.scan_prefix(account_prefix(account)) {
            let (k, v) = entry?;
            out.push(self.with_subscription(account, decode::<Mailbox>(&k, &v)?)?);
        }
        Ok(out)
    }

    /// A mailbox record with `subscribed` as the subscription list says.
    pub(crate) fn with_subscription(&self, account: &str, mut mailbox: Mailbox) -> Result<Mailbox> {
        mailbox.subscribed = self
            .t
            .subscriptions
            .contains_key(mailbox_key(account, &mailbox.name))?;
        Ok(mailbox)
    }

    /// The account's subscription list, by name (a name may have no mailbox).
    pub(crate) fn subscriptions(&self, account: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in self.t.subscriptions.scan_prefix(account_prefix(account)) {
            out.push(mailbox_name_of(&entry?.0, account));
        }
        Ok(out)
    }

    pub(crate) fn rename_mailbox(&self, account: &str, from: &str, to: &str) -> Result<()> {
        let (from, to) = rename_names(from, to)?;
        let inside = format!("{from}{MAILBOX_DELIMITER}");
        let _hierarchy = self.lock_hierarchy();
        if from == INBOX {
            return self.rename_inbox(account, &to);
        }
        // Children, scanned under the hierarchy lock: no other rename/create runs meanwhile.
        let children: Vec<String> = self
            .t
            .mailboxes
            .scan_prefix(mailbox_key(account, &inside))
            .keys()
            .map(|k| k.map(|k| mailbox_name_of(&k, account)))
            .collect::<std::result::Result<_, _>>()?;
        let mut moves = vec![(from.clone(), to.clone())];
        for child in &children {
            let suffix = &child[from.len()..];
            moves.push((child.clone(), format!("{to}{suffix}")));
        }
        let followers = self.followers(account, &moves)?;
        let seed = uid_validity_seed();
        let t = &self.t;
        let trees = (&t.meta, &t.mailboxes, &t.subscriptions);
        finish(trees.transaction(|(meta, mailboxes, subscriptions)| {
            if mailboxes.get(mailbox_key(account, &from))?.is_none() {
                return abort(StoreError::MailboxNotFound(from.clone()));
            }
            for (_, new) in &moves {
                if mailboxes.get(mailbox_key(account, new))?.is_some() {
                    return abort(StoreError::MailboxExists(new.clone()));
                }
            }
            for (old, new) in &moves {
                let old_key = mailbox_key(account, old);
                let Some(mut mailbox) = get::<Mailbox>(mailboxes, &old_key)? else {
                    continue;
                };
                mailboxes.remove(old_key.as_slice())?;
                mailbox.name = new.clone();
                let new_key = mailbox_key(account, new);
                put(mailboxes, &new_key, &mailbox)?;
                // Subscriptions follow the renamed mailboxes (as when they were a flag on
                // the record).
                if subscriptions.remove(old_key.as_slice())?.is_some() {
                    subscriptions.insert(new_key.as_slice(), &[] as &[u8])?;
                }
            }
            follow(subscriptions, &followers)?;
            create_parents_tx(meta, mailboxes, account, &to, seed)
        }))
    }

    /// Other people's subscriptions to the owner's mailboxes being renamed (`moves`, old
    /// and new names), as (key now, key after): they follow the mailboxes, as the access
    /// lists do, so a shared mailbox does not vanish from a reader's folder list. Read
    /// from every account's list before the rename's transaction (renames are rare).
    fn followers(&self, owner: &str, moves: &[(String, String)]) -> Result<Vec<(IVec, Vec<u8>)>> {
        let renamed = crate::acl::followed_subscriptions(owner, moves);
        let mut out = Vec::new();
        for key in self.t.subscriptions.iter().keys() {
            let key = key?;
            let Some((account, name)) = split_account_key(&key) else {
                continue;
            };
            if let Some((_, new)) = renamed.iter().find(|(old, _)| old.as_bytes() == name) {
                let after = mailbox_key(account, new);
                out.push((key, after));
            }
        }
        Ok(out)
    }

    /// RFC 3501 §6.3.5: renaming INBOX moves its messages to the new name and leaves an
    /// empty INBOX; INBOX's children stay where they are.
    fn rename_inbox(&self, account: &str, to: &str) -> Result<()> {
        let followers = self.followers(account, &[(INBOX.to_owned(), to.to_owned())])?;
        let seed = uid_validity_seed();
        let t = &self.t;
        let trees = (&t.meta, &t.mailboxes, &t.subscriptions);
        finish(trees.transaction(|(meta, mailboxes, subscriptions)| {
            let inbox_key = mailbox_key(account, INBOX);
            let Some(mut inbox) = get::<Mailbox>(mailboxes, &inbox_key)? else {
                return abort(StoreError::MailboxNotFound(INBOX.into()));
            };
            if mailboxes.get(mailbox_key(account, to))?.is_some() {
                return abort(StoreError::MailboxExists(to.to_owned()));
            }
            create_parents_tx(meta, mailboxes, account, to, seed)?;
            inbox.name = to.to_owned();
            inbox.subscribed = false;
            put(mailboxes, &mailbox_key(account, to), &inbox)?;
            new_mailbox_tx(meta, mailboxes, account, INBOX, None, seed)?;
            // Its access list went with it (the record keeps its id); so do the readers.
            follow(subscriptions, &followers)
        }))
    }

    pub(crate) fn delete_mailbox(&self, account: &str, name: &str) -> Result<()> {
        let name = normalize_name(name)?;
        if name == INBOX {
            return Err(StoreError::InvalidMailbox {
                name,
                reason: "INBOX cannot be deleted",
            });
        }
        let _hierarchy = self.lock_hierarchy();
        for _ in 0..REMOVE_RETRIES {
            let Some(snapshot) = self.snapshot_mailbox(account, &name)? else {
                return Err(StoreError::MailboxNotFound(name));
            };
            if self.remove_mailboxes(account, &[snapshot])? {
                return Ok(());
            }
        }
        Err(StoreError::Task(format!(
            "mailbox {name} kept changing during delete"
        )))
    }

    /// Removes scanned mailboxes with their messages in one transaction. Returns false
    /// (and changes nothing) if one of them changed since its scan.
    pub(crate) fn remove_mailboxes(
        &self,
        account: &str,
        snapshots: &[MailboxSnapshot],
    ) -> Result<bool> {
        let removed = self.with_message_trees(|mt| {
            for snap in snapshots {
                let key = mailbox_key(account, &snap.name);
                let current = get::<Mailbox>(mt.mailboxes, &key)?;
                let unchanged = current.as_ref().is_some_and(|m| {
                    m.id == snap.mailbox.id
                        && m.uid_next == snap.mailbox.uid_next
                        && m.highest_modseq == snap.mailbox.highest_modseq
                });
                if !unchanged {
                    return Ok(false);
                }
            }
            for snap in snapshots {
                mt.mailboxes.remove(mailbox_key(account, &snap.name))?;
                for (uid, blob) in &snap.messages {
                    mt.messages.remove(&message_key(snap.mailbox.id, *uid))?;
                    mt.unref_blob(account, blob)?;
                }
                for uid in &snap.expunged {
                    mt.expunged.remove(&message_key(snap.mailbox.id, *uid))?;
                }
            }
            Ok(true)
        })?;
        if removed {
            let ids: Vec<u64> = snapshots.iter().map(|s| s.mailbox.id).collect();
            self.forget_access(&ids)?;
        }
        Ok(removed)
    }

    /// SUBSCRIBE checks that the mailbox exists (RFC 3501 §6.3.6 allows it); UNSUBSCRIBE
    /// takes any name off the list, one whose mailbox is gone included.
    pub(crate) fn set_subscribed(&self, account: &str, name: &str, subscribed: bool) -> Result<()> {
        let name = normalize_name(name)?;
        let key = mailbox_key(account, &name);
        let t = &self.t;
        finish(
            (&t.mailboxes, &t.subscriptions).transaction(|(mailboxes, subscriptions)| {
                if !subscribed {
                    subscriptions.remove(key.as_slice())?;
                    return Ok(());
                }
                let shared = crate::acl::is_other_users_name(&name);
                if !shared && mailboxes.get(&key)?.is_none() {
                    return abort(StoreError::MailboxNotFound(name.clone()));
                }
                subscriptions.insert(key.as_slice(), &[] as &[u8])?;
                Ok(())
            }),
        )
    }
}

/// Moves each subscription (key now, key after) that is still there.
fn follow(subscriptions: &TransactionalTree, followers: &[(IVec, Vec<u8>)]) -> TxResult<()> {
    for (old, new) in followers {
        if subscriptions.remove(old)?.is_some() {
            subscriptions.insert(new.as_slice(), &[] as &[u8])?;
        }
    }
    Ok(())
}
