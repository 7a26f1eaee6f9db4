//! Conformance checks: delivery (local copies and queue entries in one transaction), the outbound queue, the
//! audit log and the device registry.

use crate::{AuditEvent, BlobId, Delivery, Device, FlagOp, MailQuota, Store, StoreError};

use super::{
    Fixture, assert_stored_bodies, body, event, flag_change, flags, hong, kim, queue_entry,
};

async fn two_accounts(s: &dyn Store) {
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
    s.create_mailbox("kim", "공지", None).await.unwrap();
}

/// One delivery to many recipients stores one body.
pub async fn one_delivery_many_recipients_one_body(t: &dyn Fixture) {
    let s = t.store();
    two_accounts(s).await;
    let receipt = s
        .deliver(Delivery {
            body: body(1),
            internal_date: 1_700_000_500,
            recipients: vec![
                ("hong".into(), "INBOX".into(), vec![]),
                ("KIM".into(), "공지".into(), flags(&["$Notice"])),
                ("kim".into(), "없는 편지함".into(), vec![]),
                ("kim".into(), "a//b".into(), vec![]),
            ],
            queue: vec![queue_entry(&["lee@example.com", "park@example.org"])],
            outgoing: vec![],
            quota: MailQuota::Unlimited,
            redirects: Vec::new(),
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
            ("kim", "INBOX", 1),
            ("kim", "INBOX", 2)
        ],
        "a missing or invalid mailbox falls back to INBOX"
    );
    let inbox = s.mailbox("kim", "INBOX").await.unwrap().unwrap();
    assert_eq!((inbox.exists, inbox.uid_next), (2, 3));
    assert_eq!(receipt.stored[2].uid_validity, inbox.uid_validity);
    let notice = s.messages("kim", "공지", 1..=1).await.unwrap();
    assert_eq!(notice[0].flags, ["$Notice"]);
    assert_eq!(notice[0].internal_date, 1_700_000_500);
    assert_eq!(s.message_body("kim", &receipt.blob).await.unwrap(), body(1));
    assert_eq!(receipt.queued.len(), 1);
    let entry = s
        .queue_get(receipt.queued[0])
        .await
        .unwrap()
        .expect("queued");
    assert_eq!(entry.blob, receipt.blob);
    assert_eq!(
        entry.recipients,
        queue_entry(&["lee@example.com", "park@example.org"]).recipients
    );
    assert_eq!(entry.envelope_meta["envid"], "회의-1");
    assert_eq!(s.queue_body(entry.id).await.unwrap(), body(1));
    assert_stored_bodies(t, 1, "stored once for five references").await;

    // Every reference gone (expunged everywhere, queue entry removed): the body goes.
    for (account, mailbox) in [("hong", "INBOX"), ("kim", "공지"), ("kim", "INBOX")] {
        expunge_all(s, account, mailbox).await;
    }
    assert_stored_bodies(t, 1, "the queue entry still holds it").await;
    assert_eq!(s.queue_body(entry.id).await.unwrap(), body(1));
    s.queue_remove(entry.id).await.unwrap();
    assert_stored_bodies(t, 0, "").await;
}

/// Marks every message in `account`'s `mailbox` `\Deleted` and expunges them.
async fn expunge_all(s: &dyn Store, account: &str, mailbox: &str) {
    let uids: Vec<u32> = s
        .messages(account, mailbox, 1..=u32::MAX)
        .await
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    s.set_flags(
        account,
        mailbox,
        flag_change(&uids, FlagOp::Add, &flags(&["\\Deleted"])),
    )
    .await
    .unwrap();
    s.expunge(account, mailbox, None).await.unwrap();
}

/// A failing delivery stores nothing.
pub async fn a_failing_delivery_stores_nothing(t: &dyn Fixture) {
    let s = t.store();
    two_accounts(s).await;
    let err = s
        .deliver(Delivery {
            body: body(2),
            internal_date: 1,
            recipients: vec![
                ("hong".into(), "INBOX".into(), vec![]),
                ("nobody".into(), "INBOX".into(), vec![]),
            ],
            queue: vec![queue_entry(&["lee@example.com"])],
            outgoing: vec![],
            quota: MailQuota::Unlimited,
            redirects: Vec::new(),
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
    assert_stored_bodies(t, 0, "").await;
}

/// Queue entries are updated and removed.
pub async fn queue_entries_are_updated_and_removed(t: &dyn Fixture) {
    let s = t.store();
    two_accounts(s).await;
    let receipt = s
        .deliver(Delivery {
            body: body(3),
            internal_date: 1,
            recipients: vec![],
            queue: vec![
                queue_entry(&["lee@example.com"]),
                queue_entry(&["park@example.org"]),
            ],
            outgoing: vec![],
            quota: MailQuota::Unlimited,
            redirects: Vec::new(),
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
    e.recipients[0].status = crate::RecipientStatus::Failed;
    e.next_attempt += 600;
    e.blob = BlobId([9; 32]); // ignored: the entry keeps its body
    s.queue_update(e.clone()).await.unwrap();
    let got = s.queue_get(ids[0]).await.unwrap().unwrap();
    assert_eq!(got.recipients, e.recipients);
    assert_eq!(got.next_attempt, e.next_attempt);
    assert_eq!(got.blob, receipt.blob);
    s.queue_remove(ids[0]).await.unwrap();
    assert_eq!(
        s.queue_body(ids[1]).await.unwrap(),
        body(3),
        "the other entry holds it"
    );
    assert!(matches!(
        s.queue_remove(ids[0]).await,
        Err(StoreError::QueueEntryNotFound(_))
    ));
    assert!(matches!(
        s.queue_update(e).await,
        Err(StoreError::QueueEntryNotFound(_))
    ));
    assert!(matches!(
        s.queue_body(ids[0]).await,
        Err(StoreError::QueueEntryNotFound(_))
    ));
    assert!(s.queue_get(ids[0]).await.unwrap().is_none());
    s.queue_remove(ids[1]).await.unwrap();
    assert!(s.queue_list().await.unwrap().is_empty());
    assert_stored_bodies(t, 0, "freed with its last entry").await;
}

/// The audit log by time and by account.
pub async fn audit_by_time_and_account(t: &dyn Fixture) {
    let s = t.store();
    for e in [
        event(3_000, Some("hong"), "login.ok"),
        event(1_000, Some("hong"), "cert.bind"),
        event(2_000, Some("kim"), "login.fail"),
        event(2_000, None, "config.reload"),
        event(-5, None, "clock.before_epoch"),
    ] {
        s.append_audit(e).await.unwrap();
    }
    let kinds = |v: Vec<AuditEvent>| v.into_iter().map(|e| e.kind).collect::<Vec<_>>();
    assert_eq!(
        kinds(s.audit_range(0, 10_000, 100).await.unwrap()),
        ["cert.bind", "login.fail", "config.reload", "login.ok"],
        "time order, then insertion order"
    );
    assert_eq!(
        kinds(s.audit_range(1_000, 3_000, 100).await.unwrap()),
        ["cert.bind", "login.fail", "config.reload"]
    );
    assert_eq!(
        kinds(s.audit_range(i64::MIN, 10_000, 2).await.unwrap()),
        ["clock.before_epoch", "cert.bind"]
    );
    assert!(s.audit_range(5, 5, 10).await.unwrap().is_empty());
    assert_eq!(
        kinds(s.audit_newest(0, 10_000, 3).await.unwrap()),
        ["login.ok", "config.reload", "login.fail"]
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
    let kim_events = s.audit_by_account("kim", 10).await.unwrap();
    assert_eq!(kim_events[0], event(2_000, Some("kim"), "login.fail"));
    assert_eq!(kim_events[0].fields["name"], "홍길동");
    assert_eq!(kim_events[0].ip.as_deref(), Some("192.0.2.7"));
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

/// An audit event quoting what a client sent, NUL included (an SMTP AUTH LOGIN user name
/// is base64 and may decode to one), is kept: refusing it would fail the sign-in it records.
pub async fn audit_keeps_events_quoting_a_nul(t: &dyn Fixture) {
    let s = t.store();
    let mut e = event(1_000, None, "login.fail");
    e.fields.insert("user".into(), "h\0ong".into());
    s.append_audit(e).await.unwrap();
    let stored = s.audit_range(0, 2_000, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    let user = &stored[0].fields["user"];
    assert!(
        user == "h\0ong" || user == "h\u{FFFD}ong",
        "the NUL is kept or marked: {user:?}"
    );
}

/// A store that holds an audit event says it takes some bytes (`certmail stats`, `/metrics`).
pub async fn the_store_reports_its_size(t: &dyn Fixture) {
    let s = t.store();
    s.append_audit(event(1_000, Some("hong"), "login.ok"))
        .await
        .unwrap();
    assert!(s.size_bytes().await.unwrap() > 0);
}

fn device(account: &str, spki: u8, network: &str, seen: i64) -> Device {
    Device {
        account: account.into(),
        spki_sha256: [spki; 32],
        network: network.into(),
        first_seen: seen,
        last_seen: seen,
        totp_at: None,
        client: None,
    }
}

/// Devices are kept per account.
pub async fn devices_are_kept_per_account(t: &dyn Fixture) {
    let s = t.store();
    s.put_device(device("hong", 1, "10.0.1.0/24", 200))
        .await
        .unwrap();
    s.put_device(device("hong", 1, "10.0.0.0/24", 100))
        .await
        .unwrap();
    s.put_device(device("kim", 2, "10.0.0.0/24", 300))
        .await
        .unwrap();
    s.put_device(device("hongx", 3, "10.0.0.0/24", 1))
        .await
        .unwrap();
    let mut again = device("hong", 1, "10.0.0.0/24", 100);
    again.last_seen = 500;
    again.totp_at = Some(450);
    again.client = Some("Thunderbird 128.5.0 (김철수의 노트북)".into());
    s.put_device(again.clone()).await.unwrap();
    let hong_devices = s.devices_of("hong").await.unwrap();
    assert_eq!(
        hong_devices.len(),
        2,
        "another id sharing the prefix is not listed"
    );
    assert_eq!(hong_devices[0], again, "key order; replaced in place");
    assert_eq!(hong_devices[0].id(), "01010101@10.0.0.0/24");
    assert!(
        s.forget_device("hong", &[1; 32], "10.0.1.0/24")
            .await
            .unwrap()
    );
    assert!(
        !s.forget_device("hong", &[1; 32], "10.0.1.0/24")
            .await
            .unwrap()
    );
    assert_eq!(s.devices_of("hong").await.unwrap().len(), 1);
    assert_eq!(
        s.devices_of("kim").await.unwrap().len(),
        1,
        "another account's device stays"
    );
    s.create_account(kim()).await.unwrap();
    s.delete_account("kim").await.unwrap();
    assert!(
        s.devices_of("kim").await.unwrap().is_empty(),
        "deleted with the account"
    );
}

/// Twelve new devices signing in at once leave exactly the cap, the most recently seen;
/// one of them was the account's first; a known device keeps its record.
pub async fn new_devices_signing_in_at_once_keep_the_cap(t: &dyn Fixture) {
    let s = t.store();
    let sign_ins = (1..=12u8).map(|n| {
        let network = format!("10.0.{n}.0/24");
        s.sign_in_device(device("hong", n, &network, i64::from(n)), 3)
    });
    let results = futures::future::join_all(sign_ins).await;
    let seen: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    assert!(seen.iter().all(|d| d.new), "every device was new");
    assert_eq!(
        seen.iter().filter(|d| d.first).count(),
        1,
        "one first device"
    );
    let kept = s.devices_of("hong").await.unwrap();
    assert_eq!(kept.len(), 3, "the cap holds: {kept:?}");

    let mut again = kept[0].clone();
    again.last_seen = 1_000;
    again.totp_at = Some(1_000);
    let known = s.sign_in_device(again, 3).await.unwrap();
    assert!(!known.new && known.evicted.is_empty());
    assert_eq!(known.device.first_seen, kept[0].first_seen);
    assert_eq!(known.device.last_seen, 1_000);
    assert_eq!(s.devices_of("hong").await.unwrap().len(), 3);
}
