//! DANE (RFC 7672) end to end on loopback: a Knot DNS server (Debian's `knot`) serves the
//! zone `test.`, signed with DNSSEC, whose KSK is the resolver's only trust anchor;
//! `plain.test.` is delegated from it unsigned. The relay's hickory resolver validates
//! every answer; the MX hosts are sinks on 127.0.0.1 with the test PKI's certificate.
//!
//! The relay's CA roots here are the public ones only, so the sink's certificate never
//! verifies by PKIX: a delivery under `tls_policy = verify` proves that DANE decided.

mod relay_env;

use std::collections::HashMap;

use std::sync::atomic::Ordering;

use certmail_pki::testpki::{TestPki, pem};
use certmail_smtp::outbound::{HickoryResolver, MtaSts, MtaStsSettings, TlsPolicy, TrustAnchor};
use certmail_testkit::knot::{Knot, Zone};
use certmail_testkit::policy_server::PolicyServer;
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
             _mta-sts.dane TXT \"v=STSv1; id=20261207;\"\nmta-sts.dane A 127.0.0.1\n\
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

/// The validating resolver of `knot`, trusting `test.`'s KSK only.
fn resolver(knot: &Knot) -> Arc<HickoryResolver> {
    let anchor = knot.trust_anchor_file("test").expect("trust anchor");
    let resolver = HickoryResolver::validating(&[knot.addr], &TrustAnchor::File(anchor));
    Arc::new(resolver.expect("validating resolver"))
}

/// A runner delivering by MX through a resolver that validates up to `test.`'s KSK,
/// local policy `policy`, trusting only the public CA roots.
fn runner(env: &Env, knot: &Knot, port: u16, policy: TlsPolicy) -> Arc<QueueRunner> {
    runner_at(env, knot, port, policy, NOW)
}

/// [`runner`] at the time `now`.
fn runner_at(env: &Env, knot: &Knot, port: u16, policy: TlsPolicy, now: i64) -> Arc<QueueRunner> {
    let route = Route::Mx {
        resolver: resolver(knot),
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

#[tokio::test(flavor = "multi_thread")]
async fn dane_takes_precedence_over_an_mta_sts_enforce_policy() {
    let env = Env::new().await;
    let sink = env.tls_sink(SinkBehaviour::default()).await;
    let port = sink.addr.port();
    let knot = knot(port, &format!("3 1 1 {}", sink_spki_sha256(&env)));
    // dane.test also publishes MTA-STS in enforce mode, from a server of another test CA;
    // the sink's certificate does not verify by PKIX, so MTA-STS alone would refuse it.
    let pki = TestPki::new().expect("test CA");
    let host = pki
        .server_cert_for(&["mta-sts.dane.test"], false)
        .expect("policy host certificate");
    let chain = pem("CERTIFICATE", &host.cert_der);
    let key = pem("PRIVATE KEY", &host.key_pkcs8_der);
    let server = certmail_pki::server_config_from_pem(chain.as_bytes(), key.as_bytes(), None);
    let enforce = "version: STSv1\r\nmode: enforce\r\nmx: mx.dane.test\r\nmax_age: 86400\r\n";
    let policy = PolicyServer::start(Arc::new(server.expect("TLS")), "mta-sts.dane.test", enforce);
    let policy = policy.await;
    let ca = pki.server_ca.cert_pem();
    let fetch_tls = ClientTls::new(false, Some(ca.as_bytes()), None).expect("policy TLS");
    let resolver = resolver(&knot);
    let sts = MtaSts::new(
        Arc::clone(&resolver) as Arc<dyn certmail_smtp::outbound::Resolver>,
        MtaStsSettings {
            tls: fetch_tls.verified(),
            port: policy.addr.port(),
            fetch_timeout: Duration::from_secs(5),
            cache_dir: None,
        },
        Arc::new(FixedClock(NOW)),
    );
    let route = Route::Mx { resolver, port };
    let tls = ClientTls::new(true, None, None).expect("client TLS");
    let transport = SmtpTransport::new(route, tls, "mail.test.go.kr", short_timeouts())
        .with_mta_sts(Arc::new(sts));
    let id = queue_to(&env, "kim@dane.test").await;
    run(&Arc::new(env.queue_runner(transport, NOW, env.settings()))).await;
    assert_eq!(
        policy.requests.load(Ordering::SeqCst),
        1,
        "the policy was in force"
    );
    env.assert_gone(id).await;
    assert!(sink.received()[0].tls);
}
