//! Cached summaries of message bodies (e.g. the IMAP layer's encoded ENVELOPE and
//! BODYSTRUCTURE), so FETCH does not re-parse the message each time. Stored sealed beside
//! the body (`blobs`, key `blob id || s`, AAD `summaries/<id>`) and freed with it.

use ::sled::Transactional;

use super::Inner;
use super::keys::account_blob_key;
use super::mailboxes::summary_key;
use super::tx::{TxResult, abort, finish};
use crate::error::{Result, StoreError};
use crate::model::BlobId;

/// Associated data of a sealed body summary: `summaries/<sha256>`.
pub fn summary_aad(blob: &BlobId) -> Vec<u8> {
    [&b"summaries/"[..], &blob.0].concat()
}

impl Inner {
    fn check_holds(&self, account: &str, blob: &BlobId) -> Result<()> {
        if self
            .t
            .account_blobs
            .contains_key(account_blob_key(account, blob))?
        {
            Ok(())
        } else {
            Err(StoreError::MessageNotFound)
        }
    }

    pub(crate) fn message_summary(&self, account: &str, blob: &BlobId) -> Result<Option<Vec<u8>>> {
        self.check_holds(account, blob)?;
        match self.t.blobs.get(summary_key(blob))? {
            Some(sealed) => Ok(Some(self.sealer.open(&summary_aad(blob), &sealed)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn message_summaries(
        &self,
        account: &str,
        blobs: &[BlobId],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        blobs
            .iter()
            .map(|blob| match self.message_summary(account, blob) {
                Err(StoreError::MessageNotFound) => Ok(None),
                other => other,
            })
            .collect()
    }

    pub(crate) fn set_message_summary(
        &self,
        account: &str,
        blob: &BlobId,
        summary: &[u8],
    ) -> Result<()> {
        self.check_holds(account, blob)?;
        let sealed = self.sealer.seal(&summary_aad(blob), summary)?;
        let t = &self.t;
        finish(
            (&t.blob_refs, &t.blobs).transaction(|(blob_refs, blobs)| -> TxResult<()> {
                // The body may have gone since the check; never leave an orphan summary.
                if blob_refs.get(blob.0)?.is_none() {
                    return abort(StoreError::MessageNotFound);
                }
                blobs.insert(&summary_key(blob)[..], sealed.as_slice())?;
                Ok(())
            }),
        )
    }
}
