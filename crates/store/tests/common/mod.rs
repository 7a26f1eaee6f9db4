//! Helpers shared by the store tests: a store in a temporary directory and test people.
#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use certmail_store::{KeyFile, SledStore, Store};

/// A store in its own temporary directory, with the key file beside the database.
pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    /// The same store as `store`, to count its bodies (weak: `close` still drops it).
    sled: Weak<SledStore>,
}

impl std::ops::Deref for TestStore {
    type Target = dyn Store;
    fn deref(&self) -> &(dyn Store + 'static) {
        &*self.store
    }
}

#[async_trait::async_trait]
impl certmail_store::conformance::Fixture for TestStore {
    fn store(&self) -> &dyn Store {
        &*self.store
    }

    async fn stored_bodies(&self) -> Option<u64> {
        let sled = self.sled.upgrade().expect("the store is open");
        Some(
            sled.stored_bodies()
                .expect("bodies and reference counts agree"),
        )
    }
}

impl TestStore {
    pub async fn new() -> TestStore {
        let dir = tempfile::tempdir().expect("temp dir");
        TestStore::open_in(dir).await
    }

    async fn open_in(dir: tempfile::TempDir) -> TestStore {
        let sled = open_sled(dir.path()).await;
        TestStore {
            dir,
            sled: Arc::downgrade(&sled),
            store: sled,
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("db")
    }

    /// Drops the store (waiting for its flusher) and opens it again.
    pub async fn reopen(self) -> TestStore {
        let TestStore { dir, store, .. } = self;
        close(store);
        TestStore::open_in(dir).await
    }
}

/// Drops the last handle of a store; panics if another handle is still alive.
pub fn close(store: Arc<dyn Store>) {
    assert_eq!(Arc::strong_count(&store), 1, "store still shared");
    drop(store);
}

pub fn key_path(dir: &Path) -> PathBuf {
    dir.join("store.key")
}

/// Opens the store in `dir`. Right after a close, sled's background threads may still hold
/// the file lock for a moment (longer on a busy machine): wait for it, at most 5 s.
pub async fn open(dir: &Path) -> Arc<dyn Store> {
    open_sled(dir).await
}

/// [`open`], as the sled type.
async fn open_sled(dir: &Path) -> Arc<SledStore> {
    let mut last = None;
    for _ in 0..250 {
        let key = KeyFile::load_or_create(&key_path(dir)).expect("key file");
        match SledStore::open_async(&dir.join("db"), key).await {
            Ok(store) => return Arc::new(store),
            Err(e) if e.to_string().contains("lock") => {
                last = Some(e);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => panic!("open store: {e}"),
        }
    }
    panic!("open store: the lock was not released: {last:?}")
}

// The test people and messages are the conformance suite's, so both read alike.
#[allow(unused_imports)] // each test file uses a different subset
pub use certmail_store::conformance::{body, flags, hong, kim, message};

/// Opens a closed store's sled files directly (to inspect or tamper), with the store's
/// segment size.
pub fn raw_sled(path: &Path) -> sled::Db {
    // Like `open`: a handle closed a moment ago may still hold the lock (at most 5 s).
    let mut last = None;
    for _ in 0..250 {
        match sled::Config::new()
            .path(path)
            .segment_size(certmail_store::SLED_SEGMENT_SIZE)
            .open()
        {
            Ok(db) => return db,
            Err(e) if e.to_string().contains("could not acquire lock") => {
                last = Some(e);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("sled opens: {e}"),
        }
    }
    panic!("sled opens: the lock was not released: {last:?}")
}
