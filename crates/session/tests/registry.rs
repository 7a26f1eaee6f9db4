//! The single-active-session rule, driven through the `SessionRegistry` trait as a
//! connection would use it.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use certmail_session::{
    ConnectionGuard, DeviceKey, KickReason, LocalRegistry, Protocol, RegistryConfig, SessionPolicy,
    SessionRegistry, SignInError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout};

const HONG: &str = "홍길동@certmail.test";
const KIM: &str = "김철수@certmail.test";

/// Upper bound for anything that should happen at once. Under paused time an undelivered kick
/// makes the runtime jump straight to this timeout, so a test fails fast instead of hanging.
const STEP: Duration = Duration::from_secs(5);

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

/// A device: the certificate is told apart by its first SPKI byte.
fn device(cert: u8, addr: &str) -> DeviceKey {
    DeviceKey::new([cert; 32], ip(addr))
}

fn registry(cap: usize) -> Arc<dyn SessionRegistry> {
    Arc::new(LocalRegistry::new(RegistryConfig {
        max_connections_per_session: cap,
    }))
}

async fn sign_in(
    registry: &Arc<dyn SessionRegistry>,
    account: &str,
    device: DeviceKey,
    protocol: Protocol,
    policy: SessionPolicy,
) -> Result<ConnectionGuard, SignInError> {
    timeout(STEP, registry.sign_in(account, device, protocol, policy))
        .await
        .expect("sign-in finished")
}

/// Signs in under the reject policy.
async fn rejecting(
    registry: &Arc<dyn SessionRegistry>,
    account: &str,
    device: DeviceKey,
    protocol: Protocol,
) -> Result<ConnectionGuard, SignInError> {
    sign_in(registry, account, device, protocol, SessionPolicy::Reject).await
}

/// Signs in under the replace policy, which must succeed (`what` names the connection).
async fn signed_in(
    registry: &Arc<dyn SessionRegistry>,
    account: &str,
    device: DeviceKey,
    protocol: Protocol,
    what: &str,
) -> ConnectionGuard {
    sign_in(registry, account, device, protocol, SessionPolicy::Replace)
        .await
        .expect(what)
}

/// `n` connections of `account` from `device` under the replace policy, which must all
/// succeed (`what` names them).
async fn connections(
    registry: &Arc<dyn SessionRegistry>,
    (account, device): (&str, DeviceKey),
    protocol: Protocol,
    n: usize,
    what: &str,
) -> Vec<ConnectionGuard> {
    let mut guards = Vec::new();
    for _ in 0..n {
        guards.push(signed_in(registry, account, device, protocol, what).await);
    }
    guards
}

async fn kicked(guard: &ConnectionGuard) -> KickReason {
    timeout(STEP, guard.kicked()).await.expect("kick delivered")
}

#[tokio::test(start_paused = true)]
async fn thunderbirds_five_imap_and_one_smtp_connections_are_one_session() {
    let registry = registry(10);
    let laptop = device(1, "203.0.113.5");
    let guards = connections(
        &registry,
        (HONG, laptop),
        Protocol::Imap,
        5,
        "IMAP connection joins",
    )
    .await;
    let smtp = signed_in(
        &registry,
        HONG,
        laptop,
        Protocol::Smtp,
        "SMTP sign-in joins the IMAP session",
    )
    .await;

    let ids: HashSet<_> = guards.iter().map(ConnectionGuard::session_id).collect();
    assert_eq!(ids, HashSet::from([smtp.session_id()]));
    let connection_ids: HashSet<_> = guards.iter().map(ConnectionGuard::connection_id).collect();
    assert_eq!(connection_ids.len(), 5, "each connection has its own id");
    assert!(guards.iter().all(|guard| guard.kick_reason().is_none()));
    assert_eq!(smtp.kick_reason(), None);

    let list = registry.list().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].connections, 6);
    assert_eq!(list[0].protocols, vec![Protocol::Imap, Protocol::Smtp]);
}

#[tokio::test(start_paused = true)]
async fn connection_cap_refuses_the_extra_connection_until_one_leaves() {
    let registry = registry(3);
    let phone = device(2, "198.51.100.7");
    let mut guards =
        connections(&registry, (HONG, phone), Protocol::Imap, 3, "under the cap").await;
    let refused = sign_in(
        &registry,
        HONG,
        phone,
        Protocol::Smtp,
        SessionPolicy::Replace,
    )
    .await;
    assert_eq!(
        refused.expect_err("over the cap"),
        SignInError::ConnectionCapReached { cap: 3 }
    );
    assert!(guards.iter().all(|guard| guard.kick_reason().is_none()));

    guards.pop();
    let admitted = signed_in(
        &registry,
        HONG,
        phone,
        Protocol::Smtp,
        "room again after a connection left",
    )
    .await;
    assert_eq!(admitted.session_id(), guards[0].session_id());
    assert_eq!(registry.list().await[0].connections, 3);
}

#[tokio::test(start_paused = true)]
async fn replace_ends_every_old_connection_at_once_and_the_newcomer_survives() {
    let registry = registry(10);
    let desktop = device(1, "203.0.113.5");
    let mobile = device(1, "198.51.100.20");
    let idle = signed_in(&registry, HONG, desktop, Protocol::Imap, "desktop IMAP").await;
    let fetching = signed_in(
        &registry,
        HONG,
        desktop,
        Protocol::Imap,
        "desktop second IMAP",
    )
    .await;
    let sending = signed_in(&registry, HONG, desktop, Protocol::Smtp, "desktop SMTP").await;
    let waiting = tokio::spawn(idle.kicked());

    let started = Instant::now();
    let newcomer = signed_in(
        &registry,
        HONG,
        mobile,
        Protocol::Imap,
        "mobile replaces desktop",
    )
    .await;

    let expected = KickReason::AnotherDevice {
        ip: ip("198.51.100.20"),
    };
    let from_task = timeout(STEP, waiting).await.expect("kick delivered");
    assert_eq!(from_task.expect("kick task ran"), expected);
    for guard in [&idle, &fetching, &sending] {
        assert_eq!(kicked(guard).await, expected);
        assert_eq!(guard.kick_reason(), Some(expected.clone()));
    }
    assert_eq!(started.elapsed(), Duration::ZERO, "no timer was involved");
    assert_eq!(
        expected.imap_bye(),
        "Signed in from another device (198.51.100.20); this connection is closed"
    );

    // The old connections close afterwards; that must not touch the new session.
    drop((idle, fetching, sending));
    assert_eq!(newcomer.kick_reason(), None);
    let list = registry.list().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].session_id, newcomer.session_id());
    assert_eq!(list[0].device, mobile);
    assert_eq!(list[0].connections, 1);

    drop(newcomer);
    assert!(
        registry.list().await.is_empty(),
        "nothing left once all guards are gone"
    );
}

/// A connection blocked reading mid-DATA hears the kick through `select!` and writes the
/// 421 line before closing, the way the SMTP session loop is meant to.
#[tokio::test(start_paused = true)]
async fn a_connection_blocked_mid_data_is_ended_with_its_421() {
    let registry = registry(10);
    let desktop = device(1, "203.0.113.5");
    let guard = signed_in(&registry, KIM, desktop, Protocol::Smtp, "desktop SMTP").await;
    let (mut client, mut server) = tokio::io::duplex(1024);
    let (progress, mut read_so_far) = tokio::sync::watch::channel(0usize);

    let connection = tokio::spawn(async move {
        let mut buf = [0u8; 256];
        let mut received = Vec::new();
        loop {
            tokio::select! {
                read = server.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return (received, None),
                    Ok(n) => {
                        received.extend_from_slice(&buf[..n]);
                        progress.send_replace(received.len());
                    }
                },
                reason = guard.kicked() => {
                    let line = format!("421 4.7.0 {}\r\n", reason.smtp_reply());
                    server.write_all(line.as_bytes()).await.expect("reply written");
                    return (received, Some(reason));
                }
            }
        }
    });
    let partial = b"Subject: half\r\n\r\nnot finished";
    client
        .write_all(partial)
        .await
        .expect("client wrote part of DATA");
    timeout(STEP, read_so_far.wait_for(|&n| n == partial.len()))
        .await
        .expect("server read the partial message")
        .expect("server still running");

    let mobile = device(1, "198.51.100.20");
    let _mobile = signed_in(&registry, KIM, mobile, Protocol::Imap, "mobile signs in").await;

    let (received, reason) = timeout(STEP, connection)
        .await
        .expect("connection ended")
        .expect("connection task ran");
    assert!(reason.is_some(), "ended by the kick, not by EOF");
    assert_eq!(received, partial);
    let mut reply = String::new();
    timeout(STEP, client.read_to_string(&mut reply))
        .await
        .expect("reply arrived")
        .expect("reply read");
    assert_eq!(
        reply,
        "421 4.7.0 Signed in from another device (198.51.100.20); this connection is closed\r\n"
    );
}

#[tokio::test(start_paused = true)]
async fn reject_policy_refuses_the_newcomer_and_keeps_the_session() {
    let registry = registry(10);
    let desktop = device(1, "203.0.113.5");
    let mobile = device(3, "198.51.100.20");
    let holder = rejecting(&registry, HONG, desktop, Protocol::Imap)
        .await
        .expect("first sign-in");

    let refused = rejecting(&registry, HONG, mobile, Protocol::Smtp).await;
    assert_eq!(
        refused.expect_err("another device holds the session"),
        SignInError::Rejected {
            ip: ip("203.0.113.5")
        }
    );
    assert_eq!(holder.kick_reason(), None);
    assert_eq!(registry.list().await[0].device, desktop);

    let same_device = rejecting(&registry, HONG, desktop, Protocol::Smtp)
        .await
        .expect("the holder's own device still joins");
    drop((holder, same_device));
    rejecting(&registry, HONG, mobile, Protocol::Smtp)
        .await
        .expect("after the holder signed out, the other device may sign in");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_last_guard_ends_the_session_and_leaves_nothing_behind() {
    let registry = registry(10);
    let desktop = device(1, "203.0.113.5");
    let imap = signed_in(&registry, HONG, desktop, Protocol::Imap, "IMAP").await;
    let smtp = signed_in(&registry, HONG, desktop, Protocol::Smtp, "SMTP").await;

    drop(smtp);
    let list = registry.list().await;
    assert_eq!(list[0].connections, 1);
    assert_eq!(list[0].protocols, vec![Protocol::Imap]);

    drop(imap);
    assert!(registry.list().await.is_empty());
    let other = device(4, "198.51.100.20");
    let fresh = rejecting(&registry, HONG, other, Protocol::Imap)
        .await
        .expect("no stale session blocks a new device");
    assert_eq!(fresh.kick_reason(), None);
}

#[tokio::test(start_paused = true)]
async fn list_shows_each_account_device_protocols_connections_and_since() {
    let registry = registry(10);
    let before = unix_now();
    let hong_device = device(1, "203.0.113.5");
    let kim_device = device(2, "2001:db8::7");
    let _hong = signed_in(&registry, HONG, hong_device, Protocol::Smtp, "hong").await;
    let _kim_imap = signed_in(&registry, KIM, kim_device, Protocol::Imap, "kim IMAP").await;
    let _kim_smtp = signed_in(&registry, KIM, kim_device, Protocol::Smtp, "kim SMTP").await;
    let after = unix_now();

    let list = registry.list().await;
    let summary: Vec<_> = list
        .iter()
        .map(|s| {
            (
                s.account.as_str(),
                s.device,
                s.protocols.clone(),
                s.connections,
            )
        })
        .collect();
    let mut expected = vec![
        (HONG, hong_device, vec![Protocol::Smtp], 1),
        (KIM, kim_device, vec![Protocol::Imap, Protocol::Smtp], 2),
    ];
    expected.sort_by(|a, b| a.0.cmp(b.0));
    assert_eq!(summary, expected);
    assert!(list.iter().all(|s| (before..=after).contains(&s.since)));
}

#[tokio::test(start_paused = true)]
async fn admin_kick_ends_every_connection_of_the_account_only() {
    let registry = registry(10);
    let desktop = device(1, "203.0.113.5");
    let hong: Vec<_> = [Protocol::Imap, Protocol::Imap, Protocol::Smtp]
        .into_iter()
        .map(|protocol| registry.sign_in(HONG, desktop, protocol, SessionPolicy::Replace))
        .collect();
    let mut guards = Vec::new();
    for pending in hong {
        guards.push(pending.await.expect("hong signs in"));
    }
    let kim = signed_in(&registry, KIM, desktop, Protocol::Imap, "kim signs in").await;

    assert_eq!(registry.kick(HONG, KickReason::AdminKick).await, 3);
    for guard in &guards {
        assert_eq!(kicked(guard).await, KickReason::AdminKick);
    }
    assert_eq!(kim.kick_reason(), None, "another account is untouched");
    assert_eq!(registry.kick(HONG, KickReason::AdminKick).await, 0);
    assert_eq!(
        registry
            .kick("nobody@certmail.test", KickReason::AdminKick)
            .await,
        0
    );
    let list = registry.list().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].account, KIM);

    assert_eq!(registry.kick_all(KickReason::Shutdown).await, 1);
    assert_eq!(kicked(&kim).await, KickReason::Shutdown);
    assert!(registry.list().await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn kicked_is_cancel_safe_in_a_select_loop() {
    let registry = registry(10);
    let desktop = device(1, "203.0.113.5");
    let guard = signed_in(&registry, HONG, desktop, Protocol::Imap, "signed in").await;
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    let mut seen_ticks = 0;
    let reason = loop {
        tokio::select! {
            _ = ticks.tick() => {
                seen_ticks += 1;
                if seen_ticks == 3 {
                    registry.kick(HONG, KickReason::PasswordChanged).await;
                }
                assert!(seen_ticks <= 3, "kick was lost by a dropped kicked() future");
            }
            reason = guard.kicked() => break reason,
        }
    };
    assert_eq!(reason, KickReason::PasswordChanged);
    // Asking again after the kick answers at once.
    assert_eq!(kicked(&guard).await, KickReason::PasswordChanged);
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Two registries (two daemons in one process) count apart: a sign-in, an IDLE and a kick
/// on one leave the other's gauges and counters at zero.
#[tokio::test(start_paused = true)]
async fn each_registry_counts_only_its_own_connections() {
    let (seoul, busan) = (registry(10), registry(10));
    let laptop = device(1, "203.0.113.5");
    let imap = signed_in(&seoul, HONG, laptop, Protocol::Imap, "IMAP").await;
    let smtp = signed_in(&seoul, HONG, laptop, Protocol::Smtp, "SMTP").await;
    assert_ne!(imap.connection_id(), smtp.connection_id());
    let idling = imap.idle_gauge();

    let (s, b) = (seoul.stats(), busan.stats());
    assert_eq!(s.signed_in_connections(Protocol::Imap), 1);
    assert_eq!(s.signed_in_connections(Protocol::Smtp), 1);
    assert_eq!(s.idle_connections(), 1);
    for protocol in [Protocol::Imap, Protocol::Smtp, Protocol::Web] {
        assert_eq!(b.signed_in_connections(protocol), 0, "{protocol}");
    }
    assert_eq!(b.idle_connections(), 0);

    assert_eq!(seoul.kick(HONG, KickReason::AdminKick).await, 2);
    let admin = |stats: &certmail_session::stats::SessionStats| {
        let kicks = stats.kicks();
        let row = kicks.iter().find(|(cause, _, _)| *cause == "admin-kick");
        row.map(|&(_, sessions, connections)| (sessions, connections))
    };
    assert_eq!(admin(seoul.stats()), Some((1, 2)));
    assert_eq!(admin(busan.stats()), Some((0, 0)));

    drop((idling, imap, smtp));
    assert_eq!(seoul.stats().idle_connections(), 0);
    assert_eq!(seoul.stats().signed_in_connections(Protocol::Imap), 0);
}

/// The one-session rule every registry (in-process, PostgreSQL) applies.
#[test]
fn the_rule_starts_joins_replaces_or_refuses() {
    use certmail_session::{Decision, decide};
    let (laptop, phone) = (device(1, "203.0.113.5"), device(1, "198.51.100.7"));
    let replace = SessionPolicy::Replace;
    assert_eq!(decide(None, laptop, replace), Ok(Decision::Start));
    assert_eq!(decide(Some(laptop), laptop, replace), Ok(Decision::Join));
    let kicked = KickReason::AnotherDevice { ip: phone.ip };
    assert_eq!(
        decide(Some(laptop), phone, replace),
        Ok(Decision::Replace(kicked))
    );
    let refused = SignInError::Rejected { ip: laptop.ip };
    assert_eq!(
        decide(Some(laptop), phone, SessionPolicy::Reject),
        Err(refused)
    );
}
