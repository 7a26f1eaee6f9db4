//! Conformance checks: Sieve redirects under the per-account daily cap
//! ([`crate::redirects`]), counted in the delivery's transaction so that racing
//! deliveries never pass it.

use crate::{Delivery, MailQuota, Outgoing, Redirect, RedirectOutcome, ReplyMark, Store};

use super::{Fixture, body, hong, kim, queue_entry};

const DAY: i64 = 86_400;
/// The start (00:00 UTC) of a day: `T0 + DAY / 2 - 1` is still that day.
const T0: i64 = 19_675 * DAY;

/// 홍길동's script redirecting message `n` at `at`: to `lee@example.com` (queued) when
/// `remote`, else to 김철수 (a copy in kim's INBOX); kept in hong's INBOX past the cap.
fn redirect(remote: bool, per_day: u32) -> Redirect {
    Redirect {
        account: "Hong".into(),
        address: if remote {
            "lee@example.com".into()
        } else {
            "kim@example.kr".into()
        },
        per_day,
        copies: if remote {
            vec![]
        } else {
            vec![("kim".into(), "INBOX".into(), vec![])]
        },
        queue: if remote {
            vec![queue_entry(&["lee@example.com"])]
        } else {
            vec![]
        },
        instead: ("hong".into(), "INBOX".into(), vec!["$Redirected".into()]),
    }
}

/// Message `n` to hong, whose script only redirects it (no keep).
fn redirected(n: u32, at: i64, redirects: Vec<Redirect>) -> Delivery {
    Delivery {
        body: body(n),
        internal_date: at,
        recipients: vec![],
        queue: vec![],
        outgoing: vec![],
        quota: MailQuota::Unlimited,
        redirects,
    }
}

async fn inbox_count(s: &dyn Store, account: &str) -> u32 {
    s.mailbox(account, "INBOX").await.unwrap().unwrap().exists
}

/// Deliveries racing each other (sled: on blocking threads; PostgreSQL: on several
/// connections) carry out exactly the cap of redirects, keep every other message in
/// hong's INBOX, lose none, and tell hong exactly once.
pub async fn racing_redirects_keep_the_daily_cap(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
    const CAP: u32 = 5;
    const SENT: u32 = 16;
    let deliveries = (1..=SENT).map(|n| {
        let r = redirect(n % 2 == 0, CAP);
        s.deliver(redirected(n, T0 + i64::from(n), vec![r]))
    });
    let results = futures::future::join_all(deliveries).await;
    let outcomes: Vec<RedirectOutcome> = results
        .into_iter()
        .flat_map(|r| r.expect("every delivery is stored").redirects)
        .collect();
    assert_eq!(outcomes.len(), SENT as usize, "one outcome per redirect");
    let carried_out = outcomes.iter().filter(|o| o.carried_out).count();
    assert_eq!(carried_out, CAP as usize, "{outcomes:?}");
    let told = outcomes.iter().filter(|o| o.tell).count();
    assert_eq!(told, 1, "hong is told once: {outcomes:?}");
    assert!(outcomes.iter().all(|o| o.account == "hong"));
    let queued = s.queue_list().await.unwrap().len() as u32;
    let to_kim = inbox_count(s, "kim").await;
    assert_eq!(
        queued + to_kim,
        CAP,
        "redirects carried out: {queued} queued, {to_kim} local"
    );
    assert_eq!(
        inbox_count(s, "hong").await,
        SENT - CAP,
        "the rest kept, none lost"
    );
    let kept = s.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
    assert!(
        kept.iter().all(|m| m.flags == ["$Redirected"]),
        "kept as the keep files it"
    );
}

/// The cap counts per UTC day: a refused redirect files the message instead (once, beside
/// a copy the script kept), the next day starts again, a failed delivery counts nothing,
/// a vacation reply held back counts nothing, and the counter goes with its account.
pub async fn the_redirect_cap_is_per_day_and_per_stored_delivery(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
    let deliver = |n: u32, at: i64, mut d: Delivery| {
        d.body = body(n);
        d.internal_date = at;
        s.deliver(d)
    };
    let one = |remote| redirected(0, 0, vec![redirect(remote, 1)]);
    // Nothing stored, nothing counted: a copy for an account without mailboxes fails it.
    let mut failing = one(true);
    failing
        .recipients
        .push(("nobody".into(), "INBOX".into(), vec![]));
    assert!(deliver(1, T0, failing).await.is_err());
    let first = deliver(2, T0, one(true)).await.unwrap();
    assert!(first.redirects[0].carried_out, "{first:?}");
    assert_eq!(first.queued.len(), 1);
    // Past the cap, beside a kept copy: one copy in INBOX, and hong is told.
    let mut kept = one(false);
    kept.recipients
        .push(("hong".into(), "INBOX".into(), vec!["$Redirected".into()]));
    let second = deliver(3, T0 + 60, kept).await.unwrap();
    assert_eq!(second.redirects.len(), 1);
    let refused = &second.redirects[0];
    assert!(!refused.carried_out && refused.tell, "{second:?}");
    assert_eq!(second.stored.len(), 1, "the kept copy only: {second:?}");
    assert_eq!(inbox_count(s, "kim").await, 0);
    let third = deliver(4, T0 + DAY / 2 - 1, one(true)).await.unwrap();
    assert!(!third.redirects[0].carried_out && !third.redirects[0].tell);
    assert_eq!(third.queued.len(), 0);
    let next_day = deliver(5, T0 + DAY, one(false)).await.unwrap();
    assert!(next_day.redirects[0].carried_out, "{next_day:?}");
    assert_eq!(inbox_count(s, "kim").await, 1);

    // A vacation reply's own redirects (its local sender's script) count when it is sent,
    // not when a live mark holds it back.
    let reply = |n: u32| Outgoing {
        message: redirected(n, T0 + 2 * DAY, vec![redirect(true, 1)]),
        once: Some(ReplyMark {
            account: "kim".into(),
            handle: "휴가".into(),
            sender: "hong@example.kr".into(),
            sent_at: T0 + 2 * DAY,
            until: T0 + 9 * DAY,
        }),
    };
    let with_reply = |n: u32| Delivery {
        body: body(n),
        internal_date: T0 + 2 * DAY,
        recipients: vec![("kim".into(), "INBOX".into(), vec![])],
        queue: vec![],
        outgoing: vec![reply(n + 100)],
        quota: MailQuota::Unlimited,
        redirects: vec![],
    };
    let sent = s.deliver(with_reply(6)).await.unwrap();
    assert!(sent.redirects[0].carried_out, "{sent:?}");
    let held = s.deliver(with_reply(7)).await.unwrap();
    assert_eq!(held.held_back, [0]);
    assert!(held.redirects.is_empty(), "{held:?}");

    // A new account of the same name starts with a fresh counter.
    s.delete_account("hong").await.unwrap();
    s.create_account(hong()).await.unwrap();
    let again = deliver(8, T0 + 2 * DAY, one(true)).await.unwrap();
    assert!(again.redirects[0].carried_out, "{again:?}");
}
