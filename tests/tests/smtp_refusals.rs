//! Every SMTP refusal reaches the client as its exact code and enhanced code, with a
//! sentence the user can act on.

use base64::Engine as _;
use certmail_tests::lines::LineClient;
use certmail_tests::{fixtures, tls};
use tokio::net::TcpStream;

// ASCII: Python's smtplib encodes AUTH PLAIN as ASCII.
const PASSWORD: &str = "Gpki-Pass-2026!";

fn plain(user: &str, pw: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pw}"))
}

fn starts(reply: &str, code: &str) {
    assert!(reply.starts_with(code), "expected {code}, got {reply:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_have_exact_codes() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    let daemon = fx.start()?;
    let with_cert = fx.user_tls()?;
    let no_cert = tls::client_config(&fx.server_ca, None, &[&rustls::version::TLS13])?;

    // 587 before STARTTLS: AUTH and MAIL need TLS first.
    let mut c = LineClient::new(TcpStream::connect(daemon.addr("submission")).await?);
    starts(&c.smtp_reply().await?, "220 ");
    let ehlo = c.smtp("EHLO client.test").await?;
    assert!(
        ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    starts(
        &c.smtp(&format!("AUTH PLAIN {}", plain("hong", PASSWORD)))
            .await?,
        "530 5.7.0",
    );
    starts(&c.smtp("MAIL FROM:<hong@test.go.kr>").await?, "530 5.7.0");

    // No client certificate: AUTH gets 530 5.7.0 (no_certificate).
    let mut c = LineClient::new(tls::connect(daemon.addr("submissions"), no_cert.clone()).await?);
    starts(&c.smtp_reply().await?, "220 ");
    c.smtp("EHLO client.test").await?;
    let r = c
        .smtp(&format!("AUTH PLAIN {}", plain("hong", PASSWORD)))
        .await?;
    starts(&r, "530 5.7.0");
    assert!(r.to_lowercase().contains("certificate"), "{r}");

    // Certificate, wrong password: 535 5.7.8.
    let mut c = LineClient::new(tls::connect(daemon.addr("submissions"), with_cert.clone()).await?);
    starts(&c.smtp_reply().await?, "220 ");
    c.smtp("EHLO client.test").await?;
    starts(
        &c.smtp(&format!("AUTH PLAIN {}", plain("hong", "wrong")))
            .await?,
        "535 5.7.8",
    );
    // Certificate bound to hong, user name kim: 535 5.7.8 (bound to another account).
    starts(
        &c.smtp(&format!("AUTH PLAIN {}", plain("kim", PASSWORD)))
            .await?,
        "535 5.7.8",
    );

    // Signed in: sender and header checks, unknown local recipient.
    let mut c = LineClient::new(tls::connect(daemon.addr("submissions"), with_cert.clone()).await?);
    starts(&c.smtp_reply().await?, "220 ");
    let ehlo = c.smtp("EHLO client.test").await?;
    for ext in [
        "PIPELINING",
        "8BITMIME",
        "SMTPUTF8",
        "SIZE",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "DSN",
        "AUTH",
    ] {
        assert!(ehlo.contains(ext), "EHLO lacks {ext}: {ehlo}");
    }
    starts(
        &c.smtp(&format!("AUTH PLAIN {}", plain("hong", PASSWORD)))
            .await?,
        "235 ",
    );
    starts(&c.smtp("MAIL FROM:<kim@test.go.kr>").await?, "550 5.7.1");
    starts(
        &c.smtp("MAIL FROM:<hong@test.go.kr> SIZE=999999999999")
            .await?,
        "552 5.3.4",
    );
    starts(&c.smtp("MAIL FROM:<hong@test.go.kr>").await?, "250 ");
    starts(&c.smtp("RCPT TO:<nobody@test.go.kr>").await?, "550 5.1.1");
    starts(&c.smtp("RCPT TO:<kim@test.go.kr>").await?, "250 ");
    starts(&c.smtp("DATA").await?, "354 ");
    let r = c
        .smtp("From: 김철수 <kim@test.go.kr>\r\nSubject: spoof\r\n\r\nx\r\n.")
        .await?;
    starts(&r, "550 5.7.1");
    assert!(r.contains("From:"), "{r}");
    starts(&c.smtp("QUIT").await?, "221 ");

    // Port 25: no relaying for strangers; a non-SMTP client gets one reply and is closed.
    let mut c = LineClient::new(TcpStream::connect(daemon.addr("smtp")).await?);
    starts(&c.smtp_reply().await?, "220 ");
    c.smtp("EHLO relay.test").await?;
    starts(&c.smtp("MAIL FROM:<spammer@other.example>").await?, "250 ");
    let r = c.smtp("RCPT TO:<victim@elsewhere.example>").await?;
    starts(&r, "554 5.7.1");
    let mut c = LineClient::new(TcpStream::connect(daemon.addr("smtp")).await?);
    starts(&c.smtp_reply().await?, "220 ");
    let r = c.smtp("GET / HTTP/1.1").await?;
    assert!(r.starts_with('5'), "{r}");
    assert_eq!(
        c.smtp_reply().await?,
        "",
        "the connection is closed after the reply"
    );

    drop(daemon);
    assert!(
        fx.mailbox_bodies("kim", "INBOX").await?.is_empty(),
        "nothing refused was stored"
    );
    Ok(())
}
