//! The behaviour every store backend must show, written once (feature `conformance`).
//!
//! Each check is an `async fn(&dyn Store)` that starts from an empty store and panics on
//! the first difference, like a test. A backend runs them all with [`crate::conformance_tests!`]
//! in one of its test files:
//!
//! ```ignore
//! // a fresh, empty store per check; anything that dereferences to `dyn Store`
//! async fn fresh() -> MyFixture { .. }
//! certmail_store::conformance_tests!(fresh);
//! ```
//!
//! What only one backend can show (sled's crash safety, backup files, format version,
//! bodies stored once on disk) stays in that backend's own tests.

pub mod accounts;
pub mod delivery;
pub mod mailboxes;
pub mod messages;

use crate::model::{Account, NewMessage};

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

/// One `#[tokio::test]` per conformance check, each on a fresh store from `$fresh`: the
/// path of an `async fn` returning a value that dereferences to `dyn Store` (and cleans up
/// when dropped). The calling crate needs tokio's `macros` and `rt` features.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:path) => {
        $crate::conformance_tests!(@each $fresh;
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
            messages::append_and_read_back,
            messages::bodies_are_private_to_their_accounts,
            messages::flags_with_modseq_and_unchanged_since,
            messages::copy_keeps_flags_and_shares_the_body,
            messages::move_removes_from_source_atomically,
            messages::expunge_only_deleted_and_record_it,
            delivery::a_failing_delivery_stores_nothing,
            delivery::audit_by_time_and_account,
        );
    };
    (@each $fresh:path; $($module:ident :: $check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let fixture = $fresh().await;
                $crate::conformance::$module::$check(&*fixture).await;
            }
        )*
    };
}
