//! Online backup and restore of the whole store.
//!
//! A backup is a directory holding `store.dump` (every record of every tree, as stored:
//! bodies and account records stay encrypted with the installation key) and
//! `manifest.json` ([`BackupManifest`]: format version, record counts, SHA-256 of the dump),
//! written last, so a directory with a manifest holds a complete backup.
//!
//! **Why the copy is consistent.** sled 0.34 has no read view spanning trees: an iterator
//! sees its tree as it is while it moves, and `Db::export` walks the trees one after the
//! other, so a copy made beside running writers could hold a message entry without its
//! body, or a UID counter behind the UIDs it handed out. Every write of this store runs as
//! one synchronous operation on the blocking pool inside [`Inner::write_gate`] (shared), and
//! each operation leaves the trees consistent when it returns (multi-tree changes are sled
//! transactions inside it). The backup takes the gate exclusively: it waits for the
//! operations in flight, flushes, copies every tree while no write can start, and lets the
//! writers go. The copy is therefore exactly the store between two write operations, and
//! everything in it is on disk. Reads go on meanwhile; writers (deliveries, flag changes)
//! wait for the copy, which costs roughly the time to read the store once. The only write
//! outside the gate is the FETCH summary cache (one self-contained record per body).
//!
//! Restore writes the records into a new, empty store directory (daemon stopped), after
//! checking the dump's checksum and that the key file opens the backup's key check values,
//! so a wrong key fails before anything is written.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Inner, SledStore, Trees};
use crate::crypto::{KeyFile, Sealer};
use crate::error::{Result, StoreError};

/// The backup format this build writes and reads.
pub const BACKUP_VERSION: u32 = 1;
/// The name of the manifest file in a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The name of the data file in a backup directory.
pub const DUMP_FILE: &str = "store.dump";

const MAGIC: &[u8; 16] = b"CERTMAIL-BACKUP\0";
const FORMAT_NAME: &str = "certmail-backup";
/// Largest key or value accepted when reading a dump (bounds memory on a damaged file).
const MAX_RECORD: usize = 64 * 1024 * 1024;
const TAG_TREE: u8 = b'T';
const TAG_ENTRY: u8 = b'E';
const TAG_END: u8 = b'Z';

/// What a backup holds: `manifest.json` in the backup directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// Always `certmail-backup`.
    pub format: String,
    /// The backup format version ([`BACKUP_VERSION`]).
    pub version: u32,
    /// The store's on-disk format version ([`super::FORMAT_VERSION`]) of the records.
    pub store_format_version: u32,
    /// When the snapshot was taken, Unix seconds.
    pub created_at: i64,
    /// The data file's name in the directory.
    pub data_file: String,
    /// The data file's size, bytes.
    pub bytes: u64,
    /// SHA-256 of the data file, hex.
    pub sha256: String,
    /// Ids of the keys the records are encrypted with (the key file must hold them all).
    pub key_ids: Vec<u8>,
    /// Records per sled tree.
    pub trees: BTreeMap<String, u64>,
    /// What a person checks: accounts, mailboxes, messages, bodies, queue entries, audit
    /// events.
    pub counts: BackupCounts,
}

/// Record counts a person recognises, in a [`BackupManifest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupCounts {
    /// Accounts.
    pub accounts: u64,
    /// Mailboxes of all accounts.
    pub mailboxes: u64,
    /// Messages in all mailboxes (a body in two mailboxes counts twice).
    pub messages: u64,
    /// Distinct message bodies (stored once each).
    pub bodies: u64,
    /// Outbound queue entries.
    pub queue: u64,
    /// Audit log events.
    pub audit_events: u64,
}

impl BackupCounts {
    fn of(t: &Trees) -> BackupCounts {
        BackupCounts {
            accounts: t.accounts.len() as u64,
            mailboxes: t.mailboxes.len() as u64,
            messages: t.messages.len() as u64,
            bodies: t.blob_refs.len() as u64,
            queue: t.queue.len() as u64,
            audit_events: t.audit.len() as u64,
        }
    }
}

impl Inner {
    /// Writes a consistent snapshot into `dir` (see the module docs); blocking.
    pub(crate) fn backup(&self, dir: &Path, now: i64) -> Result<BackupManifest> {
        prepare_backup_dir(dir)?;
        let _no_writes = self.write_gate.write().unwrap_or_else(|e| e.into_inner());
        self.db.flush()?;
        let dump_path = dir.join(DUMP_FILE);
        let file = File::create(&dump_path).map_err(|e| io(&dump_path, e))?;
        let mut out = HashingWriter::new(BufWriter::new(file));
        let mut trees = BTreeMap::new();
        let mut w = |bytes: &[u8]| out.write_all(bytes).map_err(|e| io(&dump_path, e));
        w(MAGIC)?;
        w(&BACKUP_VERSION.to_be_bytes())?;
        // `meta` first: restore checks the key against it before writing anything.
        let mut names: Vec<_> = self.db.tree_names();
        names.sort_by_key(|n| n.as_ref() != b"meta");
        for name in names {
            let tree = self.db.open_tree(&name)?;
            let name_text = String::from_utf8_lossy(&name).into_owned();
            w(&[TAG_TREE])?;
            w(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_be_bytes())?;
            w(&name)?;
            let mut n = 0u64;
            for entry in tree.iter() {
                let (k, v) = entry?;
                w(&[TAG_ENTRY])?;
                for part in [&k[..], &v[..]] {
                    w(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes())?;
                    w(part)?;
                }
                n += 1;
            }
            trees.insert(name_text, n);
        }
        w(&[TAG_END])?;
        let counts = BackupCounts::of(&self.t);
        let key_ids = stored_key_ids(&self.t.meta)?;
        drop(_no_writes);
        let (bytes, sha256) = out.finish().map_err(|e| io(&dump_path, e))?;
        let manifest = BackupManifest {
            format: FORMAT_NAME.into(),
            version: BACKUP_VERSION,
            store_format_version: super::FORMAT_VERSION,
            created_at: now,
            data_file: DUMP_FILE.into(),
            bytes,
            sha256,
            key_ids,
            trees,
            counts,
        };
        write_manifest(dir, &manifest)?;
        Ok(manifest)
    }
}

impl SledStore {
    /// Restores the backup in `backup_dir` into a new store at `target` (blocking; the
    /// daemon must be stopped). `target` must not exist or hold an empty store (see
    /// [`SledStore::is_empty_store`]). Fails with `WrongKey` / `UnknownKeyId` before writing
    /// anything if `key` is not the key the backup's records are encrypted with, and with
    /// `Backup` if the directory is not a complete, undamaged backup of this format.
    pub fn restore(backup_dir: &Path, target: &Path, key: KeyFile) -> Result<BackupManifest> {
        let manifest = read_manifest(backup_dir)?;
        let dump = backup_dir.join(&manifest.data_file);
        let sealer = Sealer::new(&key);
        verify_dump(&dump, &manifest, &sealer)?;
        if target.exists() {
            if !SledStore::is_empty_store(target)? {
                return Err(backup_error(format!(
                    "{} already holds mail; restore only into an empty store",
                    target.display()
                )));
            }
            std::fs::remove_dir_all(target).map_err(|e| io(target, e))?;
        }
        import_dump(&dump, target)?;
        // Open it as the daemon will: format version (an older one is upgraded here) and
        // key checks, then compare counts.
        let store = SledStore::open(target, key)?;
        let counts = BackupCounts::of(&store.inner.t);
        drop(store);
        if counts != manifest.counts {
            return Err(backup_error(format!(
                "the restored store holds {counts:?}, the manifest says {:?}",
                manifest.counts
            )));
        }
        Ok(manifest)
    }

    /// Whether `path` holds no store, or a store without any record beyond its format
    /// version and key checks (a fresh installation). Blocking.
    pub fn is_empty_store(path: &Path) -> Result<bool> {
        let has_files = std::fs::read_dir(path)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        if !has_files {
            return Ok(true);
        }
        let db = super::open_db(path, super::DEFAULT_CACHE_BYTES)?;
        for name in db.tree_names() {
            if name.as_ref() != b"meta" && !db.open_tree(&name)?.is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The backup directory must be new or empty (never overwrite an older backup).
fn prepare_backup_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let not_empty = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .next()
        .is_some();
    if not_empty {
        return Err(backup_error(format!(
            "{} is not empty; back up into a new directory",
            dir.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io(dir, e))?;
    }
    Ok(())
}

/// Key ids that have a check value in `meta` (`key_check/<id>`).
fn stored_key_ids(meta: &::sled::Tree) -> Result<Vec<u8>> {
    let mut ids = Vec::new();
    for entry in meta.scan_prefix(super::KEY_CHECK_PREFIX) {
        let (k, _) = entry?;
        ids.extend(k.last().copied());
    }
    Ok(ids)
}

fn write_manifest(dir: &Path, manifest: &BackupManifest) -> Result<()> {
    let path = dir.join(MANIFEST_FILE);
    let text = serde_json::to_vec_pretty(manifest)
        .map_err(|e| backup_error(format!("cannot encode the manifest: {e}")))?;
    let mut f = File::create(&path).map_err(|e| io(&path, e))?;
    f.write_all(&text).map_err(|e| io(&path, e))?;
    f.sync_all().map_err(|e| io(&path, e))
}

/// Reads and checks `manifest.json`.
pub fn read_manifest(dir: &Path) -> Result<BackupManifest> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read(&path).map_err(|e| {
        backup_error(format!(
            "{} is not a complete certmail backup (no readable {MANIFEST_FILE}: {e})",
            dir.display()
        ))
    })?;
    let m: BackupManifest = serde_json::from_slice(&text)
        .map_err(|e| backup_error(format!("{}: {e}", path.display())))?;
    if m.format != FORMAT_NAME || m.version != BACKUP_VERSION {
        return Err(backup_error(format!(
            "{} is a {} version {} backup; this build reads {FORMAT_NAME} version {BACKUP_VERSION}",
            path.display(),
            m.format,
            m.version
        )));
    }
    // Records of an older store format are restored as they were and upgraded in place
    // when restore opens the store (`check_format_version`), as a store of that format
    // would be; a newer format is refused.
    if m.store_format_version == 0 || m.store_format_version > super::FORMAT_VERSION {
        return Err(StoreError::FormatVersion {
            found: m.store_format_version,
            expected: super::FORMAT_VERSION,
        });
    }
    if m.data_file.contains('/') || m.data_file.starts_with('.') {
        return Err(backup_error(format!(
            "{}: bad data file name",
            path.display()
        )));
    }
    Ok(m)
}

/// First pass: the checksum, the record framing, and the key check values.
fn verify_dump(dump: &Path, manifest: &BackupManifest, sealer: &Sealer) -> Result<()> {
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    let mut reader = DumpReader::open(dump, Some(&mut hash))?;
    let mut checked = 0;
    while let Some(rec) = reader.next_record()? {
        if let Record::Entry { tree, key, value } = rec
            && tree == b"meta"
            && key.starts_with(super::KEY_CHECK_PREFIX)
        {
            let key_id = key.last().copied().unwrap_or(0);
            match sealer.open(&key, &value) {
                Ok(_) => checked += 1,
                Err(StoreError::Decrypt { .. }) => return Err(StoreError::WrongKey { key_id }),
                Err(e) => return Err(e),
            }
        }
    }
    drop(reader);
    let sha = hex::encode(hash.finish().as_ref());
    if sha != manifest.sha256 {
        return Err(backup_error(format!(
            "{} is damaged: its SHA-256 is {sha}, the manifest says {}",
            dump.display(),
            manifest.sha256
        )));
    }
    if checked == 0 {
        return Err(backup_error("the backup holds no key check value".into()));
    }
    Ok(())
}

/// Second pass: every record into a new sled database at `target`, then one flush.
fn import_dump(dump: &Path, target: &Path) -> Result<()> {
    let db = super::open_db(target, super::DEFAULT_CACHE_BYTES)?;
    let mut reader = DumpReader::open(dump, None)?;
    let mut tree: Option<::sled::Tree> = None;
    let mut batch = ::sled::Batch::default();
    let mut pending = 0usize;
    while let Some(rec) = reader.next_record()? {
        match rec {
            Record::Tree(name) => {
                if let Some(t) = &tree {
                    t.apply_batch(std::mem::take(&mut batch))?;
                }
                pending = 0;
                tree = Some(db.open_tree(name)?);
            }
            Record::Entry { key, value, .. } => {
                batch.insert(key, value);
                pending += 1;
                if pending >= 512
                    && let Some(t) = &tree
                {
                    t.apply_batch(std::mem::take(&mut batch))?;
                    pending = 0;
                }
            }
        }
    }
    if let Some(t) = &tree {
        t.apply_batch(batch)?;
    }
    db.flush()?;
    Ok(())
}

/// One record of a dump.
enum Record {
    /// The following entries belong to this tree.
    Tree(Vec<u8>),
    /// One key/value pair of `tree`.
    Entry {
        tree: Vec<u8>,
        key: Vec<u8>,
        value: Vec<u8>,
    },
}

struct DumpReader<'h> {
    input: BufReader<File>,
    hash: Option<&'h mut ring::digest::Context>,
    tree: Option<Vec<u8>>,
    path: std::path::PathBuf,
    ended: bool,
}

impl<'h> DumpReader<'h> {
    fn open(path: &Path, hash: Option<&'h mut ring::digest::Context>) -> Result<Self> {
        let file = File::open(path).map_err(|e| io(path, e))?;
        let mut r = DumpReader {
            input: BufReader::new(file),
            hash,
            tree: None,
            path: path.to_owned(),
            ended: false,
        };
        let magic = r.bytes(MAGIC.len())?;
        let version = r.bytes(4)?;
        if magic != MAGIC || version != BACKUP_VERSION.to_be_bytes() {
            return Err(r.damaged("not a certmail backup dump of this version"));
        }
        Ok(r)
    }

    fn next_record(&mut self) -> Result<Option<Record>> {
        if self.ended {
            return Ok(None);
        }
        match self.bytes(1)?[0] {
            TAG_TREE => {
                let len = self.bytes(2)?;
                let name = self.bytes(usize::from(u16::from_be_bytes([len[0], len[1]])))?;
                self.tree = Some(name.clone());
                Ok(Some(Record::Tree(name)))
            }
            TAG_ENTRY => {
                let Some(tree) = self.tree.clone() else {
                    return Err(self.damaged("an entry before any tree"));
                };
                let key = self.sized()?;
                let value = self.sized()?;
                Ok(Some(Record::Entry { tree, key, value }))
            }
            TAG_END => {
                let mut rest = [0u8; 1];
                if self.input.read(&mut rest).map_err(|e| io(&self.path, e))? != 0 {
                    return Err(self.damaged("data after the end mark"));
                }
                self.ended = true;
                Ok(None)
            }
            _ => Err(self.damaged("unknown record tag")),
        }
    }

    fn sized(&mut self) -> Result<Vec<u8>> {
        let len = self.bytes(4)?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len > MAX_RECORD {
            return Err(self.damaged("a record larger than any the store writes"));
        }
        self.bytes(len)
    }

    fn bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        self.input.read_exact(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.damaged("truncated")
            } else {
                io(&self.path, e)
            }
        })?;
        if let Some(h) = self.hash.as_deref_mut() {
            h.update(&buf);
        }
        Ok(buf)
    }

    fn damaged(&self, why: &str) -> StoreError {
        backup_error(format!("{} is damaged: {why}", self.path.display()))
    }
}

/// A writer that hashes what passes through it.
struct HashingWriter<W: Write> {
    inner: W,
    hash: ring::digest::Context,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hash: ring::digest::Context::new(&ring::digest::SHA256),
            bytes: 0,
        }
    }
}

impl HashingWriter<BufWriter<File>> {
    /// Flushes and syncs the file; returns its size and SHA-256 (hex).
    fn finish(self) -> std::io::Result<(u64, String)> {
        let file = self.inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok((self.bytes, hex::encode(self.hash.finish().as_ref())))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn backup_error(reason: String) -> StoreError {
    StoreError::Backup(reason)
}
