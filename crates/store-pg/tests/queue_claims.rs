//! Claims on the outbound queue between two nodes (two stores with their own node names)
//! on one real PostgreSQL database: an entry is one node's while its claim lives, the
//! other node takes it over once the claim lapses, a renewal keeps it, and two nodes
//! claiming at once split the queue without overlap.

use std::collections::BTreeSet;
use std::time::Duration;

use certmail_store::Delivery;
use certmail_store::conformance::{body, queue_entry};
use certmail_store::prelude::*;
use certmail_store_pg::PgStore;
use certmail_store_pg::pg_harness::PgServer;

/// A time after every test entry's `next_attempt`.
const NOW: i64 = 1_800_000_000;

/// Queues `n` messages to 이순신 at a remote domain; returns their queue ids.
async fn queue(store: &PgStore, n: u32, next_attempt: i64) -> Vec<u64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let mut entry = queue_entry(&["lee@example.com"]);
        entry.next_attempt = next_attempt;
        let receipt = store
            .deliver(Delivery {
                body: body(i),
                internal_date: NOW,
                recipients: Vec::new(),
                queue: vec![entry],
                outgoing: Vec::new(),
                quota: certmail_store::MailQuota::Unlimited,
                redirects: Vec::new(),
            })
            .await
            .expect("queue");
        ids.extend(receipt.queued);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_keeps_an_entry_from_the_other_node_until_it_lapses() {
    let (a, b) = PgServer::two_nodes().await;
    let due = queue(&a, 2, NOW - 10).await;
    let later = queue(&a, 1, NOW + 3600).await;
    let all: Vec<u64> = due.iter().chain(&later).copied().collect();
    let lease = Duration::from_secs(2);

    assert_eq!(
        a.queue_claim(&all, NOW, lease).await.unwrap(),
        due,
        "only due entries"
    );
    assert_eq!(
        b.queue_claim(&all, NOW, lease).await.unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(
        a.queue_claim(&due, NOW, lease).await.unwrap(),
        due,
        "its own again"
    );

    // A renews one claim while the other lapses: B takes over only the lapsed one.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    a.queue_renew(&due[..1], lease).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        b.queue_claim(&due, NOW, lease).await.unwrap(),
        due[1..].to_vec()
    );
    assert_eq!(
        a.queue_claim(&due, NOW, lease).await.unwrap(),
        due[..1].to_vec()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_claiming_at_once_split_the_queue_without_overlap() {
    let (a, b) = PgServer::two_nodes().await;
    let ids = queue(&a, 60, NOW - 10).await;
    let lease = Duration::from_secs(60);
    let (mut got_a, mut got_b) = (BTreeSet::new(), BTreeSet::new());
    // Each node claims the whole queue in small batches, in opposite orders, at once.
    for (fwd, rev) in ids.chunks(6).zip(ids.rchunks(6)) {
        let (x, y) = tokio::join!(
            a.queue_claim(fwd, NOW, lease),
            b.queue_claim(rev, NOW, lease)
        );
        got_a.extend(x.unwrap());
        got_b.extend(y.unwrap());
    }
    assert!(got_a.is_disjoint(&got_b), "{got_a:?} and {got_b:?} overlap");
    let mut union: Vec<u64> = got_a.union(&got_b).copied().collect();
    union.sort_unstable();
    assert_eq!(union, ids, "every entry is claimed by one node");
}
