//! The header cache: each message's raw header block, kept in the store's summary cache
//! (sealed beside the body, shared by every copy, freed with it). SEARCH by header, SORT,
//! THREAD, and FETCH of ENVELOPE or header sections then read about a kilobyte per message
//! instead of the whole message, as Dovecot's `dovecot.index.cache` lets it do.
//!
//! Filled on first use: a miss reads the body once and stores its header block.

use certmail_store::{BlobId, Store, StoreError};

use super::header::HeaderBlock;

/// The first byte of a summary in this format; any other summary counts as a miss (and is
/// overwritten), so the format can change without a migration.
const VERSION: u8 = 1;

/// The header block of `raw`: its header fields and the empty line after them, exactly the
/// bytes FETCH RFC822.HEADER returns.
pub fn header_block(raw: &[u8]) -> &[u8] {
    &raw[HeaderBlock::parse(raw, 0, raw.len()).range]
}

fn encode(header: &[u8]) -> Vec<u8> {
    let mut summary = Vec::with_capacity(header.len() + 1);
    summary.push(VERSION);
    summary.extend_from_slice(header);
    summary
}

fn decode(mut summary: Vec<u8>) -> Option<Vec<u8>> {
    (summary.first() == Some(&VERSION)).then(|| {
        summary.remove(0);
        summary
    })
}

/// The header blocks of `blobs`, in order: from the cache, or read from the body (and then
/// cached). A message the account no longer holds is `MessageNotFound`.
pub async fn header_blocks(
    store: &dyn Store,
    account: &str,
    blobs: &[BlobId],
) -> Result<Vec<Vec<u8>>, StoreError> {
    let cached = store.message_summaries(account, blobs.to_vec()).await?;
    let mut headers = Vec::with_capacity(blobs.len());
    for (blob, summary) in blobs.iter().zip(cached) {
        let header = match summary.and_then(decode) {
            Some(header) => header,
            None => fill(store, account, blob).await?,
        };
        headers.push(header);
    }
    Ok(headers)
}

/// One message's header block (see [`header_blocks`]).
pub async fn header_of(
    store: &dyn Store,
    account: &str,
    blob: &BlobId,
) -> Result<Vec<u8>, StoreError> {
    match store.message_summary(account, blob).await?.and_then(decode) {
        Some(header) => Ok(header),
        None => fill(store, account, blob).await,
    }
}

/// Reads the body and caches its header block.
async fn fill(store: &dyn Store, account: &str, blob: &BlobId) -> Result<Vec<u8>, StoreError> {
    let raw = store.message_body(account, blob).await?;
    let header = header_block(&raw).to_vec();
    // A cache: if the write fails (or the message went meanwhile), the next read fills it.
    if let Err(e) = store
        .set_message_summary(account, blob, encode(&header))
        .await
    {
        tracing::debug!(error = %e, "header cache not written");
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_block_ends_after_the_empty_line() {
        let raw = b"From: =?UTF-8?B?7ZmN6ri464+Z?= <hong@example.kr>\r\nSubject: x\r\n\r\nbody\r\n";
        assert_eq!(
            header_block(raw),
            &b"From: =?UTF-8?B?7ZmN6ri464+Z?= <hong@example.kr>\r\nSubject: x\r\n\r\n"[..]
        );
        // No empty line: the whole message is header.
        assert_eq!(header_block(b"Subject: x\r\n"), &b"Subject: x\r\n"[..]);
    }

    #[test]
    fn summaries_round_trip_and_other_formats_are_misses() {
        let header = "Subject: 회의 안내\r\n\r\n".as_bytes();
        assert_eq!(decode(encode(header)).as_deref(), Some(header));
        assert_eq!(decode(b"(\"envelope\" NIL)".to_vec()), None);
        assert_eq!(decode(Vec::new()), None);
    }
}
