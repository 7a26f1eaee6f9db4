//! MTA-STS (RFC 8461) end to end on loopback: the `_mta-sts` TXT record from the resolver,
//! the policy from a local HTTPS server whose certificate names `mta-sts.remote.kr`, and a
//! sink as `mx.remote.kr` with a certificate for that name, all from one test CA.

mod relay_env;

use std::sync::atomic::{AtomicI64, Ordering};

use certmail_pki::testpki::{TestPki, UserCert, pem};
use certmail_smtp::outbound::{MtaSts, MtaStsSettings};
use certmail_testkit::policy_server::PolicyServer;
use relay_env::*;

const STS_HOST: &str = "mta-sts.remote.kr";
const ENFORCE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx.remote.kr\r\nmax_age: 86400\r\n";

/// A clock the test moves forward.
struct Stepping(AtomicI64);
impl Clock for Stepping {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The test CA, the certificate of `mx.remote.kr` and `mta-sts.remote.kr`, and a store.
struct StsEnv {
    env: Env,
    ca_pem: String,
    hosts: UserCert,
    clock: Arc<Stepping>,
}

impl StsEnv {
    async fn new() -> StsEnv {
        let pki = TestPki::new().expect("test CA");
        let hosts = pki
            .server_cert_for(&["mx.remote.kr", "mta-sts.remote.kr"], false)
            .expect("host certificate");
        StsEnv {
            env: Env::new().await,
            ca_pem: pki.server_ca.cert_pem(),
            hosts,
            clock: Arc::new(Stepping(AtomicI64::new(NOW))),
        }
    }

    fn server_tls(&self) -> Arc<rustls::ServerConfig> {
        let chain = pem("CERTIFICATE", &self.hosts.cert_der);
        let key = pem("PRIVATE KEY", &self.hosts.key_pkcs8_der);
        Arc::new(
            certmail_pki::server_config_from_pem(chain.as_bytes(), key.as_bytes(), None)
                .expect("server TLS"),
        )
    }

    /// A sink as mx.remote.kr offering STARTTLS with the right certificate.
    async fn mx_sink(&self) -> Sink {
        Sink::start(SinkBehaviour {
            tls: Some(self.server_tls()),
            ..SinkBehaviour::default()
        })
        .await
    }

    /// A runner delivering remote.kr (MX `mx`) to `sink`, with MTA-STS from `policy_port`
    /// cached in `cache_dir`.
    fn runner(&self, sink: &Sink, mx: &str, policy_port: u16, cache: &str) -> Arc<QueueRunner> {
        let lo = [IpAddr::V4(Ipv4Addr::LOCALHOST)];
        let resolver = Arc::new(
            StaticResolver::default()
                .with_mx("remote.kr", &[(10, mx)])
                .with_host(mx, &lo)
                .with_host("mta-sts.remote.kr", &lo)
                .with_txt("_mta-sts.remote.kr", "v=STSv1; id=20261207;"),
        );
        let tls = ClientTls::new(false, Some(self.ca_pem.as_bytes()), None).expect("client TLS");
        let sts = MtaSts::new(
            Arc::clone(&resolver) as Arc<dyn certmail_smtp::outbound::Resolver>,
            MtaStsSettings {
                tls: tls.verified(),
                port: policy_port,
                fetch_timeout: Duration::from_secs(5),
                cache_dir: Some(self.env.dir.path().join(cache)),
            },
            Arc::clone(&self.clock) as Arc<dyn Clock>,
        );
        let route = Route::Mx {
            resolver,
            port: sink.addr.port(),
        };
        let transport = SmtpTransport::new(route, tls, "mail.test.go.kr", short_timeouts())
            .with_mta_sts(Arc::new(sts));
        Arc::new(QueueRunner::new(
            Arc::clone(&self.env.store),
            Arc::new(transport),
            Arc::clone(&self.clock) as Arc<dyn Clock>,
            self.env.settings(),
        ))
    }

    /// The error kim@remote.kr's entry `id` keeps (it must still be queued).
    async fn queued_error(&self, id: u64) -> String {
        let entry = self.env.queued(id, "a temporary failure keeps it").await;
        assert_eq!(entry.recipients[0].status, RecipientStatus::Pending);
        entry.recipients[0].last_error.clone().unwrap_or_default()
    }
}

#[tokio::test]
async fn enforce_delivers_over_verified_tls_and_the_cached_policy_outlives_the_server() {
    let t = StsEnv::new().await;
    let policy = PolicyServer::start(t.server_tls(), STS_HOST, ENFORCE).await;
    let sink = t.mx_sink().await;
    let port = policy.addr.port();
    let first = t.env.queue_to_kim().await;
    run(&t.runner(&sink, "mx.remote.kr", port, "sts")).await;
    t.env.assert_gone(first).await;
    assert!(sink.received()[0].tls, "delivered over TLS");
    assert_eq!(policy.requests.load(Ordering::SeqCst), 1);

    // The policy server goes away; a restarted relay reads the policy from disk and still
    // refuses the cleartext-only MX host.
    policy.stop();
    let plain = Sink::start(SinkBehaviour::default()).await;
    let second = t.env.queue_to_kim().await;
    run(&t.runner(&plain, "mx.remote.kr", port, "sts")).await;
    assert!(plain.received().is_empty(), "never sent in cleartext");
    let error = t.queued_error(second).await;
    assert!(
        error.contains("MTA-STS policy of remote.kr (enforce)") && error.contains("STARTTLS"),
        "{error}"
    );
    assert!(error.starts_with("421 4.7.10"), "temporary: {error}");
}

#[tokio::test]
async fn enforce_refuses_an_mx_host_the_policy_does_not_name() {
    let t = StsEnv::new().await;
    let policy = PolicyServer::start(t.server_tls(), STS_HOST, ENFORCE).await;
    let sink = t.mx_sink().await;
    let id = t.env.queue_to_kim().await;
    run(&t.runner(&sink, "mx.attacker.kr", policy.addr.port(), "sts")).await;
    assert_eq!(
        sink.connection_count(),
        0,
        "no connection to a host off the policy"
    );
    let error = t.queued_error(id).await;
    assert!(error.starts_with("451 4.7.5"), "{error}");
    assert!(
        error.contains("mx.attacker.kr") && error.contains("mx.remote.kr"),
        "{error}"
    );
}

/// A policy sent in chunked transfer coding is read as the policy (the relay's first
/// HTTP reader knew only Content-Length, so such a policy was not applied at all).
#[tokio::test]
async fn a_chunked_policy_is_enforced_too() {
    let t = StsEnv::new().await;
    let policy = PolicyServer::start_chunked(t.server_tls(), STS_HOST, ENFORCE).await;
    let sink = t.mx_sink().await;
    let id = t.env.queue_to_kim().await;
    run(&t.runner(&sink, "mx.attacker.kr", policy.addr.port(), "sts")).await;
    assert_eq!(policy.requests.load(Ordering::SeqCst), 1);
    assert_eq!(
        sink.connection_count(),
        0,
        "no connection to a host off the policy"
    );
    let error = t.queued_error(id).await;
    assert!(error.starts_with("451 4.7.5"), "{error}");
}

#[tokio::test]
async fn enforce_refuses_a_certificate_that_does_not_verify() {
    let t = StsEnv::new().await;
    let policy = PolicyServer::start(t.server_tls(), STS_HOST, ENFORCE).await;
    // The sink's certificate is from another CA and names localhost.
    let sink = t.env.tls_sink(SinkBehaviour::default()).await;
    let id = t.env.queue_to_kim().await;
    run(&t.runner(&sink, "mx.remote.kr", policy.addr.port(), "sts")).await;
    assert!(sink.received().is_empty());
    let error = t.queued_error(id).await;
    assert!(error.starts_with("421 4.7.5"), "{error}");
    assert!(
        error.contains("MTA-STS") && error.contains("TLS"),
        "{error}"
    );
}

#[tokio::test]
async fn testing_mode_delivers_anyway_and_max_age_expiry_fetches_again() {
    let t = StsEnv::new().await;
    let testing = ENFORCE.replace("enforce", "testing");
    let policy = PolicyServer::start(t.server_tls(), STS_HOST, &testing).await;
    let plain = Sink::start(SinkBehaviour::default()).await;
    let port = policy.addr.port();
    let runner = t.runner(&plain, "mx.elsewhere.kr", port, "sts");
    let id = t.env.queue_to_kim().await;
    run(&runner).await;
    t.env.assert_gone(id).await;
    assert!(!plain.received()[0].tls, "testing mode does not refuse");

    let again = t.env.queue_to_kim().await;
    run(&runner).await;
    t.env.assert_gone(again).await;
    assert_eq!(policy.requests.load(Ordering::SeqCst), 1, "cached");

    t.clock.0.store(NOW + 86_400, Ordering::SeqCst); // max_age has passed
    let late = t
        .env
        .queue(SENDER, &[("kim@remote.kr", 0)], MESSAGE, &[])
        .await;
    run(&runner).await;
    t.env.assert_gone(late).await;
    assert_eq!(policy.requests.load(Ordering::SeqCst), 2, "fetched again");
}
