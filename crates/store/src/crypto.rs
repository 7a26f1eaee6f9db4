//! Encryption at rest: the key file and AES-256-GCM sealing of records.
//!
//! A sealed value is `key_id (1 byte) || nonce (12) || ciphertext || tag (16)`; the
//! associated data is the record's tree name and key, so a value moved to another record
//! fails to open. Nonces are random (fine below ~2^32 records per key).
//!
//! The key file is text, one key per line: `<id> <64 hex digits>`, ids 1..=255. The highest
//! id seals new records; every key in the file opens old ones (key rotation appends a line).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Result, StoreError};

/// Length of a key, bytes.
const KEY_LEN: usize = 32;
/// Bytes a sealed value adds to its plaintext: key id, nonce, tag.
pub const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + 16;

/// The store's encryption keys, loaded from a key file. `Debug` never shows key material.
#[derive(Clone)]
pub struct KeyFile {
    path: PathBuf,
    keys: BTreeMap<u8, [u8; KEY_LEN]>,
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile")
            .field("path", &self.path)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KeyFile {
    /// Loads the key file, or creates it with one fresh random key (mode 0600) if missing.
    pub fn load_or_create(path: &Path) -> Result<KeyFile> {
        match Self::generate(path) {
            Ok(key) => Ok(key),
            Err(StoreError::KeyFileExists(_)) => Self::load(path),
            Err(e) => Err(e),
        }
    }

    /// Creates a new key file with one random key, mode 0600; refuses to overwrite.
    ///
    /// The key is written and synced to a temporary file first, then hard-linked to `path`
    /// (which fails if `path` exists), so a crash never leaves a half-written key file.
    pub fn generate(path: &Path) -> Result<KeyFile> {
        if path.exists() {
            return Err(StoreError::KeyFileExists(path.to_owned()));
        }
        let mut key = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| key_err(path, "the system random generator failed"))?;
        let temp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = write_private(&temp, format!("1 {}\n", hex::encode(key)).as_bytes());
        let linked = written.and_then(|()| {
            std::fs::hard_link(&temp, path).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => StoreError::KeyFileExists(path.to_owned()),
                _ => StoreError::Io {
                    path: path.to_owned(),
                    source: e,
                },
            })
        });
        // The temporary name goes whatever happened; a leftover would only hold a copy.
        let _ = std::fs::remove_file(&temp);
        linked?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the new directory entry durable too.
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|source| StoreError::Io {
                    path: dir.to_owned(),
                    source,
                })?;
        }
        Ok(KeyFile {
            path: path.to_owned(),
            keys: BTreeMap::from([(1, key)]),
        })
    }

    /// Loads an existing key file.
    pub fn load(path: &Path) -> Result<KeyFile> {
        let text = std::fs::read_to_string(path).map_err(|source| StoreError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut keys = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| key_err(path, &format!("line {}: {what}", n + 1));
            let (id, hex_key) = line
                .split_once(' ')
                .ok_or_else(|| bad("expected `ID HEX`"))?;
            let id: u8 = id.parse().map_err(|_| bad("key id must be 1..=255"))?;
            if id == 0 {
                return Err(bad("key id must be 1..=255"));
            }
            let bytes = hex::decode(hex_key.trim()).map_err(|_| bad("key is not hex"))?;
            let key: [u8; KEY_LEN] = bytes
                .try_into()
                .map_err(|_| bad("key must be 32 bytes (64 hex digits)"))?;
            if keys.insert(id, key).is_some() {
                return Err(bad("duplicate key id"));
            }
        }
        if keys.is_empty() {
            return Err(key_err(path, "no key in file"));
        }
        Ok(KeyFile {
            path: path.to_owned(),
            keys,
        })
    }

    /// A key file held only in memory (tests, tools).
    pub fn from_bytes(key: [u8; KEY_LEN]) -> KeyFile {
        KeyFile {
            path: PathBuf::from("<memory>"),
            keys: BTreeMap::from([(1, key)]),
        }
    }

    /// The file this key came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key of the search index's n-gram hashes: HKDF-SHA256 of the key with the
    /// lowest id (rotation appends keys, so this one stays and the postings stay valid).
    pub fn search_index_key(&self) -> crate::search_index::GramKey {
        let (_, first) = self
            .keys
            .iter()
            .next()
            .expect("KeyFile is never empty (load and from_bytes refuse it)");
        crate::search_index::GramKey::derive(first)
    }
}

/// Writes a new owner-only (0600) file and syncs it.
fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)
}

fn key_err(path: &Path, reason: &str) -> StoreError {
    StoreError::KeyFile {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Seals and opens records with the keys of a [`KeyFile`] (every backend uses it, so a
/// record sealed by one opens in another).
pub struct Sealer {
    current: u8,
    keys: BTreeMap<u8, LessSafeKey>,
    rng: SystemRandom,
}

impl Sealer {
    /// A sealer with every key of `file`; new records are sealed with the highest id.
    pub fn new(file: &KeyFile) -> Sealer {
        let keys = file
            .keys
            .iter()
            .map(|(id, k)| {
                let key = UnboundKey::new(&AES_256_GCM, k).expect("key length is 32 by type");
                (*id, LessSafeKey::new(key))
            })
            .collect::<BTreeMap<_, _>>();
        let current = *file
            .keys
            .keys()
            .next_back()
            .expect("KeyFile is never empty");
        Sealer {
            current,
            keys,
            rng: SystemRandom::new(),
        }
    }

    /// Ids of all keys available.
    pub fn key_ids(&self) -> impl Iterator<Item = u8> + '_ {
        self.keys.keys().copied()
    }

    /// Encrypts `plaintext` for the record named by `aad` with the current key.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        self.seal_with(self.current, aad, plaintext)
    }

    /// Encrypts with a given key id.
    pub fn seal_with(&self, key_id: u8, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = self
            .keys
            .get(&key_id)
            .ok_or(StoreError::UnknownKeyId(key_id))?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| StoreError::Task("the system random generator failed".into()))?;
        let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
        out.push(key_id);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut body,
        )
        .map_err(|_| StoreError::Task("AES-GCM seal failed".into()))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decrypts a sealed value; any damage, a wrong key or a moved record gives `Decrypt`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        let fail = || StoreError::Decrypt {
            record: printable(aad),
        };
        if sealed.len() < SEAL_OVERHEAD {
            return Err(fail());
        }
        let key_id = sealed[0];
        let key = self
            .keys
            .get(&key_id)
            .ok_or(StoreError::UnknownKeyId(key_id))?;
        let nonce =
            Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN]).map_err(|_| fail())?;
        let mut body = sealed[1 + NONCE_LEN..].to_vec();
        let plain_len = key
            .open_in_place(nonce, Aad::from(aad), &mut body)
            .map_err(|_| fail())?
            .len();
        body.truncate(plain_len);
        Ok(body)
    }
}

/// A record key in printable form for error messages.
pub fn printable(key: &[u8]) -> String {
    key.iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}
