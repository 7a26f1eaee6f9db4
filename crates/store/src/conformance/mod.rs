//! The behaviour every store backend must show, written once (feature `conformance`).
//!
//! Each check is an `async fn(&dyn Fixture)` that starts from an empty store and panics on
//! the first difference, like a test. A backend runs them all with [`crate::conformance_tests!`]
//! in one of its test files:
//!
//! ```text
//! // a fresh, empty store per check, as a `Fixture`
//! async fn fresh() -> MyFixture { .. }
//! certmail_store::conformance_tests!(fresh);
//! ```
//!
//! What only one backend can show (sled's crash safety, backup files, format version)
//! stays in that backend's own tests; how many bodies it stores, each backend tells
//! through [`Fixture::stored_bodies`].

pub mod accounts;
pub mod acl;
pub mod delivery;
pub mod mailboxes;
pub mod messages;
pub mod model;
pub mod quota;
pub mod redirects;
pub mod replies;
pub mod scripts;
pub mod search;
pub mod urlauth;

use std::collections::BTreeMap;

use crate::model::{Account, NewMessage};
use crate::{
    AuditEvent, BlobId, CertBinding, FlagChange, FlagOp, QueueEntry, QueueRecipient,
    RecipientStatus, Store, notify,
};

/// A fresh store under test, and what its backend can tell about its storage that the
/// trait cannot.
#[async_trait::async_trait]
pub trait Fixture: Send + Sync {
    /// The store under test.
    fn store(&self) -> &dyn Store;

    /// How many message bodies are physically stored, whatever their reference counts
    /// (single-instance storage, freeing the last reference); `None` if the backend cannot
    /// tell.
    async fn stored_bodies(&self) -> Option<u64> {
        None
    }
}

/// Checks how many bodies are physically stored, where the backend can tell.
pub async fn assert_stored_bodies(t: &dyn Fixture, expected: u64, why: &str) {
    if let Some(n) = t.stored_bodies().await {
        assert_eq!(n, expected, "bodies stored: {why}");
    }
}

/// 홍길동's account: id "hong", two addresses.
pub fn hong() -> Account {
    let mut a = Account::new(
        "Hong",
        "홍길동",
        vec!["Hong@Example.kr".into(), "gildong@example.kr".into()],
        1_700_000_000,
    );
    a.organisation = "행정안전부".into();
    a
}

/// 김철수's account: id "kim".
pub fn kim() -> Account {
    Account::new(
        "kim",
        "김철수",
        vec!["kim@example.kr".into()],
        1_700_000_100,
    )
}

/// A small RFC 5322 message with a Korean subject.
pub fn message(n: u32) -> NewMessage {
    NewMessage {
        body: body(n),
        flags: vec![],
        internal_date: 1_700_000_000 + i64::from(n),
    }
}

/// The body of [`message`] `n`.
pub fn body(n: u32) -> Vec<u8> {
    format!(
        "From: 김철수 <kim@example.kr>\r\nTo: 홍길동 <hong@example.kr>\r\n\
         Subject: 회의 안내 {n}\r\n\r\n안녕하세요, 회의는 {n}시입니다.\r\n"
    )
    .into_bytes()
}

/// Owned flag names.
pub fn flags(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A [`FlagChange`] of `uids` without UNCHANGEDSINCE.
pub fn flag_change(uids: &[u32], op: FlagOp, flags: &[String]) -> FlagChange {
    FlagChange {
        uids: uids.to_vec(),
        op,
        flags: flags.to_vec(),
        unchanged_since: None,
    }
}

/// A GPKI certificate binding of `account`; `spki_byte` makes the key unique.
pub fn binding(account: &str, spki_byte: u8, subject: &str) -> CertBinding {
    CertBinding {
        account: account.into(),
        spki_sha256: [spki_byte; 32],
        issuer_dn: "CN=CA134100031,OU=GPKI,O=Government of Korea,C=KR".into(),
        subject_dn: subject.into(),
        serial_hex: format!("{spki_byte:02x}01"),
        not_after: 1_800_000_000,
        bound_at: 1_700_000_000,
    }
}

/// A queue entry from hong to `to`, every recipient pending.
pub fn queue_entry(to: &[&str]) -> QueueEntry {
    QueueEntry {
        id: 0,
        from: "hong@example.kr".into(),
        recipients: to
            .iter()
            .map(|a| QueueRecipient {
                address: a.to_string(),
                status: RecipientStatus::Pending,
                attempts: 0,
                last_error: None,
                notify: notify::FAILURE | notify::DELAY,
            })
            .collect(),
        blob: BlobId::default(),
        created_at: 1_700_000_000,
        next_attempt: 1_700_000_000,
        envelope_meta: BTreeMap::from([("envid".to_string(), "회의-1".to_string())]),
    }
}

/// An audit event at `time`.
pub fn event(time: i64, account: Option<&str>, kind: &str) -> AuditEvent {
    AuditEvent {
        time,
        account: account.map(str::to_owned),
        kind: kind.into(),
        ip: Some("192.0.2.7".into()),
        fields: BTreeMap::from([("name".to_string(), "홍길동".to_string())]),
    }
}

/// Marks hong's `uids` \Deleted and expunges them (UID EXPUNGE).
pub async fn delete_messages(s: &dyn Store, mailbox: &str, uids: &[u32]) -> Vec<u32> {
    s.set_flags(
        "hong",
        mailbox,
        flag_change(uids, FlagOp::Add, &flags(&["\\Deleted"])),
    )
    .await
    .unwrap();
    s.expunge("hong", mailbox, Some(uids)).await.unwrap()
}

/// One `#[tokio::test]` per conformance check, each on a fresh store from `$fresh`: the
/// path of an `async fn` returning a [`Fixture`] (that cleans up when dropped), and one
/// test running the model check with several seeds, each on a fresh store. Arguments after
/// the path go to `#[tokio::test(..)]`. The calling crate needs tokio's `macros` and `rt`
/// features.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:path $(, $arg:meta)* $(,)?) => {
        $crate::conformance_tests!(@each $fresh; ($($arg),*);
            accounts::create_and_look_up_accounts,
            accounts::duplicate_ids_and_addresses_are_refused,
            accounts::update_moves_addresses_and_keeps_secrets,
            accounts::list_and_delete_accounts,
            accounts::cert_bindings_by_spki_account_and_dn,
            accounts::aliases,
            mailboxes::create_with_parents_and_special_use,
            mailboxes::rename_moves_children_and_keeps_messages,
            mailboxes::renaming_inbox_leaves_an_empty_inbox,
            mailboxes::delete_removes_messages_but_not_children,
            mailboxes::subscriptions,
            mailboxes::subscriptions_outlive_their_mailboxes,
            acl::acl_entries_are_set_replaced_and_removed,
            acl::acl_follows_renames_and_goes_with_deletes,
            acl::seen_is_kept_per_reader,
            acl::a_readers_seen_moves_the_modseq,
            acl::readers_subscriptions_follow_the_owners_rename,
            acl::acl_changes_at_once_keep_the_cap_and_every_added_right,
            messages::append_and_read_back,
            messages::append_many_is_all_or_nothing,
            messages::bodies_are_private_to_their_accounts,
            messages::flags_with_modseq_and_unchanged_since,
            messages::copy_keeps_flags_and_shares_the_body,
            messages::move_removes_from_source_atomically,
            messages::expunge_only_deleted_and_record_it,
            messages::identical_bodies_are_stored_once,
            messages::summaries_are_cached_per_body_and_freed_with_it,
            messages::long_uid_ranges_are_read_and_changed_whole,
            quota::the_quota_refuses_what_does_not_fit,
            quota::racing_writes_share_one_quota,
            delivery::one_delivery_many_recipients_one_body,
            delivery::a_failing_delivery_stores_nothing,
            delivery::queue_entries_are_updated_and_removed,
            delivery::audit_by_time_and_account,
            delivery::audit_keeps_events_quoting_a_nul,
            delivery::the_store_reports_its_size,
            delivery::devices_are_kept_per_account,
            delivery::new_devices_signing_in_at_once_keep_the_cap,
            scripts::scripts_are_kept_per_account_with_one_active,
            scripts::script_quotas_and_names_are_enforced,
            scripts::rename_and_delete_scripts,
            replies::a_vacation_reply_goes_once_per_period,
            replies::a_failing_delivery_writes_no_mark,
            replies::reply_marks_are_listed_pruned_and_deleted,
            redirects::racing_redirects_keep_the_daily_cap,
            redirects::the_redirect_cap_is_per_day_and_per_stored_delivery,
            urlauth::urlauth_keys_are_per_user_and_mailbox,
            urlauth::urlauth_keys_are_reset_per_mailbox_or_all,
            urlauth::urlauth_keys_follow_renames_and_go_with_deletes,
            search::search_index_follows_every_write,
            search::expunged_bodies_leave_the_index,
        );

        /// Random operation sequences agree with a model (several seeds, each on a fresh
        /// store).
        #[tokio::test($($arg),*)]
        async fn random_operations_match_the_model() {
            for seed in [1u64, 7, 42, 2024, 0x5eed] {
                let fixture = $fresh().await;
                $crate::conformance::model::random_operations_match_the_model(&fixture, seed, 80)
                    .await;
            }
        }
    };
    (@each $fresh:path; $args:tt; $($module:ident :: $check:ident),* $(,)?) => {
        $(
            #[tokio::test $args]
            async fn $check() {
                let fixture = $fresh().await;
                $crate::conformance::$module::$check(&fixture).await;
            }
        )*
    };
}
