//! Certificate bindings (by SPKI hash, by account, by issuer + subject DN) and aliases.

use ::sled::Transactional;

use super::Inner;
use super::keys::{
    cert_account_key, cert_dn_key, cert_dn_prefix, decode, encode, push_str, tail32,
};
use super::tx::{TxResult, abort, finish, get, put};
use crate::error::{Result, StoreError};
use crate::model::{Alias, CertBinding};

impl Inner {
    pub(crate) fn bind_cert(&self, mut binding: CertBinding) -> Result<()> {
        binding.account = binding.account.to_lowercase();
        let t = &self.t;
        finish(
            (&t.accounts, &t.certs, &t.cert_idx).transaction(|(accounts, certs, idx)| {
                if accounts.get(binding.account.as_str())?.is_none() {
                    return abort(StoreError::AccountNotFound(binding.account.clone()));
                }
                if let Some(old) = get::<CertBinding>(certs, &binding.spki_sha256)? {
                    if old.account != binding.account {
                        return abort(StoreError::CertBoundElsewhere {
                            account: old.account,
                        });
                    }
                    idx.remove(cert_dn_key(
                        &old.issuer_dn,
                        &old.subject_dn,
                        &old.spki_sha256,
                    ))?;
                }
                put(certs, &binding.spki_sha256, &binding)?;
                idx.insert(
                    cert_account_key(&binding.account, &binding.spki_sha256),
                    &[],
                )?;
                idx.insert(
                    cert_dn_key(
                        &binding.issuer_dn,
                        &binding.subject_dn,
                        &binding.spki_sha256,
                    ),
                    &[],
                )?;
                Ok(())
            }),
        )
    }

    pub(crate) fn unbind_cert(&self, account: &str, spki: &[u8; 32]) -> Result<()> {
        let account = account.to_lowercase();
        let t = &self.t;
        finish(
            (&t.certs, &t.cert_idx).transaction(|(certs, idx)| -> TxResult<()> {
                match get::<CertBinding>(certs, spki)? {
                    Some(old) if old.account == account => {
                        certs.remove(spki)?;
                        idx.remove(cert_account_key(&account, spki))?;
                        idx.remove(cert_dn_key(&old.issuer_dn, &old.subject_dn, spki))?;
                        Ok(())
                    }
                    _ => abort(StoreError::BindingNotFound),
                }
            }),
        )
    }

    pub(crate) fn binding_by_spki(&self, spki: &[u8; 32]) -> Result<Option<CertBinding>> {
        match self.t.certs.get(spki)? {
            Some(v) => Ok(Some(decode(spki, &v)?)),
            None => Ok(None),
        }
    }

    /// Bindings whose SPKI hashes end the index keys under `prefix`.
    fn bindings_under(&self, prefix: Vec<u8>) -> Result<Vec<CertBinding>> {
        let mut out = Vec::new();
        for key in self.t.cert_idx.scan_prefix(prefix).keys() {
            let spki = tail32(&key?)?;
            if let Some(binding) = self.binding_by_spki(&spki)? {
                out.push(binding);
            }
        }
        Ok(out)
    }

    pub(crate) fn bindings_of(&self, account: &str) -> Result<Vec<CertBinding>> {
        let mut prefix = vec![b'a'];
        push_str(&mut prefix, &account.to_lowercase());
        self.bindings_under(prefix)
    }

    pub(crate) fn bindings_by_dn(&self, issuer: &str, subject: &str) -> Result<Vec<CertBinding>> {
        self.bindings_under(cert_dn_prefix(issuer, subject))
    }

    pub(crate) fn set_alias(&self, mut alias: Alias) -> Result<()> {
        alias.address = alias.address.to_lowercase();
        let value = encode(&alias);
        let t = &self.t;
        finish(
            (&t.addresses, &t.aliases).transaction(|(addresses, aliases)| {
                if addresses.get(alias.address.as_str())?.is_some() {
                    return abort(StoreError::AddressTaken(alias.address.clone()));
                }
                aliases.insert(alias.address.as_str(), value.as_slice())?;
                Ok(())
            }),
        )
    }

    pub(crate) fn alias(&self, address: &str) -> Result<Option<Alias>> {
        let key = address.to_lowercase();
        match self.t.aliases.get(key.as_bytes())? {
            Some(v) => Ok(Some(decode(key.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn remove_alias(&self, address: &str) -> Result<()> {
        let key = address.to_lowercase();
        match self.t.aliases.remove(key.as_bytes())? {
            Some(_) => Ok(()),
            None => Err(StoreError::AliasNotFound(key)),
        }
    }

    pub(crate) fn list_aliases(&self) -> Result<Vec<Alias>> {
        let mut out = Vec::new();
        for entry in self.t.aliases.iter() {
            let (k, v) = entry?;
            out.push(decode(&k, &v)?);
        }
        Ok(out)
    }
}
