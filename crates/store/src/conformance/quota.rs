//! Conformance checks: the mail quota ([`crate::MailQuota`]), enforced in the write
//! transaction, also when writes of one account race (two connections, two nodes).

use crate::{Delivery, MailQuota, StoreError};

use super::{Fixture, body, hong, kim, message};

/// The size of every [`message`] `n` for `n` in 1..=9.
fn size() -> u64 {
    body(1).len() as u64
}

/// A delivery of [`body`] `n` to `accounts`' INBOXes under `quota`.
fn delivery(n: u32, accounts: &[&str], quota: MailQuota) -> Delivery {
    Delivery {
        body: body(n),
        internal_date: 1_700_000_500,
        recipients: (accounts.iter())
            .map(|a| (a.to_string(), "INBOX".into(), vec![]))
            .collect(),
        queue: vec![],
        outgoing: vec![],
        quota,
        redirects: Vec::new(),
    }
}

fn over_quota<T: std::fmt::Debug>(result: Result<T, StoreError>, account: &str) {
    match result {
        Err(StoreError::OverQuota { account: a }) => assert_eq!(a, account),
        other => panic!("expected OverQuota for {account}, got {other:?}"),
    }
}

/// APPEND and COPY must fit whole; a delivery is taken while the account is below its
/// quota; what is refused stores nothing, for any recipient.
pub async fn the_quota_refuses_what_does_not_fit(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
    s.create_mailbox("hong", "보관", None).await.unwrap();
    let quota = MailQuota::Bytes(3 * size());

    // Two fit exactly with one more; a fourth does not.
    s.append_many("hong", "INBOX", vec![message(1), message(2)], quota)
        .await
        .unwrap();
    over_quota(
        s.append_many("hong", "INBOX", vec![message(3), message(4)], quota)
            .await,
        "hong",
    );
    assert_eq!(s.account_usage("hong").await.unwrap(), 2 * size());
    s.append_many("hong", "INBOX", vec![message(3)], quota)
        .await
        .unwrap();
    assert_eq!(s.account_usage("hong").await.unwrap(), 3 * size());

    // Full: a COPY is refused and copies nothing; a MOVE adds nothing and goes through.
    over_quota(s.copy("hong", "INBOX", &[1], "보관", quota).await, "hong");
    let kept = s.mailbox("hong", "보관").await.unwrap().unwrap();
    assert_eq!(kept.exists, 0);
    s.move_messages("hong", "INBOX", &[1], "보관")
        .await
        .unwrap();
    assert_eq!(s.account_usage("hong").await.unwrap(), 3 * size());

    // A delivery to a full account is refused whole: kim, who has room, gets nothing.
    over_quota(
        s.deliver(delivery(5, &["kim", "Hong"], quota)).await,
        "hong",
    );
    assert_eq!(s.account_usage("kim").await.unwrap(), 0);
    // Below its quota an account takes a delivery, even one that fills it past it.
    let roomy = MailQuota::Bytes(3 * size() + 1);
    s.deliver(delivery(6, &["hong"], roomy)).await.unwrap();
    assert_eq!(s.account_usage("hong").await.unwrap(), 4 * size());
    over_quota(s.deliver(delivery(7, &["hong"], roomy)).await, "hong");

    // Without a quota (the administrator's import, the server's own notices) all goes in.
    s.append_many("hong", "INBOX", vec![message(8)], MailQuota::Unlimited)
        .await
        .unwrap();
    s.copy("hong", "INBOX", &[2], "보관", MailQuota::Unlimited)
        .await
        .unwrap();
    s.deliver(delivery(9, &["hong"], MailQuota::Unlimited))
        .await
        .unwrap();
    assert_eq!(s.account_usage("hong").await.unwrap(), 7 * size());
}

/// Eight APPENDs and eight deliveries at once to one account (as from several
/// connections, or several nodes): exactly as many get in as the quota has room for.
pub async fn racing_writes_share_one_quota(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    let quota = MailQuota::Bytes(3 * size());
    let appends = (1..=8).map(|n| s.append_many("hong", "INBOX", vec![message(n)], quota));
    let results = futures::future::join_all(appends).await;
    let stored = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(stored, 3, "{results:?}");
    for r in results.into_iter().filter(|r| r.is_err()) {
        over_quota(r, "hong");
    }
    assert_eq!(s.account_usage("hong").await.unwrap(), 3 * size());

    // Deliveries: taken while below the quota, so one past it and no more.
    s.create_account(kim()).await.unwrap();
    let quota = MailQuota::Bytes(2 * size() + 1);
    let deliveries = (1..=8).map(|n| s.deliver(delivery(n, &["kim"], quota)));
    let results = futures::future::join_all(deliveries).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        3,
        "{results:?}"
    );
    assert_eq!(s.account_usage("kim").await.unwrap(), 3 * size());
    let inbox = s.mailbox("kim", "INBOX").await.unwrap().unwrap();
    assert_eq!(inbox.exists, 3);
}
