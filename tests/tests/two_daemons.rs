//! Two daemons in one process share nothing: each counts its own connections, sign-ins,
//! sessions ended and mail in its own context, and its `/metrics` (read with curl) shows
//! only those. The one test here that holds the daemons in-process (the certmail library),
//! since two processes would share nothing anyway; the clients are still real TLS clients
//! with 홍길동's certificate.
use std::net::SocketAddr;
use std::sync::Arc;

use certmail::context::Daemon;
use certmail::services::listener::{ConnectionLimits, ListenerKind};
use certmail::services::{http, listener, protocols};
use certmail_tests::fixtures::Installation;
use certmail_tests::lines::{LineClient, imaps_login, mx_deliver};
use certmail_tests::metrics::{curl, sample};
use certmail_tests::tls;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

const PASSWORD: &str = "Gyeongbokgung-2026!";

/// A daemon's context in this process, serving IMAPS, port 25 and `/metrics` on 127.0.0.1.
struct InProcess {
    daemon: Arc<Daemon>,
    imaps: SocketAddr,
    smtp: SocketAddr,
    metrics: SocketAddr,
}

impl InProcess {
    /// Opens `fx`'s store and TLS files and starts the three listeners.
    async fn start(fx: &Installation) -> anyhow::Result<Self> {
        let config = certmail::config::load(&fx.config_path)?;
        let (store, cluster) = certmail::services::cluster::open(&config).await?;
        let tls = certmail::tls::TlsState::load(&config).await?;
        let daemon = certmail::services::serve::build_daemon(
            config,
            fx.config_path.clone(),
            store,
            tls,
            cluster,
        )?;
        let daemon = Arc::new(daemon);
        let imaps = Self::serve(&daemon, ListenerKind::ImapTls).await?;
        let smtp = Self::serve(&daemon, ListenerKind::Mx).await?;
        let l = TcpListener::bind("127.0.0.1:0").await?;
        let metrics = l.local_addr()?;
        let shutdown = daemon.shutdown.clone();
        tokio::spawn(http::serve(
            l,
            Arc::clone(&daemon),
            http::Routes::Metrics,
            shutdown,
        ));
        Ok(Self {
            daemon,
            imaps,
            smtp,
            metrics,
        })
    }

    /// Serves `kind` connections on a new 127.0.0.1 port, as `certmail serve` does.
    async fn serve(daemon: &Arc<Daemon>, kind: ListenerKind) -> anyhow::Result<SocketAddr> {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        let addr = l.local_addr()?;
        let (d, d2) = (Arc::clone(daemon), Arc::clone(daemon));
        tokio::spawn(listener::serve(
            kind,
            l,
            ConnectionLimits::new(100, 100),
            daemon.shutdown.clone(),
            TaskTracker::new(),
            move |kind, acc| protocols::handle(Arc::clone(&d), kind, acc),
            move |kind, tcp| protocols::refuse_busy(Arc::clone(&d2), kind, tcp),
        ));
        Ok(addr)
    }

    /// This daemon's `/metrics`, fetched with curl.
    fn metrics(&self) -> anyhow::Result<String> {
        let url = format!("http://{}/metrics", self.metrics);
        let (body, code) = tokio::task::block_in_place(|| curl(&url))?;
        anyhow::ensure!(code == "200", "/metrics answered {code}: {body}");
        Ok(body)
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.daemon.shutdown.cancel();
    }
}

/// Asserts `series` reads `on_seoul` on Seoul's `/metrics` and 0 on Busan's.
fn counted_on_seoul_only(seoul: &str, busan: &str, series: &str, on_seoul: f64) {
    assert_eq!(
        sample(seoul, series),
        Some(on_seoul),
        "Seoul {series}:\n{seoul}"
    );
    assert_eq!(sample(busan, series), Some(0.0), "Busan {series}:\n{busan}");
}

#[tokio::test(flavor = "multi_thread")]
async fn what_one_daemon_counts_the_other_does_not() -> anyhow::Result<()> {
    let seoul_fx = Installation::with_demo_user(PASSWORD)?;
    let busan_fx = Installation::with_demo_user(PASSWORD)?;
    let seoul = InProcess::start(&seoul_fx).await?;
    let busan = InProcess::start(&busan_fx).await?;

    // 홍길동 signs in on Seoul over IMAPS with his certificate and waits in IDLE on INBOX.
    let mut laptop = imaps_login(seoul.imaps, seoul_fx.user_tls()?, "hong", PASSWORD).await?;
    laptop.send_raw(b"a2 SELECT INBOX\r\n").await?;
    while !laptop.line().await?.starts_with("a2 ") {}
    laptop.send_raw(b"a3 IDLE\r\n").await?;
    let idling = laptop.line().await?;
    assert!(idling.starts_with('+'), "IDLE: {idling}");
    // Another server brings him a message on Seoul's port 25.
    let letter = "Subject: 안녕하세요\r\n\r\n김철수가 보냅니다\r\n";
    mx_deliver(seoul.smtp, "hong@test.go.kr", letter).await?;
    // The message reaches the IDLE connection, so the delivery is done.
    let exists = laptop.line().await?;
    assert!(exists.ends_with("EXISTS"), "IDLE heard: {exists}");

    let (s, b) = (seoul.metrics()?, busan.metrics()?);
    for (series, on_seoul) in [
        ("certmail_connections_total{listener=\"imaps\"}", 1.0),
        ("certmail_connections_total{listener=\"smtp\"}", 1.0),
        (
            "certmail_connections{protocol=\"imap\",state=\"idle\"}",
            1.0,
        ),
        ("certmail_sessions", 1.0),
        ("certmail_messages_received_total", 1.0),
        ("certmail_messages_delivered_total", 1.0),
    ] {
        counted_on_seoul_only(&s, &b, series, on_seoul);
    }

    // His phone (another address, the same certificate) signs in on Seoul: the laptop's
    // session ends, and only Seoul counts the kick.
    let phone_tls = tls::connect_from("127.0.0.2".parse()?, seoul.imaps, seoul_fx.user_tls()?);
    let mut phone = LineClient::new(phone_tls.await?);
    phone.line().await?;
    phone
        .send_raw(format!("a1 LOGIN hong \"{PASSWORD}\"\r\n").as_bytes())
        .await?;
    let answer = phone.line().await?;
    assert!(answer.starts_with("a1 OK"), "phone LOGIN: {answer}");
    let mut bye = laptop.line().await?;
    while bye.starts_with("* ") && !bye.starts_with("* BYE") {
        bye = laptop.line().await?; // `* 1 RECENT` may still come first
    }
    assert!(
        bye.starts_with("* BYE [UNAVAILABLE]"),
        "laptop heard: {bye}"
    );

    let (s, b) = (seoul.metrics()?, busan.metrics()?);
    counted_on_seoul_only(
        &s,
        &b,
        "certmail_kicks_total{cause=\"another-device\"}",
        1.0,
    );
    counted_on_seoul_only(
        &s,
        &b,
        "certmail_connections_total{listener=\"imaps\"}",
        2.0,
    );
    Ok(())
}
