//! Unit tests of the account rules in [`super::decide`]: lockout (only with a bound
//! certificate), timed unlock, password age, temporary passwords, networks, the throttle.

use std::net::IpAddr;
use std::sync::Arc;

use certmail_pki::{Identity, PkiKind, RefusalReason};
use certmail_store::prelude::*;
use certmail_store::{Account, AccountState, CertBinding, KeyFile, SledStore};

use super::{Credentials, SignInPolicy, decide};
use crate::Secret;
use crate::policy::{Cidr, IpThrottle};

const PASSWORD: &str = "Gpki-Pass-2026!";
const NOW: i64 = 1_790_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    store: SledStore,
}

fn identity(spki: u8, name: &str) -> Identity {
    Identity {
        subject_dn: format!("CN={name}"),
        issuer_dn: "CN=CA131000001".into(),
        serial_hex: "01".into(),
        spki_sha256: [spki; 32],
        cert_sha256: [spki; 32],
        pki: PkiKind::Gpki,
        policy_oid: "1.2.410.100001.2.2.1".into(),
        name: name.into(),
        not_after: NOW + 86_400 * 365,
        cdp_uris: Vec::new(),
    }
}

/// One active account `hong` (홍길동, 행정안전부) with the certificate whose SPKI is [1; 32].
async fn fixture(edit: impl FnOnce(&mut Account)) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open_async(&dir.path().join("db"), KeyFile::from_bytes([7; 32]))
        .await
        .expect("store");
    let mut account = Account::new("hong", "홍길동", vec!["hong@test.go.kr".into()], NOW);
    account.organisation = "행정안전부".into();
    account.password_hash = Some(
        crate::password::PasswordPool::default()
            .hash(Secret::new(PASSWORD.to_string()))
            .await
            .expect("hash"),
    );
    account.password_set_at = Some(NOW - 3600);
    edit(&mut account);
    store.create_account(account).await.expect("account");
    store
        .bind_cert(CertBinding {
            account: "hong".into(),
            spki_sha256: [1; 32],
            issuer_dn: "CN=CA131000001".into(),
            subject_dn: "CN=홍길동".into(),
            serial_hex: "01".into(),
            not_after: NOW + 86_400 * 365,
            bound_at: NOW,
        })
        .await
        .expect("bind");
    Fixture { _dir: dir, store }
}

impl Fixture {
    /// The account `hong` as stored now.
    async fn hong(&self) -> Account {
        let account = self.store.account("hong").await.expect("read");
        account.expect("exists")
    }

    /// `n` sign-ins of hong's bound certificate with a wrong password from 10.0.0.1 at
    /// [`NOW`]; their outcomes.
    async fn wrong_passwords(&self, policy: &SignInPolicy, n: usize) -> Vec<RefusalReason> {
        let mut out = Vec::new();
        for _ in 0..n {
            let r = try_sign_in(self, policy, 1, "wrong", "10.0.0.1", NOW).await;
            out.push(r.expect_err("a wrong password is refused"));
        }
        out
    }
}

fn password(pw: &str) -> Credentials {
    Credentials::Password {
        user: "hong".into(),
        password: Secret::new(pw.to_string()),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

async fn try_sign_in(
    f: &Fixture,
    policy: &SignInPolicy,
    spki: u8,
    pw: &str,
    from: &str,
    now: i64,
) -> Result<Account, RefusalReason> {
    decide(
        &f.store,
        policy,
        &identity(spki, "홍길동"),
        &password(pw),
        Some(ip(from)),
        now,
    )
    .await
    .expect("no internal error")
    .map_err(|r| r.reason)
}

#[tokio::test]
async fn five_wrong_passwords_lock_until_an_admin_unlocks() {
    let f = fixture(|_| {}).await;
    let policy = SignInPolicy::default();
    let refusals = f.wrong_passwords(&policy, 4).await;
    assert_eq!(refusals, [RefusalReason::BadPassword; 4]);
    let fifth = decide(
        &f.store,
        &policy,
        &identity(1, "홍길동"),
        &password("wrong"),
        Some(ip("10.0.0.1")),
        NOW,
    )
    .await
    .expect("decide")
    .unwrap_err();
    assert_eq!(fifth.reason, RefusalReason::BadPassword);
    assert!(fifth.message.contains("now locked"), "{}", fifth.message);
    let a = f.hong().await;
    assert_eq!((a.state, a.locked_until), (AccountState::Locked, None));
    // The right password no longer helps, even a year later.
    let r = try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.1", NOW + 86_400 * 365).await;
    assert_eq!(r.unwrap_err(), RefusalReason::AccountLocked);
    let events = f.store.audit_by_account("hong", 10).await.expect("audit");
    assert!(events.iter().any(|e| e.kind == "account_locked"));
}

#[tokio::test]
async fn a_timed_lock_lifts_itself() {
    let f = fixture(|_| {}).await;
    let policy = SignInPolicy {
        lockout_threshold: 2,
        lockout_secs: 600,
        ..SignInPolicy::default()
    };
    f.wrong_passwords(&policy, 2).await;
    let r = try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.1", NOW + 599).await;
    assert_eq!(r.unwrap_err(), RefusalReason::AccountLocked);
    let a = try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.1", NOW + 600).await;
    let a = a.expect("the lock has run out");
    assert_eq!((a.state, a.failed_logins), (AccountState::Active, 0));
}

#[tokio::test]
async fn failures_without_the_bound_certificate_do_not_count() {
    let f = fixture(|_| {}).await;
    let policy = SignInPolicy {
        lockout_threshold: 1,
        ..SignInPolicy::default()
    };
    // A stranger's certificate (not bound) naming hong.
    let r = try_sign_in(&f, &policy, 2, "guess", "10.0.0.9", NOW).await;
    assert_eq!(r.unwrap_err(), RefusalReason::CertificateNotBound);
    let a = f.hong().await;
    assert_eq!((a.state, a.failed_logins), (AccountState::Active, 0));
    try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.1", NOW)
        .await
        .expect("hong still signs in");
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let f = fixture(|_| {}).await;
    let policy = SignInPolicy::default();
    f.wrong_passwords(&policy, 4).await;
    let a = try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.1", NOW).await;
    assert_eq!(a.expect("right password").failed_logins, 0);
    let r = try_sign_in(&f, &policy, 1, "wrong", "10.0.0.1", NOW).await;
    assert_eq!(
        r.unwrap_err(),
        RefusalReason::BadPassword,
        "one failure, not five"
    );
}

#[tokio::test]
async fn an_old_password_expires() {
    let f = fixture(|a| a.password_set_at = Some(NOW - 91 * 86_400)).await;
    let policy = SignInPolicy::default();
    let r = try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.1", NOW).await;
    assert_eq!(r.unwrap_err(), RefusalReason::PasswordExpired);
    // A wrong password still says only that it is wrong.
    let r = try_sign_in(&f, &policy, 1, "wrong", "10.0.0.1", NOW).await;
    assert_eq!(r.unwrap_err(), RefusalReason::BadPassword);
    let never = SignInPolicy {
        password_max_age_secs: 0,
        ..SignInPolicy::default()
    };
    try_sign_in(&f, &never, 1, PASSWORD, "10.0.0.1", NOW)
        .await
        .expect("0 means passwords never expire");
}

#[tokio::test]
async fn a_temporary_password_works_for_its_hours_only() {
    let f = fixture(|a| {
        a.password_temporary = true;
        a.password_set_at = Some(NOW);
    })
    .await;
    let policy = SignInPolicy::default();
    try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.1", NOW + 71 * 3600)
        .await
        .expect("within 72 hours");
    let r = try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.1", NOW + 72 * 3600).await;
    assert_eq!(r.unwrap_err(), RefusalReason::TemporaryPasswordExpired);
}

#[tokio::test]
async fn networks_of_the_organisation_and_of_the_account() {
    let f = fixture(|_| {}).await;
    let mut policy = SignInPolicy::default();
    policy.networks.insert(
        "행정안전부".into(),
        vec![Cidr::parse("10.1.0.0/16").expect("cidr")],
    );
    try_sign_in(&f, &policy, 1, PASSWORD, "10.1.2.3", NOW)
        .await
        .expect("inside the organisation's network");
    let r = try_sign_in(&f, &policy, 1, PASSWORD, "192.0.2.1", NOW).await;
    assert_eq!(r.unwrap_err(), RefusalReason::NetworkNotAllowed);
    // The account's own list replaces its organisation's.
    let mut a = f.hong().await;
    a.settings.insert("networks".into(), "192.0.2.0/24".into());
    f.store.update_account(a).await.expect("update");
    try_sign_in(&f, &policy, 1, PASSWORD, "192.0.2.1", NOW)
        .await
        .expect("inside the account's network");
    let r = try_sign_in(&f, &policy, 1, PASSWORD, "10.1.2.3", NOW).await;
    assert_eq!(r.unwrap_err(), RefusalReason::NetworkNotAllowed);
}

#[tokio::test]
async fn a_throttled_address_is_refused_before_the_password() {
    let f = fixture(|_| {}).await;
    let policy = SignInPolicy {
        throttle: Arc::new(IpThrottle::new(3, 60)),
        ..SignInPolicy::default()
    };
    for _ in 0..3 {
        policy.throttle.record_failure(ip("10.0.0.5"), NOW);
    }
    let r = try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.5", NOW).await;
    assert_eq!(r.unwrap_err(), RefusalReason::TooManyFailures);
    try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.6", NOW)
        .await
        .expect("another address");
    try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.5", NOW + 60)
        .await
        .expect("after the window");
}

const SEED: &[u8] = b"12345678901234567890";

fn code(now: i64) -> String {
    format!(
        "{:06}",
        crate::totp::code_at(SEED, crate::totp::step_of(now), 6)
    )
}

#[tokio::test]
async fn totp_is_asked_on_a_new_device_once_and_codes_are_not_replayed() {
    let f = fixture(|a| a.totp_secret = Some(SEED.to_vec())).await;
    let policy = SignInPolicy::default();
    let r = try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.1", NOW).await;
    assert_eq!(r.unwrap_err(), RefusalReason::TotpRequired);
    let with_code = format!("{PASSWORD}{}", code(NOW));
    try_sign_in(&f, &policy, 1, &with_code, "10.0.0.1", NOW)
        .await
        .expect("password and code");
    let devices = f.store.devices_of("hong").await.expect("devices");
    assert_eq!(devices.len(), 1);
    assert_eq!(
        (devices[0].network.as_str(), devices[0].totp_at),
        ("10.0.0.0/24", Some(NOW))
    );
    // The same code from a new network: a replay.
    let r = try_sign_in(&f, &policy, 1, &with_code, "10.0.9.1", NOW + 5).await;
    assert_eq!(r.unwrap_err(), RefusalReason::TotpInvalid);
    // The remembered device needs no code, and a stale saved code does no harm.
    try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.77", NOW + 86_400)
        .await
        .expect("remembered device");
    try_sign_in(&f, &policy, 1, &with_code, "10.0.0.77", NOW + 86_400)
        .await
        .expect("stale code on a remembered device");
    // Not seen for longer than totp_remember_days: the code again.
    let later = NOW + 86_400 + 31 * 86_400;
    let r = try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.1", later).await;
    assert_eq!(r.unwrap_err(), RefusalReason::TotpRequired);
}

#[tokio::test]
async fn wrong_codes_count_toward_the_lockout() {
    let f = fixture(|a| a.totp_secret = Some(SEED.to_vec())).await;
    let policy = SignInPolicy {
        lockout_threshold: 2,
        ..SignInPolicy::default()
    };
    let wrong = format!("{PASSWORD}000000");
    let wrong = if code(NOW) == "000000" {
        format!("{PASSWORD}111111")
    } else {
        wrong
    };
    let r = try_sign_in(&f, &policy, 1, &wrong, "10.0.0.1", NOW).await;
    assert_eq!(r.unwrap_err(), RefusalReason::TotpInvalid);
    let _ = try_sign_in(&f, &policy, 1, &wrong, "10.0.0.1", NOW).await;
    let a = f.hong().await;
    assert_eq!(a.state, AccountState::Locked);
}

#[tokio::test]
async fn the_device_cap_pushes_out_the_least_recent() {
    let f = fixture(|_| {}).await;
    let policy = SignInPolicy {
        max_devices: 2,
        ..SignInPolicy::default()
    };
    for (i, net) in ["10.0.1.1", "10.0.2.1", "10.0.3.1"].iter().enumerate() {
        try_sign_in(&f, &policy, 1, PASSWORD, net, NOW + i as i64)
            .await
            .expect("sign in");
    }
    let nets: Vec<_> = f
        .store
        .devices_of("hong")
        .await
        .expect("devices")
        .into_iter()
        .map(|d| d.network)
        .collect();
    assert_eq!(nets, ["10.0.2.0/24", "10.0.3.0/24"]);
}

#[tokio::test]
async fn a_second_connection_with_the_same_saved_code_is_not_a_replay() {
    let f = fixture(|a| a.totp_secret = Some(SEED.to_vec())).await;
    let policy = SignInPolicy::default();
    let with_code = format!("{PASSWORD}{}", code(NOW));
    for n in 0..3 {
        try_sign_in(&f, &policy, 1, &with_code, "10.0.0.1", NOW + n)
            .await
            .expect("the device gave this code: its other connections may send it again");
    }
    // Another device (network) sending that code is a replay.
    let r = try_sign_in(&f, &policy, 1, &with_code, "10.9.0.1", NOW + 3).await;
    assert_eq!(r.unwrap_err(), RefusalReason::TotpInvalid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_used_in_parallel_from_two_new_devices_signs_in_once() {
    let f = Arc::new(fixture(|a| a.totp_secret = Some(SEED.to_vec())).await);
    let policy = Arc::new(SignInPolicy::default());
    let with_code = format!("{PASSWORD}{}", code(NOW));
    let tasks: Vec<_> = ["10.1.0.1", "10.2.0.1"]
        .into_iter()
        .map(|from| {
            let (f, policy, with_code) = (Arc::clone(&f), Arc::clone(&policy), with_code.clone());
            tokio::spawn(async move { try_sign_in(&f, &policy, 1, &with_code, from, NOW).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => ok += 1,
            Err(reason) => assert_eq!(reason, RefusalReason::TotpInvalid),
        }
    }
    assert_eq!(
        ok, 1,
        "a code is accepted once, even by two sign-ins at the same moment"
    );
}

/// Issue 18: 200 attempts without a certificate from one (shared NAT) address once
/// throttled that address for everyone, certificate holders included.
#[tokio::test]
async fn attempts_without_a_certificate_never_throttle_a_valid_certificate() {
    let f = fixture(|_| {}).await;
    let policy = SignInPolicy {
        throttle: Arc::new(IpThrottle::new(3, 300)),
        precredential_throttle: Arc::new(IpThrottle::new(5, 300)),
        ..SignInPolicy::default()
    };
    let nat = ip("10.0.0.7");
    let none = super::Refusal::new(RefusalReason::NoCertificate, "no certificate".to_string());
    let mut reasons = Vec::new();
    for _ in 0..200 {
        let refusal = super::precredential_refusal(&policy, &none, nat, NOW).await;
        reasons.push(refusal.expect("a local throttle").reason);
    }
    assert!(
        reasons[..5]
            .iter()
            .all(|r| *r == RefusalReason::NoCertificate)
    );
    assert!(
        reasons[5..]
            .iter()
            .all(|r| *r == RefusalReason::TooManyFailures)
    );
    let blocked = super::precredential_refusal(&policy, &none, nat, NOW)
        .await
        .expect("a local throttle");
    assert!(
        blocked.message.contains("present your certificate"),
        "{}",
        blocked.message
    );
    assert!(!policy.throttle.is_blocked(nat, NOW));
    try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.7", NOW)
        .await
        .expect("홍길동's valid certificate from the same address");
    // A missing CRL is ours, never counted against the client.
    let ours = super::Refusal::new(RefusalReason::RevocationUnknown, "no CRL".to_string());
    let other = ip("10.0.0.8");
    for _ in 0..10 {
        let r = super::precredential_refusal(&policy, &ours, other, NOW)
            .await
            .expect("a local throttle");
        assert_eq!(r.reason, RefusalReason::RevocationUnknown);
    }
}

#[tokio::test]
async fn a_known_device_is_written_again_only_once_a_minute() {
    let f = fixture(|_| {}).await;
    let policy = SignInPolicy::default();
    // (time of the sign-in, `last_seen` after it, whether it wrote to the store)
    for (at, seen, wrote) in [
        (NOW, NOW, true),
        (NOW + 59, NOW, false),
        (NOW + 60, NOW + 60, true),
    ] {
        let writes = f.store.stats().writes;
        try_sign_in(&f, &policy, 1, PASSWORD, "10.0.0.1", at)
            .await
            .expect("sign in");
        let devices = f.store.devices_of("hong").await.expect("devices");
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].last_seen, seen, "sign-in at NOW + {}", at - NOW);
        assert_eq!(
            f.store.stats().writes > writes,
            wrote,
            "sign-in at NOW + {}",
            at - NOW
        );
    }
}
