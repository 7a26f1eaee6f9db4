//! The header cache: each message's raw header block, kept in the store's summary cache
//! (sealed beside the body, shared by every copy, freed with it). SEARCH by header, SORT,
//! THREAD, and FETCH of ENVELOPE or header sections then read about a kilobyte per message
//! instead of the whole message, as Dovecot's `dovecot.index.cache` lets it do.
//!
//! Filled on first use: a miss reads the body once and stores its header block. In front of
//! the store sits [`HeaderCache`], a bounded in-memory copy of the blocks read lately, so
//! repeated searches of one mailbox skip the store's lookup and decryption too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

/// Header blocks in memory, shared by every connection, within a byte budget: two
/// generations, the older dropped whole when the newer fills half the budget (an entry
/// read again moves to the newer). Entries are kept per account (a body delivered to many
/// accounts is one blob in the store) and only given back to the account they were read
/// for.
#[derive(Debug)]
pub struct HeaderCache {
    budget: usize,
    generations: Mutex<Generations>,
}

/// An entry's key: a hash of the account id and the blob (the entry holds the id itself).
type Key = (u64, BlobId);

fn key(account: &str, blob: &BlobId) -> Key {
    use std::hash::Hasher as _;
    // Fixed keys: an account hashes alike in every connection.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(account.as_bytes());
    (h.finish(), *blob)
}

#[derive(Debug, Default)]
struct Generations {
    young: HashMap<Key, Entry>,
    young_bytes: usize,
    old: HashMap<Key, Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    account: Arc<str>,
    header: Arc<[u8]>,
}

impl HeaderCache {
    /// A cache holding about `budget` octets of header blocks (0: none).
    pub fn new(budget: usize) -> HeaderCache {
        HeaderCache {
            budget,
            generations: Mutex::new(Generations::default()),
        }
    }

    /// The cached header block of `blob` as read for `account`.
    pub fn get(&self, account: &str, blob: &BlobId) -> Option<Arc<[u8]>> {
        let key = key(account, blob);
        let mut g = self.generations.lock().ok()?;
        if let Some(e) = g.young.get(&key) {
            return (&*e.account == account).then(|| Arc::clone(&e.header));
        }
        let e = g.old.remove(&key)?;
        let header = (&*e.account == account).then(|| Arc::clone(&e.header));
        g.insert(key, e, self.budget);
        header
    }

    /// Keeps `header` as the header block of `blob` for `account`.
    pub fn put(&self, account: &str, blob: &BlobId, header: &[u8]) {
        if header.len() > self.budget / 2 {
            return;
        }
        if let Ok(mut g) = self.generations.lock() {
            let e = Entry {
                account: Arc::from(account),
                header: Arc::from(header),
            };
            g.insert(key(account, blob), e, self.budget);
        }
    }

    /// Octets held now (both generations).
    pub fn held(&self) -> usize {
        self.generations
            .lock()
            .map(|g| g.young_bytes + g.old.values().map(|e| e.header.len()).sum::<usize>())
            .unwrap_or(0)
    }
}

impl Generations {
    fn insert(&mut self, key: Key, e: Entry, budget: usize) {
        if self.young_bytes + e.header.len() > budget / 2 {
            self.old = std::mem::take(&mut self.young);
            self.young_bytes = 0;
        }
        self.young_bytes += e.header.len();
        if let Some(replaced) = self.young.insert(key, e) {
            self.young_bytes -= replaced.header.len();
        }
    }
}

/// The header blocks of `blobs`, in order: from memory, from the store's summary cache, or
/// read from the body (and then cached). A message the account no longer holds is
/// `MessageNotFound`.
pub async fn header_blocks(
    store: &dyn Store,
    memory: &HeaderCache,
    account: &str,
    blobs: &[BlobId],
) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut headers: Vec<Option<Vec<u8>>> = blobs
        .iter()
        .map(|blob| memory.get(account, blob).map(|h| h.to_vec()))
        .collect();
    let missing: Vec<BlobId> = blobs
        .iter()
        .zip(&headers)
        .filter(|(_, h)| h.is_none())
        .map(|(blob, _)| *blob)
        .collect();
    if !missing.is_empty() {
        let cached = store.message_summaries(account, missing.clone()).await?;
        let mut read = missing.iter().zip(cached);
        for (blob, slot) in blobs.iter().zip(headers.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            let Some((_, summary)) = read.next() else {
                break;
            };
            let header = match summary.and_then(decode) {
                Some(header) => header,
                None => fill(store, account, blob).await?,
            };
            memory.put(account, blob, &header);
            *slot = Some(header);
        }
    }
    Ok(headers.into_iter().map(Option::unwrap_or_default).collect())
}

/// One message's header block (see [`header_blocks`]).
pub async fn header_of(
    store: &dyn Store,
    memory: &HeaderCache,
    account: &str,
    blob: &BlobId,
) -> Result<Vec<u8>, StoreError> {
    let mut one = header_blocks(store, memory, account, std::slice::from_ref(blob)).await?;
    Ok(one.pop().unwrap_or_default())
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
    fn memory_keeps_recent_blocks_within_its_budget_and_per_account() {
        let blob = |n: u8| BlobId([n; 32]);
        let cache = HeaderCache::new(1000);
        cache.put("hong", &blob(1), &[b'a'; 300]);
        assert_eq!(
            cache.get("hong", &blob(1)).as_deref(),
            Some(&[b'a'; 300][..])
        );
        assert_eq!(cache.get("kim", &blob(1)), None, "another account's read");
        // The same body read for another account is kept beside, not instead.
        cache.put("kim", &blob(1), &[b'k'; 10]);
        assert_eq!(cache.get("kim", &blob(1)).as_deref(), Some(&[b'k'; 10][..]));
        assert_eq!(
            cache.get("hong", &blob(1)).as_deref(),
            Some(&[b'a'; 300][..])
        );
        // Filling the young half moves blob 1 to the old generation, where it is still
        // found (and moved back); the budget holds however many blocks come.
        cache.put("hong", &blob(2), &[b'b'; 300]);
        assert!(cache.get("hong", &blob(1)).is_some());
        cache.put("hong", &blob(3), &[b'c'; 300]);
        cache.put("hong", &blob(4), &[b'd'; 300]);
        assert!(cache.held() <= 1000, "{}", cache.held());
        assert!(cache.get("hong", &blob(4)).is_some());
        // Too large for the budget: not kept.
        cache.put("hong", &blob(5), &[b'e'; 600]);
        assert_eq!(cache.get("hong", &blob(5)), None);
        assert_eq!(HeaderCache::new(0).get("hong", &blob(1)), None);
    }

    #[test]
    fn summaries_round_trip_and_other_formats_are_misses() {
        let header = "Subject: 회의 안내\r\n\r\n".as_bytes();
        assert_eq!(decode(encode(header)).as_deref(), Some(header));
        assert_eq!(decode(b"(\"envelope\" NIL)".to_vec()), None);
        assert_eq!(decode(Vec::new()), None);
    }
}
