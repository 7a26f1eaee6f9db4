//! URLAUTH access keys (RFC 4467 §7): `urlauth`: (mailbox id, user) → the sealed key
//! (`crate::urlauth_keys`), keyed like `acl` so a key follows its mailbox through renames.
//! `remove_mailboxes` drops the keys of the mailboxes it removed and `delete_account` the
//! keys of the account (`forget_access`, `forget_grantee` in `acl.rs`); mailbox ids are
//! never reused, so a key is never read for another mailbox.

use super::Inner;
use super::acl::{entry_key, who_of};
use crate::error::Result;
use crate::urlauth_keys::{open_key, seal_key};

impl Inner {
    /// [`crate::MailboxStore::urlauth_key`]; a new key is written under the hierarchy
    /// lock, so a delete cannot remove the mailbox between the check and the write.
    pub(crate) fn urlauth_key(
        &self,
        user: &str,
        owner: &str,
        mailbox: &str,
        fresh: Option<[u8; 32]>,
    ) -> Result<Option<[u8; 32]>> {
        let _hierarchy = fresh.is_some().then(|| self.lock_hierarchy());
        let id = self.mailbox_id(owner, mailbox)?;
        let key = entry_key(id, user);
        if let Some(sealed) = self.t.urlauth.get(&key)? {
            return open_key(&self.sealer, id, user, &sealed).map(Some);
        }
        let Some(fresh) = fresh else {
            return Ok(None);
        };
        self.t
            .urlauth
            .insert(key, seal_key(&self.sealer, id, user, &fresh)?)?;
        Ok(Some(fresh))
    }

    /// [`crate::MailboxStore::reset_urlauth_keys`].
    pub(crate) fn reset_urlauth_keys(
        &self,
        user: &str,
        mailbox: Option<(&str, &str)>,
    ) -> Result<u64> {
        if let Some((owner, name)) = mailbox {
            let id = self.mailbox_id(owner, name)?;
            return Ok(u64::from(
                self.t.urlauth.remove(entry_key(id, user))?.is_some(),
            ));
        }
        // Keys exist only for mailboxes someone made a URL of: a scan is cheap.
        let mut removed = 0;
        for key in self.t.urlauth.iter().keys() {
            let key = key?;
            if who_of(&key) == user {
                self.t.urlauth.remove(key)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
