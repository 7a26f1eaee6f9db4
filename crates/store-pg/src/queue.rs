//! The outbound queue: list, read, update and remove entries. Each entry holds one
//! reference to its body.
//!
//! Not yet here (a later step of cluster mode): claims with a lease
//! (`SELECT … FOR UPDATE SKIP LOCKED` on `next_attempt`), so that several nodes deliver
//! each message once and take over a dead node's claims.

use certmail_store::{QueueEntry, StoreError};
use tokio_postgres::types::Json;

use crate::delivery::{QUEUE_COLUMNS, queue_entry, queue_id};
use crate::error::db;
use crate::{PgStore, blobs, rows};

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
        self.count_write();
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
}
