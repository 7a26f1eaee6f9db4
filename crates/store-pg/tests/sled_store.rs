//! The same backend-independent checks (`suite/`) against the sled store: evidence that
//! the PostgreSQL store has sled's semantics, until the store crate's conformance suite
//! runs both. sled's physical body count is not checked here (it needs the store closed;
//! crates/store's own tests do it).

mod suite;

use std::sync::Arc;

use certmail_store::prelude::*;
use certmail_store::{KeyFile, SledStore};
use suite::{Probe, Subject};

struct NoProbe;

#[async_trait::async_trait]
impl Probe for NoProbe {
    async fn stored_bodies(&self) -> Option<u64> {
        None
    }
}

async fn subject() -> (Subject, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SledStore::open_async(&dir.path().join("db"), KeyFile::from_bytes([7; 32]))
        .await
        .expect("open sled");
    let store: Arc<dyn Store> = Arc::new(store);
    (
        Subject {
            store,
            probe: Box::new(NoProbe),
        },
        dir,
    )
}

macro_rules! conformance {
    ($($module:ident :: $name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (subject, _dir) = subject().await;
            suite::$module::$name(&subject).await;
        }
    )*};
}

conformance!(
    accounts::accounts_are_created_and_found,
    accounts::duplicate_ids_and_addresses_are_refused,
    accounts::updates_move_addresses_and_keep_secrets,
    accounts::accounts_are_listed_and_deleted_with_everything,
    accounts::cert_bindings_by_spki_account_and_dn,
    accounts::aliases_share_the_address_space,
    mailboxes::mailboxes_are_created_with_parents,
    mailboxes::rename_moves_children_and_keeps_messages,
    mailboxes::renaming_inbox_leaves_an_empty_inbox,
    mailboxes::delete_removes_messages_but_not_children,
    mailboxes::subscriptions,
    messages::append_and_read_back,
    messages::bodies_are_private_to_their_accounts,
    messages::flags_with_modseq_and_unchanged_since,
    messages::copy_keeps_flags_and_shares_the_body,
    messages::move_removes_from_the_source_atomically,
    messages::expunge_removes_only_deleted_and_records_it,
    messages::identical_bodies_are_stored_once,
    messages::summaries_are_cached_per_body_and_freed_with_it,
    delivery::one_delivery_many_recipients_one_body,
    delivery::a_failing_delivery_stores_nothing,
    delivery::queue_entries_are_updated_and_removed,
    delivery::audit_by_time_and_account,
    delivery::devices_are_kept_per_account,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_operations_match_the_model() {
    for seed in [1u64, 7, 42, 2024, 0x5eed] {
        let (subject, _dir) = subject().await;
        suite::model::random_operations_match_the_model(&subject, seed, 80).await;
    }
}
