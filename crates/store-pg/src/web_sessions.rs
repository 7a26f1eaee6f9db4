//! [`WebSessionStore`] on PostgreSQL (schema version 9): what the cluster's web servers
//! share. TOTP offers and the form key are sealed with the store key, like every secret
//! at rest; sessions are keyed by a hash of their token, never the token.

use std::time::Instant;

use certmail_store::{StoreError, WebSessionRecord, WebSessionStore};

use crate::PgStore;
use crate::error::db;

fn offer_aad(account: &str) -> Vec<u8> {
    [b"web-totp-offer:".as_slice(), account.as_bytes()].concat()
}

const FORM_KEY: &str = "form";
const FORM_KEY_AAD: &[u8] = b"web-key:form";

#[async_trait::async_trait]
impl WebSessionStore for PgStore {
    async fn put_web_session(
        &self,
        key: [u8; 32],
        record: WebSessionRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let started = Instant::now();
        conn.execute("DELETE FROM web_sessions WHERE until <= $1", &[&now])
            .await
            .map_err(db)?;
        conn.execute(
            "INSERT INTO web_sessions (token_hash, account, spki, until) VALUES ($1, $2, $3, $4)
             ON CONFLICT (token_hash) DO UPDATE SET account = EXCLUDED.account,
                 spki = EXCLUDED.spki, until = EXCLUDED.until, ended = NULL, ended_ip = NULL",
            &[
                &&key[..],
                &record.account,
                &&record.spki_sha256[..],
                &record.until,
            ],
        )
        .await
        .map_err(db)?;
        self.count_write(started);
        Ok(())
    }

    async fn web_session(&self, key: [u8; 32]) -> Result<Option<WebSessionRecord>, StoreError> {
        let conn = self.conn().await?;
        let Some(row) = conn
            .query_opt(
                "SELECT account, spki, until, ended, ended_ip FROM web_sessions
                 WHERE token_hash = $1",
                &[&&key[..]],
            )
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        let ended: Option<String> = row.get(3);
        Ok(Some(WebSessionRecord {
            account: row.get(0),
            spki_sha256: crate::rows::spki_of(row.get(1))?,
            until: row.get(2),
            ended: ended.map(|code| (code, row.get(4))),
        }))
    }

    async fn end_web_session_for(
        &self,
        key: [u8; 32],
        reason: &str,
        ip: Option<String>,
    ) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let started = Instant::now();
        conn.execute(
            "UPDATE web_sessions SET ended = $2, ended_ip = $3 WHERE token_hash = $1",
            &[&&key[..], &reason, &ip],
        )
        .await
        .map_err(db)?;
        self.count_write(started);
        Ok(())
    }

    async fn forget_web_session(&self, key: [u8; 32]) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let started = Instant::now();
        conn.execute(
            "DELETE FROM web_sessions WHERE token_hash = $1",
            &[&&key[..]],
        )
        .await
        .map_err(db)?;
        self.count_write(started);
        Ok(())
    }

    async fn forget_web_sessions_of(&self, account: &str) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let started = Instant::now();
        conn.execute("DELETE FROM web_sessions WHERE account = $1", &[&account])
            .await
            .map_err(db)?;
        self.count_write(started);
        Ok(())
    }

    async fn offer_totp(&self, account: &str, secret: &[u8], until: i64) -> Result<(), StoreError> {
        let sealed = self.sealer.seal(&offer_aad(account), secret)?;
        let conn = self.conn().await?;
        let started = Instant::now();
        conn.execute(
            "INSERT INTO web_totp_offers (account, sealed, until) VALUES ($1, $2, $3)
             ON CONFLICT (account) DO UPDATE SET sealed = EXCLUDED.sealed, until = EXCLUDED.until",
            &[&account, &sealed, &until],
        )
        .await
        .map_err(db)?;
        self.count_write(started);
        Ok(())
    }

    async fn totp_offer(&self, account: &str) -> Result<Option<(Vec<u8>, i64)>, StoreError> {
        let conn = self.conn().await?;
        let Some(row) = conn
            .query_opt(
                "SELECT sealed, until FROM web_totp_offers WHERE account = $1",
                &[&account],
            )
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        let sealed: Vec<u8> = row.get(0);
        let secret = self.sealer.open(&offer_aad(account), &sealed)?;
        Ok(Some((secret, row.get(1))))
    }

    async fn forget_totp_offer(&self, account: &str) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let started = Instant::now();
        conn.execute(
            "DELETE FROM web_totp_offers WHERE account = $1",
            &[&account],
        )
        .await
        .map_err(db)?;
        self.count_write(started);
        Ok(())
    }

    async fn web_form_key(&self, fresh: [u8; 32]) -> Result<[u8; 32], StoreError> {
        let sealed = self.sealer.seal(FORM_KEY_AAD, &fresh)?;
        let conn = self.conn().await?;
        // The first node's key wins; every later one reads it.
        conn.execute(
            "INSERT INTO web_keys (name, sealed) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&FORM_KEY, &sealed],
        )
        .await
        .map_err(db)?;
        let row = conn
            .query_one("SELECT sealed FROM web_keys WHERE name = $1", &[&FORM_KEY])
            .await
            .map_err(db)?;
        let stored: Vec<u8> = row.get(0);
        let key = self.sealer.open(FORM_KEY_AAD, &stored)?;
        key.as_slice().try_into().map_err(|_| StoreError::Corrupt {
            record: "web_keys form".into(),
            reason: format!("{} bytes, expected 32", key.len()),
        })
    }
}
