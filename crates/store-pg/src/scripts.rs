//! Sieve scripts: `sieve_scripts` (account, name) → sealed text and the active mark. Every
//! change locks the account's row first (`FOR UPDATE`), so the quota count and the one
//! active script hold across nodes.

use std::time::Instant;

use certmail_store::scripts::{check_name, script_aad};
use certmail_store::{ScriptQuota, SieveScript, StoreError};

use crate::error::db;
use crate::{PgStore, Tx, row_exists};

/// Locks the account's row for this transaction; `AccountNotFound` if there is none.
async fn lock_account(tx: &Tx<'_>, account: &str) -> Result<(), StoreError> {
    if row_exists(
        tx,
        "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE",
        &[&account],
    )
    .await?
    {
        Ok(())
    } else {
        Err(StoreError::AccountNotFound(account.to_owned()))
    }
}

impl PgStore {
    fn open_script(
        &self,
        account: &str,
        name: String,
        sealed: &[u8],
        active: bool,
    ) -> Result<SieveScript, StoreError> {
        SieveScript::open(&self.sealer, account, name, sealed, active)
    }

    pub(crate) async fn put_script(
        &self,
        account: &str,
        name: &str,
        content: &str,
        quota: ScriptQuota,
    ) -> Result<(), StoreError> {
        let account = account.to_lowercase();
        check_name(name)?;
        let sealed = self
            .sealer
            .seal(&script_aad(&account, name), content.as_bytes())?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        lock_account(&tx, &account).await?;
        let row = tx
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE name = $2)
                 FROM sieve_scripts WHERE account = $1",
                &[&account, &name],
            )
            .await
            .map_err(db)?;
        let (existing, replacing): (i64, i64) = (row.get(0), row.get(1));
        quota.check(
            content.len() as u64,
            usize::try_from(existing).unwrap_or(usize::MAX),
            replacing > 0,
        )?;
        tx.execute(
            "INSERT INTO sieve_scripts (account, name, sealed) VALUES ($1, $2, $3)
             ON CONFLICT (account, name) DO UPDATE SET sealed = EXCLUDED.sealed",
            &[&account, &name, &sealed],
        )
        .await
        .map_err(db)?;
        self.commit(tx).await
    }

    async fn scripts_where(
        &self,
        account: &str,
        filter: &str,
        name: Option<&str>,
    ) -> Result<Vec<SieveScript>, StoreError> {
        let account = account.to_lowercase();
        let conn = self.conn().await?;
        let query = format!(
            "SELECT name, sealed, active FROM sieve_scripts WHERE account = $1 {filter}
             ORDER BY name"
        );
        // The active script is read at every delivery: prepared once per pooled connection
        // (`filter` is one of a few constant clauses).
        let statement = conn.prepare_cached(&query).await.map_err(db)?;
        let rows = match name {
            Some(name) => conn.query(&statement, &[&account, &name]).await,
            None => conn.query(&statement, &[&account]).await,
        }
        .map_err(db)?;
        rows.iter()
            .map(|row| self.open_script(&account, row.get(0), row.get(1), row.get(2)))
            .collect()
    }

    pub(crate) async fn script(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<SieveScript>, StoreError> {
        let found = self.scripts_where(account, "AND name = $2", Some(name));
        Ok(found.await?.into_iter().next())
    }

    pub(crate) async fn list_scripts(&self, account: &str) -> Result<Vec<SieveScript>, StoreError> {
        self.scripts_where(account, "", None).await
    }

    pub(crate) async fn active_script(
        &self,
        account: &str,
    ) -> Result<Option<SieveScript>, StoreError> {
        let found = self.scripts_where(account, "AND active", None);
        Ok(found.await?.into_iter().next())
    }

    pub(crate) async fn set_active_script(
        &self,
        account: &str,
        name: Option<&str>,
    ) -> Result<(), StoreError> {
        let account = account.to_lowercase();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        lock_account(&tx, &account).await?;
        if let Some(name) = name
            && !row_exists(
                &tx,
                "SELECT 1 FROM sieve_scripts WHERE account = $1 AND name = $2",
                &[&account, &name],
            )
            .await?
        {
            return Err(StoreError::ScriptNotFound(name.to_owned()));
        }
        tx.execute(
            "UPDATE sieve_scripts SET active = false WHERE account = $1 AND active",
            &[&account],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "UPDATE sieve_scripts SET active = true WHERE account = $1 AND name = $2",
            &[&account, &name],
        )
        .await
        .map_err(db)?;
        self.commit(tx).await
    }

    pub(crate) async fn rename_script(
        &self,
        account: &str,
        from: &str,
        to: &str,
    ) -> Result<(), StoreError> {
        let account = account.to_lowercase();
        check_name(to)?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        lock_account(&tx, &account).await?;
        let Some(row) = tx
            .query_opt(
                "SELECT sealed, active FROM sieve_scripts WHERE account = $1 AND name = $2",
                &[&account, &from],
            )
            .await
            .map_err(db)?
        else {
            return Err(StoreError::ScriptNotFound(from.to_owned()));
        };
        if from == to {
            return Ok(());
        }
        if row_exists(
            &tx,
            "SELECT 1 FROM sieve_scripts WHERE account = $1 AND name = $2",
            &[&account, &to],
        )
        .await?
        {
            return Err(StoreError::ScriptExists(to.to_owned()));
        }
        let script = self.open_script(&account, from.to_owned(), row.get(0), row.get(1))?;
        let sealed = self
            .sealer
            .seal(&script_aad(&account, to), script.content.as_bytes())?;
        tx.execute(
            "UPDATE sieve_scripts SET name = $3, sealed = $4 WHERE account = $1 AND name = $2",
            &[&account, &from, &to, &sealed],
        )
        .await
        .map_err(db)?;
        self.commit(tx).await
    }

    pub(crate) async fn delete_script(&self, account: &str, name: &str) -> Result<(), StoreError> {
        let account = account.to_lowercase();
        let conn = self.conn().await?;
        let started = Instant::now();
        let row = conn
            .query_opt(
                "WITH gone AS (DELETE FROM sieve_scripts
                     WHERE account = $1 AND name = $2 AND NOT active RETURNING 1)
                 SELECT EXISTS (SELECT 1 FROM gone),
                        EXISTS (SELECT 1 FROM sieve_scripts WHERE account = $1 AND name = $2)",
                &[&account, &name],
            )
            .await
            .map_err(db)?;
        let (deleted, exists) = row.map_or((false, false), |r| (r.get(0), r.get(1)));
        if deleted {
            self.count_write(started);
            Ok(())
        } else if exists {
            Err(StoreError::ScriptActive(name.to_owned()))
        } else {
            Err(StoreError::ScriptNotFound(name.to_owned()))
        }
    }
}
