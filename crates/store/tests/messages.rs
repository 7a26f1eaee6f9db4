//! Messages: what only the sled files show (bodies and summaries stored once, freed with
//! the last copy); the checks every backend passes are in `certmail_store::conformance::messages`.

mod common;

use certmail_store::{FlagOp, NewMessage, StoreError};
use common::{TestStore, body, flags, hong, kim, message, raw_sled};

async fn with_hong() -> TestStore {
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    ts
}

#[tokio::test]
async fn identical_bodies_are_stored_once() {
    let ts = with_hong().await;
    let s = &ts.store;
    let same = || NewMessage {
        body: body(7),
        flags: vec![],
        internal_date: 1,
    };
    s.append("hong", "INBOX", same()).await.unwrap();
    s.append("hong", "INBOX", same()).await.unwrap();
    let msgs = s.messages("hong", "INBOX", 1..=2).await.unwrap();
    assert_eq!(msgs[0].blob, msgs[1].blob);
    s.set_flags(
        "hong",
        "INBOX",
        certmail_store::conformance::flag_change(&[1], FlagOp::Add, &flags(&["\\Deleted"])),
    )
    .await
    .unwrap();
    s.expunge("hong", "INBOX", None).await.unwrap();
    assert_eq!(
        s.message_body("hong", &msgs[1].blob).await.unwrap(),
        body(7)
    );
    s.set_flags(
        "hong",
        "INBOX",
        certmail_store::conformance::flag_change(&[2], FlagOp::Add, &flags(&["\\Deleted"])),
    )
    .await
    .unwrap();
    s.expunge("hong", "INBOX", None).await.unwrap();
    assert!(matches!(
        s.message_body("hong", &msgs[1].blob).await,
        Err(StoreError::MessageNotFound)
    ));

    // On disk: no body left once the last reference is gone.
    let path = ts.db_path();
    common::close(ts.store);
    let db = raw_sled(&path);
    assert_eq!(db.open_tree("blobs").unwrap().len(), 0);
    assert_eq!(db.open_tree("blob_refs").unwrap().len(), 0);
}

#[tokio::test]
async fn summaries_are_cached_per_body_and_freed_with_it() {
    let ts = with_hong().await;
    let s = &ts.store;
    s.create_account(kim()).await.unwrap();
    s.append("hong", "INBOX", message(1)).await.unwrap();
    let blob = s.messages("hong", "INBOX", 1..=1).await.unwrap()[0].blob;
    assert_eq!(s.message_summary("hong", &blob).await.unwrap(), None);
    let summary = "(\"회의 안내 1\" NIL)".as_bytes().to_vec();
    s.set_message_summary("hong", &blob, summary.clone())
        .await
        .unwrap();
    assert_eq!(
        s.message_summary("hong", &blob).await.unwrap(),
        Some(summary.clone())
    );
    // In a batch, in order: a body without a summary and one the account lacks read as None.
    s.append("hong", "INBOX", message(2)).await.unwrap();
    let second = s.messages("hong", "INBOX", 2..=2).await.unwrap()[0].blob;
    assert_eq!(
        s.message_summaries("hong", vec![second, blob])
            .await
            .unwrap(),
        vec![None, Some(summary.clone())]
    );
    assert_eq!(
        s.message_summaries("kim", vec![blob]).await.unwrap(),
        vec![None]
    );
    // Another account cannot read or plant summaries of bodies it does not hold.
    assert!(matches!(
        s.message_summary("kim", &blob).await,
        Err(StoreError::MessageNotFound)
    ));
    assert!(matches!(
        s.set_message_summary("kim", &blob, vec![1]).await,
        Err(StoreError::MessageNotFound)
    ));
    s.set_flags(
        "hong",
        "INBOX",
        certmail_store::conformance::flag_change(&[1, 2], FlagOp::Add, &flags(&["\\Deleted"])),
    )
    .await
    .unwrap();
    s.expunge("hong", "INBOX", None).await.unwrap();
    assert!(matches!(
        s.message_summary("hong", &blob).await,
        Err(StoreError::MessageNotFound)
    ));
    let path = ts.db_path();
    common::close(ts.store);
    let db = raw_sled(&path);
    assert_eq!(
        db.open_tree("blobs").unwrap().len(),
        0,
        "summary freed with the body"
    );
}
