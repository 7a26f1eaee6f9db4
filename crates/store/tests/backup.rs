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
