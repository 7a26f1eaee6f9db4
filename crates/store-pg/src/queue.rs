//! The outbound queue: list, read, update and remove entries (each holds one reference to
//! its body), and the nodes' claims on them.
//!
//! A claim makes an entry one node's for a lease (`claimed_by`, `lease_until` on the
//! database's clock): [`PgStore::queue_claim`] takes the due entries no other node holds
//! with `SELECT … FOR UPDATE SKIP LOCKED` (two nodes claiming at once never wait for or
//! take each other's rows), the runner renews its claims while their deliveries run, and
//! a dead node's claims lapse so that another node delivers its entries: at least once,
//! never lost. Claims are left to lapse rather than released: a finished entry is gone or
//! not due until its next attempt.

use std::time::{Duration, Instant};

use certmail_store::{QueueEntry, StoreError};
use tokio_postgres::types::Json;

use crate::delivery::{QUEUE_COLUMNS, queue_entry, queue_id};
use crate::error::db;
use crate::{PgStore, blobs, rows};

/// Claims the due, unclaimed (or lapsed, or own) entries among `$1` for node `$3` until
/// `$4` seconds from now. Rows another transaction holds are skipped, not waited for.
const CLAIM: &str = "
    WITH free AS (
        SELECT id FROM queue
         WHERE id = ANY($1) AND next_attempt <= $2
           AND (claimed_by IS NULL OR claimed_by = $3 OR lease_until < now())
         ORDER BY id
         FOR UPDATE SKIP LOCKED)
    UPDATE queue SET claimed_by = $3, lease_until = now() + make_interval(secs => $4)
      FROM free WHERE queue.id = free.id
    RETURNING queue.id";

impl PgStore {
    pub(crate) async fn queue_list(&self) -> Result<Vec<QueueEntry>, StoreError> {
        let conn = self.conn().await?;
        let sql = format!("SELECT {QUEUE_COLUMNS} FROM queue ORDER BY id");
        conn.query(&sql, &[])
            .await
            .map_err(db)?
            .iter()
            .map(queue_entry)
            .collect()
    }

    pub(crate) async fn queue_get(&self, id: u64) -> Result<Option<QueueEntry>, StoreError> {
        let conn = self.conn().await?;
        let sql = format!("SELECT {QUEUE_COLUMNS} FROM queue WHERE id = $1");
        match conn.query_opt(&sql, &[&queue_id(id)]).await.map_err(db)? {
            Some(row) => Ok(Some(queue_entry(&row)?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn queue_body(&self, id: u64) -> Result<Vec<u8>, StoreError> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt("SELECT blob FROM queue WHERE id = $1", &[&queue_id(id)])
            .await
            .map_err(db)?
            .ok_or(StoreError::QueueEntryNotFound(id))?;
        let blob = rows::blob_of(row.get(0))?;
        self.blob_body(&conn, &blob).await
    }

    /// Replaces an entry's status, attempts and schedule; its body reference stays.
    pub(crate) async fn queue_update(&self, entry: QueueEntry) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let started = Instant::now();
        let n = conn
            .execute(
                "UPDATE queue SET sender = $2, recipients = $3, created_at = $4,
                        next_attempt = $5, envelope_meta = $6
                 WHERE id = $1",
                &[
                    &queue_id(entry.id),
                    &entry.from,
                    &Json(&entry.recipients),
                    &entry.created_at,
                    &entry.next_attempt,
                    &Json(&entry.envelope_meta),
                ],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::QueueEntryNotFound(entry.id));
        }
        self.count_write(started);
        Ok(())
    }

    pub(crate) async fn queue_remove(&self, id: u64) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let row = tx
            .query_opt(
                "DELETE FROM queue WHERE id = $1 RETURNING blob",
                &[&queue_id(id)],
            )
            .await
            .map_err(db)?
            .ok_or(StoreError::QueueEntryNotFound(id))?;
        blobs::release(&tx, &rows::blob_of(row.get(0))?, 1).await?;
        self.commit(tx).await
    }

    pub(crate) async fn queue_claim(
        &self,
        ids: &[u64],
        now: i64,
        lease: Duration,
    ) -> Result<Vec<u64>, StoreError> {
        let ids: Vec<i64> = ids.iter().map(|&id| queue_id(id)).collect();
        let conn = self.conn().await?;
        let rows = conn
            .query(CLAIM, &[&ids, &now, &self.node, &lease.as_secs_f64()])
            .await
            .map_err(db)?;
        let mut claimed = rows
            .iter()
            .map(|row| rows::u64_of("queue id", row.get(0)))
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_unstable();
        Ok(claimed)
    }

    pub(crate) async fn queue_renew(&self, ids: &[u64], lease: Duration) -> Result<(), StoreError> {
        let ids: Vec<i64> = ids.iter().map(|&id| queue_id(id)).collect();
        let conn = self.conn().await?;
        conn.execute(
            "UPDATE queue SET lease_until = now() + make_interval(secs => $3)
              WHERE id = ANY($1) AND claimed_by = $2",
            &[&ids, &self.node, &lease.as_secs_f64()],
        )
        .await
        .map_err(db)?;
        Ok(())
    }
}
