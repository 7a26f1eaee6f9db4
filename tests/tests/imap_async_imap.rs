//! The async-imap crate, a client nobody here wrote, against the running daemon with the
//! GPKI-like client certificate: folders, APPEND, FETCH, and IDLE woken by mail that
//! another server delivers over SMTP.

use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use certmail_tests::lines::LineClient;
use certmail_tests::{fixtures, tls};
use futures::TryStreamExt as _;
use tokio::net::TcpStream;

const PASSWORD: &str = "Gpki-Pass-2026!";
const STEP: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn async_imap_against_the_daemon() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;
    let cfg = fx.user_tls()?;

    let mut client = async_imap::Client::new(tls::connect(daemon.addr("imaps"), cfg).await?);
    anyhow::ensure!(
        tokio::time::timeout(STEP, client.read_response())
            .await??
            .is_some(),
        "greeting"
    );
    let mut session = tokio::time::timeout(STEP, client.login("hong", PASSWORD))
        .await?
        .map_err(|(e, _)| e)?;

    let names: Vec<_> = session
        .list(Some(""), Some("*"))
        .await?
        .try_collect()
        .await?;
    let listed: Vec<&str> = names.iter().map(|n| n.name()).collect();
    for folder in ["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"] {
        assert!(listed.contains(&folder), "{folder} missing from {listed:?}");
    }
    session
        .append(
            "Sent",
            None,
            None,
            "From: hong@test.go.kr\r\nSubject: 보낸 편지\r\n\r\n본문\r\n".as_bytes(),
        )
        .await?;
    let sent = session.select("Sent").await?;
    assert_eq!(sent.exists, 1);
    let fetched: Vec<_> = session
        .uid_fetch("1", "(UID BODY.PEEK[])")
        .await?
        .try_collect()
        .await?;
    assert!(String::from_utf8_lossy(fetched[0].body().expect("body")).contains("보낸 편지"));

    session.select("INBOX").await?;
    let mut idle = session.idle();
    idle.init().await?;
    let (wait, _stop) = idle.wait();
    let deliver = async {
        let mut c = LineClient::new(TcpStream::connect(daemon.addr("smtp")).await?);
        c.smtp_reply().await?;
        c.smtp("EHLO other.example").await?;
        c.smtp("MAIL FROM:<a@other.example>").await?;
        c.smtp("RCPT TO:<hong@test.go.kr>").await?;
        c.smtp("DATA").await?;
        let r = c.smtp("Subject: wake\r\n\r\nnew mail\r\n.").await?;
        anyhow::ensure!(r.starts_with("250"), "{r}");
        Ok::<_, anyhow::Error>(())
    };
    let (woke, delivered) = tokio::join!(tokio::time::timeout(STEP, wait), deliver);
    delivered?;
    match woke?? {
        IdleResponse::NewData(data) => assert!(format!("{:?}", data.parsed()).contains("Exists")),
        other => panic!("IDLE ended without new data: {other:?}"),
    }
    let mut session = idle.done().await?;
    session.logout().await?;
    Ok(())
}
