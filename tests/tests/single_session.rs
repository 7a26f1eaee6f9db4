//! One active session per account across IMAP and SMTP: a sign-in from another device ends
//! the older device's connections at once, each hearing why, and a half-sent message is
//! not stored. Connections of one device share the session.

use std::time::Duration;

use base64::Engine as _;
use certmail_tests::lines::LineClient;
use certmail_tests::{fixtures, tls};

const PASSWORD: &str = "Gpki-Pass-2026!";

#[tokio::test(flavor = "multi_thread")]
async fn another_device_ends_the_old_session_everywhere() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    let daemon = fx.start()?;
    let cfg = fx.user_tls()?;
    let a: std::net::IpAddr = "127.0.0.1".parse()?;
    let b: std::net::IpAddr = "127.0.0.2".parse()?;

    // Device A: two IMAP connections (one in IDLE) and an SMTP connection mid-DATA.
    let mut idle = LineClient::new(tls::connect_from(a, daemon.addr("imaps"), cfg.clone()).await?);
    assert!(idle.line().await?.starts_with("* OK"));
    idle.send_raw(format!("a1 LOGIN hong \"{PASSWORD}\"\r\n").as_bytes())
        .await?;
    assert!(idle.line().await?.starts_with("a1 OK"));
    idle.send_raw(b"a2 SELECT INBOX\r\n").await?;
    while !idle.line().await?.starts_with("a2 ") {}
    idle.send_raw(b"a3 IDLE\r\n").await?;
    assert!(idle.line().await?.starts_with('+'));

    let mut other = LineClient::new(tls::connect_from(a, daemon.addr("imaps"), cfg.clone()).await?);
    assert!(other.line().await?.starts_with("* OK"));
    other
        .send_raw(format!("b1 LOGIN hong \"{PASSWORD}\"\r\n").as_bytes())
        .await?;
    assert!(
        other.line().await?.starts_with("b1 OK"),
        "a second connection of the same device joins the session"
    );

    let mut smtp =
        LineClient::new(tls::connect_from(a, daemon.addr("submissions"), cfg.clone()).await?);
    smtp.smtp_reply().await?;
    smtp.smtp("EHLO device-a").await?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("\0hong\0{PASSWORD}"));
    assert!(
        smtp.smtp(&format!("AUTH PLAIN {auth}"))
            .await?
            .starts_with("235"),
        "SMTP of the same device does not end its IMAP"
    );
    assert!(
        smtp.smtp("MAIL FROM:<hong@test.go.kr>")
            .await?
            .starts_with("250")
    );
    assert!(
        smtp.smtp("RCPT TO:<kim@test.go.kr>")
            .await?
            .starts_with("250")
    );
    assert!(smtp.smtp("DATA").await?.starts_with("354"));
    smtp.send_raw(
        b"From: hong@test.go.kr\r\nSubject: half-sent\r\n\r\nthe first half of the body\r\n",
    )
    .await?;

    // Device B signs in from another address.
    let mut phone = LineClient::new(tls::connect_from(b, daemon.addr("imaps"), cfg.clone()).await?);
    assert!(phone.line().await?.starts_with("* OK"));
    phone
        .send_raw(format!("p1 LOGIN hong \"{PASSWORD}\"\r\n").as_bytes())
        .await?;
    assert!(phone.line().await?.starts_with("p1 OK"));

    let started = std::time::Instant::now();
    let bye = idle.line().await?;
    assert!(
        bye.starts_with("* BYE [UNAVAILABLE]")
            && bye.contains("another device")
            && bye.contains("127.0.0.2"),
        "{bye}"
    );
    let bye = other.line().await?;
    assert!(
        bye.starts_with("* BYE [UNAVAILABLE]") && bye.contains("127.0.0.2"),
        "{bye}"
    );
    let reply = smtp.smtp_reply().await?;
    assert!(
        reply.starts_with("421 4.7.0") && reply.contains("another device"),
        "{reply}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "kicks arrive promptly"
    );
    assert_eq!(idle.line().await?, "", "the old connections are closed");

    // Device B works.
    phone.send_raw(b"p2 SELECT INBOX\r\n").await?;
    let mut last = String::new();
    while !last.starts_with("p2 ") {
        last = phone.line().await?;
    }
    assert!(last.starts_with("p2 OK"), "{last}");
    drop(phone);
    drop(daemon);
    assert!(
        fx.mailbox_bodies("kim", "INBOX").await?.is_empty(),
        "the half-sent message was not stored"
    );
    // Each ended connection is in the audit log with its cause.
    let store = fx.open_store().await?;
    let kicks: Vec<_> = store
        .audit_range(0, i64::MAX, 10_000)
        .await?
        .into_iter()
        .filter(|e| {
            e.kind == "session_kicked"
                && e.fields.get("cause").map(String::as_str) == Some("another-device")
        })
        .collect();
    let by = |p: &str| {
        kicks
            .iter()
            .filter(|e| e.fields.get("protocol").map(String::as_str) == Some(p))
            .count()
    };
    assert_eq!((by("imap"), by("smtp")), (2, 1), "{kicks:?}");
    Ok(())
}
