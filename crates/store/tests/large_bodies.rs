//! Large bodies stay in sled's log (as chunks), where the group commit makes them durable:
//! sled would otherwise put a value over 128 KiB in a `blobs/` file it never fsyncs.

mod common;

use certmail_store::{NewMessage, StoreError};
use common::*;

fn big_message(size: usize) -> NewMessage {
    let mut body = b"From: hong@test.go.kr\r\nSubject: large attachment\r\n\r\n".to_vec();
    let line = "첨부 파일 내용입니다. 0123456789 abcdefghij\r\n".as_bytes();
    while body.len() < size {
        body.extend_from_slice(line);
    }
    NewMessage {
        body,
        flags: Vec::new(),
        internal_date: 1_795_305_600,
    }
}

fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn a_3_mib_body_round_trips_in_the_log_and_is_freed() {
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    let m = big_message(3 * 1024 * 1024);
    let (_, uid, _) = ts.store.append("hong", "INBOX", m.clone()).await.unwrap();
    let ts = ts.reopen().await;
    let meta = &ts.store.messages("hong", "INBOX", uid..=uid).await.unwrap()[0];
    assert_eq!(
        ts.store.message_body("hong", &meta.blob).await.unwrap(),
        m.body
    );
    assert_eq!(
        files_under(&ts.db_path().join("blobs")),
        0,
        "no value went to an unsynced blob file"
    );

    ts.store
        .set_flags(
            "hong",
            "INBOX",
            certmail_store::conformance::flag_change(
                &[uid],
                certmail_store::FlagOp::Add,
                &["\\Deleted".to_string()],
            ),
        )
        .await
        .unwrap();
    ts.store.expunge("hong", "INBOX", None).await.unwrap();
    let db_path = ts.db_path();
    close(ts.store);
    let db = raw_sled(&db_path);
    assert_eq!(
        db.open_tree("blobs").unwrap().len(),
        0,
        "every chunk is freed with the body"
    );
}

#[tokio::test]
async fn a_missing_chunk_is_an_error_not_a_short_body() {
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    let (_, uid, _) = ts
        .store
        .append("hong", "INBOX", big_message(300 * 1024))
        .await
        .unwrap();
    let blob = ts.store.messages("hong", "INBOX", uid..=uid).await.unwrap()[0].blob;
    let db_path = ts.db_path();
    close(ts.store);
    {
        let db = raw_sled(&db_path);
        let t = db.open_tree("blobs").unwrap();
        let chunk = t
            .scan_prefix(blob.0)
            .keys()
            .map(Result::unwrap)
            .find(|k| k.len() == 37)
            .expect("chunked");
        t.remove(chunk).unwrap();
        db.flush().unwrap();
    }
    let store = open(ts.dir.path()).await;
    let err = store.message_body("hong", &blob).await.unwrap_err();
    assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
}
