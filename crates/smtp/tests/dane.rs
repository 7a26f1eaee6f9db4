//! DANE (RFC 7672) end to end on loopback: a Knot DNS server (Debian's `knot`) serves the
//! zone `test.`, signed with DNSSEC, whose KSK is the resolver's only trust anchor;
//! `plain.test.` is delegated from it unsigned. The relay's hickory resolver validates
//! every answer; the MX hosts are sinks on 127.0.0.1 with the test PKI's certificate.
//!
//! The relay's CA roots here are the public ones only, so the sink's certificate never
//! verifies by PKIX: a delivery under `tls_policy = verify` proves that DANE decided.

mod relay_env;

use std::collections::HashMap;

use certmail_smtp::outbound::{HickoryResolver, TlsPolicy, TrustAnchor};
use certmail_testkit::knot::{Knot, Zone};
use relay_env::*;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The SHA-256 of the sink certificate's SubjectPublicKeyInfo, hex (a `3 1 1` record).
fn sink_spki_sha256(env: &Env) -> String {
    let chain = std::fs::read(&env.pki.server_chain).expect("chain");
    let leaf = CertificateDer::pem_slice_iter(&chain)
        .next()
        .expect("a certificate")
        .expect("PEM");
    let hash = certmail_pki::spki_sha256_of(&leaf).expect("SPKI");
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Knot serving `test.` (signed; `dane.test` with MX mx.dane.test and `tlsa` at the sink's
/// port) and `plain.test.` (unsigned, delegated; MX mx.plain.test with the same `tlsa`).
fn knot(port: u16, tlsa: &str) -> Knot {
    let signed = Zone {
        name: "test".into(),
        records: format!(
            "dane MX 10 mx.dane\nmx.dane A 127.0.0.1\n_{port}._tcp.mx.dane TLSA {tlsa}\n\
             plain NS ns.test.\n"
        ),
        signed: true,
    };
    let unsigned = Zone {
        name: "plain.test".into(),
        records: format!("@ MX 10 mx\nmx A 127.0.0.1\n_{port}._tcp.mx TLSA {tlsa}\n"),
        signed: false,
    };
    Knot::start(&[signed, unsigned]).expect("knotd with the test zones")
}

/// A runner delivering by MX through a resolver that validates up to `test.`'s KSK,
/// local policy `policy`, trusting only the public CA roots.
fn runner(env: &Env, knot: &Knot, port: u16, policy: TlsPolicy) -> Arc<QueueRunner> {
    runner_at(env, knot, port, policy, NOW)
}

/// [`runner`] at the time `now`.
fn runner_at(env: &Env, knot: &Knot, port: u16, policy: TlsPolicy, now: i64) -> Arc<QueueRunner> {
    let anchor = knot.trust_anchor_file("test").expect("trust anchor");
    let resolver = HickoryResolver::validating(&[knot.addr], &TrustAnchor::File(anchor))
        .expect("validating resolver");
    let route = Route::Mx {
        resolver: Arc::new(resolver),
        port,
    };
    let tls = ClientTls::new(true, None, None).expect("client TLS");
    let transport = SmtpTransport::new(route, tls, "mail.test.go.kr", short_timeouts())
        .with_tls_policy(policy, HashMap::new());
    Arc::new(env.queue_runner(transport, now, env.settings()))
}

async fn queue_to(env: &Env, rcpt: &str) -> u64 {
    env.queue(SENDER, &[(rcpt, 0)], MESSAGE, &[]).await
}

/// The error the still-queued entry `id` keeps.
async fn queued_error(env: &Env, id: u64) -> String {
    let entry = env.queued(id, "a DANE failure is temporary").await;
    assert_eq!(entry.recipients[0].status, RecipientStatus::Pending);
    entry.recipients[0].last_error.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_matching_dane_ee_record_delivers_over_tls_even_under_a_verify_policy() {
    let env = Env::new().await;
    let sink = env.tls_sink(SinkBehaviour::default()).await;
    let port = sink.addr.port();
    let knot = knot(port, &format!("3 1 1 {}", sink_spki_sha256(&env)));
    let id = queue_to(&env, "kim@dane.test").await;
    run(&runner(&env, &knot, port, TlsPolicy::Verify)).await;
    env.assert_gone(id).await;
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls, "DANE delivery is over TLS");
    assert_eq!(got[0].rcpts, vec!["RCPT TO:<kim@dane.test>"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mismatching_record_defers_with_the_dane_reason_and_never_sends_in_cleartext() {
    let env = Env::new().await;
    let sink = env.tls_sink(SinkBehaviour::default()).await;
    let port = sink.addr.port();
    let wrong = "3 1 1 ".to_string() + &"ab".repeat(32);
    let knot = knot(port, &wrong);
    let id = queue_to(&env, "kim@dane.test").await;
    run(&runner(&env, &knot, port, TlsPolicy::May)).await;
    assert!(sink.received().is_empty());
    let commands = sink.command_lines();
    assert!(
        !commands.iter().any(|c| c.starts_with("MAIL")),
        "no cleartext retry: {commands:?}"
    );
    let error = queued_error(&env, id).await;
    assert!(error.starts_with("421 4.7.5"), "{error}");
    assert!(
        error.contains("DANE") && error.contains("matches none of its 1 usable TLSA records"),
        "{error}"
    );
    // Past expire_after it fails, and the sender's report gives the DANE reason.
    let expired = NOW + env.settings().expire_after as i64 + 1;
    run(&runner_at(&env, &knot, port, TlsPolicy::May, expired)).await;
    env.assert_gone(id).await;
    env.report_saying(
        "one failure report",
        &["Status: 4.4.7", "DANE (TLSA records of mx.dane.test)"],
    )
    .await;
    assert!(sink.received().is_empty(), "never sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_starttls_under_dane_is_deferred() {
    let env = Env::new().await;
    let sink = Sink::start(SinkBehaviour::default()).await;
    let port = sink.addr.port();
    let knot = knot(port, &format!("3 1 1 {}", sink_spki_sha256(&env)));
    let id = queue_to(&env, "kim@dane.test").await;
    run(&runner(&env, &knot, port, TlsPolicy::May)).await;
    assert!(sink.received().is_empty(), "nothing in cleartext");
    let error = queued_error(&env, id).await;
    assert!(error.starts_with("421 4.7.10"), "{error}");
    assert!(
        error.contains("does not offer STARTTLS, which DANE"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_zone_has_no_dane_and_falls_to_the_local_policy() {
    let env = Env::new().await;
    let sink = Sink::start(SinkBehaviour::default()).await;
    let port = sink.addr.port();
    // The same mismatching record, but unsigned: ignored.
    let knot = knot(port, &("3 1 1 ".to_string() + &"ab".repeat(32)));
    let id = queue_to(&env, "kim@plain.test").await;
    run(&runner(&env, &knot, port, TlsPolicy::May)).await;
    env.assert_gone(id).await;
    let got = sink.received();
    assert_eq!(got.len(), 1, "delivered under tls_policy = may");
    assert!(!got[0].tls);
}
