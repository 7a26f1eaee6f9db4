//! Conformance checks: access control lists (RFC 4314) and per-reader `\Seen`.

use crate::acl::{AclEntry, Rights, SharedMailbox};
use crate::{Store, StoreError};

use super::{Fixture, hong, kim, message};

fn rights(text: &str) -> Rights {
    Rights::parse(text).expect("test rights are valid")
}

fn entry(identifier: &str, text: &str) -> AclEntry {
    AclEntry {
        identifier: identifier.into(),
        rights: rights(text),
    }
}

/// hong with a mailbox `공유/예산` and kim, both of 행정안전부.
async fn two_accounts(s: &dyn Store) {
    s.create_account(hong()).await.unwrap();
    let mut kim = kim();
    kim.organisation = "행정안전부".into();
    s.create_account(kim).await.unwrap();
    s.create_mailbox("hong", "공유/예산", None).await.unwrap();
}

/// The flags of hong's `공유/예산` messages, in UID order: the owner's.
async fn owners_flags(s: &dyn Store) -> Vec<Vec<String>> {
    let metas = s.messages("hong", "공유/예산", 1..=u32::MAX).await.unwrap();
    metas.into_iter().map(|m| m.flags).collect()
}

/// Entries are set, replaced, listed by identifier and removed with empty rights.
pub async fn acl_entries_are_set_replaced_and_removed(t: &dyn Fixture) {
    let s = t.store();
    two_accounts(s).await;
    assert_eq!(
        s.acl("hong", "공유/예산").await.unwrap(),
        [] as [AclEntry; 0]
    );
    s.set_acl("hong", "공유/예산", "Kim", rights("lr"))
        .await
        .unwrap();
    s.set_acl("hong", "공유/예산", "org:행정안전부", rights("l"))
        .await
        .unwrap();
    s.set_acl("hong", "공유/예산", "kim", rights("rlsw"))
        .await
        .unwrap();
    assert_eq!(
        s.acl("hong", "공유/예산").await.unwrap(),
        [entry("kim", "lrsw"), entry("org:행정안전부", "l")],
        "identifiers in lowercase, a second grant replaces the first"
    );
    s.set_acl("hong", "공유/예산", "kim", Rights::NONE)
        .await
        .unwrap();
    assert_eq!(
        s.acl("hong", "공유/예산").await.unwrap(),
        [entry("org:행정안전부", "l")]
    );
    assert!(matches!(
        s.set_acl("hong", "없는 편지함", "kim", rights("l")).await,
        Err(StoreError::MailboxNotFound(_))
    ));
    assert!(matches!(
        s.set_acl("hong", "공유/예산", "-kim", rights("l")).await,
        Err(StoreError::InvalidAcl(_))
    ));
    assert!(s.acl("hong", "INBOX").await.unwrap().is_empty());
}

/// `shared_with` finds the grants to any of the identifiers, with the mailbox's current
/// name: entries follow renames and go with deleted mailboxes and accounts.
pub async fn acl_follows_renames_and_goes_with_deletes(t: &dyn Fixture) {
    let s = t.store();
    two_accounts(s).await;
    s.set_acl("hong", "공유/예산", "kim", rights("lr"))
        .await
        .unwrap();
    s.set_acl("hong", "INBOX", "anyone", rights("l"))
        .await
        .unwrap();
    let ids = ["kim".to_string(), "anyone".to_string()];
    let shared = |mailbox: &str, identifier: &str, text: &str| SharedMailbox {
        owner: "hong".into(),
        mailbox: mailbox.into(),
        identifier: identifier.into(),
        rights: rights(text),
    };
    assert_eq!(
        s.shared_with(&ids).await.unwrap(),
        [
            shared("INBOX", "anyone", "l"),
            shared("공유/예산", "kim", "lr")
        ]
    );
    assert_eq!(
        s.shared_with(&["lee".to_string()]).await.unwrap(),
        [] as [SharedMailbox; 0]
    );
    s.rename_mailbox("hong", "공유", "부서").await.unwrap();
    assert_eq!(
        s.acl("hong", "부서/예산").await.unwrap(),
        [entry("kim", "lr")],
        "the entry moved with its mailbox"
    );
    assert_eq!(
        s.shared_with(&["kim".to_string()]).await.unwrap(),
        [shared("부서/예산", "kim", "lr")]
    );
    s.delete_mailbox("hong", "부서/예산").await.unwrap();
    s.create_mailbox("hong", "부서/예산", None).await.unwrap();
    assert_eq!(
        s.acl("hong", "부서/예산").await.unwrap(),
        [] as [AclEntry; 0],
        "a new mailbox of the same name starts without the old entries"
    );
    s.set_acl("hong", "부서/예산", "kim", rights("l"))
        .await
        .unwrap();
    s.delete_account("kim").await.unwrap();
    s.create_account(kim()).await.unwrap();
    assert_eq!(
        s.shared_with(&["kim".to_string()]).await.unwrap(),
        [] as [SharedMailbox; 0],
        "a new account with a deleted one's id inherits none of its access"
    );
}

/// Each reader keeps their own `\Seen` set; the messages' flags do not change.
pub async fn seen_is_kept_per_reader(t: &dyn Fixture) {
    let s = t.store();
    two_accounts(s).await;
    for n in 1..=3 {
        s.append("hong", "공유/예산", message(n)).await.unwrap();
    }
    assert_eq!(
        s.seen_by("hong", "공유/예산", "kim").await.unwrap(),
        [0u32; 0]
    );
    s.set_seen_by("hong", "공유/예산", "kim", &[3, 1], true)
        .await
        .unwrap();
    s.set_seen_by("hong", "공유/예산", "kim", &[1], true)
        .await
        .unwrap();
    assert_eq!(s.seen_by("hong", "공유/예산", "kim").await.unwrap(), [1, 3]);
    assert_eq!(
        s.seen_by("hong", "공유/예산", "lee").await.unwrap(),
        [0u32; 0]
    );
    s.set_seen_by("hong", "공유/예산", "kim", &[1], false)
        .await
        .unwrap();
    assert_eq!(s.seen_by("hong", "공유/예산", "kim").await.unwrap(), [3]);
    let flags = owners_flags(s).await;
    assert!(flags.iter().all(Vec::is_empty), "{flags:?}");
    assert!(matches!(
        s.seen_by("hong", "없는 편지함", "kim").await,
        Err(StoreError::MailboxNotFound(_))
    ));
}

/// A reader's own `\Seen` change gives the messages it changed one new MODSEQ (RFC 7162
/// lets a MODSEQ move with no change the others see), so the reader's other devices learn
/// of it through CHANGEDSINCE; a mark that changes nothing moves nothing.
pub async fn a_readers_seen_moves_the_modseq(t: &dyn Fixture) {
    let s = t.store();
    two_accounts(s).await;
    for n in 1..=3 {
        s.append("hong", "공유/예산", message(n)).await.unwrap();
    }
    async fn highest(s: &dyn Store) -> u64 {
        let mailbox = s.mailbox("hong", "공유/예산").await.unwrap();
        mailbox.expect("the mailbox exists").highest_modseq
    }
    async fn changed(s: &dyn Store, since: u64) -> Vec<(u32, u64)> {
        let metas = s.changed_since("hong", "공유/예산", since).await.unwrap();
        metas.iter().map(|m| (m.uid, m.modseq)).collect()
    }
    let before = highest(s).await;
    s.set_seen_by("hong", "공유/예산", "kim", &[2], true)
        .await
        .unwrap();
    let marked = highest(s).await;
    assert!(
        marked > before,
        "the mailbox's MODSEQ moved: {before} → {marked}"
    );
    assert_eq!(changed(s, before).await, [(2, marked)], "message 2 alone");

    s.set_seen_by("hong", "공유/예산", "kim", &[2], true)
        .await
        .unwrap();
    assert_eq!(highest(s).await, marked, "marking it again changes nothing");

    s.set_seen_by("hong", "공유/예산", "kim", &[2, 3], false)
        .await
        .unwrap();
    let unmarked = highest(s).await;
    assert!(unmarked > marked);
    assert_eq!(
        changed(s, marked).await,
        [(2, unmarked)],
        "message 3 was not seen, so it keeps its MODSEQ"
    );
    let flags = owners_flags(s).await;
    assert!(
        flags.iter().all(Vec::is_empty),
        "the owner's flags: {flags:?}"
    );
}

/// When the owner renames a mailbox, the subscriptions others hold to it (under its
/// `Other Users/<owner>/…` name) follow it with its children, as its access list does;
/// a renamed INBOX takes them to the new name too (its messages and entries went there).
/// The same name under another owner is left alone.
pub async fn readers_subscriptions_follow_the_owners_rename(t: &dyn Fixture) {
    let s = t.store();
    two_accounts(s).await;
    let lee = crate::model::Account::new("lee", "이순신", vec!["lee@example.kr".into()], 0);
    s.create_account(lee).await.unwrap();
    s.create_mailbox("hong", "공유/예산/2027", None)
        .await
        .unwrap();
    let theirs = "Other Users/park/공유/예산";
    for name in [
        "Other Users/hong/공유/예산",
        "Other Users/hong/공유/예산/2027",
        "Other Users/hong/INBOX",
        theirs,
    ] {
        s.set_subscribed("kim", name, true).await.unwrap();
    }
    s.set_subscribed("lee", "Other Users/hong/공유/예산", true)
        .await
        .unwrap();
    s.set_subscribed("hong", "공유/예산", true).await.unwrap();

    s.rename_mailbox("hong", "공유", "부서").await.unwrap();
    s.rename_mailbox("hong", "INBOX", "보관/2026")
        .await
        .unwrap();
    assert_eq!(
        s.subscriptions("kim").await.unwrap(),
        [
            "INBOX",
            "Other Users/hong/보관/2026",
            "Other Users/hong/부서/예산",
            "Other Users/hong/부서/예산/2027",
            theirs,
        ],
        "kim's followed the renames; park's mailbox of the same name is another"
    );
    assert_eq!(
        s.subscriptions("lee").await.unwrap(),
        ["INBOX", "Other Users/hong/부서/예산"]
    );
    assert_eq!(
        s.subscriptions("hong").await.unwrap(),
        ["INBOX", "부서/예산"],
        "the owner's own, as before"
    );
}

/// Changes at once (on any node) keep the cap and lose no `+rights`: twelve newcomers
/// against a cap of three leave three entries, and `+l`, `+r`, `+s`, `+w` sent together
/// to one entry all stay.
pub async fn acl_changes_at_once_keep_the_cap_and_every_added_right(t: &dyn Fixture) {
    use crate::acl::{AclChange, AclUpdate, RightsChange};
    let s = t.store();
    two_accounts(s).await;
    let ids: Vec<String> = (1..=12).map(|n| format!("org:부서{n}")).collect();
    let changes = ids.iter().map(|id| {
        s.change_acl(
            "hong",
            "공유/예산",
            AclChange::new(id, RightsChange::Replace, rights("lr"), 3),
        )
    });
    let results = futures::future::join_all(changes).await;
    let set = results
        .iter()
        .filter(|r| matches!(r, Ok(AclUpdate::Set(_))))
        .count();
    assert_eq!(set, 3, "{results:?}");
    assert!(
        results.iter().all(|r| matches!(
            r,
            Ok(AclUpdate::Set(_)) | Ok(AclUpdate::Full { entries: 3 })
        )),
        "{results:?}"
    );
    assert_eq!(s.acl("hong", "공유/예산").await.unwrap().len(), 3);

    let kept = s.acl("hong", "공유/예산").await.unwrap()[0]
        .identifier
        .clone();
    s.set_acl("hong", "공유/예산", &kept, Rights::NONE)
        .await
        .unwrap();
    let adds = ["l", "r", "s", "w"].map(|r| {
        s.change_acl(
            "hong",
            "공유/예산",
            AclChange::new("kim", RightsChange::Add, rights(r), 3),
        )
    });
    for result in futures::future::join_all(adds).await {
        assert!(matches!(result, Ok(AclUpdate::Set(_))), "{result:?}");
    }
    let acl = s.acl("hong", "공유/예산").await.unwrap();
    let kim = acl
        .iter()
        .find(|e| e.identifier == "kim")
        .expect("kim's entry");
    assert_eq!(kim.rights, rights("lrsw"), "{acl:?}");
    let missing = s.change_acl(
        "hong",
        "없는 편지함",
        AclChange::new("kim", RightsChange::Add, rights("l"), 3),
    );
    assert!(
        matches!(missing.await, Err(StoreError::MailboxNotFound(_))),
        "a missing mailbox"
    );
}
