//! A sign-in from a device (certificate + network) the account has not used before puts a
//! notice in the user's INBOX; the account's first device does not.

use std::net::IpAddr;

use certmail_tests::lines::LineClient;
use certmail_tests::{DaemonProcess, fixtures, tls};

const PASSWORD: &str = "Gpki-Pass-2026!";

async fn inbox_subjects(
    daemon: &DaemonProcess,
    fx: &fixtures::Installation,
    from: IpAddr,
) -> anyhow::Result<Vec<String>> {
    let cfg = fx.user_tls()?;
    let mut c = LineClient::new(tls::connect_from(from, daemon.addr("imaps"), cfg).await?);
    anyhow::ensure!(c.line().await?.starts_with("* OK"));
    c.send_raw(format!("a1 LOGIN hong \"{PASSWORD}\"\r\n").as_bytes())
        .await?;
    let l = c.line().await?;
    anyhow::ensure!(l.starts_with("a1 OK"), "{l}");
    c.send_raw(b"s1 SELECT INBOX\r\n").await?;
    while !c.line().await?.starts_with("s1 ") {}
    // The notice is delivered in the background: look again a bounded number of times
    // (each FETCH also lets the server report new messages).
    let mut subjects = Vec::new();
    for round in 0..50 {
        c.send_raw(
            format!("f{round} FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n").as_bytes(),
        )
        .await?;
        loop {
            let l = c.line().await?;
            if l.starts_with(&format!("f{round} ")) {
                break;
            }
            if let Some(s) = l.strip_prefix("Subject: ") {
                subjects.push(s.to_string());
            }
        }
        if !subjects.is_empty() {
            break;
        }
    }
    Ok(subjects)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_device_is_told_to_the_user() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;
    assert!(
        inbox_subjects(&daemon, &fx, "127.0.0.1".parse()?)
            .await?
            .is_empty(),
        "the first device brings no notice"
    );
    let subjects = inbox_subjects(&daemon, &fx, "127.0.1.7".parse()?).await?;
    assert_eq!(
        subjects.len(),
        1,
        "one notice for the new network: {subjects:?}"
    );
    assert!(
        subjects[0].contains("=?") || subjects[0].contains("New sign-in"),
        "{subjects:?}"
    );
    drop(daemon);
    let bodies = fx.mailbox_bodies("hong", "INBOX").await?;
    let m = mail_parser::MessageParser::default()
        .parse(&bodies[0])
        .expect("parses");
    let text = m.body_text(0).expect("text");
    assert!(
        text.contains("127.0.1.7") && text.contains("127.0.1.0/24") && text.contains("홍길동 님"),
        "{text}"
    );
    Ok(())
}
