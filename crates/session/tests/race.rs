//! Racing sign-ins: the registry serialises them, so exactly one device ends up signed in.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use certmail_session::{
    ConnectionGuard, DeviceKey, KickReason, LocalRegistry, Protocol, RegistryConfig, SessionPolicy,
    SessionRegistry, SignInError,
};
use tokio::time::timeout;

const HONG: &str = "홍길동@certmail.test";
const STEP: Duration = Duration::from_secs(5);

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

/// Device number `n`: its own certificate and its own address.
fn device(n: u8, addr: &str) -> DeviceKey {
    DeviceKey::new([n; 32], ip(addr))
}

fn registry(cap: usize) -> Arc<dyn SessionRegistry> {
    Arc::new(LocalRegistry::new(RegistryConfig {
        max_connections_per_session: cap,
    }))
}

/// Twenty devices (device `n` from 10.0.n.1) sign in to [`HONG`] at once under `policy`;
/// every sign-in is over when this returns: each device's address and outcome, in order.
async fn race(
    registry: &Arc<dyn SessionRegistry>,
    protocol: Protocol,
    policy: SessionPolicy,
) -> Vec<(IpAddr, Result<ConnectionGuard, SignInError>)> {
    let start = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for n in 0..20u8 {
        let (registry, start) = (Arc::clone(registry), Arc::clone(&start));
        tasks.push(tokio::spawn(async move {
            let addr = format!("10.0.{n}.1");
            start.wait().await;
            let guard = registry
                .sign_in(HONG, device(n, &addr), protocol, policy)
                .await;
            (ip(&addr), guard)
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        let outcome = timeout(STEP, task)
            .await
            .expect("sign-in finished")
            .expect("task ran");
        outcomes.push(outcome);
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_racing_devices_under_replace_leave_exactly_one_session() {
    let registry = registry(10);
    // Every sign-in must be over before anyone is judged: a guard alive now can still be
    // kicked by a sign-in that has not run yet.
    let outcomes = race(&registry, Protocol::Imap, SessionPolicy::Replace).await;
    let mut alive = Vec::new();
    let mut kicked_count = 0;
    for (own_ip, guard) in outcomes {
        let guard = guard.expect("replace never refuses another device");
        match guard.kick_reason() {
            None => alive.push(guard),
            Some(KickReason::AnotherDevice { ip }) => {
                assert_ne!(ip, own_ip, "kicked by another device, not itself");
                kicked_count += 1;
            }
            Some(other) => panic!("unexpected kick reason {other:?}"),
        }
    }
    assert_eq!(alive.len(), 1, "exactly one survivor");
    assert_eq!(kicked_count, 19);
    let list = registry.list().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].session_id, alive[0].session_id());
    assert_eq!(list[0].connections, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_racing_devices_under_reject_admit_exactly_one() {
    let registry = registry(10);
    let mut admitted = Vec::new();
    let mut refused = 0;
    for (_, outcome) in race(&registry, Protocol::Smtp, SessionPolicy::Reject).await {
        match outcome {
            Ok(guard) => admitted.push(guard),
            Err(SignInError::Rejected { .. }) => refused += 1,
            Err(other) => panic!("unexpected refusal {other:?}"),
        }
    }
    assert_eq!(admitted.len(), 1);
    assert_eq!(refused, 19);
    assert_eq!(admitted[0].kick_reason(), None);
    assert_eq!(registry.list().await.len(), 1);
}
