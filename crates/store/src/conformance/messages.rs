//! Conformance checks: messages: append and read back, private bodies, flags with MODSEQ and UNCHANGEDSINCE,
//! copy, move, expunge, change tracking, single-instance bodies, summaries.

use crate::{FlagChange, FlagOp, MailQuota, NewMessage, Store, StoreError};

use super::{
    Fixture, assert_stored_bodies, body, delete_messages, flag_change, flags, hong, kim, message,
};

/// Append and read back.
pub async fn append_and_read_back(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
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
    assert_eq!(
        (all[0].internal_date, all[0].modseq),
        (1_700_000_001, modseq1)
    );
    assert_eq!(all[0].size, body(1).len() as u64);
    assert_eq!(s.message_body("hong", &all[0].blob).await.unwrap(), body(1));
    assert_eq!(s.message_body("hong", &all[1].blob).await.unwrap(), body(2));
    assert_eq!(s.message_body("HONG", &all[1].blob).await.unwrap(), body(2));
    assert_eq!(s.messages("hong", "INBOX", 2..=2).await.unwrap()[0].uid, 2);
    assert!(
        s.messages("hong", "INBOX", 3..=10)
            .await
            .unwrap()
            .is_empty()
    );
    #[allow(clippy::reversed_empty_ranges)]
    let empty = s.messages("hong", "INBOX", 5..=3).await.unwrap();
    assert!(empty.is_empty());
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
    assert!(matches!(
        s.messages("hong", "없는 편지함", 1..=1).await,
        Err(StoreError::MailboxNotFound(_))
    ));
}

/// Several messages appended at once (RFC 3502 MULTIAPPEND): consecutive UIDs in order,
/// each with its own flags and date; into a missing mailbox nothing at all is stored.
pub async fn append_many_is_all_or_nothing(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.append("hong", "INBOX", message(1)).await.unwrap();
    let mut second = message(2);
    second.flags = flags(&["\\Flagged"]);
    let appended = s
        .append_many(
            "hong",
            "INBOX",
            vec![second, message(3), message(4)],
            MailQuota::Unlimited,
        )
        .await
        .unwrap();
    let uids: Vec<u32> = appended.iter().map(|a| a.1).collect();
    assert_eq!(uids, [2, 3, 4]);
    assert!(appended.windows(2).all(|w| w[0].2 < w[1].2), "{appended:?}");
    let all = s.messages("hong", "INBOX", 2..=4).await.unwrap();
    assert_eq!(all[0].flags, ["\\Flagged"]);
    assert_eq!(all[1].internal_date, 1_700_000_003);
    assert_eq!(s.message_body("hong", &all[2].blob).await.unwrap(), body(4));
    let mbox = s.mailbox("hong", "INBOX").await.unwrap().unwrap();
    assert_eq!(
        (mbox.exists, mbox.uid_next, mbox.highest_modseq),
        (4, 5, appended[2].2)
    );
    let usage = s.account_usage("hong").await.unwrap();
    assert!(matches!(
        s.append_many(
            "hong",
            "없는 편지함",
            vec![message(5), message(6)],
            MailQuota::Unlimited
        )
        .await,
        Err(StoreError::MailboxNotFound(_))
    ));
    assert_eq!(s.account_usage("hong").await.unwrap(), usage);
    assert_stored_bodies(t, 4, "a refused MULTIAPPEND stores no body").await;
    assert!(
        s.append_many("hong", "INBOX", Vec::new(), MailQuota::Unlimited)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Bodies are private to their accounts.
pub async fn bodies_are_private_to_their_accounts(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
    s.append("hong", "INBOX", message(1)).await.unwrap();
    let blob = s.messages("hong", "INBOX", 1..=1).await.unwrap()[0].blob;
    assert!(matches!(
        s.message_body("kim", &blob).await,
        Err(StoreError::MessageNotFound)
    ));
    assert!(matches!(
        s.message_body("hong", &crate::BlobId([5; 32])).await,
        Err(StoreError::MessageNotFound)
    ));
}

/// Flags with MODSEQ and UNCHANGEDSINCE.
pub async fn flags_with_modseq_and_unchanged_since(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    for n in 1..=3 {
        s.append("hong", "INBOX", message(n)).await.unwrap();
    }
    let before = s
        .mailbox("hong", "INBOX")
        .await
        .unwrap()
        .unwrap()
        .highest_modseq;
    let add = flags(&["\\Seen", "중요"]);
    let r = s
        .set_flags(
            "hong",
            "INBOX",
            flag_change(&[2, 1, 99, 1], FlagOp::Add, &add),
        )
        .await
        .unwrap();
    assert_eq!(
        r.updated.iter().map(|u| u.uid).collect::<Vec<_>>(),
        [1, 2],
        "UID order, duplicates and missing UIDs skipped"
    );
    assert!(r.failed_modified.is_empty());
    let m1 = r.updated[0].modseq;
    assert!(m1 > before);
    assert!(
        r.updated
            .iter()
            .all(|u| u.modseq == m1 && u.flags == ["\\Seen", "중요"])
    );
    let same = s
        .set_flags(
            "hong",
            "INBOX",
            flag_change(&[1], FlagOp::Add, &flags(&["\\seen"])),
        )
        .await
        .unwrap();
    assert_eq!(same.updated[0].modseq, m1, "no change, no new MODSEQ");
    assert_eq!(
        s.mailbox("hong", "INBOX")
            .await
            .unwrap()
            .unwrap()
            .highest_modseq,
        m1
    );
    let removed = s
        .set_flags(
            "hong",
            "INBOX",
            flag_change(&[2], FlagOp::Remove, &flags(&["중요"])),
        )
        .await
        .unwrap();
    assert_eq!(removed.updated[0].flags, ["\\Seen"]);
    let m2 = removed.updated[0].modseq;
    assert!(m2 > m1);
    unchanged_since_and_changed_since(s, m1, m2).await;
    assert!(matches!(
        s.set_flags("hong", "없음", flag_change(&[1], FlagOp::Add, &add))
            .await,
        Err(StoreError::MailboxNotFound(_))
    ));
}

/// The second half of [`flags_with_modseq_and_unchanged_since`]: UID 1 and 3 last changed
/// at `m1`, UID 2 at `m2`.
async fn unchanged_since_and_changed_since(s: &dyn Store, m1: u64, m2: u64) {
    // RFC 7162 §3.2: UID 2 changed after m1, so UNCHANGEDSINCE m1 fails for it only.
    let cond = s
        .set_flags(
            "hong",
            "INBOX",
            FlagChange {
                unchanged_since: Some(m1),
                ..flag_change(&[1, 2, 3], FlagOp::Replace, &flags(&["\\Flagged"]))
            },
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
pub async fn copy_keeps_flags_and_shares_the_body(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_mailbox("hong", "보관", None).await.unwrap();
    let mut m = message(1);
    m.flags = flags(&["\\Answered"]);
    s.append("hong", "INBOX", m).await.unwrap();
    s.append("hong", "INBOX", message(2)).await.unwrap();
    s.append("hong", "보관", message(9)).await.unwrap();
    let target = s.mailbox("hong", "보관").await.unwrap().unwrap();
    let (validity, pairs) = s
        .copy("hong", "INBOX", &[2, 1, 42], "보관", MailQuota::Unlimited)
        .await
        .unwrap();
    assert_eq!(validity, target.uid_validity);
    assert_eq!(
        pairs,
        [(1, 2), (2, 3)],
        "source UID order, after the existing UID"
    );
    let copied = s.messages("hong", "보관", 2..=3).await.unwrap();
    assert_eq!(copied[0].flags, ["\\Answered"]);
    assert_eq!(copied[0].internal_date, 1_700_000_001);
    assert!(copied[0].modseq > target.highest_modseq);
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
    assert_stored_bodies(t, 3, "a copy shares its body").await;
    assert_eq!(delete_messages(s, "INBOX", &[1]).await, [1]);
    assert_eq!(
        s.message_body("hong", &copied[0].blob).await.unwrap(),
        body(1),
        "the copy still holds the body"
    );
    assert!(matches!(
        s.copy("hong", "INBOX", &[2], "없음", MailQuota::Unlimited)
            .await,
        Err(StoreError::MailboxNotFound(_))
    ));
}

/// Move removes from the source atomically.
pub async fn move_removes_from_source_atomically(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
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
    assert_eq!(inbox.size, body(2).len() as u64);
    assert!(inbox.highest_modseq > before.highest_modseq);
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
    assert_stored_bodies(t, 3, "").await;
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
    assert_stored_bodies(t, 3, "").await;
}

/// Expunge removes only `\Deleted` messages and records it.
pub async fn expunge_only_deleted_and_record_it(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    for n in 1..=4 {
        s.append("hong", "INBOX", message(n)).await.unwrap();
    }
    let blob3 = s.messages("hong", "INBOX", 3..=3).await.unwrap()[0].blob;
    s.set_flags(
        "hong",
        "INBOX",
        flag_change(&[1, 3, 4], FlagOp::Add, &flags(&["\\Deleted"])),
    )
    .await
    .unwrap();
    let mark = s
        .mailbox("hong", "INBOX")
        .await
        .unwrap()
        .unwrap()
        .highest_modseq;
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
    assert_stored_bodies(t, 1, "").await;
}

/// Identical bodies are stored once, and freed with their last reference.
pub async fn identical_bodies_are_stored_once(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    let same = || NewMessage {
        body: body(7),
        flags: vec![],
        internal_date: 1,
    };
    s.append("hong", "INBOX", same()).await.unwrap();
    s.append("hong", "INBOX", same()).await.unwrap();
    let msgs = s.messages("hong", "INBOX", 1..=2).await.unwrap();
    assert_eq!(msgs[0].blob, msgs[1].blob);
    assert_stored_bodies(t, 1, "").await;
    delete_messages(s, "INBOX", &[1]).await;
    assert_eq!(
        s.message_body("hong", &msgs[1].blob).await.unwrap(),
        body(7)
    );
    delete_messages(s, "INBOX", &[2]).await;
    assert!(matches!(
        s.message_body("hong", &msgs[1].blob).await,
        Err(StoreError::MessageNotFound)
    ));
    assert_stored_bodies(t, 0, "freed with its last reference").await;
}

/// Summaries are cached per body and freed with it.
pub async fn summaries_are_cached_per_body_and_freed_with_it(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
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
    s.append("hong", "INBOX", message(2)).await.unwrap();
    let second = s.messages("hong", "INBOX", 2..=2).await.unwrap()[0].blob;
    assert_eq!(
        s.message_summaries("hong", vec![second, blob, blob])
            .await
            .unwrap(),
        vec![None, Some(summary.clone()), Some(summary.clone())]
    );
    assert_eq!(
        s.message_summaries("kim", vec![blob]).await.unwrap(),
        vec![None]
    );
    assert!(matches!(
        s.message_summary("kim", &blob).await,
        Err(StoreError::MessageNotFound)
    ));
    assert!(matches!(
        s.set_message_summary("kim", &blob, vec![1]).await,
        Err(StoreError::MessageNotFound)
    ));
    delete_messages(s, "INBOX", &[1, 2]).await;
    assert!(matches!(
        s.message_summary("hong", &blob).await,
        Err(StoreError::MessageNotFound)
    ));
    assert_stored_bodies(t, 0, "summary freed with the body").await;
}

/// Reads and flag changes over more messages than a backend may handle in one go (the
/// sled store reads the first few hundred at once and the rest on the blocking pool) see
/// every message once, in UID order.
pub async fn long_uid_ranges_are_read_and_changed_whole(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    let count = 600u32;
    let messages = (1..=count).map(message).collect();
    s.append_many("hong", "INBOX", messages, MailQuota::Unlimited)
        .await
        .unwrap();
    let uids = |metas: &[crate::MessageMeta]| metas.iter().map(|m| m.uid).collect::<Vec<_>>();
    let all = s.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
    assert_eq!(uids(&all), (1..=count).collect::<Vec<_>>());
    let middle = s.messages("hong", "INBOX", 100..=500).await.unwrap();
    assert_eq!(uids(&middle), (100..=500).collect::<Vec<_>>());

    let seen = flags(&["\\Seen"]);
    let many: Vec<u32> = (1..=count).step_by(2).collect();
    s.set_flags("hong", "INBOX", flag_change(&many, FlagOp::Add, &seen))
        .await
        .unwrap();
    s.set_flags("hong", "INBOX", flag_change(&[2, 4], FlagOp::Add, &seen))
        .await
        .unwrap();
    let all = s.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
    let seen_uids: Vec<u32> = all
        .iter()
        .filter(|m| m.has_flag("\\Seen"))
        .map(|m| m.uid)
        .collect();
    let mut expected = many;
    expected.extend([2, 4]);
    expected.sort_unstable();
    assert_eq!(seen_uids, expected);
}
