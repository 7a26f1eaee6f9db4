//! Conformance checks: Messages: append, read, flags with MODSEQ, copy, move, expunge, change tracking.

use super::{body, flags, hong, kim, message};
use crate::Store;
use crate::{FlagOp, StoreError};

async fn with_hong(store: &dyn Store) {
    store.create_account(hong()).await.unwrap();
}

/// Append and read back.
pub async fn append_and_read_back(store: &dyn Store) {
    with_hong(store).await;
    let s = store;
    let inbox = s.mailbox("hong", "INBOX").await.unwrap().unwrap();
    let mut m = message(1);
    m.flags = flags(&["\\seen", "$Label1", "\\Recent", "\\SEEN"]);
    let (validity, uid1, modseq1) = s.append("hong", "inbox", m).await.unwrap();
    assert_eq!((validity, uid1), (inbox.uid_validity, 1));
    assert!(modseq1 > inbox.highest_modseq);
    let (_, uid2, modseq2) = s.append("hong", "INBOX", message(2)).await.unwrap();
    assert_eq!(uid2, 2);
    assert!(modseq2 > modseq1);

    let all = s.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0].flags,
        ["$Label1", "\\Seen"],
        "canonical, deduplicated, no \\Recent"
    );
    assert_eq!(all[0].internal_date, 1_700_000_001);
    assert_eq!(all[0].size, body(1).len() as u64);
    assert_eq!(s.message_body("hong", &all[1].blob).await.unwrap(), body(2));
    assert_eq!(s.messages("hong", "INBOX", 2..=2).await.unwrap()[0].uid, 2);
    assert!(
        s.messages("hong", "INBOX", 3..=10)
            .await
            .unwrap()
            .is_empty()
    );

    let mbox = s.mailbox("hong", "INBOX").await.unwrap().unwrap();
    assert_eq!(
        (mbox.uid_next, mbox.exists, mbox.highest_modseq),
        (3, 2, modseq2)
    );
    assert_eq!(mbox.size, (body(1).len() + body(2).len()) as u64);
    assert_eq!(s.account_usage("hong").await.unwrap(), mbox.size);
    assert!(matches!(
        s.append("hong", "없는 편지함", message(3)).await,
        Err(StoreError::MailboxNotFound(_))
    ));
}

/// Bodies are private to their accounts.
pub async fn bodies_are_private_to_their_accounts(store: &dyn Store) {
    with_hong(store).await;
    let s = store;
    s.create_account(kim()).await.unwrap();
    s.append("hong", "INBOX", message(1)).await.unwrap();
    let blob = s.messages("hong", "INBOX", 1..=1).await.unwrap()[0].blob;
    assert!(matches!(
        s.message_body("kim", &blob).await,
        Err(StoreError::MessageNotFound)
    ));
}

/// Flags with modseq and unchanged since.
pub async fn flags_with_modseq_and_unchanged_since(store: &dyn Store) {
    with_hong(store).await;
    let s = store;
    for n in 1..=3 {
        s.append("hong", "INBOX", message(n)).await.unwrap();
    }
    let before = s
        .mailbox("hong", "INBOX")
        .await
        .unwrap()
        .unwrap()
        .highest_modseq;
    let r = s
        .set_flags(
            "hong",
            "INBOX",
            &[1, 2, 99],
            FlagOp::Add,
            &flags(&["\\Seen", "중요"]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.updated.len(), 2, "missing UID 99 is skipped");
    assert!(r.failed_modified.is_empty());
    let m1 = r.updated[0].modseq;
    assert!(m1 > before);
    assert!(
        r.updated
            .iter()
            .all(|u| u.modseq == m1 && u.flags == ["\\Seen", "중요"])
    );

    // Setting flags a message already has does not change its MODSEQ.
    let same = s
        .set_flags(
            "hong",
            "INBOX",
            &[1],
            FlagOp::Add,
            &flags(&["\\seen"]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(same.updated[0].modseq, m1);

    let removed = s
        .set_flags(
            "hong",
            "INBOX",
            &[2],
            FlagOp::Remove,
            &flags(&["중요"]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(removed.updated[0].flags, ["\\Seen"]);
    let m2 = removed.updated[0].modseq;
    assert!(m2 > m1);
    unchanged_since_and_changed_since(s, m1, m2).await;
}

/// The second half of [`flags_with_modseq_and_unchanged_since`]: UID 1 and 3 last changed
/// at `m1`, UID 2 at `m2`.
async fn unchanged_since_and_changed_since(s: &dyn Store, m1: u64, m2: u64) {
    // RFC 7162 §3.2: UID 2 changed after m1, so UNCHANGEDSINCE m1 fails for it only.
    let cond = s
        .set_flags(
            "hong",
            "INBOX",
            &[1, 2, 3],
            FlagOp::Replace,
            &flags(&["\\Flagged"]),
            Some(m1),
        )
        .await
        .unwrap();
    assert_eq!(cond.failed_modified, [2]);
    assert_eq!(
        cond.updated.iter().map(|u| u.uid).collect::<Vec<_>>(),
        [1, 3]
    );
    let now = s.messages("hong", "INBOX", 1..=3).await.unwrap();
    assert_eq!(now[0].flags, ["\\Flagged"]);
    assert_eq!(now[1].flags, ["\\Seen"]);
    assert_eq!(now[2].flags, ["\\Flagged"]);

    let changed = s.changed_since("hong", "INBOX", m2).await.unwrap();
    assert_eq!(changed.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 3]);
    let top = s
        .mailbox("hong", "INBOX")
        .await
        .unwrap()
        .unwrap()
        .highest_modseq;
    assert_eq!(top, now[0].modseq);
    assert!(
        s.changed_since("hong", "INBOX", top)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Copy keeps flags and shares the body.
pub async fn copy_keeps_flags_and_shares_the_body(store: &dyn Store) {
    with_hong(store).await;
    let s = store;
    s.create_mailbox("hong", "보관", None).await.unwrap();
    let mut m = message(1);
    m.flags = flags(&["\\Answered"]);
    s.append("hong", "INBOX", m).await.unwrap();
    s.append("hong", "INBOX", message(2)).await.unwrap();
    s.append("hong", "보관", message(9)).await.unwrap();
    let target = s.mailbox("hong", "보관").await.unwrap().unwrap();
    let (validity, pairs) = s.copy("hong", "INBOX", &[2, 1, 42], "보관").await.unwrap();
    assert_eq!(validity, target.uid_validity);
    assert_eq!(
        pairs,
        [(1, 2), (2, 3)],
        "source UID order, new UIDs after the existing one"
    );
    let copied = s.messages("hong", "보관", 2..=3).await.unwrap();
    assert_eq!(copied[0].flags, ["\\Answered"]);
    assert_eq!(copied[0].internal_date, 1_700_000_001);
    assert_eq!(
        s.messages("hong", "INBOX", 1..=u32::MAX)
            .await
            .unwrap()
            .len(),
        2
    );
    let usage = s.account_usage("hong").await.unwrap();
    assert_eq!(
        usage,
        (2 * (body(1).len() + body(2).len()) + body(9).len()) as u64
    );

    // Expunging the original keeps the copy readable (reference count).
    s.set_flags(
        "hong",
        "INBOX",
        &[1],
        FlagOp::Add,
        &flags(&["\\Deleted"]),
        None,
    )
    .await
    .unwrap();
    assert_eq!(s.expunge("hong", "INBOX", None).await.unwrap(), [1]);
    assert_eq!(
        s.message_body("hong", &copied[0].blob).await.unwrap(),
        body(1)
    );
}

/// Move removes from source atomically.
pub async fn move_removes_from_source_atomically(store: &dyn Store) {
    with_hong(store).await;
    let s = store;
    s.create_mailbox("hong", "휴지통", None).await.unwrap();
    for n in 1..=3 {
        s.append("hong", "INBOX", message(n)).await.unwrap();
    }
    let before = s.mailbox("hong", "INBOX").await.unwrap().unwrap();
    let (_, pairs) = s
        .move_messages("hong", "INBOX", &[1, 3], "휴지통")
        .await
        .unwrap();
    assert_eq!(pairs, [(1, 1), (3, 2)]);
    let left = s.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
    assert_eq!(left.iter().map(|m| m.uid).collect::<Vec<_>>(), [2]);
    let inbox = s.mailbox("hong", "INBOX").await.unwrap().unwrap();
    assert_eq!(inbox.exists, 1);
    assert_eq!(
        s.expunged_since("hong", "INBOX", before.highest_modseq)
            .await
            .unwrap(),
        [1, 3]
    );
    let trash = s.messages("hong", "휴지통", 1..=u32::MAX).await.unwrap();
    assert_eq!(
        s.message_body("hong", &trash[1].blob).await.unwrap(),
        body(3)
    );
    assert_eq!(
        s.account_usage("hong").await.unwrap(),
        (body(1).len() + body(2).len() + body(3).len()) as u64
    );
    // A move into the same mailbox (RFC 6851 §3.3, RFC 9051 §6.4.8) works: the message
    // gets a new UID and its old one is expunged; the body is neither copied nor lost.
    let before = s.mailbox("hong", "INBOX").await.unwrap().unwrap();
    let (validity, pairs) = s
        .move_messages("hong", "INBOX", &[2], "inbox")
        .await
        .unwrap();
    assert_eq!((validity, pairs), (before.uid_validity, vec![(2, 4)]));
    let inbox = s.mailbox("hong", "INBOX").await.unwrap().unwrap();
    assert_eq!((inbox.exists, inbox.uid_next), (1, 5));
    assert!(inbox.highest_modseq > before.highest_modseq);
    let left = s.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
    assert_eq!(left.iter().map(|m| m.uid).collect::<Vec<_>>(), [4]);
    assert_eq!(
        s.message_body("hong", &left[0].blob).await.unwrap(),
        body(2)
    );
    assert_eq!(
        s.expunged_since("hong", "INBOX", before.highest_modseq)
            .await
            .unwrap(),
        [2]
    );
    assert_eq!(
        s.account_usage("hong").await.unwrap(),
        (body(1).len() + body(2).len() + body(3).len()) as u64
    );
}

/// Expunge only deleted and record it.
pub async fn expunge_only_deleted_and_record_it(store: &dyn Store) {
    with_hong(store).await;
    let s = store;
    for n in 1..=4 {
        s.append("hong", "INBOX", message(n)).await.unwrap();
    }
    let blob3 = s.messages("hong", "INBOX", 3..=3).await.unwrap()[0].blob;
    s.set_flags(
        "hong",
        "INBOX",
        &[1, 3, 4],
        FlagOp::Add,
        &flags(&["\\Deleted"]),
        None,
    )
    .await
    .unwrap();
    let mark = s
        .mailbox("hong", "INBOX")
        .await
        .unwrap()
        .unwrap()
        .highest_modseq;
    // UID EXPUNGE: only listed UIDs that are \Deleted.
    assert_eq!(
        s.expunge("hong", "INBOX", Some(&[2, 3])).await.unwrap(),
        [3]
    );
    let first = s
        .mailbox("hong", "INBOX")
        .await
        .unwrap()
        .unwrap()
        .highest_modseq;
    assert!(first > mark);
    assert_eq!(s.expunge("hong", "INBOX", None).await.unwrap(), [1, 4]);
    assert!(s.expunge("hong", "INBOX", None).await.unwrap().is_empty());
    let left = s.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
    assert_eq!(left.iter().map(|m| m.uid).collect::<Vec<_>>(), [2]);
    assert_eq!(
        s.expunged_since("hong", "INBOX", mark).await.unwrap(),
        [1, 3, 4]
    );
    assert_eq!(
        s.expunged_since("hong", "INBOX", first).await.unwrap(),
        [1, 4]
    );
    assert!(matches!(
        s.message_body("hong", &blob3).await,
        Err(StoreError::MessageNotFound)
    ));
    let inbox = s.mailbox("hong", "INBOX").await.unwrap().unwrap();
    assert_eq!(
        (inbox.exists, inbox.uid_next),
        (1, 5),
        "UIDs are never reused"
    );
    assert_eq!(s.account_usage("hong").await.unwrap(), body(2).len() as u64);
}
