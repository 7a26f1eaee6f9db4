//! The SMTP probes of the hostile-input issue ("What held"), against the real daemon with
//! small configured limits, each asserting its bound: a 100 MB DATA is refused at the
//! configured size with the daemon's memory bounded; 10,000 RCPT TO stop at the configured
//! count; SMTP smuggling sequences (`\n.\n`, `\r.\n`, `\n.\r\n`, `\r\n.\r`, `\r\n.\n`) on
//! ports 25 and 465 never end a message early or start a second one; STARTTLS injection on
//! 25 and 587 is discarded; NUL bytes and overlong lines are refused and the session goes
//! on.

use std::time::{Duration, Instant};

use base64::Engine as _;
use certmail_tests::lines::LineClient;
use certmail_tests::procfs::{ensure_rss_within, rss_kib};
use certmail_tests::{DaemonProcess, fixtures, tls};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

const PASSWORD: &str = "Gpki-Pass-2026!";

/// A daemon with 홍길동 (`hong`) and kim, 1 MB messages, 100 recipients, 512-octet lines.
fn start_small() -> anyhow::Result<(fixtures::Installation, DaemonProcess)> {
    let mut fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    fx.edit_config(|c| {
        c.smtp.max_message_size = 1024 * 1024;
        c.smtp.max_recipients = 100;
        c.smtp.max_line_length = 512;
        c.smtp.max_errors = 1000;
    })?;
    let daemon = fx.start()?;
    Ok((fx, daemon))
}

async fn mx(daemon: &DaemonProcess) -> anyhow::Result<LineClient<TcpStream>> {
    let mut c = LineClient::new(TcpStream::connect(daemon.addr("smtp")).await?);
    anyhow::ensure!(c.smtp_reply().await?.starts_with("220"));
    anyhow::ensure!(c.smtp("EHLO attacker.example").await?.starts_with("250"));
    Ok(c)
}

/// `RSET` answered 250: the session goes on.
async fn goes_on<S: AsyncRead + AsyncWrite + Unpin>(c: &mut LineClient<S>) -> anyhow::Result<()> {
    let reply = c.smtp("RSET").await?;
    anyhow::ensure!(reply.starts_with("250"), "RSET: {reply}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100_mb_data_is_refused_at_the_configured_size_with_bounded_memory() -> anyhow::Result<()>
{
    let (_fx, daemon) = start_small()?;
    let before = rss_kib(daemon.pid())?;
    let mut c = mx(&daemon).await?;
    c.smtp_begin_data("x@attacker.example", "hong@test.go.kr")
        .await?;
    let t = Instant::now();
    let chunk = "가나다라마바사아자차카타파하 0123456789\r\n".repeat(1000);
    let mut sent = 0;
    while sent < 100 * 1024 * 1024 {
        if c.send_raw(chunk.as_bytes()).await.is_err() {
            break; // the server may stop reading once it has refused
        }
        sent += chunk.len();
    }
    let reply = c.smtp(".").await.unwrap_or_default();
    assert!(reply.starts_with("552"), "{reply}");
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "took {:?}",
        t.elapsed()
    );
    ensure_rss_within(daemon.pid(), before, 64 * 1024)?;
    let mut next = mx(&daemon).await?;
    goes_on(&mut next).await
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_recipients_stop_at_the_configured_count() -> anyhow::Result<()> {
    let (_fx, daemon) = start_small()?;
    let mut c = mx(&daemon).await?;
    assert!(
        c.smtp("MAIL FROM:<x@attacker.example>")
            .await?
            .starts_with("250")
    );
    let t = Instant::now();
    let mut all = String::new();
    for _ in 0..10_000 {
        all.push_str("RCPT TO:<hong@test.go.kr>\r\n");
    }
    let writer = c.send_raw(all.as_bytes());
    writer.await?;
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..10_000 {
        let reply = c.smtp_reply().await?;
        match &reply[..3] {
            "250" => accepted += 1,
            "452" => refused += 1,
            _ => panic!("unexpected {reply}"),
        }
    }
    assert_eq!((accepted, refused), (100, 9_900));
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t.elapsed()
    );
    goes_on(&mut c).await
}

/// The five sequences that end a message in some servers and not in others.
const SMUGGLERS: [&str; 5] = ["\n.\n", "\r.\n", "\n.\r\n", "\r\n.\r", "\r\n.\n"];

/// Sends one message holding every smuggling sequence, each followed by a would-be
/// second transaction; the only end is CRLF.CRLF.
async fn smuggle<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut LineClient<S>,
    from: &str,
) -> anyhow::Result<()> {
    c.smtp_begin_data(from, "kim@test.go.kr").await?;
    let mut body = format!("From: {from}\r\nSubject: 밀수\r\n\r\nstart\r\n");
    for (i, s) in SMUGGLERS.iter().enumerate() {
        body.push_str(&format!(
            "smuggle {i}{s}MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<kim@test.go.kr>\r\nDATA\r\nSubject: 몰래 {i}\r\n\r\n"
        ));
    }
    body.push_str("end\r\n.\r\n");
    c.send_raw(body.as_bytes()).await?;
    let reply = c.smtp_reply().await?;
    anyhow::ensure!(reply.starts_with("250"), "{reply}");
    // Nothing else answers: the smuggled commands were message text.
    let next = c.smtp("NOOP").await?;
    anyhow::ensure!(next.starts_with("250") && !next.contains("\n"), "{next}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_smuggling_never_ends_a_message_early_on_25_or_465() -> anyhow::Result<()> {
    let (fx, mut daemon) = start_small()?;
    let mut c = mx(&daemon).await?;
    smuggle(&mut c, "x@attacker.example").await?;
    let mut s = LineClient::new(tls::connect(daemon.addr("submissions"), fx.user_tls()?).await?);
    assert!(s.smtp_reply().await?.starts_with("220"));
    assert!(s.smtp("EHLO client.example").await?.starts_with("250"));
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("\0hong\0{PASSWORD}"));
    assert!(
        s.smtp(&format!("AUTH PLAIN {auth}"))
            .await?
            .starts_with("235")
    );
    smuggle(&mut s, "hong@test.go.kr").await?;
    drop((c, s));
    // The store is read directly: the daemon must be gone (a 250 means flushed).
    daemon.kill9()?;
    let bodies = fx.mailbox_bodies("kim", "INBOX").await?;
    assert_eq!(
        bodies.len(),
        2,
        "one message per session, no smuggled second one"
    );
    for body in &bodies {
        let text = String::from_utf8_lossy(body);
        assert!(text.contains("smuggle 4") && text.contains("end"), "{text}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn starttls_injection_on_25_and_587_is_discarded() -> anyhow::Result<()> {
    let (fx, daemon) = start_small()?;
    for listener in ["smtp", "submission"] {
        let mut c = LineClient::new(TcpStream::connect(daemon.addr(listener)).await?);
        assert!(c.smtp_reply().await?.starts_with("220"));
        assert!(c.smtp("EHLO client.example").await?.starts_with("250"));
        // The injected MAIL rides in the same packet as STARTTLS (RFC 3207 §4.2: discard).
        c.send_raw(b"STARTTLS\r\nMAIL FROM:<evil@attacker.example>\r\n")
            .await?;
        assert!(c.smtp_reply().await?.starts_with("220"), "{listener}");
        let mut t = LineClient::new(tls::handshake(c.into_inner(), fx.user_tls()?).await?);
        let first = t.smtp("EHLO client.example").await?;
        assert!(
            first.starts_with("250"),
            "{listener}: the injected MAIL was answered: {first}"
        );
        // No transaction was opened by the injected MAIL.
        let rcpt = t.smtp("RCPT TO:<kim@test.go.kr>").await?;
        assert!(rcpt.starts_with("503"), "{listener}: {rcpt}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_bytes_and_overlong_lines_are_refused_and_the_session_goes_on() -> anyhow::Result<()> {
    let (_fx, daemon) = start_small()?;
    let mut c = mx(&daemon).await?;
    let nul = c.smtp("MAIL FROM:<x\0@attacker.example>").await?;
    assert!(nul.starts_with("5"), "{nul}");
    goes_on(&mut c).await?;
    let long = format!("MAIL FROM:<{}@attacker.example>", "a".repeat(100_000));
    let reply = c.smtp(&long).await?;
    assert!(
        reply.starts_with("500") || reply.starts_with("501"),
        "{reply}"
    );
    goes_on(&mut c).await
}
