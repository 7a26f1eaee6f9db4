//! Sieve scripts: `scripts`: (account, name) → sealed text (keyed like `mailboxes`); `active_scripts`: account → the
//! active script's name. Every change runs under `Inner::scripts` (a script write is rare),
//! so the quota count and the active name stay consistent without a scan in a transaction.

use ::sled::Transactional;

use super::Inner;
use super::keys::{account_prefix, mailbox_key, mailbox_name_of};
use super::tx::{TxResult, finish};
use crate::error::{Result, StoreError};
use crate::scripts::{ScriptQuota, SieveScript, check_name, script_aad};

impl Inner {
    fn lock_scripts(&self) -> std::sync::MutexGuard<'_, ()> {
        self.scripts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn require_account(&self, account: &str) -> Result<()> {
        match self.t.accounts.contains_key(account)? {
            true => Ok(()),
            false => Err(StoreError::AccountNotFound(account.to_owned())),
        }
    }

    fn active_name(&self, account: &str) -> Result<Option<String>> {
        Ok(self
            .t
            .active_scripts
            .get(account)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn open_script(&self, account: &str, name: String, sealed: &[u8]) -> Result<SieveScript> {
        SieveScript::open(&self.sealer, account, name, sealed, false)
    }

    pub(crate) fn put_script(
        &self,
        account: &str,
        name: &str,
        content: &str,
        quota: ScriptQuota,
    ) -> Result<()> {
        let account = account.to_lowercase();
        check_name(name)?;
        let _lock = self.lock_scripts();
        self.require_account(&account)?;
        let key = mailbox_key(&account, name);
        let existing = self.t.scripts.scan_prefix(account_prefix(&account)).count();
        let replacing = self.t.scripts.contains_key(&key)?;
        quota.check(content.len() as u64, existing, replacing)?;
        let sealed = self
            .sealer
            .seal(&script_aad(&account, name), content.as_bytes())?;
        self.t.scripts.insert(key, sealed)?;
        Ok(())
    }

    pub(crate) fn script(&self, account: &str, name: &str) -> Result<Option<SieveScript>> {
        let account = account.to_lowercase();
        let Some(sealed) = self.t.scripts.get(mailbox_key(&account, name))? else {
            return Ok(None);
        };
        let mut script = self.open_script(&account, name.to_owned(), &sealed)?;
        script.active = self.active_name(&account)?.as_deref() == Some(name);
        Ok(Some(script))
    }

    pub(crate) fn list_scripts(&self, account: &str) -> Result<Vec<SieveScript>> {
        let account = account.to_lowercase();
        let active = self.active_name(&account)?;
        let mut out = Vec::new();
        for entry in self.t.scripts.scan_prefix(account_prefix(&account)) {
            let (k, v) = entry?;
            let mut script = self.open_script(&account, mailbox_name_of(&k, &account), &v)?;
            script.active = active.as_deref() == Some(script.name.as_str());
            out.push(script);
        }
        Ok(out)
    }

    pub(crate) fn active_script(&self, account: &str) -> Result<Option<SieveScript>> {
        let account = account.to_lowercase();
        match self.active_name(&account)? {
            Some(name) => self.script(&account, &name),
            None => Ok(None),
        }
    }

    pub(crate) fn set_active_script(&self, account: &str, name: Option<&str>) -> Result<()> {
        let account = account.to_lowercase();
        let _lock = self.lock_scripts();
        self.require_account(&account)?;
        match name {
            None => {
                self.t.active_scripts.remove(account.as_str())?;
            }
            Some(name) => {
                if !self.t.scripts.contains_key(mailbox_key(&account, name))? {
                    return Err(StoreError::ScriptNotFound(name.to_owned()));
                }
                self.t
                    .active_scripts
                    .insert(account.as_str(), name.as_bytes())?;
            }
        }
        Ok(())
    }

    pub(crate) fn rename_script(&self, account: &str, from: &str, to: &str) -> Result<()> {
        let account = account.to_lowercase();
        check_name(to)?;
        let _lock = self.lock_scripts();
        let (old_key, new_key) = (mailbox_key(&account, from), mailbox_key(&account, to));
        let Some(sealed) = self.t.scripts.get(&old_key)? else {
            return Err(StoreError::ScriptNotFound(from.to_owned()));
        };
        if from == to {
            return Ok(());
        }
        if self.t.scripts.contains_key(&new_key)? {
            return Err(StoreError::ScriptExists(to.to_owned()));
        }
        let script = self.open_script(&account, from.to_owned(), &sealed)?;
        let resealed = self
            .sealer
            .seal(&script_aad(&account, to), script.content.as_bytes())?;
        let was_active = self.active_name(&account)?.as_deref() == Some(from);
        let t = &self.t;
        finish(
            (&t.scripts, &t.active_scripts).transaction(|(scripts, active)| -> TxResult<()> {
                scripts.remove(old_key.as_slice())?;
                scripts.insert(new_key.as_slice(), resealed.as_slice())?;
                if was_active {
                    active.insert(account.as_str(), to.as_bytes())?;
                }
                Ok(())
            }),
        )
    }

    pub(crate) fn delete_script(&self, account: &str, name: &str) -> Result<()> {
        let account = account.to_lowercase();
        let _lock = self.lock_scripts();
        if !self.t.scripts.contains_key(mailbox_key(&account, name))? {
            return Err(StoreError::ScriptNotFound(name.to_owned()));
        }
        if self.active_name(&account)?.as_deref() == Some(name) {
            return Err(StoreError::ScriptActive(name.to_owned()));
        }
        self.t.scripts.remove(mailbox_key(&account, name))?;
        Ok(())
    }

    /// Removes every script of an account (account deletion).
    pub(crate) fn delete_scripts_of(&self, account: &str) -> Result<()> {
        let _lock = self.lock_scripts();
        for key in self.t.scripts.scan_prefix(account_prefix(account)).keys() {
            self.t.scripts.remove(key?)?;
        }
        self.t.active_scripts.remove(account)?;
        Ok(())
    }
}
