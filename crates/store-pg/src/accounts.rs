//! Accounts with their address index, certificate bindings, and aliases.
//!
//! Account records are sealed as in sled (postcard, AAD `accounts/<id>`): they hold the
//! password hash and TOTP secret. An address belongs to at most one account or alias;
//! both claim it under a transaction-scoped advisory lock on the address, since the two
//! live in different tables.

use std::time::Instant;

use certmail_store::shared::{account_aad, checked_account, decode, encode};
use certmail_store::{Account, Alias, CertBinding, StoreError};

use crate::error::db;
use crate::{PgStore, Tx, advisory_lock, lock_ns, mailboxes, row_exists, rows};

/// Locks every address in `addresses` (sorted, so two claimants never wait in a cycle).
async fn lock_addresses(tx: &Tx<'_>, addresses: &[&String]) -> Result<(), StoreError> {
    let mut sorted: Vec<&String> = addresses.to_vec();
    sorted.sort();
    sorted.dedup();
    for address in sorted {
        advisory_lock(tx, lock_ns::ADDRESS, address).await?;
    }
    Ok(())
}

/// Claims `address` for account `id`: `AddressTaken` if an alias or another account has it.
async fn claim_address(tx: &Tx<'_>, id: &str, address: &str) -> Result<(), StoreError> {
    let row = tx
        .query_one(
            "SELECT (SELECT account FROM addresses WHERE address = $1),
                    EXISTS (SELECT 1 FROM aliases WHERE address = $1)",
            &[&address],
        )
        .await
        .map_err(db)?;
    let owner: Option<String> = row.get(0);
    let alias: bool = row.get(1);
    if alias || owner.as_deref().is_some_and(|o| o != id) {
        return Err(StoreError::AddressTaken(address.to_owned()));
    }
    if owner.is_none() {
        tx.execute(
            "INSERT INTO addresses (address, account) VALUES ($1, $2)",
            &[&address, &id],
        )
        .await
        .map_err(db)?;
    }
    Ok(())
}

const BINDING_COLUMNS: &str =
    "account, spki, issuer_dn, subject_dn, serial_hex, not_after, bound_at";

fn binding(row: &tokio_postgres::Row) -> Result<CertBinding, StoreError> {
    Ok(CertBinding {
        account: row.get(0),
        spki_sha256: rows::spki_of(row.get(1))?,
        issuer_dn: row.get(2),
        subject_dn: row.get(3),
        serial_hex: row.get(4),
        not_after: row.get(5),
        bound_at: row.get(6),
    })
}

impl PgStore {
    pub(crate) fn seal_account(&self, account: &Account) -> Result<Vec<u8>, StoreError> {
        self.sealer
            .seal(&account_aad(&account.id), &encode(account))
    }

    fn open_account(&self, id: &str, sealed: &[u8]) -> Result<Account, StoreError> {
        let aad = account_aad(id);
        decode(&aad, &self.sealer.open(&aad, sealed)?)
    }

    pub(crate) async fn create_account(&self, account: Account) -> Result<(), StoreError> {
        let account = checked_account(account)?;
        let sealed = self.seal_account(&account)?;
        let id = account.id.as_str();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let created = tx
            .execute(
                "INSERT INTO accounts (id, sealed) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                &[&id, &sealed],
            )
            .await
            .map_err(db)?;
        if created == 0 {
            return Err(StoreError::AccountExists(id.to_owned()));
        }
        lock_addresses(&tx, &account.addresses.iter().collect::<Vec<_>>()).await?;
        for address in &account.addresses {
            claim_address(&tx, id, address).await?;
        }
        mailboxes::create_inbox(&tx, id).await?;
        self.commit(tx).await
    }

    pub(crate) async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let id = id.to_lowercase();
        let conn = self.conn().await?;
        match conn
            .query_opt("SELECT sealed FROM accounts WHERE id = $1", &[&id])
            .await
            .map_err(db)?
        {
            Some(row) => Ok(Some(self.open_account(&id, row.get(0))?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn account_by_address(
        &self,
        address: &str,
    ) -> Result<Option<Account>, StoreError> {
        let conn = self.conn().await?;
        // Once per recipient of every delivery: prepared once per pooled connection.
        let statement = conn
            .prepare_cached(
                "SELECT a.id, a.sealed FROM addresses d JOIN accounts a ON a.id = d.account
                 WHERE d.address = $1",
            )
            .await
            .map_err(db)?;
        match conn
            .query_opt(&statement, &[&address.to_lowercase()])
            .await
            .map_err(db)?
        {
            Some(row) => Ok(Some(self.open_account(row.get(0), row.get(1))?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn update_account(&self, account: Account) -> Result<(), StoreError> {
        let account = checked_account(account)?;
        let sealed = self.seal_account(&account)?;
        let id = account.id.as_str();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let Some(row) = tx
            .query_opt(
                "SELECT sealed FROM accounts WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await
            .map_err(db)?
        else {
            return Err(StoreError::AccountNotFound(id.to_owned()));
        };
        let old = self.open_account(id, row.get(0))?;
        let all: Vec<&String> = old.addresses.iter().chain(&account.addresses).collect();
        lock_addresses(&tx, &all).await?;
        let dropped: Vec<&str> = old
            .addresses
            .iter()
            .filter(|a| !account.addresses.contains(a))
            .map(String::as_str)
            .collect();
        tx.execute(
            "DELETE FROM addresses WHERE account = $1 AND address = ANY($2)",
            &[&id, &dropped],
        )
        .await
        .map_err(db)?;
        for address in &account.addresses {
            claim_address(&tx, id, address).await?;
        }
        tx.execute(
            "UPDATE accounts SET sealed = $2 WHERE id = $1",
            &[&id, &sealed],
        )
        .await
        .map_err(db)?;
        self.commit(tx).await
    }

    pub(crate) async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let conn = self.conn().await?;
        conn.query("SELECT id, sealed FROM accounts ORDER BY id", &[])
            .await
            .map_err(db)?
            .iter()
            .map(|row| self.open_account(row.get(0), row.get(1)))
            .collect()
    }

    /// Deletes the account with its addresses, bindings, devices, mailboxes and messages,
    /// in one transaction (mail arriving meanwhile waits on the mailbox locks, then finds
    /// no mailbox).
    pub(crate) async fn delete_account(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_lowercase();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        // The hierarchy lock first, then the account row: the order create_mailbox takes
        // them in, so the two cannot deadlock.
        advisory_lock(&tx, lock_ns::HIERARCHY, &id).await?;
        let account_query = "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE";
        if !row_exists(&tx, account_query, &[&id]).await? {
            return Err(StoreError::AccountNotFound(id));
        }
        let boxes = tx
            .query(
                "SELECT id FROM mailboxes WHERE account = $1 ORDER BY id FOR UPDATE",
                &[&id],
            )
            .await
            .map_err(db)?;
        for row in &boxes {
            mailboxes::remove(&tx, rows::u64_of("mailbox id", row.get(0))?).await?;
        }
        tx.execute("DELETE FROM devices WHERE account = $1", &[&id])
            .await
            .map_err(db)?;
        crate::acl::forget_grantee(&tx, &id).await?;
        // Addresses and bindings go with the account (ON DELETE CASCADE).
        tx.execute("DELETE FROM accounts WHERE id = $1", &[&id])
            .await
            .map_err(db)?;
        self.commit(tx).await
    }

    pub(crate) async fn bind_cert(&self, mut binding: CertBinding) -> Result<(), StoreError> {
        binding.account = binding.account.to_lowercase();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let account_query = "SELECT 1 FROM accounts WHERE id = $1 FOR SHARE";
        if !row_exists(&tx, account_query, &[&binding.account]).await? {
            return Err(StoreError::AccountNotFound(binding.account));
        }
        // Inserts, or updates a binding of the same account; another account's stays.
        let written = tx
            .execute(
                "INSERT INTO cert_bindings (account, spki, issuer_dn, subject_dn, serial_hex,
                                            not_after, bound_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (spki) DO UPDATE SET issuer_dn = EXCLUDED.issuer_dn,
                     subject_dn = EXCLUDED.subject_dn, serial_hex = EXCLUDED.serial_hex,
                     not_after = EXCLUDED.not_after, bound_at = EXCLUDED.bound_at
                 WHERE cert_bindings.account = EXCLUDED.account",
                &[
                    &binding.account,
                    &&binding.spki_sha256[..],
                    &binding.issuer_dn,
                    &binding.subject_dn,
                    &binding.serial_hex,
                    &binding.not_after,
                    &binding.bound_at,
                ],
            )
            .await
            .map_err(db)?;
        if written == 0 {
            let row = tx
                .query_one(
                    "SELECT account FROM cert_bindings WHERE spki = $1",
                    &[&&binding.spki_sha256[..]],
                )
                .await
                .map_err(db)?;
            return Err(StoreError::CertBoundElsewhere {
                account: row.get(0),
            });
        }
        self.commit(tx).await
    }

    pub(crate) async fn unbind_cert(
        &self,
        account: &str,
        spki: &[u8; 32],
    ) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let started = Instant::now();
        let n = conn
            .execute(
                "DELETE FROM cert_bindings WHERE spki = $1 AND account = $2",
                &[&&spki[..], &account.to_lowercase()],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::BindingNotFound);
        }
        self.count_write(started);
        Ok(())
    }

    async fn bindings_where(
        &self,
        condition: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<CertBinding>, StoreError> {
        let conn = self.conn().await?;
        let sql =
            format!("SELECT {BINDING_COLUMNS} FROM cert_bindings WHERE {condition} ORDER BY spki");
        conn.query(&sql, params)
            .await
            .map_err(db)?
            .iter()
            .map(binding)
            .collect()
    }

    pub(crate) async fn bindings_of(&self, account: &str) -> Result<Vec<CertBinding>, StoreError> {
        self.bindings_where("account = $1", &[&account.to_lowercase()])
            .await
    }

    pub(crate) async fn binding_by_spki(
        &self,
        spki: &[u8; 32],
    ) -> Result<Option<CertBinding>, StoreError> {
        Ok(self.bindings_where("spki = $1", &[&&spki[..]]).await?.pop())
    }

    pub(crate) async fn bindings_by_dn(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Vec<CertBinding>, StoreError> {
        self.bindings_where("issuer_dn = $1 AND subject_dn = $2", &[&issuer, &subject])
            .await
    }

    pub(crate) async fn set_alias(&self, mut alias: Alias) -> Result<(), StoreError> {
        alias.address = alias.address.to_lowercase();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        advisory_lock(&tx, lock_ns::ADDRESS, &alias.address).await?;
        let owner_query = "SELECT 1 FROM addresses WHERE address = $1";
        if row_exists(&tx, owner_query, &[&alias.address]).await? {
            return Err(StoreError::AddressTaken(alias.address));
        }
        tx.execute(
            "INSERT INTO aliases (address, members) VALUES ($1, $2)
             ON CONFLICT (address) DO UPDATE SET members = EXCLUDED.members",
            &[&alias.address, &alias.members],
        )
        .await
        .map_err(db)?;
        self.commit(tx).await
    }

    pub(crate) async fn alias(&self, address: &str) -> Result<Option<Alias>, StoreError> {
        let conn = self.conn().await?;
        Ok(conn
            .query_opt(
                "SELECT address, members FROM aliases WHERE address = $1",
                &[&address.to_lowercase()],
            )
            .await
            .map_err(db)?
            .map(|row| Alias {
                address: row.get(0),
                members: row.get(1),
            }))
    }

    pub(crate) async fn remove_alias(&self, address: &str) -> Result<(), StoreError> {
        let address = address.to_lowercase();
        let conn = self.conn().await?;
        let started = Instant::now();
        let n = conn
            .execute("DELETE FROM aliases WHERE address = $1", &[&address])
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::AliasNotFound(address));
        }
        self.count_write(started);
        Ok(())
    }

    pub(crate) async fn list_aliases(&self) -> Result<Vec<Alias>, StoreError> {
        let conn = self.conn().await?;
        Ok(conn
            .query("SELECT address, members FROM aliases ORDER BY address", &[])
            .await
            .map_err(db)?
            .iter()
            .map(|row| Alias {
                address: row.get(0),
                members: row.get(1),
            })
            .collect())
    }
}
