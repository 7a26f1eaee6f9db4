//! Reopen, encryption at rest, format version, concurrency and group commit.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use certmail_store::prelude::*;
use certmail_store::{FORMAT_VERSION, FlagOp, KeyFile, SledStore, StoreError};
use common::{TestStore, body, flags, hong, key_path, message, raw_sled};

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let ts = TestStore::new().await;
    let mut a = hong();
    a.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    ts.store.create_account(a.clone()).await.unwrap();
    ts.store.create_mailbox("hong", "보관", None).await.unwrap();
    for n in 1..=3 {
        ts.store.append("hong", "보관", message(n)).await.unwrap();
    }
    ts.store
        .set_flags(
            "hong",
            "보관",
            certmail_store::conformance::flag_change(&[2], FlagOp::Add, &flags(&["\\Seen"])),
        )
        .await
        .unwrap();
    let before = ts.store.mailbox("hong", "보관").await.unwrap().unwrap();

    let ts = ts.reopen().await;
    assert_eq!(ts.store.account("hong").await.unwrap(), Some(a));
    assert_eq!(
        ts.store.mailbox("hong", "보관").await.unwrap(),
        Some(before.clone())
    );
    let msgs = ts
        .store
        .messages("hong", "보관", 1..=u32::MAX)
        .await
        .unwrap();
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[1].flags, ["\\Seen"]);
    assert_eq!(
        ts.store.message_body("hong", &msgs[2].blob).await.unwrap(),
        body(3)
    );
    // Counters continue after reopen: no UID or UIDVALIDITY is reused.
    let (_, uid, modseq) = ts.store.append("hong", "보관", message(4)).await.unwrap();
    assert_eq!(uid, 4);
    assert!(modseq > before.highest_modseq);
    let fresh = ts
        .store
        .create_mailbox("hong", "새 편지함", None)
        .await
        .unwrap();
    assert_ne!(fresh.uid_validity, before.uid_validity);
}

#[tokio::test]
async fn wrong_key_is_refused_at_open() {
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    let db_path = ts.db_path();
    common::close(ts.store);
    let other = ts.dir.path().join("other.key");
    let err = SledStore::open(&db_path, KeyFile::generate(&other).unwrap()).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { key_id: 1 }), "{err}");
    assert!(err.to_string().contains("wrong key"));
    // The right key still opens it.
    SledStore::open(&db_path, KeyFile::load(&key_path(ts.dir.path())).unwrap()).unwrap();
}

/// Rewrites one record of the closed store's raw database.
fn tamper(db_path: &std::path::Path, tree: &str, edit: impl FnOnce(&sled::Tree)) {
    let db = raw_sled(db_path);
    edit(&db.open_tree(tree).unwrap());
    db.flush().unwrap();
}

/// Marks the closed store at `db_path` as written by format `version`.
fn set_format(db_path: &std::path::Path, version: u32) {
    tamper(db_path, "meta", |t| {
        t.insert("format_version", &version.to_be_bytes()).unwrap();
    });
}

/// Asserts the closed store at `db_path` is marked with the current format.
fn assert_current_format(db_path: &std::path::Path) {
    tamper(db_path, "meta", |t| {
        assert_eq!(
            t.get("format_version").unwrap().unwrap().as_ref(),
            FORMAT_VERSION.to_be_bytes()
        );
    });
}

/// Opens the store at `db_path` with the key in `dir` (where an upgrade runs).
fn reopen(dir: &tempfile::TempDir, db_path: &std::path::Path) -> Result<SledStore, StoreError> {
    let key = KeyFile::load(&key_path(dir.path())).unwrap();
    SledStore::open(db_path, key)
}

#[tokio::test]
async fn corrupted_or_moved_bodies_give_errors_not_garbage() {
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    ts.store.append("hong", "INBOX", message(1)).await.unwrap();
    ts.store.append("hong", "INBOX", message(2)).await.unwrap();
    let msgs = ts.store.messages("hong", "INBOX", 1..=2).await.unwrap();
    let (b1, b2) = (msgs[0].blob, msgs[1].blob);
    let db_path = ts.db_path();
    common::close(ts.store);

    // Bodies are not stored in the clear.
    tamper(&db_path, "blobs", |t| {
        let sealed = t.get(b1.0).unwrap().unwrap();
        assert!(!sealed.windows(6).any(|w| w == "회의".as_bytes()));
        // One flipped bit in the ciphertext.
        let mut bad = sealed.to_vec();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x01;
        t.insert(b1.0, bad).unwrap();
        // Body 1's valid ciphertext under body 2's key: the AAD no longer matches.
        t.insert(b2.0, sealed).unwrap();
    });
    let store = common::open(ts.dir.path()).await;
    for blob in [b1, b2] {
        let err = store.message_body("hong", &blob).await.unwrap_err();
        assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
        assert!(!err.is_user_error());
    }
    common::close(store);

    tamper(&db_path, "blobs", |t| {
        t.insert(b1.0, &[1u8, 2, 3][..]).unwrap(); // truncated
    });
    let store = common::open(ts.dir.path()).await;
    let err = store.message_body("hong", &b1).await.unwrap_err();
    assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
}

#[tokio::test]
async fn account_secrets_are_encrypted_at_rest() {
    let ts = TestStore::new().await;
    let mut a = hong();
    a.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$U0FMVFNBTFQ$SEFTSEhBU0g".into());
    a.totp_secret = Some(b"TOTP-SECRET-BYTES-20".to_vec());
    ts.store.create_account(a).await.unwrap();
    let db_path = ts.db_path();
    common::close(ts.store);
    tamper(&db_path, "accounts", |t| {
        let raw = t.get("hong").unwrap().unwrap();
        for needle in [&b"argon2id"[..], b"TOTP-SECRET", "홍길동".as_bytes()] {
            assert!(!raw.windows(needle.len()).any(|w| w == needle));
        }
    });
}

/// Format 1 kept subscriptions as a flag on the mailbox record; opening such a store moves
/// the flags into the subscription list (format 2), which then outlives DELETE.
#[tokio::test]
async fn format_1_subscriptions_are_upgraded_to_the_list() {
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    ts.store.create_mailbox("hong", "a/b", None).await.unwrap();
    let db_path = ts.db_path();
    common::close(ts.store);
    // Back to format 1: flags on the records, no list.
    tamper(&db_path, "mailboxes", |t| {
        for entry in t.iter() {
            let (k, v) = entry.unwrap();
            let mut mailbox: certmail_store::Mailbox =
                certmail_store::shared::decode(&k, &v).unwrap();
            mailbox.subscribed = mailbox.name != "a";
            t.insert(k, certmail_store::shared::encode(&mailbox))
                .unwrap();
        }
    });
    tamper(&db_path, "subscriptions", |t| t.clear().unwrap());
    set_format(&db_path, 1);
    let store = reopen(&ts.dir, &db_path).unwrap();
    assert_eq!(store.subscriptions("hong").await.unwrap(), ["INBOX", "a/b"]);
    store.delete_mailbox("hong", "a/b").await.unwrap();
    assert_eq!(store.subscriptions("hong").await.unwrap(), ["INBOX", "a/b"]);
    drop(store);
    assert_current_format(&db_path);
}

/// Format 2 had no `client` on the device record; opening such a store rewrites every
/// device record (format 3), keeping what it held.
#[tokio::test]
async fn format_2_devices_are_upgraded_without_a_client() {
    let ts = TestStore::new().await;
    let db_path = ts.db_path();
    common::close(ts.store);
    // A device record as format 2 wrote it: the fields in order, no client.
    let old = (
        "hong".to_string(),
        [7u8; 32],
        "10.1.2.0/24".to_string(),
        100i64,
        200i64,
        Some(150i64),
    );
    tamper(&db_path, "devices", |t| {
        // The key: the account as a length-prefixed string, the SPKI hash, the network.
        let mut key = vec![0, 4];
        key.extend_from_slice(b"hong");
        key.extend_from_slice(&[7u8; 32]);
        key.extend_from_slice(b"10.1.2.0/24");
        t.insert(key, certmail_store::shared::encode(&old)).unwrap();
    });
    set_format(&db_path, 2);
    let store = reopen(&ts.dir, &db_path).unwrap();
    let devices = store.devices_of("hong").await.unwrap();
    assert_eq!(devices.len(), 1, "{devices:?}");
    let d = &devices[0];
    assert_eq!(
        (d.first_seen, d.last_seen, d.totp_at),
        (100, 200, Some(150))
    );
    assert_eq!(
        (d.network.as_str(), d.client.as_deref()),
        ("10.1.2.0/24", None)
    );
    drop(store);
    assert_current_format(&db_path);
}

#[tokio::test]
async fn other_format_versions_are_refused_with_both_numbers() {
    let ts = TestStore::new().await;
    let db_path = ts.db_path();
    common::close(ts.store);
    assert_current_format(&db_path);
    set_format(&db_path, FORMAT_VERSION + 1);
    let err = reopen(&ts.dir, &db_path).unwrap_err();
    assert!(
        matches!(err, StoreError::FormatVersion { found, expected } if found == FORMAT_VERSION + 1 && expected == FORMAT_VERSION),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("{}", FORMAT_VERSION + 1))
            && text.contains(&FORMAT_VERSION.to_string()),
        "{text}"
    );
}

#[tokio::test]
async fn key_files_are_private_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("certmail.key");
    let created = KeyFile::load_or_create(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("1 ") && text.trim_end().len() == 2 + 64,
        "{text}"
    );
    assert!(
        !format!("{created:?}").contains(&text[2..12]),
        "Debug shows no key material"
    );
    assert!(matches!(
        KeyFile::generate(&path),
        Err(StoreError::KeyFileExists(_))
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "unchanged");
    KeyFile::load_or_create(&path).unwrap(); // loads the same file

    std::fs::write(&path, "1 abcd\n").unwrap();
    assert!(matches!(
        KeyFile::load(&path),
        Err(StoreError::KeyFile { .. })
    ));
    std::fs::write(&path, "").unwrap();
    assert!(matches!(
        KeyFile::load(&path),
        Err(StoreError::KeyFile { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appenders_get_unique_increasing_uids() {
    const WRITERS: u32 = 16;
    const EACH: u32 = 10;
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = ts.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut uids = Vec::new();
            for n in 0..EACH {
                let (_, uid, modseq) = store
                    .append("hong", "INBOX", message(w * 100 + n))
                    .await
                    .unwrap();
                uids.push((uid, modseq));
            }
            uids
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let uids = task.await.unwrap();
        assert!(
            uids.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1),
            "{uids:?}"
        );
        all.extend(uids.into_iter().map(|(uid, _)| uid));
    }
    all.sort_unstable();
    let expected: Vec<u32> = (1..=WRITERS * EACH).collect();
    assert_eq!(all, expected, "every UID exactly once");
    let inbox = ts.store.mailbox("hong", "INBOX").await.unwrap().unwrap();
    assert_eq!(
        (inbox.exists, inbox.uid_next),
        (WRITERS * EACH, WRITERS * EACH + 1)
    );
    let stored = ts
        .store
        .messages("hong", "INBOX", 1..=u32::MAX)
        .await
        .unwrap();
    assert_eq!(stored.iter().map(|m| m.uid).collect::<Vec<_>>(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_share_flushes() {
    const WRITERS: u32 = 32;
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    let before = ts.store.stats();
    let start = Arc::new(tokio::sync::Barrier::new(WRITERS as usize));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|n| {
            let (store, start) = (ts.store.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                store.append("hong", "INBOX", message(n)).await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let after = ts.store.stats();
    let writes = after.writes - before.writes;
    let flushes = after.flushes - before.flushes;
    assert_eq!(writes, u64::from(WRITERS));
    assert!(
        flushes >= 1 && flushes < writes,
        "{flushes} flushes for {writes} writes"
    );
}

#[test]
fn open_outside_a_runtime_then_use_inside_one() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyFile::load_or_create(&key_path(dir.path())).unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir.path().join("db"), key).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        store.create_account(hong()).await.unwrap();
        assert!(store.account("hong").await.unwrap().is_some());
    });
}

/// Format 3 kept one search key per posting; opening such a store drops that index (format
/// 4), searches stay right by treating unindexed mail as candidates, and `reindex`
/// rebuilds the index in the new layout, which then narrows again, also after a reopen.
#[tokio::test]
async fn format_3_search_index_is_dropped_and_rebuilt_by_reindex() {
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    for text in ["분기 보고서를 보냅니다", "점심 메뉴 안내"] {
        let mut m = message(1);
        m.body = format!("From: 김민준 <minjun@example.kr>\r\nSubject: 안내\r\n\r\n{text}\r\n")
            .into_bytes();
        ts.store.append("hong", "INBOX", m).await.unwrap();
    }
    let db_path = ts.db_path();
    common::close(ts.store);
    // A posting key as format 3 wrote it: kind, account, posting, document.
    let mut old_key = vec![b'p', 0, 4];
    old_key.extend_from_slice(b"hong");
    old_key.extend_from_slice(&[9; 16]);
    tamper(&db_path, "search", |t| {
        t.insert(&old_key, &[]).unwrap();
    });
    set_format(&db_path, 3);

    let ask = |store: SledStore| async move {
        let metas = store.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
        let blobs = metas.iter().map(|m| m.blob).collect();
        let found = store
            .search_candidates("hong", blobs, vec!["보고서".into()])
            .await
            .unwrap();
        (store, found)
    };
    let (store, found) = ask(reopen(&ts.dir, &db_path).unwrap()).await;
    assert_eq!(
        found,
        Some(vec![true, true]),
        "unindexed mail is a candidate"
    );
    assert_eq!(store.reindex().await.unwrap(), 2);
    let (store, found) = ask(store).await;
    assert_eq!(found, Some(vec![true, false]));
    drop(store);
    assert_current_format(&db_path);
    tamper(&db_path, "search", |t| {
        assert!(t.get(&old_key).unwrap().is_none(), "the old layout is gone");
    });
    let (_, found) = ask(reopen(&ts.dir, &db_path).unwrap()).await;
    assert_eq!(
        found,
        Some(vec![true, false]),
        "the rebuilt index survives a reopen"
    );
}
