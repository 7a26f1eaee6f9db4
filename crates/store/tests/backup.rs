//! Backup of a live store and restore into a new directory: every body and flag comes back,
//! writes during and after the backup go on, a wrong key or a damaged dump is refused
//! before anything is written.

mod common;

use certmail_store::prelude::*;
use certmail_store::{FlagOp, KeyFile, NewMessage, SledStore, StoreError};
use common::*;

fn message(subject: &str, size: usize) -> NewMessage {
    let mut body = format!("From: kim@example.kr\r\nSubject: {subject}\r\n\r\n").into_bytes();
    while body.len() < size {
        body.extend_from_slice("보고서 내용입니다. 0123456789\r\n".as_bytes());
    }
    NewMessage {
        body,
        flags: vec!["\\Seen".into()],
        internal_date: 1_795_305_600,
    }
}

#[tokio::test]
async fn a_restored_store_holds_every_message_flag_and_account() {
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    ts.store
        .create_mailbox("hong", "보관함", None)
        .await
        .unwrap();
    let small = message("작은 편지", 300);
    let large = message("큰 편지", 200 * 1024);
    ts.store
        .append("hong", "INBOX", small.clone())
        .await
        .unwrap();
    let (_, uid, _) = ts
        .store
        .append("hong", "보관함", large.clone())
        .await
        .unwrap();
    ts.store
        .set_flags(
            "hong",
            "보관함",
            certmail_store::conformance::flag_change(&[uid], FlagOp::Add, &["\\Flagged".into()]),
        )
        .await
        .unwrap();

    let backup = ts.dir.path().join("backup");
    let manifest = ts.store.backup(&backup).await.unwrap();
    assert_eq!(manifest.counts.accounts, 1);
    assert_eq!(manifest.counts.messages, 2);
    // The live store keeps taking writes after the snapshot; they are not in it.
    ts.store
        .append("hong", "INBOX", message("나중", 100))
        .await
        .unwrap();
    // A second backup into the same directory is refused, never mixed.
    assert!(matches!(
        ts.store.backup(&backup).await,
        Err(StoreError::Backup(_))
    ));

    let target = ts.dir.path().join("restored");
    let key = KeyFile::load(&key_path(ts.dir.path())).unwrap();
    let restored = SledStore::restore(&backup, &target, key).unwrap();
    assert_eq!(restored, manifest);
    let key = KeyFile::load(&key_path(ts.dir.path())).unwrap();
    let store: std::sync::Arc<dyn certmail_store::Store> =
        std::sync::Arc::new(SledStore::open_async(&target, key).await.unwrap());
    let inbox = store.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
    assert_eq!(
        inbox.len(),
        1,
        "the message appended after the backup is not in it"
    );
    assert_eq!(
        store.message_body("hong", &inbox[0].blob).await.unwrap(),
        small.body
    );
    let kept = store
        .messages("hong", "보관함", 1..=u32::MAX)
        .await
        .unwrap();
    assert_eq!(
        store.message_body("hong", &kept[0].blob).await.unwrap(),
        large.body
    );
    assert!(kept[0].flags.iter().any(|f| f == "\\Flagged"));
    assert_eq!(store.account("hong").await.unwrap().unwrap().name, "홍길동");
    // The restored store takes new mail after the restored UIDs.
    let (_, next, _) = store
        .append("hong", "INBOX", message("새 편지", 100))
        .await
        .unwrap();
    assert!(next > inbox[0].uid);
}

#[tokio::test]
async fn restore_refuses_a_wrong_key_and_a_damaged_dump_before_writing() {
    let ts = TestStore::new().await;
    ts.store.create_account(kim()).await.unwrap();
    ts.store
        .append("kim", "INBOX", message("안녕", 100))
        .await
        .unwrap();
    let backup = ts.dir.path().join("backup");
    ts.store.backup(&backup).await.unwrap();

    let target = ts.dir.path().join("restored");
    let other_key = KeyFile::from_bytes([7u8; 32]);
    let err = SledStore::restore(&backup, &target, other_key).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err}");
    assert!(!target.exists(), "nothing written with a wrong key");

    let dump = backup.join(certmail_store::DUMP_FILE);
    let mut bytes = std::fs::read(&dump).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x55;
    std::fs::write(&dump, bytes).unwrap();
    let key = KeyFile::load(&key_path(ts.dir.path())).unwrap();
    let err = SledStore::restore(&backup, &target, key).unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
    assert!(!target.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_during_writes_is_a_consistent_store() {
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    ts.store.create_mailbox("hong", "결재", None).await.unwrap();
    let mut writers = Vec::new();
    for w in 0..4 {
        let store = ts.store.clone();
        writers.push(tokio::spawn(async move {
            let mailbox = if w % 2 == 0 { "INBOX" } else { "결재" };
            for i in 0..40 {
                let m = message(&format!("writer {w} message {i}"), 100 + 3000 * (i % 30));
                store.append("hong", mailbox, m).await.unwrap();
            }
        }));
    }
    // Let the writers get going, then back up while they run.
    while ts
        .store
        .messages("hong", "INBOX", 1..=u32::MAX)
        .await
        .unwrap()
        .len()
        < 5
    {
        tokio::task::yield_now().await;
    }
    let backup = ts.dir.path().join("backup");
    let manifest = ts.store.backup(&backup).await.unwrap();
    for w in writers {
        w.await.unwrap();
    }
    assert!(manifest.counts.messages >= 5 && manifest.counts.messages < 160);

    let target = ts.dir.path().join("restored");
    let key = KeyFile::load(&key_path(ts.dir.path())).unwrap();
    SledStore::restore(&backup, &target, key).unwrap();
    let key = KeyFile::load(&key_path(ts.dir.path())).unwrap();
    let store = SledStore::open_async(&target, key).await.unwrap();
    let mut total = 0;
    for name in ["INBOX", "결재"] {
        let mailbox = store.mailbox("hong", name).await.unwrap().unwrap();
        let list = store.messages("hong", name, 1..=u32::MAX).await.unwrap();
        // The mailbox record and its messages come from the same moment.
        assert_eq!(mailbox.exists as usize, list.len(), "{name}");
        assert!(list.iter().all(|m| m.uid < mailbox.uid_next), "{name}");
        for m in &list {
            let body = store.message_body("hong", &m.blob).await.unwrap();
            assert_eq!(body.len() as u64, m.size);
        }
        total += list.len() as u64;
    }
    assert_eq!(total, manifest.counts.messages);
}

/// Rewrites the dump of `backup` as a format-1 store wrote it (subscriptions as a flag on
/// each mailbox record, no subscription list, `format_version` 1), and its manifest to
/// match (store format, size, SHA-256), as a backup taken before format 2 would be.
fn as_format_1_backup(backup: &std::path::Path) {
    let dump_path = backup.join(certmail_store::DUMP_FILE);
    let dump = std::fs::read(&dump_path).unwrap();
    let (head, mut rest) = dump.split_at(20);
    let mut out = head.to_vec();
    let mut tree = Vec::new();
    let take = |rest: &mut &[u8], n: usize| {
        let (a, b) = rest.split_at(n);
        *rest = b;
        a.to_vec()
    };
    loop {
        let tag = take(&mut rest, 1)[0];
        match tag {
            b'T' => {
                let len = take(&mut rest, 2);
                tree = take(&mut rest, usize::from(u16::from_be_bytes([len[0], len[1]])));
                out.push(b'T');
                out.extend_from_slice(&len);
                out.extend_from_slice(&tree);
            }
            b'E' => {
                let mut part = || {
                    let len = take(&mut rest, 4);
                    take(
                        &mut rest,
                        u32::from_be_bytes(len.try_into().unwrap()) as usize,
                    )
                };
                let (key, mut value) = (part(), part());
                match (tree.as_slice(), key.as_slice()) {
                    (b"subscriptions", _) => continue,
                    (b"meta", b"format_version") => value = 1u32.to_be_bytes().to_vec(),
                    (b"mailboxes", _) => {
                        let mut mailbox: certmail_store::Mailbox =
                            certmail_store::shared::decode(&key, &value).unwrap();
                        mailbox.subscribed = mailbox.name != "임시";
                        value = certmail_store::shared::encode(&mailbox);
                    }
                    _ => {}
                }
                out.push(b'E');
                for p in [&key, &value] {
                    out.extend_from_slice(&(p.len() as u32).to_be_bytes());
                    out.extend_from_slice(p);
                }
            }
            _ => {
                out.push(tag);
                break;
            }
        }
    }
    std::fs::write(&dump_path, &out).unwrap();
    let manifest_path = backup.join(certmail_store::MANIFEST_FILE);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["store_format_version"] = 1.into();
    manifest["bytes"] = out.len().into();
    manifest["sha256"] = hex::encode(ring::digest::digest(&ring::digest::SHA256, &out)).into();
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
}

/// A backup taken at an older store format restores, and the restored store is upgraded
/// to the current one as the daemon would upgrade it in place (issue 19: format-1 backups
/// were refused for their format).
#[tokio::test]
async fn a_backup_of_an_older_store_format_restores_upgraded() {
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    for name in ["보관함", "임시"] {
        ts.store.create_mailbox("hong", name, None).await.unwrap();
    }
    ts.store
        .append("hong", "보관함", message("옛 편지", 300))
        .await
        .unwrap();
    let backup = ts.dir.path().join("backup");
    ts.store.backup(&backup).await.unwrap();
    as_format_1_backup(&backup);

    let target = ts.dir.path().join("restored");
    let key = KeyFile::load(&key_path(ts.dir.path())).unwrap();
    let manifest = SledStore::restore(&backup, &target, key).unwrap();
    assert_eq!(manifest.store_format_version, 1);
    let key = KeyFile::load(&key_path(ts.dir.path())).unwrap();
    let store = SledStore::open_async(&target, key).await.unwrap();
    // The flags became the subscription list (format 2's upgrade).
    assert_eq!(
        store.subscriptions("hong").await.unwrap(),
        ["INBOX", "보관함"]
    );
    let kept = store
        .messages("hong", "보관함", 1..=u32::MAX)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    drop(store);
    let db = raw_sled(&target);
    let version = db.open_tree("meta").unwrap().get("format_version").unwrap();
    assert_eq!(
        version.unwrap().as_ref(),
        certmail_store::FORMAT_VERSION.to_be_bytes()
    );
}

/// A backup from a newer certmail (a store format this build does not know) is refused
/// before anything is written, naming both versions.
#[tokio::test]
async fn a_backup_of_a_newer_store_format_is_refused() {
    let ts = TestStore::new().await;
    ts.store.create_account(kim()).await.unwrap();
    let backup = ts.dir.path().join("backup");
    ts.store.backup(&backup).await.unwrap();
    let manifest_path = backup.join(certmail_store::MANIFEST_FILE);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["store_format_version"] = (certmail_store::FORMAT_VERSION + 1).into();
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let target = ts.dir.path().join("restored");
    let key = KeyFile::load(&key_path(ts.dir.path())).unwrap();
    let err = SledStore::restore(&backup, &target, key).unwrap_err();
    assert!(matches!(err, StoreError::FormatVersion { .. }), "{err}");
    assert!(!target.exists(), "nothing written");
}
