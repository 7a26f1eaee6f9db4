//! Conformance checks: URLAUTH access keys (RFC 4467 §7), per user and mailbox.

use crate::StoreError;

use super::{Fixture, hong, kim};

/// A key is made once and then read back; it is per user and per mailbox; reading alone
/// makes none; a missing mailbox is `MailboxNotFound`.
pub async fn urlauth_keys_are_per_user_and_mailbox(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
    s.create_mailbox("hong", "보고서", None).await.unwrap();
    assert_eq!(
        s.urlauth_key("hong", "hong", "INBOX", None).await.unwrap(),
        None,
        "reading makes no key"
    );
    let first = s.urlauth_key("hong", "hong", "INBOX", Some([1; 32])).await;
    assert_eq!(first.unwrap(), Some([1; 32]));
    let again = s.urlauth_key("Hong", "hong", "inbox", Some([2; 32])).await;
    assert_eq!(again.unwrap(), Some([1; 32]), "the stored key wins");
    assert_eq!(
        s.urlauth_key("hong", "hong", "INBOX", None).await.unwrap(),
        Some([1; 32])
    );
    let other_box = s.urlauth_key("hong", "hong", "보고서", Some([3; 32])).await;
    assert_eq!(
        other_box.unwrap(),
        Some([3; 32]),
        "another mailbox, another key"
    );
    let other_user = s.urlauth_key("kim", "hong", "INBOX", Some([4; 32])).await;
    assert_eq!(
        other_user.unwrap(),
        Some([4; 32]),
        "another user, another key"
    );
    assert!(matches!(
        s.urlauth_key("hong", "hong", "없음", Some([5; 32])).await,
        Err(StoreError::MailboxNotFound(_))
    ));
}

/// RESETKEY of one mailbox forgets that key only; RESETKEY without one forgets all of the
/// user's keys and no one else's.
pub async fn urlauth_keys_are_reset_per_mailbox_or_all(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
    s.create_mailbox("hong", "보고서", None).await.unwrap();
    for (user, mailbox, byte) in [
        ("hong", "INBOX", 1),
        ("hong", "보고서", 2),
        ("kim", "INBOX", 3),
    ] {
        s.urlauth_key(user, "hong", mailbox, Some([byte; 32]))
            .await
            .unwrap();
    }
    let one = s.reset_urlauth_keys("hong", Some(("hong", "보고서"))).await;
    assert_eq!(one.unwrap(), 1);
    let read =
        |user: &'static str, mailbox: &'static str| s.urlauth_key(user, "hong", mailbox, None);
    assert_eq!(read("hong", "보고서").await.unwrap(), None);
    assert_eq!(read("hong", "INBOX").await.unwrap(), Some([1; 32]));
    assert_eq!(s.reset_urlauth_keys("hong", None).await.unwrap(), 1);
    assert_eq!(read("hong", "INBOX").await.unwrap(), None);
    assert_eq!(
        read("kim", "INBOX").await.unwrap(),
        Some([3; 32]),
        "kim's key stays"
    );
    let fresh = s.urlauth_key("hong", "hong", "INBOX", Some([9; 32])).await;
    assert_eq!(fresh.unwrap(), Some([9; 32]), "a new key after the reset");
    assert!(matches!(
        s.reset_urlauth_keys("hong", Some(("hong", "없음"))).await,
        Err(StoreError::MailboxNotFound(_))
    ));
}

/// A key follows its mailbox through a rename, goes with the mailbox's delete (a new
/// mailbox of the same name has none) and with the user's account.
pub async fn urlauth_keys_follow_renames_and_go_with_deletes(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
    s.create_mailbox("hong", "보고서", None).await.unwrap();
    s.urlauth_key("hong", "hong", "보고서", Some([1; 32]))
        .await
        .unwrap();
    s.urlauth_key("kim", "hong", "INBOX", Some([2; 32]))
        .await
        .unwrap();
    s.rename_mailbox("hong", "보고서", "보관/보고서")
        .await
        .unwrap();
    let moved = s.urlauth_key("hong", "hong", "보관/보고서", None).await;
    assert_eq!(moved.unwrap(), Some([1; 32]));
    s.delete_mailbox("hong", "보관/보고서").await.unwrap();
    s.create_mailbox("hong", "보관/보고서", None).await.unwrap();
    let recreated = s.urlauth_key("hong", "hong", "보관/보고서", None).await;
    assert_eq!(
        recreated.unwrap(),
        None,
        "a new mailbox of the name has no key"
    );
    s.delete_account("kim").await.unwrap();
    s.create_account(kim()).await.unwrap();
    let reborn = s.urlauth_key("kim", "hong", "INBOX", None).await;
    assert_eq!(
        reborn.unwrap(),
        None,
        "a new account of the id inherits no key"
    );
}
