//! Conformance checks: the messages a delivery causes ([`crate::Outgoing`]), stored in its
//! transaction, and the vacation reply marks that send a reply once per sender per period.

use crate::{Delivery, MailQuota, Outgoing, ReplyMark, Store, StoreError};

use super::{Fixture, body, hong, kim, queue_entry};

const DAY: i64 = 86_400;
const T0: i64 = 1_700_000_000;

/// 홍길동's vacation mark for a sender, sent at `at`, quiet for a week.
fn mark(handle: &str, sender: &str, at: i64) -> ReplyMark {
    ReplyMark {
        account: "Hong".into(),
        handle: handle.into(),
        sender: sender.into(),
        sent_at: at,
        until: at + 7 * DAY,
    }
}

/// A delivery to kim's INBOX that causes a vacation reply (queued to `lee@example.com`,
/// marked `once`) and a notice to hong's INBOX (always sent).
fn delivery_with_reply(n: u32, once: ReplyMark) -> Delivery {
    let reply = Delivery {
        body: format!("Subject: Auto: 회의 안내 {n}\r\n\r\n휴가 중입니다.\r\n").into_bytes(),
        internal_date: once.sent_at,
        recipients: vec![],
        queue: vec![queue_entry(&["lee@example.com"])],
        outgoing: vec![],
        quota: MailQuota::Unlimited,
        redirects: Vec::new(),
    };
    let notice = Delivery {
        body: format!("Subject: 알림 {n}\r\n\r\n거절했습니다.\r\n").into_bytes(),
        internal_date: once.sent_at,
        recipients: vec![("hong".into(), "INBOX".into(), vec![])],
        queue: vec![],
        outgoing: vec![],
        quota: MailQuota::Unlimited,
        redirects: Vec::new(),
    };
    Delivery {
        body: body(n),
        internal_date: once.sent_at,
        recipients: vec![("kim".into(), "INBOX".into(), vec![])],
        queue: vec![],
        outgoing: vec![
            Outgoing {
                message: reply,
                once: Some(once),
            },
            Outgoing {
                message: notice,
                once: None,
            },
        ],
        quota: MailQuota::Unlimited,
        redirects: Vec::new(),
    }
}

async fn two_accounts(s: &dyn Store) {
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
}

/// A reply goes out once per (account, handle, sender) until its mark expires; the other
/// messages a delivery causes go out every time.
pub async fn a_vacation_reply_goes_once_per_period(t: &dyn Fixture) {
    let s = t.store();
    two_accounts(s).await;
    let first = s
        .deliver(delivery_with_reply(1, mark("h1", "Lee@Example.com", T0)))
        .await
        .unwrap();
    assert_eq!(first.held_back, Vec::<usize>::new());
    assert_eq!(first.queued.len(), 1, "the reply is queued");
    assert_eq!(first.stored.len(), 2, "kim's copy and hong's notice");
    let reply = s.queue_body(first.queued[0]).await.unwrap();
    assert!(String::from_utf8_lossy(&reply).contains("Auto: 회의 안내 1"));
    let marks = s.reply_marks("HONG").await.unwrap();
    assert_eq!(marks, [mark("h1", "lee@example.com", T0).normalized()]);

    let again = s
        .deliver(delivery_with_reply(
            2,
            mark("h1", "lee@example.com", T0 + DAY),
        ))
        .await
        .unwrap();
    assert_eq!(again.held_back, [0], "within the period: no second reply");
    assert!(again.queued.is_empty());
    assert_eq!(
        again.stored.len(),
        2,
        "the copy and the notice still stored"
    );
    assert_eq!(s.queue_list().await.unwrap().len(), 1);
    assert_eq!(s.reply_marks("hong").await.unwrap()[0].sent_at, T0);

    let other = s
        .deliver(delivery_with_reply(
            3,
            mark("h2", "lee@example.com", T0 + DAY),
        ))
        .await
        .unwrap();
    assert!(
        other.held_back.is_empty(),
        "another handle replies on its own"
    );

    let later = s
        .deliver(delivery_with_reply(
            4,
            mark("h1", "lee@example.com", T0 + 7 * DAY),
        ))
        .await
        .unwrap();
    assert!(
        later.held_back.is_empty(),
        "the period is over: a new reply"
    );
    let marks = s.reply_marks("hong").await.unwrap();
    let h1: Vec<i64> = marks
        .iter()
        .filter(|m| m.handle == "h1")
        .map(|m| m.sent_at)
        .collect();
    assert_eq!(h1, [T0 + 7 * DAY]);
}

/// A delivery that fails stores none of the messages it causes and writes no mark.
pub async fn a_failing_delivery_writes_no_mark(t: &dyn Fixture) {
    let s = t.store();
    two_accounts(s).await;
    let mut d = delivery_with_reply(1, mark("h1", "lee@example.com", T0));
    d.recipients.push(("nobody".into(), "INBOX".into(), vec![]));
    let err = s.deliver(d).await.unwrap_err();
    assert!(matches!(err, StoreError::MailboxNotFound(_)), "{err}");
    assert!(s.reply_marks("hong").await.unwrap().is_empty());
    assert!(s.queue_list().await.unwrap().is_empty());
    let inbox = s.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
    assert!(inbox.is_empty(), "the notice was not stored");
}

/// Marks are written as records (for a store copy), listed per account in order, pruned
/// once expired, and deleted with their account.
pub async fn reply_marks_are_listed_pruned_and_deleted(t: &dyn Fixture) {
    let s = t.store();
    two_accounts(s).await;
    s.put_reply_mark(mark("b", "park@example.org", T0))
        .await
        .unwrap();
    s.put_reply_mark(mark("a", "lee@example.com", T0 - 10 * DAY))
        .await
        .unwrap();
    let mut kims = mark("a", "lee@example.com", T0);
    kims.account = "kim".into();
    s.put_reply_mark(kims.clone()).await.unwrap();
    let mut nobody = mark("a", "lee@example.com", T0);
    nobody.account = "nobody".into();
    let err = s.put_reply_mark(nobody).await.unwrap_err();
    assert!(matches!(err, StoreError::AccountNotFound(_)), "{err}");
    let handles: Vec<String> = s
        .reply_marks("hong")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.handle)
        .collect();
    assert_eq!(handles, ["a", "b"]);

    assert_eq!(s.prune_reply_marks(T0).await.unwrap(), 1, "the expired one");
    let left = s.reply_marks("hong").await.unwrap();
    assert_eq!(left, [mark("b", "park@example.org", T0).normalized()]);
    assert_eq!(s.reply_marks("kim").await.unwrap(), [kims]);

    s.delete_account("hong").await.unwrap();
    assert!(s.reply_marks("hong").await.unwrap().is_empty());
    assert_eq!(s.reply_marks("kim").await.unwrap().len(), 1);
}
