//! The relay tests' environment: a store with hong's account, the test PKI, sinks on
//! loopback and queue runners routed to them (shared by outbound.rs and relay_ext.rs).
#![allow(dead_code)] // each test binary uses a different part of it

pub use std::net::{IpAddr, Ipv4Addr};
pub use std::sync::Arc;
pub use std::time::Duration;

pub use certmail_pki::testpki::DevPki;
pub use certmail_pki::{Pki, PkiConfig};
pub use certmail_smtp::outbound::client::Timeouts;
pub use certmail_smtp::outbound::{
    ClientIdentity, ClientTls, Clock, QueueRunner, RelaySettings, Route, Smarthost, SmarthostTls,
    SmtpTransport, StaticResolver,
};
pub use certmail_store::{
    Account, Delivery, KeyFile, QueueEntry, QueueRecipient, RecipientStatus, SledStore, Store,
};
pub use certmail_testkit::sink::{Sink, SinkBehaviour};
pub use tokio::time::timeout;

pub const STEP: Duration = Duration::from_secs(20);
pub const NOW: i64 = 1_795_305_600;
pub const SENDER: &str = "hong@test.go.kr";

pub struct FixedClock(pub i64);
impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub pki: DevPki,
    pub store: Arc<dyn Store>,
}

impl Env {
    pub async fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = DevPki::generate(&dir.path().join("pki"), "홍길동").expect("test PKI");
        let store = open_store(dir.path()).await;
        store
            .create_account(Account::new("hong", "홍길동", vec![SENDER.into()], NOW))
            .await
            .expect("account");
        Env { dir, pki, store }
    }

    /// Closes the store (as a crash would) and opens it again.
    pub async fn reopen(self) -> Env {
        let Env { dir, pki, store } = self;
        drop(store);
        let store = open_store(dir.path()).await;
        Env { dir, pki, store }
    }

    pub fn settings(&self) -> RelaySettings {
        RelaySettings {
            hostname: "mail.test.go.kr".into(),
            local_domains: vec!["test.go.kr".into()],
            retry_schedule: vec![60, 300],
            expire_after: 3600,
            delay_notice_after: None,
            ..RelaySettings::default()
        }
    }

    /// The sink's server TLS config, optionally asking for a client certificate.
    pub fn sink_tls(&self, client_auth: bool) -> Arc<rustls::ServerConfig> {
        let verifier = client_auth.then(|| {
            let pki =
                Pki::load(&PkiConfig::new(&self.pki.certs_dir, &self.pki.crl_dir)).expect("PKI");
            pki.client_verifier() as Arc<dyn rustls::server::danger::ClientCertVerifier>
        });
        Arc::new(
            certmail_pki::server_config(&self.pki.server_chain, &self.pki.server_key, verifier)
                .expect("sink TLS"),
        )
    }

    /// TLS trusting the test server CA only, optionally with the user's certificate.
    pub fn client_tls(&self, identity: bool) -> ClientTls {
        let ca = std::fs::read(&self.pki.server_ca).expect("server CA");
        let id = identity.then(|| ClientIdentity {
            chain_pem: std::fs::read(&self.pki.user_cert).expect("cert"),
            key_pem: std::fs::read(&self.pki.user_key).expect("key"),
        });
        ClientTls::new(false, Some(&ca), id.as_ref()).expect("client TLS")
    }

    /// MX routing: remote.kr → mx.remote.kr (and localhost.kr → localhost) at the sink.
    pub fn mx_runner(&self, sink: &Sink, now: i64) -> Arc<QueueRunner> {
        Arc::new(self.queue_runner(self.mx_transport(sink), now, self.settings()))
    }

    pub fn runner(&self, route: Route, tls: ClientTls, now: i64) -> Arc<QueueRunner> {
        let transport = SmtpTransport::new(route, tls, "mail.test.go.kr", short_timeouts());
        Arc::new(self.queue_runner(transport, now, self.settings()))
    }

    /// Delivery by MX lookup (remote.kr → the sink on 127.0.0.1; null.kr has a null MX),
    /// STARTTLS without a client certificate.
    pub fn mx_transport(&self, sink: &Sink) -> SmtpTransport {
        let lo = [IpAddr::V4(Ipv4Addr::LOCALHOST)];
        let resolver = StaticResolver::default()
            .with_mx("remote.kr", &[(10, "mx.remote.kr")])
            .with_mx("null.kr", &[(0, ".")])
            .with_host("mx.remote.kr", &lo);
        let route = Route::Mx {
            resolver: Arc::new(resolver),
            port: sink.addr.port(),
        };
        SmtpTransport::new(
            route,
            self.client_tls(false),
            "mail.test.go.kr",
            short_timeouts(),
        )
    }

    /// A runner over this store at the fixed time `now`.
    pub fn queue_runner(
        &self,
        transport: SmtpTransport,
        now: i64,
        settings: RelaySettings,
    ) -> QueueRunner {
        QueueRunner::new(
            Arc::clone(&self.store),
            Arc::new(transport),
            Arc::new(FixedClock(now)),
            settings,
        )
    }

    pub async fn queue(
        &self,
        from: &str,
        rcpts: &[(&str, u8)],
        body: &[u8],
        meta: &[(&str, &str)],
    ) -> u64 {
        let entry = QueueEntry {
            id: 0,
            from: from.into(),
            recipients: rcpts
                .iter()
                .map(|(a, n)| QueueRecipient {
                    address: a.to_string(),
                    status: RecipientStatus::Pending,
                    attempts: 0,
                    last_error: None,
                    notify: *n,
                })
                .collect(),
            blob: certmail_store::BlobId([0; 32]),
            created_at: NOW,
            next_attempt: NOW,
            envelope_meta: meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let receipt = self
            .store
            .deliver(Delivery {
                body: body.to_vec(),
                internal_date: NOW,
                recipients: Vec::new(),
                queue: vec![entry],
                outgoing: Vec::new(),
                quota: certmail_store::MailQuota::Unlimited,
                redirects: Vec::new(),
            })
            .await
            .expect("queued");
        receipt.queued[0]
    }

    /// An environment and a sink with the default behaviour.
    pub async fn with_sink() -> (Env, Sink) {
        Env::with_sink_behaving(SinkBehaviour::default()).await
    }

    /// An environment and a sink behaving as `behaviour` says.
    pub async fn with_sink_behaving(behaviour: SinkBehaviour) -> (Env, Sink) {
        (Env::new().await, Sink::start(behaviour).await)
    }

    /// Queues [`MESSAGE`] from [`SENDER`] to kim@remote.kr (no DSN request).
    pub async fn queue_to_kim(&self) -> u64 {
        self.queue(SENDER, &[("kim@remote.kr", 0)], MESSAGE, &[])
            .await
    }

    /// The one message in hong's INBOX (a delivery report), as text; `what` says why
    /// exactly one is expected.
    pub async fn only_report(&self, what: &str) -> String {
        let inbox = self.inbox().await;
        assert_eq!(inbox.len(), 1, "{what}");
        String::from_utf8_lossy(&inbox[0]).into_owned()
    }

    /// The one report in hong's INBOX (see [`Env::only_report`]), checked to contain each
    /// of `needles`.
    pub async fn report_saying(&self, what: &str, needles: &[&str]) -> String {
        let text = self.only_report(what).await;
        for needle in needles {
            assert!(text.contains(needle), "{needle:?} missing in {text}");
        }
        text
    }

    /// A sink offering STARTTLS with the server certificate (no client certificate asked),
    /// otherwise behaving as `behaviour` says.
    pub async fn tls_sink(&self, behaviour: SinkBehaviour) -> Sink {
        Sink::start(SinkBehaviour {
            tls: Some(self.sink_tls(false)),
            ..behaviour
        })
        .await
    }

    /// Queue entry `id`, which must still be queued (`what` says why).
    pub async fn queued(&self, id: u64, what: &str) -> QueueEntry {
        self.store.queue_get(id).await.expect("get").expect(what)
    }

    /// Asserts that entry `id` has left the queue.
    pub async fn assert_gone(&self, id: u64) {
        assert_eq!(self.store.queue_get(id).await.expect("get"), None);
    }

    /// The messages in hong's INBOX, raw.
    pub async fn inbox(&self) -> Vec<Vec<u8>> {
        let metas = self
            .store
            .messages("hong", "INBOX", 1..=u32::MAX)
            .await
            .expect("messages");
        let mut out = Vec::new();
        for m in metas {
            out.push(
                self.store
                    .message_body("hong", &m.blob)
                    .await
                    .expect("body"),
            );
        }
        out
    }
}

pub async fn open_store(dir: &std::path::Path) -> Arc<dyn Store> {
    let key = KeyFile::load_or_create(&dir.join("store.key")).expect("key");
    Arc::new(
        SledStore::open_async(&dir.join("store"), key)
            .await
            .expect("store"),
    )
}

/// Delivery through `sink` as the smarthost `localhost`, over verified STARTTLS.
pub fn smarthost(sink: &Sink) -> Route {
    Route::Smarthost(Smarthost {
        host: "localhost".into(),
        port: sink.addr.port(),
        tls: SmarthostTls::StartTls,
        verify: true,
    })
}

pub fn short_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        command: Duration::from_secs(5),
        data: Duration::from_secs(5),
    }
}

pub const MESSAGE: &[u8] = "From: 홍길동 <hong@test.go.kr>\r\nTo: kim@remote.kr\r\nSubject: 회의 안내\r\n\r\n.내일 회의는 10시입니다.\r\n".as_bytes();

pub async fn run(runner: &Arc<QueueRunner>) {
    timeout(STEP, runner.run_once())
        .await
        .expect("run in time")
        .expect("store");
}
