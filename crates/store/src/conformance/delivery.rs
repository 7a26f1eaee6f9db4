//! Conformance checks: Delivery (local copies + queue in one transaction), the outbound queue, the audit log.

use super::{body, hong, kim};
use crate::Store;
use crate::{
    AuditEvent, BlobId, Delivery, QueueEntry, QueueRecipient, RecipientStatus, StoreError, notify,
};
use std::collections::BTreeMap;

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

async fn two_accounts(store: &dyn Store) {
    store.create_account(hong()).await.unwrap();
    store.create_account(kim()).await.unwrap();
    store.create_mailbox("kim", "공지", None).await.unwrap();
}

fn event(time: i64, account: Option<&str>, kind: &str) -> AuditEvent {
    AuditEvent {
        time,
        account: account.map(str::to_owned),
        kind: kind.into(),
        ip: Some("192.0.2.7".into()),
        fields: BTreeMap::from([("name".to_string(), "홍길동".to_string())]),
    }
}

/// A failing delivery stores nothing.
pub async fn a_failing_delivery_stores_nothing(store: &dyn Store) {
    two_accounts(store).await;
    let s = store;
    let err = s
        .deliver(Delivery {
            body: body(2),
            internal_date: 1,
            recipients: vec![
                ("hong".into(), "INBOX".into(), vec![]),
                ("nobody".into(), "INBOX".into(), vec![]),
            ],
            queue: vec![queue_entry(&["lee@example.com"])],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MailboxNotFound(_)), "{err}");
    assert!(
        s.messages("hong", "INBOX", 1..=u32::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.queue_list().await.unwrap().is_empty());
    assert_eq!(
        s.mailbox("hong", "INBOX").await.unwrap().unwrap().uid_next,
        1
    );
}

/// Audit by time and account.
pub async fn audit_by_time_and_account(store: &dyn Store) {
    let s = store;
    s.append_audit(event(3_000, Some("hong"), "login.ok"))
        .await
        .unwrap();
    s.append_audit(event(1_000, Some("hong"), "cert.bind"))
        .await
        .unwrap();
    s.append_audit(event(2_000, Some("kim"), "login.fail"))
        .await
        .unwrap();
    s.append_audit(event(2_000, None, "config.reload"))
        .await
        .unwrap();
    s.append_audit(event(-5, None, "clock.before_epoch"))
        .await
        .unwrap();

    let kinds = |v: Vec<AuditEvent>| v.into_iter().map(|e| e.kind).collect::<Vec<_>>();
    assert_eq!(
        kinds(s.audit_range(0, 10_000, 100).await.unwrap()),
        ["cert.bind", "login.fail", "config.reload", "login.ok"]
    );
    assert_eq!(
        kinds(s.audit_range(1_000, 3_000, 100).await.unwrap()),
        ["cert.bind", "login.fail", "config.reload"]
    );
    assert_eq!(
        kinds(s.audit_range(i64::MIN, 10_000, 2).await.unwrap()),
        ["clock.before_epoch", "cert.bind"]
    );
    assert_eq!(
        kinds(s.audit_by_account("hong", 10).await.unwrap()),
        ["login.ok", "cert.bind"],
        "newest first"
    );
    assert_eq!(
        kinds(s.audit_by_account("hong", 1).await.unwrap()),
        ["login.ok"]
    );
    let first = s.audit_by_account("kim", 10).await.unwrap();
    assert_eq!(first[0].fields["name"], "홍길동");
    assert_eq!(first[0].ip.as_deref(), Some("192.0.2.7"));

    assert_eq!(s.audit_prune(2_000).await.unwrap(), 2);
    assert_eq!(
        kinds(s.audit_by_account("hong", 10).await.unwrap()),
        ["login.ok"]
    );
    assert_eq!(
        s.audit_range(i64::MIN, i64::MAX, 100).await.unwrap().len(),
        3
    );
}
