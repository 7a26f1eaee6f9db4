//! Two nodes (two stores with their own node names) on one real PostgreSQL database: the
//! change notices cross between them only for committed changes, and the session registry
//! keeps one device per account across them, under both policies and when a kick is missed.

use std::sync::Arc;
use std::time::Duration;

use certmail_session::{
    ChangeHub, DeviceKey, KickReason, Protocol, RegistryConfig, SessionPolicy, SessionRegistry,
    SignInError,
};
use certmail_store::conformance::{hong, message};
use certmail_store::prelude::*;
use certmail_store_pg::PgStore;
use certmail_store_pg::pg_harness::PgServer;
use certmail_store_pg::sessions::PgRegistry;

/// Long enough that renewals (every third of it) delayed by a loaded machine do not let a
/// live session's lease lapse mid-test (with 3 s, `list` sometimes found none).
const LEASE: Duration = Duration::from_secs(6);

/// A node's registry with its lease keeper running; with `listen`, also its LISTEN
/// connection (kicks and changes from the other node reach it).
fn registry(store: &PgStore, hub: &ChangeHub, listen: bool) -> Arc<PgRegistry> {
    registry_with(store, hub, listen, RegistryConfig::default(), LEASE)
}

/// [`registry`] with `config` and `lease`.
fn registry_with(
    store: &PgStore,
    hub: &ChangeHub,
    listen: bool,
    config: RegistryConfig,
    lease: Duration,
) -> Arc<PgRegistry> {
    let registry = store.session_registry(config, lease);
    tokio::spawn(Arc::clone(&registry).maintain(std::future::pending()));
    if listen {
        let listener = store.listener(hub.clone(), Some(Arc::clone(&registry)));
        tokio::spawn(listener.run(std::future::pending()));
    }
    registry
}

fn device(n: u8) -> DeviceKey {
    DeviceKey::new([n; 32], format!("127.0.0.{n}").parse().expect("address"))
}

/// 홍길동 signs in on `node` from device `n`.
async fn hong_on(
    node: &PgRegistry,
    n: u8,
    protocol: Protocol,
    policy: SessionPolicy,
) -> Result<certmail_session::ConnectionGuard, SignInError> {
    node.sign_in("홍길동", device(n), protocol, policy).await
}

/// Waits (at most `limit`) for `done`, polling every 50 ms.
async fn eventually(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_changes_reach_the_other_node_and_rolled_back_ones_do_not() {
    let (a, b) = PgServer::two_nodes().await;
    a.create_account(hong()).await.expect("account");
    let hub = ChangeHub::default();
    let mut changes = hub.subscribe("hong", None, Some("INBOX"));
    let _registry = registry(&a, &hub, true);
    // The listener announces itself with a resync once LISTEN holds.
    let first = tokio::time::timeout(Duration::from_secs(5), changes.recv()).await;
    assert_eq!(first.ok(), Some(certmail_session::Change::Resync));

    // A failed append (no such mailbox) rolls back: nothing is announced for it.
    assert!(b.append("hong", "없는 편지함", message(1)).await.is_err());
    let (_, uid, _) = b.append("hong", "INBOX", message(2)).await.expect("append");
    let heard = tokio::time::timeout(Duration::from_secs(1), changes.recv()).await;
    assert_eq!(
        heard.ok(),
        Some(certmail_session::Change::Exists {
            mailbox: "INBOX".into(),
            uid
        })
    );
    // Node A's own change is not fed back to it (its connections published it already).
    a.append("hong", "INBOX", message(3)).await.expect("append");
    let echoed = tokio::time::timeout(Duration::from_millis(500), changes.recv()).await;
    assert!(echoed.is_err(), "own change echoed: {echoed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_sign_ins_on_two_nodes_leave_one_device() {
    let (a, b) = PgServer::two_nodes().await;
    let hub = ChangeHub::default();
    let nodes = [registry(&a, &hub, true), registry(&b, &hub, true)];
    // Both nodes must be listening before the kicks start.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut racers = Vec::new();
    for i in 0..16u8 {
        let registry = Arc::clone(&nodes[usize::from(i % 2)]);
        let dev = device(1 + i % 4);
        racers.push(tokio::spawn(async move {
            let guard = registry
                .sign_in("홍길동", dev, Protocol::Imap, SessionPolicy::Replace)
                .await;
            guard.expect("replace never refuses another device")
        }));
    }
    let mut guards = Vec::new();
    for racer in racers {
        guards.push(racer.await.expect("task"));
    }
    let settled = eventually(Duration::from_secs(2), async || {
        let alive: Vec<DeviceKey> = guards
            .iter()
            .filter(|g| g.kick_reason().is_none())
            .map(|g| g.device())
            .collect();
        !alive.is_empty() && alive.iter().all(|d| *d == alive[0])
    })
    .await;
    assert!(settled, "more than one device (or none) survived the race");
    let listed = nodes[0].list().await;
    let devices: std::collections::HashSet<_> = listed.iter().map(|s| s.device).collect();
    assert_eq!(devices.len(), 1, "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_refuses_while_the_holder_lives_and_not_after_it_signed_out() {
    let (a, b) = PgServer::two_nodes().await;
    let hub = ChangeHub::default();
    let (on_a, on_b) = (registry(&a, &hub, true), registry(&b, &hub, true));
    let held = hong_on(&on_a, 1, Protocol::Smtp, SessionPolicy::Reject)
        .await
        .expect("first sign-in");
    let refused = hong_on(&on_b, 2, Protocol::Imap, SessionPolicy::Reject).await;
    assert_eq!(
        refused.err(),
        Some(SignInError::Rejected { ip: device(1).ip })
    );
    // The same device joins the session on the other node.
    let joined = hong_on(&on_b, 1, Protocol::Imap, SessionPolicy::Reject).await;
    assert!(joined.is_ok(), "{joined:?}");
    drop((held, joined));
    let admitted = eventually(Duration::from_secs(2), async || {
        hong_on(&on_b, 2, Protocol::Imap, SessionPolicy::Reject)
            .await
            .is_ok()
    })
    .await;
    assert!(admitted, "a signed-out device still refuses the newcomer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_the_kick_ends_the_session_at_its_next_renewal() {
    let (a, b) = PgServer::two_nodes().await;
    let hub = ChangeHub::default();
    // Node A hears nothing: no LISTEN connection.
    let (deaf, on_b) = (registry(&a, &hub, false), registry(&b, &hub, true));
    let old = hong_on(&deaf, 1, Protocol::Imap, SessionPolicy::Replace)
        .await
        .expect("sign-in on A");
    let _new = hong_on(&on_b, 2, Protocol::Imap, SessionPolicy::Replace)
        .await
        .expect("sign-in on B");
    // Within a renewal after the sign-in grace (5 s) plus a renewal period (lease / 3 =
    // 2 s), with the same 2 s of room the test had with 3 s leases.
    let reason = tokio::time::timeout(Duration::from_secs(9), old.kicked()).await;
    assert_eq!(
        reason.ok(),
        Some(KickReason::AnotherDevice { ip: device(2).ip })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_before_the_lease_keeper_starts_keeps_its_row() {
    let (a, b) = PgServer::two_nodes().await;
    let hub = ChangeHub::default();
    // Node A's keeper starts only after its first sign-in (a daemon accepting at once):
    // its clearing of a previous run's rows must not take this session's row with them.
    let on_a = a.session_registry(RegistryConfig::default(), LEASE);
    let on_b = registry(&b, &hub, true);
    let _held = hong_on(&on_a, 1, Protocol::Smtp, SessionPolicy::Reject)
        .await
        .expect("first sign-in");
    let keeper = tokio::spawn(Arc::clone(&on_a).maintain(std::future::pending()));
    // Let the keeper run its start (and a renewal) before node B asks.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refused = hong_on(&on_b, 2, Protocol::Imap, SessionPolicy::Reject).await;
    assert_eq!(
        refused.err(),
        Some(SignInError::Rejected { ip: device(1).ip })
    );
    keeper.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_counts_the_device_on_every_node() {
    let (a, b) = PgServer::two_nodes().await;
    let hub = ChangeHub::default();
    let config = RegistryConfig {
        max_connections_per_session: 3,
    };
    // Renewals (every 10 s) must not be what frees a place below.
    let lease = Duration::from_secs(30);
    let on_a = registry_with(&a, &hub, true, config.clone(), lease);
    let on_b = registry_with(&b, &hub, true, config, lease);
    let sign_in =
        async |node: &PgRegistry| hong_on(node, 1, Protocol::Imap, SessionPolicy::Replace).await;
    let first = sign_in(&on_a).await.expect("1st connection");
    let _second = sign_in(&on_a).await.expect("2nd connection");
    let _third = sign_in(&on_b)
        .await
        .expect("3rd connection, on the other node");
    assert_eq!(
        sign_in(&on_b).await.err(),
        Some(SignInError::ConnectionCapReached { cap: 3 }),
        "a 4th connection on node B, with two on node A"
    );
    assert_eq!(
        sign_in(&on_a).await.err(),
        Some(SignInError::ConnectionCapReached { cap: 3 }),
        "a 4th connection on node A, with one on node B"
    );
    // A connection closed on node A frees its place for node B long before a renewal.
    drop(first);
    let freed = eventually(Duration::from_millis(1500), async || {
        sign_in(&on_b).await.is_ok()
    })
    .await;
    assert!(freed, "the place a closed connection left is still taken");
}
