//! URLAUTH access keys (`urlauth_keys`, RFC 4467 §7), keyed by mailbox id and account:
//! they follow a mailbox through renames and go with it and with the account (ON DELETE
//! CASCADE). Sealed as the sled store seals them (`certmail_store::shared`).

use std::time::Instant;

use certmail_store::StoreError;
use certmail_store::shared::{open_urlauth_key, seal_urlauth_key};

use crate::PgStore;
use crate::acl::mailbox_id;
use crate::error::db;

/// Mailbox ids are identity columns, never negative.
fn id_u64(id: i64) -> u64 {
    u64::try_from(id).unwrap_or_default()
}

impl PgStore {
    /// [`certmail_store::MailboxStore::urlauth_key`]: the first key written wins (on any
    /// node); the stored one is returned.
    pub(crate) async fn urlauth_key(
        &self,
        user: &str,
        owner: &str,
        mailbox: &str,
        fresh: Option<[u8; 32]>,
    ) -> Result<Option<[u8; 32]>, StoreError> {
        let user = user.to_lowercase();
        let conn = self.conn().await?;
        let id = mailbox_id(&conn, owner, mailbox).await?;
        if let Some(fresh) = fresh {
            let sealed = seal_urlauth_key(&self.sealer, id_u64(id), &user, &fresh)?;
            let started = Instant::now();
            conn.execute(
                "INSERT INTO urlauth_keys (mailbox_id, account, sealed) VALUES ($1, $2, $3)
                 ON CONFLICT (mailbox_id, account) DO NOTHING",
                &[&id, &user, &sealed],
            )
            .await
            .map_err(db)?;
            self.count_write(started);
        }
        let row = conn
            .query_opt(
                "SELECT sealed FROM urlauth_keys WHERE mailbox_id = $1 AND account = $2",
                &[&id, &user],
            )
            .await
            .map_err(db)?;
        row.map(|r| open_urlauth_key(&self.sealer, id_u64(id), &user, r.get(0)))
            .transpose()
    }

    /// [`certmail_store::MailboxStore::reset_urlauth_keys`].
    pub(crate) async fn reset_urlauth_keys(
        &self,
        user: &str,
        mailbox: Option<(&str, &str)>,
    ) -> Result<u64, StoreError> {
        let user = user.to_lowercase();
        let conn = self.conn().await?;
        let started = Instant::now();
        let removed = match mailbox {
            Some((owner, name)) => {
                let id = mailbox_id(&conn, owner, name).await?;
                conn.execute(
                    "DELETE FROM urlauth_keys WHERE mailbox_id = $1 AND account = $2",
                    &[&id, &user],
                )
                .await
            }
            None => {
                conn.execute("DELETE FROM urlauth_keys WHERE account = $1", &[&user])
                    .await
            }
        }
        .map_err(db)?;
        self.count_write(started);
        Ok(removed)
    }
}
