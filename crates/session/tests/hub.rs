//! The change hub: what each kind of subscriber hears, and what it does not.

use std::time::Duration;

use certmail_session::{Change, ChangeHub, ConnectionId};
use tokio::time::{Instant, timeout};

const HONG: &str = "홍길동@certmail.test";
const KIM: &str = "김철수@certmail.test";
const STEP: Duration = Duration::from_secs(5);

fn exists(mailbox: &str, uid: u32) -> Change {
    Change::Exists {
        mailbox: mailbox.to_owned(),
        uid,
    }
}

#[tokio::test(start_paused = true)]
async fn a_change_reaches_every_subscriber_that_watches_it() {
    let hub = ChangeHub::default();
    let mut whole_account = hub.subscribe(HONG, Some(ConnectionId(1)), None);
    let mut inbox = hub.subscribe(HONG, Some(ConnectionId(2)), Some("INBOX"));
    let mut sent = hub.subscribe(HONG, Some(ConnectionId(3)), Some("Sent"));
    let mut kim = hub.subscribe(KIM, Some(ConnectionId(4)), None);

    // SMTP delivery of inbound mail has no IMAP connection as origin.
    assert_eq!(hub.publish(HONG, None, exists("INBOX", 7)), 3);

    assert_eq!(whole_account.try_recv(), Some(exists("INBOX", 7)));
    assert_eq!(inbox.try_recv(), Some(exists("INBOX", 7)));
    assert_eq!(sent.try_recv(), None, "another mailbox is filtered out");
    assert_eq!(kim.try_recv(), None, "another account hears nothing");
    assert_eq!(whole_account.try_recv(), None, "each change arrives once");
}

#[tokio::test(start_paused = true)]
async fn a_connection_does_not_hear_its_own_changes() {
    let hub = ChangeHub::default();
    let (writer, other) = (ConnectionId(5), ConnectionId(6));
    let mut writer_sub = hub.subscribe(HONG, Some(writer), Some("INBOX"));
    let mut other_sub = hub.subscribe(HONG, Some(other), Some("INBOX"));
    let flags = Change::Flags {
        mailbox: "INBOX".to_owned(),
        uid: 3,
        modseq: 42,
    };

    hub.publish(HONG, Some(writer), flags.clone());
    assert_eq!(writer_sub.try_recv(), None);
    assert_eq!(other_sub.try_recv(), Some(flags));

    hub.publish(HONG, None, exists("INBOX", 4));
    assert_eq!(writer_sub.try_recv(), Some(exists("INBOX", 4)));
}

#[tokio::test(start_paused = true)]
async fn idle_wakes_at_once_when_another_connection_publishes() {
    let hub = ChangeHub::default();
    let mut idle = hub.subscribe(HONG, Some(ConnectionId(7)), Some("INBOX"));
    let waiting = tokio::spawn(async move { idle.recv().await });
    tokio::task::yield_now().await;

    let started = Instant::now();
    let expunged = Change::Expunged {
        mailbox: "INBOX".to_owned(),
        uids: vec![2, 5],
    };
    hub.publish(HONG, Some(ConnectionId(8)), expunged.clone());
    let heard = timeout(STEP, waiting)
        .await
        .expect("IDLE woke")
        .expect("task ran");
    assert_eq!(heard, expunged);
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn recv_loses_nothing_when_select_drops_it() {
    let hub = ChangeHub::default();
    let mut sub = hub.subscribe(HONG, None, None);
    let mut heard = Vec::new();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    for uid in 1..=3 {
        // The tick wins this round (nothing published yet); recv is dropped mid-wait.
        tokio::select! {
            biased;
            _ = ticks.tick() => {}
            change = sub.recv() => heard.push(change),
        }
        hub.publish(HONG, None, exists("INBOX", uid));
        let change = timeout(STEP, sub.recv()).await.expect("change waiting");
        heard.push(change);
    }
    assert_eq!(
        heard,
        vec![exists("INBOX", 1), exists("INBOX", 2), exists("INBOX", 3)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_subscriber_that_falls_behind_is_told_to_resync() {
    let hub = ChangeHub::new(4);
    let mut slow = hub.subscribe(HONG, None, Some("INBOX"));
    for uid in 1..=10 {
        hub.publish(HONG, None, exists("INBOX", uid));
    }
    let first = timeout(STEP, slow.recv()).await.expect("lag reported");
    assert_eq!(first, Change::Resync);
    // After the resync marker it carries on with the newest changes still buffered.
    let mut rest = Vec::new();
    while let Some(change) = slow.try_recv() {
        rest.push(change);
    }
    assert_eq!(
        rest,
        (7..=10).map(|uid| exists("INBOX", uid)).collect::<Vec<_>>()
    );

    for uid in 11..=20 {
        hub.publish(HONG, None, exists("INBOX", uid));
    }
    assert_eq!(
        slow.try_recv(),
        Some(Change::Resync),
        "try_recv reports lag too"
    );
}

#[tokio::test(start_paused = true)]
async fn mailbox_filters_follow_select_and_inbox_is_case_insensitive() {
    let hub = ChangeHub::default();
    let mut sub = hub.subscribe(HONG, None, Some("inbox"));
    hub.publish(HONG, None, exists("INBOX", 1));
    assert_eq!(sub.try_recv(), Some(exists("INBOX", 1)));

    sub.set_mailbox(Some("Archive/2026"));
    assert_eq!(sub.mailbox(), Some("Archive/2026"));
    hub.publish(HONG, None, exists("INBOX", 2));
    hub.publish(HONG, None, exists("archive/2026", 1));
    assert_eq!(sub.try_recv(), None, "only INBOX ignores case");

    let renamed = Change::MailboxRenamed {
        from: "Archive/2026".to_owned(),
        to: "보관함/2026".to_owned(),
    };
    hub.publish(HONG, None, renamed.clone());
    assert_eq!(sub.try_recv(), Some(renamed));

    sub.set_mailbox(None);
    let created = Change::MailboxCreated {
        mailbox: "보관함/2027".to_owned(),
    };
    hub.publish(HONG, None, created.clone());
    assert_eq!(sub.try_recv(), Some(created));
}

#[tokio::test(start_paused = true)]
async fn no_per_account_state_outlives_its_subscribers() {
    let hub = ChangeHub::default();
    assert_eq!(hub.publish(HONG, None, exists("INBOX", 1)), 0);
    assert_eq!(hub.watched_accounts(), 0, "publishing creates nothing");

    let first = hub.subscribe(HONG, None, None);
    let second = hub.subscribe(HONG, None, Some("INBOX"));
    let kim = hub.subscribe(KIM, None, None);
    assert_eq!(hub.watched_accounts(), 2);

    drop(first);
    assert_eq!(hub.watched_accounts(), 2, "홍길동 still has a subscriber");
    assert_eq!(hub.publish(HONG, None, exists("INBOX", 2)), 1);
    drop((second, kim));
    assert_eq!(hub.watched_accounts(), 0);

    // A new subscriber after cleanup gets a fresh channel that works.
    let mut again = hub.subscribe(HONG, None, None);
    assert_eq!(hub.publish(HONG, None, exists("INBOX", 3)), 1);
    assert_eq!(again.try_recv(), Some(exists("INBOX", 3)));
}
