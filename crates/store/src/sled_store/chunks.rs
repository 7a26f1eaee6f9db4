//! Large bodies as chunks, so that every sled value stays in sled's log.
//!
//! sled 0.34 writes a value larger than a quarter of a log segment (128 KiB by default) to
//! a file of its own under `blobs/`, without ever fsyncing it, while our group commit can
//! only make the log durable. A sealed body longer than [`CHUNK`] is therefore stored as a
//! header under the body's id and numbered chunks beside it in the same tree; a shorter one
//! is stored as it is. A sealed value starts with its key id (1..=255), so the header's
//! leading 0 byte cannot be mistaken for one.

use sled::transaction::TransactionalTree;

use super::Result;
use crate::StoreError;
use crate::model::BlobId;

use super::tx::TxResult;

/// Largest value written in one piece: well under sled's inline limit.
pub(crate) const CHUNK: usize = 64 * 1024;

/// `0`, `C`, then the chunk count (u32, big-endian).
const HEADER_TAG: [u8; 2] = [0, b'C'];

fn chunk_key(blob: &BlobId, index: u32) -> [u8; 37] {
    let mut k = [b'c'; 37];
    k[..32].copy_from_slice(&blob.0);
    k[33..].copy_from_slice(&index.to_be_bytes());
    k
}

fn chunk_count(header: &[u8]) -> Option<u32> {
    let rest = header.strip_prefix(&HEADER_TAG[..])?;
    Some(u32::from_be_bytes(rest.try_into().ok()?))
}

/// Writes a sealed body under `blob`, in chunks when it is long.
pub(crate) fn write(blobs: &TransactionalTree, blob: &BlobId, sealed: &[u8]) -> TxResult<()> {
    if sealed.len() <= CHUNK {
        blobs.insert(&blob.0, sealed)?;
        return Ok(());
    }
    let pieces: Vec<&[u8]> = sealed.chunks(CHUNK).collect();
    let count = u32::try_from(pieces.len())
        .expect("a message under 4 GiB has fewer than 2^32 chunks of 64 KiB");
    let mut header = HEADER_TAG.to_vec();
    header.extend_from_slice(&count.to_be_bytes());
    blobs.insert(&blob.0, header)?;
    for (i, piece) in pieces.into_iter().enumerate() {
        blobs.insert(&chunk_key(blob, i as u32)[..], piece)?;
    }
    Ok(())
}

/// Removes a body and its chunks.
pub(crate) fn remove(blobs: &TransactionalTree, blob: &BlobId) -> TxResult<()> {
    if let Some(header) = blobs.remove(&blob.0)? {
        for i in 0..chunk_count(&header).unwrap_or(0) {
            blobs.remove(&chunk_key(blob, i)[..])?;
        }
    }
    Ok(())
}

/// Reads a sealed body (reassembling its chunks); `None` when there is none. A missing or
/// damaged chunk is an error naming the record, never a shorter body.
pub(crate) fn read(blobs: &sled::Tree, blob: &BlobId) -> Result<Option<Vec<u8>>> {
    let Some(value) = blobs.get(blob.0)? else {
        return Ok(None);
    };
    let Some(count) = chunk_count(&value) else {
        return Ok(Some(value.to_vec()));
    };
    let mut sealed = Vec::with_capacity(count as usize * CHUNK);
    for i in 0..count {
        let piece = blobs
            .get(chunk_key(blob, i))?
            .ok_or_else(|| StoreError::Decrypt {
                record: format!("blobs/{}/chunk {i}", hex::encode(blob.0)),
            })?;
        sealed.extend_from_slice(&piece);
    }
    Ok(Some(sealed))
}
