//! Accounts and their address index. Account records are sealed (they hold the password
//! hash and TOTP secret); the AAD is `accounts/<id>`.

use ::sled::Transactional;

use super::Inner;
use super::keys::{account_prefix, decode, encode};
use super::mailboxes::new_mailbox_tx;
use super::tx::{TxResult, abort, finish, lift};
use crate::error::{Result, StoreError};
use crate::model::{Account, INBOX};
use crate::rules::{checked_account, uid_validity_seed};

/// How often `delete_account` rescans when mail arrives during the deletion.
const DELETE_RETRIES: usize = 16;

/// Associated data of a sealed account record: `accounts/<id>`.
pub fn account_aad(id: &str) -> Vec<u8> {
    [b"accounts/", id.as_bytes()].concat()
}

impl Inner {
    pub(crate) fn seal_account(&self, account: &Account) -> Result<Vec<u8>> {
        self.sealer
            .seal(&account_aad(&account.id), &encode(account))
    }

    fn open_account(&self, id: &str, sealed: &[u8]) -> Result<Account> {
        let aad = account_aad(id);
        decode(&aad, &self.sealer.open(&aad, sealed)?)
    }

    pub(crate) fn create_account(&self, account: Account) -> Result<()> {
        let account = checked_account(account)?;
        let sealed = self.seal_account(&account)?;
        let seed = uid_validity_seed();
        let id = account.id.as_str();
        let t = &self.t;
        let trees = (
            &t.meta,
            &t.accounts,
            &t.addresses,
            &t.aliases,
            &t.mailboxes,
            &t.subscriptions,
        );
        finish(trees.transaction(
            |(meta, accounts, addresses, aliases, mailboxes, subscriptions)| {
                if accounts.get(id)?.is_some() {
                    return abort(StoreError::AccountExists(id.to_owned()));
                }
                for address in &account.addresses {
                    if addresses.get(address.as_str())?.is_some()
                        || aliases.get(address.as_str())?.is_some()
                    {
                        return abort(StoreError::AddressTaken(address.clone()));
                    }
                    addresses.insert(address.as_str(), id)?;
                }
                accounts.insert(id, sealed.as_slice())?;
                new_mailbox_tx(meta, mailboxes, id, INBOX, None, seed)?;
                // Every account starts with INBOX subscribed.
                subscriptions.insert(super::keys::mailbox_key(id, INBOX), &[] as &[u8])?;
                Ok(())
            },
        ))
    }

    pub(crate) fn account(&self, id: &str) -> Result<Option<Account>> {
        let id = id.to_lowercase();
        match self.t.accounts.get(id.as_bytes())? {
            Some(v) => Ok(Some(self.open_account(&id, &v)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn account_by_address(&self, address: &str) -> Result<Option<Account>> {
        match self.t.addresses.get(address.to_lowercase().as_bytes())? {
            Some(id) => self.account(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    pub(crate) fn update_account(&self, account: Account) -> Result<()> {
        let account = checked_account(account)?;
        let sealed = self.seal_account(&account)?;
        let id = account.id.as_str();
        let t = &self.t;
        finish((&t.accounts, &t.addresses, &t.aliases).transaction(
            |(accounts, addresses, aliases)| {
                let Some(old) = accounts.get(id)? else {
                    return abort(StoreError::AccountNotFound(id.to_owned()));
                };
                let old = lift(self.open_account(id, &old))?;
                for address in old
                    .addresses
                    .iter()
                    .filter(|a| !account.addresses.contains(a))
                {
                    addresses.remove(address.as_str())?;
                }
                for address in &account.addresses {
                    let owner = addresses.get(address.as_str())?;
                    if owner.as_deref().is_some_and(|o| o != id.as_bytes())
                        || aliases.get(address.as_str())?.is_some()
                    {
                        return abort(StoreError::AddressTaken(address.clone()));
                    }
                    addresses.insert(address.as_str(), id)?;
                }
                accounts.insert(id, sealed.as_slice())?;
                Ok(())
            },
        ))
    }

    pub(crate) fn list_accounts(&self) -> Result<Vec<Account>> {
        let mut out = Vec::new();
        for entry in self.t.accounts.iter() {
            let (k, v) = entry?;
            out.push(self.open_account(&String::from_utf8_lossy(&k), &v)?);
        }
        Ok(out)
    }

    /// Deletes the account, its addresses, bindings, mailboxes and messages. Mailboxes are
    /// scanned first, then removed in one transaction that checks nothing arrived meanwhile.
    pub(crate) fn delete_account(&self, id: &str) -> Result<()> {
        let id = id.to_lowercase();
        if self.account(&id)?.is_none() {
            return Err(StoreError::AccountNotFound(id));
        }
        for binding in self.bindings_of(&id)? {
            self.unbind_cert(&id, &binding.spki_sha256)?;
        }
        for device in self.devices_of(&id)? {
            self.forget_device(&id, &device.spki_sha256, &device.network)?;
        }
        self.delete_scripts_of(&id)?;
        self.delete_reply_marks_of(&id)?;
        self.delete_redirect_counter_of(&id)?;
        let _hierarchy = self.lock_hierarchy();
        for _ in 0..DELETE_RETRIES {
            let mut snapshots = Vec::new();
            for mailbox in self.list_mailboxes(&id)? {
                if let Some(snap) = self.snapshot_mailbox(&id, &mailbox.name)? {
                    snapshots.push(snap);
                }
            }
            if self.remove_mailboxes(&id, &snapshots)? {
                let leftover = self
                    .t
                    .mailboxes
                    .scan_prefix(account_prefix(&id))
                    .next()
                    .is_some();
                if leftover {
                    continue;
                }
                for key in self.t.subscriptions.scan_prefix(account_prefix(&id)).keys() {
                    self.t.subscriptions.remove(key?)?;
                }
                self.forget_grantee(&id)?;
                return self.remove_account_record(&id);
            }
        }
        Err(StoreError::Task(format!(
            "account {id} kept changing during delete"
        )))
    }

    fn remove_account_record(&self, id: &str) -> Result<()> {
        let t = &self.t;
        finish(
            (&t.accounts, &t.addresses).transaction(|(accounts, addresses)| -> TxResult<()> {
                let Some(sealed) = accounts.get(id)? else {
                    return Ok(());
                };
                let account = lift(self.open_account(id, &sealed))?;
                for address in &account.addresses {
                    if addresses.get(address.as_str())?.as_deref() == Some(id.as_bytes()) {
                        addresses.remove(address.as_str())?;
                    }
                }
                accounts.remove(id)?;
                Ok(())
            }),
        )
    }
}
