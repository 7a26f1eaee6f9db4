//! The outbound queue. Each entry holds one reference to its body.

use ::sled::Transactional;

use super::Inner;
use super::keys::decode;
use super::mailboxes::free_blob;
use super::tx::{abort, add_count, finish, get, put};
use crate::error::{Result, StoreError};
use crate::model::QueueEntry;

impl Inner {
    pub(crate) fn queue_list(&self) -> Result<Vec<QueueEntry>> {
        let mut out = Vec::new();
        for entry in self.t.queue.iter() {
            let (k, v) = entry?;
            out.push(decode(&k, &v)?);
        }
        Ok(out)
    }

    pub(crate) fn queue_get(&self, id: u64) -> Result<Option<QueueEntry>> {
        let key = id.to_be_bytes();
        match self.t.queue.get(key)? {
            Some(v) => Ok(Some(decode(&key, &v)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn queue_body(&self, id: u64) -> Result<Vec<u8>> {
        let entry = self
            .queue_get(id)?
            .ok_or(StoreError::QueueEntryNotFound(id))?;
        self.blob_body(&entry.blob)
    }

    pub(crate) fn queue_update(&self, entry: QueueEntry) -> Result<()> {
        let key = entry.id.to_be_bytes();
        finish(self.t.queue.transaction(|queue| {
            let Some(old) = get::<QueueEntry>(queue, &key)? else {
                return abort(StoreError::QueueEntryNotFound(entry.id));
            };
            // The body reference belongs to the entry: keep it whatever the caller sent.
            put(
                queue,
                &key,
                &QueueEntry {
                    blob: old.blob,
                    ..entry.clone()
                },
            )
        }))
    }

    pub(crate) fn queue_remove(&self, id: u64) -> Result<()> {
        let key = id.to_be_bytes();
        let t = &self.t;
        finish(
            (&t.queue, &t.blobs, &t.blob_refs).transaction(|(queue, blobs, blob_refs)| {
                let Some(old) = get::<QueueEntry>(queue, &key)? else {
                    return abort(StoreError::QueueEntryNotFound(id));
                };
                queue.remove(&key)?;
                if add_count(blob_refs, &old.blob.0, -1)? == 0 {
                    free_blob(blobs, &old.blob)?;
                }
                Ok(())
            }),
        )
    }
}
