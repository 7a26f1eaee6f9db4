//! Message bodies: sealed exactly as in sled (AAD `blobs/<sha256>`), stored once per
//! content as chunked `bytea` rows, and reference-counted by the transactions that add or
//! remove their users (a message row or a queue entry each hold one reference).
//!
//! Concurrency: storing uses `INSERT … ON CONFLICT DO UPDATE`, so two transactions storing
//! the same body serialise on its row: the first writes the chunks, the second only adds
//! its references; if the first rolls back, the second's upsert becomes the insert.
//! Releasing the last reference deletes the row, and its chunks and summary with it.

use certmail_store::shared::{blob_aad, printable};
use certmail_store::{BlobId, StoreError};

use crate::error::db;
use crate::{Conn, PgStore, Tx};

/// Largest `bytea` value written in one row: keeps each parameter and row small enough to
/// stream without holding a whole large message twice in the server's memory.
pub(crate) const CHUNK: usize = 1024 * 1024;

impl PgStore {
    /// Seals a body for storage (outside any transaction); returns its id and sealed bytes.
    pub(crate) fn seal_body(&self, body: &[u8]) -> Result<(BlobId, Vec<u8>), StoreError> {
        let blob = BlobId::of(body);
        let sealed = self.sealer.seal(&blob_aad(&blob), body)?;
        Ok((blob, sealed))
    }

    /// Reads and opens a body, checking that it hashes to its id; `MessageNotFound` if no
    /// such body is stored.
    pub(crate) async fn blob_body(
        &self,
        conn: &Conn,
        blob: &BlobId,
    ) -> Result<Vec<u8>, StoreError> {
        let (sealed, _) = read_sealed(conn, blob)
            .await?
            .ok_or(StoreError::MessageNotFound)?;
        let aad = blob_aad(blob);
        let body = self.sealer.open(&aad, &sealed)?;
        if BlobId::of(&body) != *blob {
            return Err(StoreError::Decrypt {
                record: printable(&aad),
            });
        }
        Ok(body)
    }
}

/// A body as stored (sealed, its chunks joined) and its sealed summary; `None` if no such
/// body is stored. One statement, so one snapshot: never half a body; a missing chunk is
/// `Decrypt`.
pub(crate) async fn read_sealed(
    conn: &Conn,
    blob: &BlobId,
) -> Result<Option<(Vec<u8>, Option<Vec<u8>>)>, StoreError> {
    let statement = conn
        .prepare_cached(
            "SELECT b.chunks, b.summary, c.seq, c.data FROM blobs b
             LEFT JOIN blob_chunks c ON c.blob = b.id
             WHERE b.id = $1 ORDER BY c.seq",
        )
        .await
        .map_err(db)?;
    let rows = conn.query(&statement, &[&&blob.0[..]]).await.map_err(db)?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let damaged = || StoreError::Decrypt {
        record: printable(&blob_aad(blob)),
    };
    let chunks: i32 = first.get(0);
    let mut sealed = Vec::new();
    for (expected, row) in rows.iter().enumerate() {
        let seq: Option<i32> = row.get(2);
        if seq != i32::try_from(expected).ok() {
            return Err(damaged());
        }
        let data: &[u8] = row.get(3);
        sealed.extend_from_slice(data);
    }
    if usize::try_from(chunks).ok() != Some(rows.len()) {
        return Err(damaged());
    }
    Ok(Some((sealed, first.get(1))))
}

/// Adds `refs` references to a body, storing it first if no row holds it yet.
pub(crate) async fn store(
    tx: &Tx<'_>,
    blob: &BlobId,
    sealed: &[u8],
    refs: i64,
) -> Result<(), StoreError> {
    let pieces: Vec<&[u8]> = sealed.chunks(CHUNK).collect();
    let count =
        i32::try_from(pieces.len()).map_err(|_| StoreError::Task("body too large".into()))?;
    let upsert = tx
        .prepare_cached(
            "INSERT INTO blobs (id, refs, chunks) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET refs = blobs.refs + EXCLUDED.refs
             RETURNING (xmax = 0) AS inserted",
        )
        .await
        .map_err(db)?;
    let row = tx
        .query_one(&upsert, &[&&blob.0[..], &refs, &count])
        .await
        .map_err(db)?;
    let inserted: bool = row.get(0);
    if inserted {
        let statement = tx
            .prepare_cached("INSERT INTO blob_chunks (blob, seq, data) VALUES ($1, $2, $3)")
            .await
            .map_err(db)?;
        for (seq, piece) in (0i32..).zip(pieces) {
            tx.execute(&statement, &[&&blob.0[..], &seq, &piece])
                .await
                .map_err(db)?;
        }
    }
    Ok(())
}

/// Adds `refs` references to a body that a message or entry of this transaction holds.
pub(crate) async fn add_refs(tx: &Tx<'_>, blob: &BlobId, refs: i64) -> Result<(), StoreError> {
    let n = tx
        .execute(
            "UPDATE blobs SET refs = refs + $2 WHERE id = $1",
            &[&&blob.0[..], &refs],
        )
        .await
        .map_err(db)?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::Corrupt {
            record: format!("blobs/{}", blob.to_hex()),
            reason: "a message refers to a body that is not stored".into(),
        })
    }
}

/// Drops `refs` references to a body, deleting it (with its chunks and summary) when none
/// is left.
pub(crate) async fn release(tx: &Tx<'_>, blob: &BlobId, refs: i64) -> Result<(), StoreError> {
    let row = tx
        .query_opt(
            "UPDATE blobs SET refs = refs - $2 WHERE id = $1 RETURNING refs",
            &[&&blob.0[..], &refs],
        )
        .await
        .map_err(db)?;
    let left: i64 = row.map_or(0, |r| r.get(0));
    if left <= 0 {
        tx.execute("DELETE FROM blobs WHERE id = $1", &[&&blob.0[..]])
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Releases one reference per entry of `blobs` (a body may appear several times).
pub(crate) async fn release_all(tx: &Tx<'_>, blobs: &[BlobId]) -> Result<(), StoreError> {
    let mut counts = std::collections::BTreeMap::<BlobId, i64>::new();
    for blob in blobs {
        *counts.entry(*blob).or_default() += 1;
    }
    for (blob, n) in counts {
        release(tx, &blob, n).await?;
    }
    Ok(())
}

/// Whether `account` holds a message with this body (who may read it).
pub(crate) async fn held_by(conn: &Conn, account: &str, blob: &BlobId) -> Result<bool, StoreError> {
    let statement = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
                            WHERE m.blob = $1 AND b.account = $2)",
        )
        .await
        .map_err(db)?;
    let row = conn
        .query_one(&statement, &[&&blob.0[..], &account])
        .await
        .map_err(db)?;
    Ok(row.get(0))
}
