//! The full-text search index in PostgreSQL (rules in `certmail_store::search_index`;
//! table `search_docs`, migration 0011): one row per body, its postings an array under a
//! GIN index, written in the transaction that stores the message and deleted with the
//! body. Unlike sled's per-account postings, a row serves every account holding the body:
//! a search only asks about the bodies of the mailbox it reads.
//!
//! On disk, per body: 8 bytes per distinct n-gram in the array (TOAST-compressed) and about
//! as much again in the GIN index.

use std::collections::HashSet;

use certmail_store::search_index::GramHash;
use certmail_store::{BlobId, StoreError};

use crate::error::db;
use crate::{PgStore, Tx};

fn as_bigints(postings: &[GramHash]) -> Vec<i64> {
    postings.iter().map(|p| i64::from_be_bytes(*p)).collect()
}

/// Gives a stored body its postings unless it has them (`None`: too large to index).
pub(crate) async fn index_postings(
    tx: &Tx<'_>,
    blob: &BlobId,
    postings: Option<&[GramHash]>,
) -> Result<(), StoreError> {
    let statement = tx
        .prepare_cached(
            "INSERT INTO search_docs (blob, indexed, postings)
             SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM blobs WHERE id = $1)
             ON CONFLICT (blob) DO NOTHING",
        )
        .await
        .map_err(db)?;
    let values = as_bigints(postings.unwrap_or_default());
    tx.execute(&statement, &[&&blob.0[..], &postings.is_some(), &values])
        .await
        .map_err(db)?;
    Ok(())
}

impl PgStore {
    /// See `MailboxStore::search_candidates`.
    pub(crate) async fn search_candidates(
        &self,
        _account: &str,
        blobs: Vec<BlobId>,
        needles: Vec<String>,
    ) -> Result<Option<Vec<bool>>, StoreError> {
        let postings = self.gram_key.needles_postings(&needles);
        if postings.is_empty() {
            return Ok(None);
        }
        let ids: Vec<&[u8]> = blobs.iter().map(|b| &b.0[..]).collect();
        let conn = self.conn().await?;
        // The listed bodies that have postings but not all of the needles': excluded.
        let rows = conn
            .query(
                "WITH hits AS (SELECT blob FROM search_docs WHERE postings @> $2)
                 SELECT d.blob FROM search_docs d
                 WHERE d.blob = ANY($1) AND d.indexed
                   AND NOT EXISTS (SELECT 1 FROM hits h WHERE h.blob = d.blob)",
                &[&ids, &as_bigints(&postings)],
            )
            .await
            .map_err(db)?;
        let excluded: HashSet<Vec<u8>> = rows.iter().map(|row| row.get(0)).collect();
        Ok(Some(
            blobs.iter().map(|b| !excluded.contains(&b.0[..])).collect(),
        ))
    }

    /// See `MailboxStore::reindex`: every stored body without a row gets one.
    pub(crate) async fn reindex(&self) -> Result<u64, StoreError> {
        let conn = self.conn().await?;
        let missing = conn
            .query(
                "SELECT id FROM blobs b
                 WHERE NOT EXISTS (SELECT 1 FROM search_docs d WHERE d.blob = b.id)",
                &[],
            )
            .await
            .map_err(db)?;
        drop(conn);
        let mut indexed = 0;
        for row in missing {
            let id: Vec<u8> = row.get(0);
            let Ok(id) = <[u8; 32]>::try_from(id.as_slice()) else {
                continue;
            };
            let blob = BlobId(id);
            let mut conn = self.conn().await?;
            let body = match self.blob_body(&conn, &blob).await {
                Ok(body) => body,
                Err(StoreError::MessageNotFound) => continue,
                Err(e) => return Err(e),
            };
            let postings = self.gram_key.message_postings(&body);
            let tx = conn.transaction().await.map_err(db)?;
            index_postings(&tx, &blob, postings.as_deref()).await?;
            tx.commit().await.map_err(db)?;
            indexed += 1;
        }
        Ok(indexed)
    }
}
