//! Local delivery: a notice to a list is one body in the store and one entry per mailbox;
//! NOTIFY=SUCCESS brings a delivery report to the sender's INBOX; a full mailbox refuses
//! with 552 5.2.2.

use base64::Engine as _;
use certmail_tests::lines::LineClient;
use certmail_tests::{DaemonProcess, fixtures, tls};

const PASSWORD: &str = "Gpki-Pass-2026!";

fn starts(reply: &str, code: &str) {
    assert!(reply.starts_with(code), "expected {code}, got {reply:?}");
}

async fn signed_in(
    daemon: &DaemonProcess,
    fx: &fixtures::Installation,
) -> anyhow::Result<LineClient<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>> {
    let cfg = fx.user_tls()?;
    let mut c = LineClient::new(tls::connect(daemon.addr("submissions"), cfg).await?);
    starts(&c.smtp_reply().await?, "220 ");
    c.smtp("EHLO client.test").await?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("\0hong\0{PASSWORD}"));
    starts(&c.smtp(&format!("AUTH PLAIN {auth}")).await?, "235 ");
    Ok(c)
}

#[tokio::test(flavor = "multi_thread")]
async fn list_fan_out_dsn_and_quota() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    // A small quota, to see a full mailbox refuse.
    let text = std::fs::read_to_string(&fx.config_path)?
        .replace("[smtp]\n", "[smtp]\nquota_bytes = 3000\n");
    std::fs::write(&fx.config_path, text)?;
    fx.add_user("hong", "홍길동", PASSWORD, &fx.user_cert)?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    fx.add_account("lee", "이영희", "another-Password-2")?;
    let (code, _, err) = fx.certmail(&[
        "alias",
        "set",
        "all-staff@test.go.kr",
        "kim",
        "lee@test.go.kr",
    ])?;
    assert_eq!(code, 0, "{err}");
    let daemon = fx.start()?;

    let mut c = signed_in(&daemon, &fx).await?;
    // Pipelined envelope: one notice to the list, with a delivery confirmation.
    c.send_raw(b"MAIL FROM:<hong@test.go.kr> ENVID=notice-7\r\nRCPT TO:<all-staff@test.go.kr> NOTIFY=SUCCESS\r\nDATA\r\n").await?;
    starts(&c.smtp_reply().await?, "250 ");
    starts(&c.smtp_reply().await?, "250 ");
    starts(&c.smtp_reply().await?, "354 ");
    starts(&c.smtp("From: 홍길동 <hong@test.go.kr>\r\nTo: all-staff@test.go.kr\r\nSubject: 긴급 공지\r\n\r\n재난 대응 회의는 14시입니다.\r\n.").await?, "250 ");

    // The mailbox of kim is now over its 3000-byte quota: a large message first.
    starts(&c.smtp("MAIL FROM:<hong@test.go.kr>").await?, "250 ");
    starts(&c.smtp("RCPT TO:<kim@test.go.kr>").await?, "250 ");
    starts(&c.smtp("DATA").await?, "354 ");
    let big = "가".repeat(1200);
    starts(
        &c.smtp(&format!(
            "From: hong@test.go.kr\r\nSubject: big\r\n\r\n{big}\r\n."
        ))
        .await?,
        "250 ",
    );
    starts(&c.smtp("MAIL FROM:<hong@test.go.kr>").await?, "250 ");
    let r = c.smtp("RCPT TO:<kim@test.go.kr>").await?;
    starts(&r, "552 5.2.2");
    assert!(r.contains("full"), "{r}");
    starts(&c.smtp("QUIT").await?, "221 ");
    drop(c);
    drop(daemon);

    let store = fx.open_store().await?;
    let kim = store.messages("kim", "INBOX", 1..=u32::MAX).await?;
    let lee = store.messages("lee", "INBOX", 1..=u32::MAX).await?;
    assert_eq!((kim.len(), lee.len()), (2, 1));
    assert_eq!(
        kim[0].blob, lee[0].blob,
        "one body in the store for the whole list"
    );

    let hong = store.messages("hong", "INBOX", 1..=u32::MAX).await?;
    assert_eq!(hong.len(), 1, "one delivery report to the sender");
    let report = store.message_body("hong", &hong[0].blob).await?;
    let text = String::from_utf8_lossy(&report);
    assert!(
        text.contains("multipart/report") && text.contains("delivery-status"),
        "{text}"
    );
    assert!(
        text.contains("Action: delivered") && text.contains("Original-Envelope-Id: notice-7"),
        "{text}"
    );
    assert!(
        text.contains("Final-Recipient: rfc822; all-staff@test.go.kr"),
        "{text}"
    );
    Ok(())
}
