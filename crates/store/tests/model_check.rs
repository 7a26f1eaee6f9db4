//! Randomised operation sequences checked against the conformance suite's in-memory
//! model of two mailboxes (UIDs, flags, counts, sizes, MODSEQ order and bodies), and the
//! same state again after closing and reopening the sled store.

mod common;

use certmail_store::conformance::model;
use common::TestStore;

#[tokio::test]
async fn random_operations_match_the_model() {
    for seed in [1u64, 7, 42, 2024, 0x5eed] {
        let ts = TestStore::new().await;
        let expected = model::random_operations_match_the_model(&ts, seed, 60).await;
        // The same state after a reopen.
        let ts = ts.reopen().await;
        model::check(&ts, &expected).await;
    }
}
