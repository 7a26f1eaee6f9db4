//! Delivery and the outbound queue: what only the sled files show (bodies stored once and
//! freed); the checks every backend passes are in `certmail_store::conformance::delivery`.

mod common;

use std::collections::BTreeMap;

use certmail_store::{
    BlobId, Delivery, QueueEntry, QueueRecipient, RecipientStatus, StoreError, notify,
};
use common::{TestStore, body, flags, hong, kim, raw_sled};

fn remote(address: &str) -> QueueRecipient {
    QueueRecipient {
        address: address.into(),
        status: RecipientStatus::Pending,
        attempts: 0,
        last_error: None,
        notify: notify::FAILURE | notify::DELAY,
    }
}

fn queue_entry(to: &[&str]) -> QueueEntry {
    QueueEntry {
        id: 0,
        from: "hong@example.kr".into(),
        recipients: to.iter().map(|a| remote(a)).collect(),
        blob: BlobId::default(),
        created_at: 1_700_000_000,
        next_attempt: 1_700_000_000,
        envelope_meta: BTreeMap::from([("envid".to_string(), "회의-1".to_string())]),
    }
}

async fn two_accounts() -> TestStore {
    let ts = TestStore::new().await;
    ts.store.create_account(hong()).await.unwrap();
    ts.store.create_account(kim()).await.unwrap();
    ts.store.create_mailbox("kim", "공지", None).await.unwrap();
    ts
}

#[tokio::test]
async fn one_delivery_many_recipients_one_body() {
    let ts = two_accounts().await;
    let s = &ts.store;
    let receipt = s
        .deliver(Delivery {
            body: body(1),
            internal_date: 1_700_000_500,
            recipients: vec![
                ("hong".into(), "INBOX".into(), vec![]),
                ("KIM".into(), "공지".into(), flags(&["$Notice"])),
                ("kim".into(), "없는 편지함".into(), vec![]),
            ],
            queue: vec![queue_entry(&["lee@example.com", "park@example.org"])],
        })
        .await
        .unwrap();
    assert_eq!(receipt.blob, BlobId::of(&body(1)));
    let placed: Vec<_> = receipt
        .stored
        .iter()
        .map(|c| (c.account.as_str(), c.mailbox.as_str(), c.uid))
        .collect();
    assert_eq!(
        placed,
        [
            ("hong", "INBOX", 1),
            ("kim", "공지", 1),
            ("kim", "INBOX", 1)
        ],
        "missing mailbox falls back to INBOX"
    );
    let kim_notice = s.messages("kim", "공지", 1..=1).await.unwrap();
    assert_eq!(kim_notice[0].flags, ["$Notice"]);
    assert_eq!(kim_notice[0].internal_date, 1_700_000_500);
    assert_eq!(s.message_body("kim", &receipt.blob).await.unwrap(), body(1));

    assert_eq!(receipt.queued.len(), 1);
    let entry = s
        .queue_get(receipt.queued[0])
        .await
        .unwrap()
        .expect("queued");
    assert_eq!(entry.blob, receipt.blob);
    assert_eq!(entry.recipients.len(), 2);
    assert_eq!(entry.envelope_meta["envid"], "회의-1");
    assert_eq!(s.queue_body(entry.id).await.unwrap(), body(1));

    let path = ts.db_path();
    common::close(ts.store);
    let db = raw_sled(&path);
    assert_eq!(
        db.open_tree("blobs").unwrap().len(),
        1,
        "stored once for four references"
    );
}

#[tokio::test]
async fn queue_update_and_remove() {
    let ts = two_accounts().await;
    let s = &ts.store;
    let receipt = s
        .deliver(Delivery {
            body: body(3),
            internal_date: 1,
            recipients: vec![],
            queue: vec![
                queue_entry(&["lee@example.com"]),
                queue_entry(&["park@example.org"]),
            ],
        })
        .await
        .unwrap();
    let ids = receipt.queued.clone();
    assert!(ids[0] < ids[1]);
    let listed: Vec<u64> = s.queue_list().await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(listed, ids);

    let mut e = s.queue_get(ids[0]).await.unwrap().unwrap();
    e.recipients[0].attempts = 1;
    e.recipients[0].last_error = Some("451 4.7.1 try later".into());
    e.next_attempt += 600;
    e.blob = BlobId([9; 32]); // ignored: the entry keeps its body
    s.queue_update(e.clone()).await.unwrap();
    let got = s.queue_get(ids[0]).await.unwrap().unwrap();
    assert_eq!(
        got.recipients[0].last_error.as_deref(),
        Some("451 4.7.1 try later")
    );
    assert_eq!(got.next_attempt, e.next_attempt);
    assert_eq!(got.blob, receipt.blob);

    s.queue_remove(ids[0]).await.unwrap();
    assert_eq!(
        s.queue_body(ids[1]).await.unwrap(),
        body(3),
        "the other entry still holds the body"
    );
    assert!(matches!(
        s.queue_remove(ids[0]).await,
        Err(StoreError::QueueEntryNotFound(_))
    ));
    assert!(matches!(
        s.queue_update(e).await,
        Err(StoreError::QueueEntryNotFound(_))
    ));
    s.queue_remove(ids[1]).await.unwrap();
    assert!(s.queue_list().await.unwrap().is_empty());

    let path = ts.db_path();
    common::close(ts.store);
    let db = raw_sled(&path);
    assert_eq!(
        db.open_tree("blobs").unwrap().len(),
        0,
        "body freed with its last entry"
    );
}
