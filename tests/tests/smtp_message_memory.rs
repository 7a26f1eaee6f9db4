//! `[smtp] max_message_memory`: message bodies in memory are bounded across all
//! connections. A message that finds the budget spent is read to its end and refused with
//! 452 4.3.1 (the sender retries), and nothing of it is stored; once memory is free again
//! the same message is accepted. `/metrics` shows what the budget holds (read with curl).

use base64::Engine as _;
use certmail_tests::lines::LineClient;
use certmail_tests::metrics::{sample, scrape, start_with_metrics};
use certmail_tests::{DaemonProcess, fixtures, tls};

/// What `/metrics` says the SMTP message pool holds.
fn pool_bytes(daemon: &DaemonProcess) -> anyhow::Result<f64> {
    let series = "certmail_memory_pool_bytes{pool=\"smtp_messages\"}";
    let body = scrape(daemon)?;
    sample(&body, series).ok_or_else(|| anyhow::anyhow!("no {series} in {body}"))
}

const PASSWORD: &str = "Gpki-Pass-2026!";

fn starts(reply: &str, code: &str) {
    assert!(reply.starts_with(code), "expected {code}, got {reply:?}");
}

/// A 70 000-octet message from 홍길동 to 김철수 (CRLF lines, no line starting with a dot).
fn message(subject: &str) -> String {
    let mut m = format!(
        "From: 홍길동 <hong@test.go.kr>\r\nTo: 김철수 <kim@test.go.kr>\r\nSubject: {subject}\r\n\r\n"
    );
    while m.len() < 70_000 {
        m.push_str("예산 보고서 첨부 자료입니다. 0123456789\r\n");
    }
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_over_the_shared_budget_waits_for_memory() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    let config = std::fs::read_to_string(&fx.config_path)?;
    std::fs::write(
        &fx.config_path,
        config.replacen(
            "[smtp]\n",
            "[smtp]\nmax_message_size = 100000\nmax_message_memory = 100000\n",
            1,
        ),
    )?;
    let daemon = start_with_metrics(&fx)?;
    let with_cert = fx.user_tls()?;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0hong\0{PASSWORD}"));
    let connect = async || -> anyhow::Result<LineClient<_>> {
        let mut c =
            LineClient::new(tls::connect(daemon.addr("submissions"), with_cert.clone()).await?);
        starts(&c.smtp_reply().await?, "220 ");
        c.smtp("EHLO client.test").await?;
        starts(&c.smtp(&format!("AUTH PLAIN {plain}")).await?, "235 ");
        starts(&c.smtp("MAIL FROM:<hong@test.go.kr>").await?, "250 ");
        starts(&c.smtp("RCPT TO:<kim@test.go.kr>").await?, "250 ");
        Ok(c)
    };

    // A holds 70 000 octets: its first BDAT chunk is acknowledged, so the server has it.
    let first = message("첫째");
    let mut a = connect().await?;
    a.send_raw(format!("BDAT {}\r\n", first.len()).as_bytes())
        .await?;
    a.send_raw(first.as_bytes()).await?;
    starts(&a.smtp_reply().await?, "250 ");
    assert_eq!(pool_bytes(&daemon)?, first.len() as f64);

    // B's 70 000 octets do not fit beside them: read to the end, then 452 4.3.1.
    let second = message("둘째");
    let mut b = connect().await?;
    starts(&b.smtp("DATA").await?, "354 ");
    b.send_raw(second.as_bytes()).await?;
    let refused = b.smtp(".").await?;
    starts(&refused, "452 4.3.1");
    assert!(refused.contains("try again"), "{refused}");

    // A finishes: accepted, and its memory is free again.
    starts(&a.smtp("BDAT 0 LAST").await?, "250 ");
    // B retries the same message on the same connection: accepted now.
    starts(&b.smtp("MAIL FROM:<hong@test.go.kr>").await?, "250 ");
    starts(&b.smtp("RCPT TO:<kim@test.go.kr>").await?, "250 ");
    starts(&b.smtp("DATA").await?, "354 ");
    b.send_raw(second.as_bytes()).await?;
    starts(&b.smtp(".").await?, "250 ");
    starts(&b.smtp("QUIT").await?, "221 ");
    assert_eq!(pool_bytes(&daemon)?, 0.0, "every body stored, nothing held");

    drop(daemon);
    let bodies = fx.mailbox_bodies("kim", "INBOX").await?;
    assert_eq!(
        bodies.len(),
        2,
        "each message stored once, the refused try not at all"
    );
    Ok(())
}

#[test]
fn a_budget_below_the_largest_message_is_a_config_error() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    let config = std::fs::read_to_string(&fx.config_path)?;
    std::fs::write(
        &fx.config_path,
        config.replacen("[smtp]\n", "[smtp]\nmax_message_memory = 1000000\n", 1),
    )?;
    let (code, out, err) = fx.certmail(&["check-config"])?;
    let text = format!("{out}{err}");
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("[smtp] max_message_memory"), "{text}");
    assert!(text.contains("max_message_size"), "{text}");
    Ok(())
}
