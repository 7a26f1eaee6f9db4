//! Conformance checks: mailboxes: create with parents, rename with children and the INBOX case, delete,
//! subscribe, names.

use crate::{INBOX, SpecialUse, Store, StoreError};

use super::{Fixture, assert_stored_bodies, hong, message};

async fn names(s: &dyn Store) -> Vec<String> {
    let list = s.list_mailboxes("hong").await.unwrap();
    list.into_iter().map(|m| m.name).collect()
}

/// Mailboxes are created with their parents and special use.
pub async fn create_with_parents_and_special_use(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    let sent = s
        .create_mailbox("hong", "보낸 편지함", Some(SpecialUse::Sent))
        .await
        .unwrap();
    assert_eq!(sent.special_use, Some(SpecialUse::Sent));
    assert_eq!(sent.special_use.map(SpecialUse::as_attr), Some("\\Sent"));
    assert_eq!((sent.uid_next, sent.exists, sent.size), (1, 0, 0));
    assert!(sent.uid_validity > 0 && !sent.subscribed);
    let deep = s
        .create_mailbox("hong", "업무/2024/예산", None)
        .await
        .unwrap();
    assert_eq!(
        names(s).await,
        [
            "INBOX",
            "보낸 편지함",
            "업무",
            "업무/2024",
            "업무/2024/예산"
        ],
        "bytewise name order, parents created"
    );
    let inbox = s
        .mailbox("hong", "inbox")
        .await
        .unwrap()
        .expect("case-insensitive");
    assert_eq!(inbox.name, INBOX);
    let parent = s.mailbox("hong", "업무").await.unwrap().unwrap();
    let mut validities = vec![
        inbox.uid_validity,
        sent.uid_validity,
        parent.uid_validity,
        deep.uid_validity,
    ];
    validities.sort_unstable();
    validities.dedup();
    assert_eq!(validities.len(), 4, "UIDVALIDITY never repeats");
    assert!(matches!(
        s.create_mailbox("hong", "보낸 편지함", None).await,
        Err(StoreError::MailboxExists(_))
    ));
    assert!(matches!(
        s.create_mailbox("hong", "Inbox", None).await,
        Err(StoreError::MailboxExists(_))
    ));
    assert!(matches!(
        s.create_mailbox("nobody", "x", None).await,
        Err(StoreError::AccountNotFound(_))
    ));
    for bad in ["", "/a", "a/", "a//b", "a*", "a%b", "a\nb"] {
        let err = s.create_mailbox("hong", bad, None).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidMailbox { .. }),
            "{bad:?}: {err}"
        );
        assert!(s.mailbox("hong", bad).await.unwrap().is_none());
    }
    assert_eq!(SpecialUse::from_attr("\\junk"), Some(SpecialUse::Junk));
}

/// Rename moves children and keeps messages.
pub async fn rename_moves_children_and_keeps_messages(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_mailbox("hong", "업무/2024", None).await.unwrap();
    s.create_mailbox("hong", "업무기록", None).await.unwrap();
    let (validity, uid, _) = s.append("hong", "업무/2024", message(1)).await.unwrap();
    s.rename_mailbox("hong", "업무", "보관/업무").await.unwrap();
    assert_eq!(
        names(s).await,
        ["INBOX", "보관", "보관/업무", "보관/업무/2024", "업무기록"],
        "children moved, a sibling sharing the prefix untouched, the new parent created"
    );
    let moved = s.mailbox("hong", "보관/업무/2024").await.unwrap().unwrap();
    assert_eq!(moved.uid_validity, validity);
    let msgs = s
        .messages("hong", "보관/업무/2024", 1..=u32::MAX)
        .await
        .unwrap();
    assert_eq!(msgs.iter().map(|m| m.uid).collect::<Vec<_>>(), [uid]);
    assert!(matches!(
        s.rename_mailbox("hong", "업무기록", "보관").await,
        Err(StoreError::MailboxExists(_))
    ));
    assert!(matches!(
        s.rename_mailbox("hong", "없음", "새것").await,
        Err(StoreError::MailboxNotFound(_))
    ));
    assert!(matches!(
        s.rename_mailbox("hong", "보관", "보관/안쪽").await,
        Err(StoreError::InvalidMailbox { .. })
    ));
    assert!(matches!(
        s.rename_mailbox("hong", "보관", "inbox").await,
        Err(StoreError::MailboxExists(_))
    ));
}

/// Renaming INBOX leaves an empty INBOX.
pub async fn renaming_inbox_leaves_an_empty_inbox(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_mailbox("hong", "INBOX/child", None).await.unwrap();
    let old = s.mailbox("hong", INBOX).await.unwrap().unwrap();
    s.append("hong", INBOX, message(1)).await.unwrap();
    s.append("hong", INBOX, message(2)).await.unwrap();
    s.rename_mailbox("hong", "INBOX", "옛 받은편지함")
        .await
        .unwrap();
    let moved = s.mailbox("hong", "옛 받은편지함").await.unwrap().unwrap();
    assert_eq!((moved.exists, moved.uid_validity), (2, old.uid_validity));
    let inbox = s.mailbox("hong", INBOX).await.unwrap().unwrap();
    assert_eq!(inbox.exists, 0);
    assert!(inbox.subscribed);
    assert_ne!(
        inbox.uid_validity, old.uid_validity,
        "a new INBOX, a new UIDVALIDITY"
    );
    assert!(
        s.messages("hong", INBOX, 1..=u32::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.mailbox("hong", "INBOX/child").await.unwrap().is_some(),
        "RFC 3501 §6.3.5: INBOX's children stay"
    );
}

/// Delete removes messages but not children.
pub async fn delete_removes_messages_but_not_children(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_mailbox("hong", "a/b", None).await.unwrap();
    s.append("hong", "a", message(1)).await.unwrap();
    s.append("hong", "a/b", message(2)).await.unwrap();
    let before = s.account_usage("hong").await.unwrap();
    s.delete_mailbox("hong", "a").await.unwrap();
    assert_eq!(names(s).await, ["INBOX", "a/b"]);
    assert!(s.account_usage("hong").await.unwrap() < before);
    assert_stored_bodies(t, 1, "a's body freed, a/b's kept").await;
    assert!(matches!(
        s.delete_mailbox("hong", "a").await,
        Err(StoreError::MailboxNotFound(_))
    ));
    assert!(matches!(
        s.delete_mailbox("hong", "inbox").await,
        Err(StoreError::InvalidMailbox { .. })
    ));
    let again = s.create_mailbox("hong", "a", None).await.unwrap();
    assert_eq!((again.exists, again.uid_next), (0, 1), "recreated afresh");
    assert!(
        s.messages("hong", "a", 1..=u32::MAX)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Subscriptions.
pub async fn subscriptions(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_mailbox("hong", "뉴스", None).await.unwrap();
    assert!(!s.mailbox("hong", "뉴스").await.unwrap().unwrap().subscribed);
    s.set_subscribed("hong", "뉴스", true).await.unwrap();
    assert!(s.mailbox("hong", "뉴스").await.unwrap().unwrap().subscribed);
    s.set_subscribed("hong", "뉴스", false).await.unwrap();
    assert!(!s.mailbox("hong", "뉴스").await.unwrap().unwrap().subscribed);
    assert!(matches!(
        s.set_subscribed("hong", "없음", true).await,
        Err(StoreError::MailboxNotFound(_))
    ));
    // Another person's mailbox, by its name in the other users namespace.
    let shared = "Other Users/kim/공유/예산";
    s.set_subscribed("hong", shared, true).await.unwrap();
    assert!(
        s.subscriptions("hong")
            .await
            .unwrap()
            .contains(&shared.to_owned()),
        "a shared mailbox is subscribed by its other users name"
    );
    s.set_subscribed("hong", shared, false).await.unwrap();
    assert!(
        !s.subscriptions("hong")
            .await
            .unwrap()
            .contains(&shared.to_owned())
    );
}

/// Subscriptions are a list of names apart from the mailboxes: DELETE leaves the name
/// subscribed (RFC 3501 §6.3.6 "MUST NOT unilaterally remove"), UNSUBSCRIBE takes it off
/// without a mailbox, a mailbox created again under it shows subscribed, RENAME carries it.
pub async fn subscriptions_outlive_their_mailboxes(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_mailbox("hong", "뉴스/국내", None).await.unwrap();
    s.set_subscribed("hong", "뉴스/국내", true).await.unwrap();
    assert_eq!(
        s.subscriptions("hong").await.unwrap(),
        ["INBOX", "뉴스/국내"]
    );
    s.delete_mailbox("hong", "뉴스/국내").await.unwrap();
    assert_eq!(
        s.subscriptions("hong").await.unwrap(),
        ["INBOX", "뉴스/국내"]
    );
    let again = s.create_mailbox("hong", "뉴스/국내", None).await.unwrap();
    assert!(again.subscribed);
    s.delete_mailbox("hong", "뉴스/국내").await.unwrap();
    s.set_subscribed("hong", "뉴스/국내", false).await.unwrap();
    assert_eq!(s.subscriptions("hong").await.unwrap(), ["INBOX"]);
    // Unsubscribing a name that is not on the list is no error.
    s.set_subscribed("hong", "뉴스/국내", false).await.unwrap();
    // RENAME carries the subscriptions of the mailbox and its children.
    s.create_mailbox("hong", "a/b", None).await.unwrap();
    s.set_subscribed("hong", "a/b", true).await.unwrap();
    s.rename_mailbox("hong", "a", "c").await.unwrap();
    assert_eq!(s.subscriptions("hong").await.unwrap(), ["INBOX", "c/b"]);
    assert!(s.mailbox("hong", "c/b").await.unwrap().unwrap().subscribed);
    // Another account's list is its own.
    assert!(s.subscriptions("nobody").await.unwrap().is_empty());
}
