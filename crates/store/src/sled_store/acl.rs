//! Access control lists and per-reader `\Seen` sets, keyed by mailbox id so that they
//! follow a mailbox through renames:
//!
//! - `acl`: (mailbox id, identifier) → (owner, [`Rights`]);
//! - `seen`: (mailbox id, reader) → the reader's seen UIDs, ascending. A change to it
//!   gives the messages whose mark changed a new MODSEQ, in the same transaction.
//!
//! Both are changed under the hierarchy lock's protection from deletes: `change_acl` holds it
//! while it checks the mailbox, and `remove_mailboxes` (called under it) drops the entries
//! of the mailboxes it removed. Mailbox ids are never reused, so an entry is never read
//! for another mailbox.

use crate::acl::{
    AclChange, AclEntry, AclUpdate, Rights, SeenMarks, SharedMailbox, apply_change,
    normalize_identifier,
};
use crate::error::{Result, StoreError};
use crate::rules::normalize_name;

use ::sled::Transactional;

use super::Inner;
use super::keys::{account_prefix, decode, encode, mailbox_key, mailbox_name_of, message_key};
use super::messages::mailbox_tx;
use super::tx::{finish, get, put};
use crate::model::MessageMeta;

/// A `acl` / `seen` key: mailbox id, then the identifier or reader.
pub(crate) fn entry_key(mailbox_id: u64, who: &str) -> Vec<u8> {
    let mut k = mailbox_id.to_be_bytes().to_vec();
    k.extend_from_slice(who.as_bytes());
    k
}

/// The identifier back from an `acl` / `seen` key.
pub(crate) fn who_of(key: &[u8]) -> String {
    String::from_utf8_lossy(key.get(8..).unwrap_or_default()).into_owned()
}

/// Adds `uids` to (`seen`) or takes them off an ascending `set`; returns the UIDs whose
/// mark changed.
fn mark(set: &mut Vec<u32>, uids: &[u32], seen: bool) -> Vec<u32> {
    let mut changed = Vec::new();
    for &uid in uids {
        match (set.binary_search(&uid), seen) {
            (Err(at), true) => set.insert(at, uid),
            (Ok(at), false) => {
                set.remove(at);
            }
            _ => continue,
        }
        changed.push(uid);
    }
    changed
}

impl Inner {
    /// The id of an existing mailbox, or `MailboxNotFound`.
    pub(crate) fn mailbox_id(&self, owner: &str, mailbox: &str) -> Result<u64> {
        let name = normalize_name(mailbox)?;
        self.mailbox_record(owner, &name)?
            .map(|m| m.id)
            .ok_or(StoreError::MailboxNotFound(name))
    }

    /// [`crate::MailboxStore::change_acl`]: read, decide and write under the hierarchy
    /// lock, so two changes at once cannot both pass the cap.
    pub(crate) fn change_acl(
        &self,
        owner: &str,
        mailbox: &str,
        c: &AclChange,
    ) -> Result<AclUpdate> {
        let identifier = normalize_identifier(&c.identifier)?;
        let _hierarchy = self.lock_hierarchy();
        let entries = self.acl(owner, mailbox)?;
        let update = apply_change(&entries, &identifier, c.how, c.rights, c.max_entries);
        if let AclUpdate::Set(new) = update {
            let key = entry_key(self.mailbox_id(owner, mailbox)?, &identifier);
            if new.is_empty() {
                self.t.acl.remove(key)?;
            } else {
                self.t.acl.insert(key, encode(&(owner, new)))?;
            }
        }
        Ok(update)
    }

    pub(crate) fn acl(&self, owner: &str, mailbox: &str) -> Result<Vec<AclEntry>> {
        let id = self.mailbox_id(owner, mailbox)?;
        let mut out = Vec::new();
        for entry in self.t.acl.scan_prefix(id.to_be_bytes()) {
            let (k, v) = entry?;
            let (_, rights): (String, Rights) = decode(&k, &v)?;
            out.push(AclEntry {
                identifier: who_of(&k),
                rights,
            });
        }
        out.sort_by(|a, b| a.identifier.cmp(&b.identifier));
        Ok(out)
    }

    pub(crate) fn shared_with(&self, identifiers: &[String]) -> Result<Vec<SharedMailbox>> {
        let wanted: Vec<String> = identifiers
            .iter()
            .filter_map(|i| normalize_identifier(i).ok())
            .collect();
        let mut out = Vec::new();
        // The tree holds only grants (few next to mailboxes), so a scan is cheap.
        for entry in self.t.acl.iter() {
            let (k, v) = entry?;
            let identifier = who_of(&k);
            if !wanted.contains(&identifier) {
                continue;
            }
            let (owner, rights): (String, Rights) = decode(&k, &v)?;
            let id = u64::from_be_bytes(k[..8].try_into().unwrap_or_default());
            if let Some(mailbox) = self.mailbox_name_by_id(&owner, id)? {
                out.push(SharedMailbox {
                    owner,
                    mailbox,
                    identifier,
                    rights,
                });
            }
        }
        out.sort_by(|a, b| {
            (&a.owner, &a.mailbox, &a.identifier).cmp(&(&b.owner, &b.mailbox, &b.identifier))
        });
        Ok(out)
    }

    fn mailbox_name_by_id(&self, owner: &str, id: u64) -> Result<Option<String>> {
        for entry in self.t.mailboxes.scan_prefix(account_prefix(owner)) {
            let (k, v) = entry?;
            if decode::<crate::model::Mailbox>(&k, &v)?.id == id {
                return Ok(Some(mailbox_name_of(&k, owner)));
            }
        }
        Ok(None)
    }

    pub(crate) fn seen_by(&self, owner: &str, mailbox: &str, reader: &str) -> Result<Vec<u32>> {
        let key = entry_key(self.mailbox_id(owner, mailbox)?, &reader.to_lowercase());
        match self.t.seen.get(&key)? {
            Some(v) => decode(&key, &v),
            None => Ok(Vec::new()),
        }
    }

    /// [`crate::MailboxStore::set_seen_by`]: the reader's set and the MODSEQ of the
    /// messages whose mark changed, in one transaction (two connections of one reader
    /// never lose each other's marks).
    pub(crate) fn set_seen_by(
        &self,
        owner: &str,
        mailbox: &str,
        marks: SeenMarks<'_>,
    ) -> Result<()> {
        let SeenMarks { reader, uids, seen } = marks;
        let name = normalize_name(mailbox)?;
        let reader = reader.to_lowercase();
        let t = &self.t;
        finish(
            (&t.mailboxes, &t.messages, &t.seen).transaction(|(mailboxes, messages, sets)| {
                let mut mbox = mailbox_tx(mailboxes, owner, &name)?;
                let key = entry_key(mbox.id, &reader);
                let mut set: Vec<u32> = get(sets, &key)?.unwrap_or_default();
                let changed = mark(&mut set, uids, seen);
                if set.is_empty() {
                    sets.remove(key)?;
                } else {
                    put(sets, &key, &set)?;
                }
                let new_modseq = mbox.highest_modseq + 1;
                let mut moved = false;
                for uid in changed {
                    let key = message_key(mbox.id, uid);
                    if let Some(mut meta) = get::<MessageMeta>(messages, &key)? {
                        meta.modseq = new_modseq;
                        put(messages, &key, &meta)?;
                        moved = true;
                    }
                }
                if moved {
                    mbox.highest_modseq = new_modseq;
                    put(mailboxes, &mailbox_key(owner, &name), &mbox)?;
                }
                Ok(())
            }),
        )
    }

    /// Drops the ACL entries and seen sets of removed mailboxes.
    pub(crate) fn forget_access(&self, mailbox_ids: &[u64]) -> Result<()> {
        for id in mailbox_ids {
            for tree in [&self.t.acl, &self.t.seen, &self.t.urlauth] {
                for key in tree.scan_prefix(id.to_be_bytes()).keys() {
                    tree.remove(key?)?;
                }
            }
        }
        Ok(())
    }

    /// Drops every entry naming `identifier`, every seen set and URLAUTH key of it (a deleted
    /// account: a new account with the same id must not inherit its access).
    pub(crate) fn forget_grantee(&self, identifier: &str) -> Result<()> {
        for tree in [&self.t.acl, &self.t.seen, &self.t.urlauth] {
            for key in tree.iter().keys() {
                let key = key?;
                if who_of(&key) == identifier {
                    tree.remove(key)?;
                }
            }
        }
        Ok(())
    }
}
