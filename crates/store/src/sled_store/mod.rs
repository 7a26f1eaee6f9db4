//! The sled 0.34 implementation of [`crate::Store`].
//!
//! Trees (all values postcard unless noted):
//! - `meta`: `format_version` (u32 BE), key check values, id counters, vacation reply
//!   marks (`replies.rs`);
//! - `accounts`: id → sealed `Account`; `addresses`: address → account id;
//! - `aliases`: address → `Alias`;
//! - `certs`: SPKI hash → `CertBinding`; `cert_idx`: by-account and by-DN index keys;
//! - `mailboxes`: (account, name) → `Mailbox`;
//! - `messages`: (mailbox id, UID) → `MessageMeta`; `expunged`: (mailbox id, UID) → MODSEQ;
//! - `blobs`: blob id → sealed body, blob id || `s` → sealed summary; `blob_refs`: blob id → u64 reference count;
//!   `account_blobs`: (account, blob id) → u64 count (who may read a body);
//! - `queue`: id → `QueueEntry`; `audit`: (time, seq) → `AuditEvent`; `audit_idx`;
//! - `devices`: (account, SPKI hash, network) → `Device`;
//! - `scripts`: (account, name) → sealed Sieve script; `active_scripts`: account → name.
//! - `acl`: (mailbox id, identifier) → (owner, rights); `seen`: (mailbox id, reader) →
//!   UIDs that reader has seen in a mailbox shared with them (`acl.rs`).
//! - `urlauth`: (mailbox id, user) → sealed URLAUTH access key (`urlauth.rs`).
//! - `search`: the full-text index's documents, postings and orphans (`search.rs`).
//!
//! `backup.rs` writes and restores consistent snapshots of all trees.
//! `copy.rs` is its [`crate::copy::RecordCopy`]: counts per kind, sealed bodies, and
//! imports that keep UIDs and MODSEQs (`certmail store copy`).
//!
//! The sync functions live on [`Inner`] in one file per area; `api.rs` wraps them in the
//! async trait, running each on the blocking pool (reads and writes of a few keys excepted:
//! they run at once, `SledStore::read_now`) and, for writes, awaiting the group commit.

mod accounts;
mod acl;
mod api;
mod audit;
mod backup;
mod chunks;
mod commit;
mod copy;
mod delivery;
mod devices;
mod directory;
mod keys;
mod mailboxes;
mod messages;
mod posting_list;
mod queue;
mod quota;
mod redirects;
mod replies;
mod scripts;
mod search;
mod summaries;
mod tx;
mod urlauth;

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

pub use accounts::account_aad;
pub use backup::{
    BACKUP_VERSION, BackupCounts, BackupManifest, DUMP_FILE, MANIFEST_FILE, read_manifest,
};
pub use keys::{decode, encode};
pub use messages::blob_aad;
pub use summaries::summary_aad;

use ::sled::{Transactional, Tree};

use crate::crypto::{KeyFile, Sealer};
use crate::error::{Result, StoreError};
use commit::GroupCommit;

/// sled's log segment size (its maximum is 16 MiB); see [`SledStore::open`]. Tools that
/// open the sled files themselves must use the same value.
pub const SLED_SEGMENT_SIZE: usize = 8 * 1024 * 1024;

/// The on-disk format version this build reads and writes.
///
/// Migration path: when a change needs a new version, bump this and teach
/// `check_format_version` to upgrade the previous version in place (one step per version,
/// each in a transaction) before the store opens; until then other versions are refused.
///
/// - 1 → 2: subscriptions moved from a flag on the mailbox record to the `subscriptions`
///   tree (account, name → nothing), so a name stays subscribed when its mailbox is
///   deleted (RFC 3501 §6.3.6); see `upgrade_1_to_2`. The record's flag is ignored since.
/// - 2 → 3: the device record gained `client` (the name a mail program gives in IMAP ID);
///   every device record is rewritten with none; see `upgrade_2_to_3`.
/// - 3 → 4: the search index keeps one posting list per n-gram hash and block of documents
///   instead of one key per posting; the old index is dropped and `certmail store reindex`
///   rebuilds it (searches stay right meanwhile, reading unindexed mail in full); see
///   `search::upgrade_3_to_4`.
pub const FORMAT_VERSION: u32 = 4;

const FORMAT_KEY: &[u8] = b"format_version";
const KEY_CHECK_PLAINTEXT: &[u8] = b"certmail key check";
/// `meta` keys of the key check values: this prefix, then the key id.
const KEY_CHECK_PREFIX: &[u8] = b"key_check/";

/// The named trees of the database.
pub(crate) struct Trees {
    pub(crate) meta: Tree,
    pub(crate) accounts: Tree,
    pub(crate) addresses: Tree,
    pub(crate) aliases: Tree,
    pub(crate) certs: Tree,
    pub(crate) cert_idx: Tree,
    pub(crate) mailboxes: Tree,
    /// The subscription list: `mailboxes`-style keys (account, name), empty values.
    pub(crate) subscriptions: Tree,
    pub(crate) messages: Tree,
    pub(crate) expunged: Tree,
    pub(crate) blobs: Tree,
    pub(crate) blob_refs: Tree,
    pub(crate) account_blobs: Tree,
    pub(crate) queue: Tree,
    pub(crate) audit: Tree,
    pub(crate) audit_idx: Tree,
    pub(crate) devices: Tree,
    /// Sieve scripts: (account, name) → sealed text.
    pub(crate) scripts: Tree,
    /// The active Sieve script of each account: account → name.
    pub(crate) active_scripts: Tree,
    /// Access control lists: (mailbox id, identifier) → (owner, rights); see `acl.rs`.
    pub(crate) acl: Tree,
    /// Per-reader `\Seen` of shared mailboxes: (mailbox id, reader) → UIDs.
    pub(crate) seen: Tree,
    /// URLAUTH access keys: (mailbox id, user) → sealed key; see `urlauth.rs`.
    pub(crate) urlauth: Tree,
    /// The full-text search index: documents, postings, orphans (`search.rs`).
    pub(crate) search: Tree,
}

impl Trees {
    fn open(db: &::sled::Db) -> Result<Trees> {
        Ok(Trees {
            meta: db.open_tree("meta")?,
            accounts: db.open_tree("accounts")?,
            addresses: db.open_tree("addresses")?,
            aliases: db.open_tree("aliases")?,
            certs: db.open_tree("certs")?,
            cert_idx: db.open_tree("cert_idx")?,
            mailboxes: db.open_tree("mailboxes")?,
            subscriptions: db.open_tree("subscriptions")?,
            messages: db.open_tree("messages")?,
            expunged: db.open_tree("expunged")?,
            blobs: db.open_tree("blobs")?,
            blob_refs: db.open_tree("blob_refs")?,
            account_blobs: db.open_tree("account_blobs")?,
            queue: db.open_tree("queue")?,
            audit: db.open_tree("audit")?,
            audit_idx: db.open_tree("audit_idx")?,
            devices: db.open_tree("devices")?,
            scripts: db.open_tree("scripts")?,
            active_scripts: db.open_tree("active_scripts")?,
            acl: db.open_tree("acl")?,
            seen: db.open_tree("seen")?,
            urlauth: db.open_tree("urlauth")?,
            search: db.open_tree("search")?,
        })
    }
}

/// Everything the sync operations need.
pub(crate) struct Inner {
    pub(crate) db: ::sled::Db,
    pub(crate) t: Trees,
    pub(crate) sealer: Sealer,
    /// The key of the search index's n-gram hashes.
    pub(crate) gram_key: crate::search_index::GramKey,
    /// Serialises mailbox-hierarchy changes (create, rename, delete), which scan before
    /// their transaction.
    pub(crate) hierarchy: Mutex<()>,
    /// Held shared by every write operation while it runs, and exclusively by a backup
    /// while it copies the trees (see `backup.rs`); never held across an `.await`.
    pub(crate) write_gate: RwLock<()>,
    /// Serialises Sieve script changes (quota count, active name); see `scripts.rs`.
    pub(crate) scripts: Mutex<()>,
    /// Serialises sign-ins' device-registry changes (the cap); see `devices.rs`.
    pub(crate) devices: Mutex<()>,
    /// Serialises quota-checked writes per account; see `quota.rs`.
    pub(crate) quota_locks: quota::QuotaLocks,
    commit: GroupCommit,
}

/// The sled-backed mail store. Use it as `Arc<dyn Store>`.
pub struct SledStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (or creates) the store in directory `path`.
    ///
    /// Blocking (sled recovery reads the log): call it before the runtime starts or inside
    /// `spawn_blocking`, or use [`SledStore::open_async`]. Fails with `FormatVersion` if the
    /// store was written by another format version and with `WrongKey` if `key` is not the
    /// key the store was created with.
    pub fn open(path: &Path, key: KeyFile) -> Result<SledStore> {
        SledStore::open_with_cache(path, key, DEFAULT_CACHE_BYTES)
    }

    /// [`SledStore::open`] with sled's page cache set to `cache_bytes` (the daemon's
    /// `[store] sled_cache_mb`): past it sled drops the pages used least recently. sled
    /// 0.34 does not hold to it for pages it writes: about as many bytes as were stored
    /// since the open stay in memory, whatever `cache_bytes` (1 MiB or 256 MiB alike;
    /// BENCHMARKS.md, "SMTP speed and memory").
    pub fn open_with_cache(path: &Path, key: KeyFile, cache_bytes: u64) -> Result<SledStore> {
        // sled calls a store it has just created "recovered"; only an existing one can be.
        let existed = path.join("conf").exists();
        let db = open_db(path, cache_bytes)?;
        let t = Trees::open(&db)?;
        check_format_version(&t)?;
        let sealer = Sealer::new(&key);
        let gram_key = key.search_index_key();
        check_keys(&t.meta, &sealer)?;
        search::warn_if_incomplete(&t)?;
        db.flush()?;
        let commit = GroupCommit::start(db.clone(), &path.join("db"))?;
        if existed {
            tracing::info!(path = %path.display(), recovered = db.was_recovered(), "store open");
        } else {
            tracing::info!(path = %path.display(), "new store created");
        }
        Ok(SledStore {
            inner: Arc::new(Inner {
                db,
                t,
                sealer,
                gram_key,
                hierarchy: Mutex::new(()),
                write_gate: RwLock::new(()),
                scripts: Mutex::new(()),
                devices: Mutex::new(()),
                quota_locks: quota::QuotaLocks::new(),
                commit,
            }),
        })
    }

    /// [`SledStore::open`] on the blocking pool.
    pub async fn open_async(path: &Path, key: KeyFile) -> Result<SledStore> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || SledStore::open(&path, key))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs a read of a few keys at once on the calling task: a point lookup, or at most
    /// [`READ_NOW_KEYS`] keys of a range, answered from sled's page cache in microseconds.
    /// The trip to the blocking pool costs more than that (two thread wake-ups), and on the
    /// IMAP command path those trips were the largest item of the profile (BENCHMARKS.md,
    /// "The signed-in IMAP command path, second round"). Whole mailboxes, bodies and scans
    /// stay on the pool.
    fn read_now<T>(&self, op: impl FnOnce(&Inner) -> Result<T>) -> Result<T> {
        op(&self.inner)
    }

    /// Runs a write of a few keys (see [`READ_NOW_KEYS`]) at once on the calling task, then
    /// waits until it is on disk like [`SledStore::write`]: the transaction only touches
    /// sled's memory; the disk work is the group commit's. While a backup holds the write
    /// gate, the write goes to the blocking pool and waits there instead.
    async fn write_now<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let done = match self.inner.write_gate.try_read() {
            Ok(_gate) => Ok(op(&self.inner)),
            Err(_) => Err(op),
        };
        match done {
            Ok(value) => {
                let value = value?;
                self.inner.commit.durable().await?;
                Ok(value)
            }
            Err(op) => self.write(op).await,
        }
    }

    /// Runs a read on the blocking pool.
    async fn read<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || op(&inner))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs a write on the blocking pool, then waits until it is on disk.
    async fn write<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let value = self
            .read(move |i| {
                let _gate = i.write_gate.read().unwrap_or_else(|e| e.into_inner());
                op(i)
            })
            .await?;
        self.inner.commit.durable().await?;
        Ok(value)
    }
}

impl Inner {
    /// Takes the hierarchy lock (never held across an `.await`: only in sync code).
    pub(crate) fn lock_hierarchy(&self) -> std::sync::MutexGuard<'_, ()> {
        self.hierarchy.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How every store directory is opened (the daemon's store, a restore's target).
/// How long [`open_db`] waits for a file lock a handle of this process still holds.
const LOCK_RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens the sled database at `path`. A database this process has just dropped (a restore
/// reopening what it imported, a test reopening after a crash) keeps its file lock for a
/// moment: sled's background threads let go of the file after the last `Db` is dropped.
/// So a refused lock is retried for up to [`LOCK_RELEASE_WAIT`]; another process holding
/// the store still gets the lock error, only later.
fn open_db(path: &Path, cache_bytes: u64) -> std::result::Result<::sled::Db, ::sled::Error> {
    let deadline = std::time::Instant::now() + LOCK_RELEASE_WAIT;
    loop {
        match sled_config(path, cache_bytes).open() {
            Err(::sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            other => return other,
        }
    }
}

/// The most keys a read or write runs on the calling task rather than the blocking pool
/// ([`SledStore::read_now`], [`SledStore::write_now`]): a few hundred page-cache lookups
/// take tens of microseconds.
pub(crate) const READ_NOW_KEYS: usize = 256;

/// Default of sled's page cache: 256 MiB (sled's own default is 1 GiB, which a busy
/// store fills and keeps).
pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;

fn sled_config(path: &Path, cache_bytes: u64) -> ::sled::Config {
    ::sled::Config::new()
        .path(path)
        .cache_capacity(cache_bytes)
        .mode(::sled::Mode::HighThroughput)
        // sled writes a page larger than a quarter of a segment to a file of its own
        // that it never fsyncs; leaves split only past 16 items, so with 8 MiB segments
        // a leaf of 64 KiB chunks (see chunks.rs) stays in the log, which the group
        // commit syncs.
        .segment_size(SLED_SEGMENT_SIZE)
}

/// Writes the format version into an empty store, or checks the one found, upgrading a
/// store of the previous version in place.
fn check_format_version(t: &Trees) -> Result<()> {
    let meta = &t.meta;
    match meta.get(FORMAT_KEY)? {
        None => {
            // A new store: every body it will hold is indexed as it is stored.
            meta.insert(search::COMPLETE, &[])?;
            meta.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
            Ok(())
        }
        Some(v) => {
            let found: [u8; 4] = v
                .as_ref()
                .try_into()
                .map_err(|_| keys::corrupt(FORMAT_KEY, "format_version is not 4 bytes"))?;
            let found = u32::from_be_bytes(found);
            if found == 1 {
                upgrade_1_to_2(t)?;
            }
            if found <= 2 {
                upgrade_2_to_3(t)?;
            }
            if found <= 3 {
                search::upgrade_3_to_4(t)?;
                return Ok(());
            }
            if found == FORMAT_VERSION {
                Ok(())
            } else {
                Err(StoreError::FormatVersion {
                    found,
                    expected: FORMAT_VERSION,
                })
            }
        }
    }
}

/// Format 1 → 2: every mailbox record flagged subscribed puts its key into the
/// `subscriptions` tree, and the version moves to 2, in one transaction.
fn upgrade_1_to_2(t: &Trees) -> Result<()> {
    let mut subscribed = Vec::new();
    for entry in t.mailboxes.iter() {
        let (k, v) = entry?;
        if keys::decode::<crate::model::Mailbox>(&k, &v)?.subscribed {
            subscribed.push(k);
        }
    }
    tx::finish((&t.meta, &t.subscriptions).transaction(
        |(meta, subscriptions)| -> tx::TxResult<()> {
            for key in &subscribed {
                subscriptions.insert(key.as_ref(), &[] as &[u8])?;
            }
            meta.insert(FORMAT_KEY, &2u32.to_be_bytes())?;
            Ok(())
        },
    ))?;
    tracing::info!(
        subscriptions = subscribed.len(),
        "store format upgraded from 1 to 2"
    );
    Ok(())
}

/// A device record as format 2 wrote it (postcard: the fields in order, no `client`).
#[derive(serde::Deserialize)]
struct DeviceV2 {
    account: String,
    spki_sha256: [u8; 32],
    network: String,
    first_seen: i64,
    last_seen: i64,
    totp_at: Option<i64>,
}

/// Format 2 → 3: every device record is rewritten with `client: None`, and the version
/// moves to 3, in one transaction.
fn upgrade_2_to_3(t: &Trees) -> Result<()> {
    let mut rewritten = Vec::new();
    for entry in t.devices.iter() {
        let (k, v) = entry?;
        let old: DeviceV2 = keys::decode(&k, &v)?;
        let device = crate::model::Device {
            account: old.account,
            spki_sha256: old.spki_sha256,
            network: old.network,
            first_seen: old.first_seen,
            last_seen: old.last_seen,
            totp_at: old.totp_at,
            client: None,
        };
        rewritten.push((k, keys::encode(&device)));
    }
    tx::finish(
        (&t.meta, &t.devices).transaction(|(meta, devices)| -> tx::TxResult<()> {
            for (key, value) in &rewritten {
                devices.insert(key.as_ref(), value.as_slice())?;
            }
            meta.insert(FORMAT_KEY, &3u32.to_be_bytes())?;
            Ok(())
        }),
    )?;
    tracing::info!(
        devices = rewritten.len(),
        "store format upgraded from 2 to 3"
    );
    Ok(())
}

/// Each key id has a check value sealed with it: a key file whose key differs from the one
/// that wrote the store fails here, at open, instead of on the first message read.
fn check_keys(meta: &Tree, sealer: &Sealer) -> Result<()> {
    let prefix = KEY_CHECK_PREFIX;
    for entry in meta.scan_prefix(prefix) {
        let (k, v) = entry?;
        let id = *k.last().ok_or_else(|| keys::corrupt(&k, "empty key"))?;
        match sealer.open(&k, &v) {
            Ok(_) => {}
            Err(StoreError::Decrypt { .. }) => return Err(StoreError::WrongKey { key_id: id }),
            Err(e) => return Err(e),
        }
    }
    for id in sealer.key_ids().collect::<Vec<_>>() {
        let k = [prefix, &[id]].concat();
        if meta.get(&k)?.is_none() {
            meta.insert(k.as_slice(), sealer.seal_with(id, &k, KEY_CHECK_PLAINTEXT)?)?;
        }
    }
    Ok(())
}

#[cfg(feature = "conformance")]
impl SledStore {
    /// How many message bodies the files hold: the distinct ids in `blobs` (a body, its
    /// chunks and its summary share the id's 32 bytes as key prefix), for the conformance
    /// suite's `Fixture::stored_bodies`. An error if `blob_refs` counts other bodies than
    /// `blobs` holds (a leaked body or a count without one).
    pub fn stored_bodies(&self) -> Result<u64> {
        let t = &self.inner.t;
        let mut held = std::collections::BTreeSet::new();
        for key in t.blobs.iter().keys() {
            let key = key?;
            held.insert(key.get(..32).map(<[u8]>::to_vec).unwrap_or_default());
        }
        let mut counted = std::collections::BTreeSet::new();
        for key in t.blob_refs.iter().keys() {
            counted.insert(key?.to_vec());
        }
        if held != counted {
            return Err(keys::corrupt(
                b"blob_refs",
                "reference counts and stored bodies differ",
            ));
        }
        Ok(held.len() as u64)
    }
}
