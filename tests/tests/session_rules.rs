//! The single-session rule under real use: Thunderbird's five IMAP connections and its
//! SMTP connection are one session; a device holds at most the per-session cap; twenty
//! devices racing to sign in leave exactly one session alive.

use std::net::IpAddr;

use base64::Engine as _;
use certmail_tests::lines::LineClient;
use certmail_tests::{DaemonProcess, fixtures, tls};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const PASSWORD: &str = "Gpki-Pass-2026!";

type Client = LineClient<TlsStream<TcpStream>>;

async fn imap_login(
    daemon: &DaemonProcess,
    cfg: std::sync::Arc<rustls::ClientConfig>,
    from: IpAddr,
) -> anyhow::Result<(Client, String)> {
    let mut c = LineClient::new(tls::connect_from(from, daemon.addr("imaps"), cfg).await?);
    anyhow::ensure!(c.line().await?.starts_with("* OK"));
    c.send_raw(format!("a1 LOGIN hong \"{PASSWORD}\"\r\n").as_bytes())
        .await?;
    let answer = c.line().await?;
    Ok((c, answer))
}

async fn still_open(c: &mut Client) -> anyhow::Result<bool> {
    if c.send_raw(b"n1 NOOP\r\n").await.is_err() {
        return Ok(false);
    }
    loop {
        let Ok(l) = c.line().await else {
            return Ok(false);
        };
        if l.is_empty() || l.starts_with("* BYE") {
            return Ok(false);
        }
        if l.starts_with("n1 ") {
            return Ok(l.starts_with("n1 OK"));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_device_many_connections_and_a_race_of_twenty() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;
    let cfg = fx.user_tls()?;
    let desktop: IpAddr = "127.0.0.1".parse()?;

    // Thunderbird: five IMAP connections and one SMTP connection, all one session.
    let mut imap = Vec::new();
    for _ in 0..5 {
        let (c, answer) = imap_login(&daemon, cfg.clone(), desktop).await?;
        assert!(answer.starts_with("a1 OK"), "{answer}");
        imap.push(c);
    }
    let mut smtp =
        LineClient::new(tls::connect_from(desktop, daemon.addr("submissions"), cfg.clone()).await?);
    smtp.smtp_reply().await?;
    smtp.smtp("EHLO thunderbird").await?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("\0hong\0{PASSWORD}"));
    assert!(
        smtp.smtp(&format!("AUTH PLAIN {auth}"))
            .await?
            .starts_with("235")
    );
    for c in &mut imap {
        assert!(
            still_open(c).await?,
            "SMTP sign-in of the same device must not end its IMAP connections"
        );
    }

    // The per-session cap (10 by default): the 11th connection of the device is refused, with
    // the reason; the others stay.
    for _ in 0..4 {
        let (c, answer) = imap_login(&daemon, cfg.clone(), desktop).await?;
        assert!(answer.starts_with("a1 OK"), "{answer}");
        imap.push(c);
    }
    let (_, answer) = imap_login(&daemon, cfg.clone(), desktop).await?;
    assert!(
        answer.starts_with("a1 NO [UNAVAILABLE]")
            && answer.to_lowercase().contains("too many connections"),
        "{answer}"
    );
    assert!(still_open(&mut imap[0]).await?);
    drop(imap);
    drop(smtp);

    // Twenty devices (127.0.0.10 ... 127.0.0.29) sign in at once: exactly one session lives.
    let mut tasks = Vec::new();
    for i in 10..30u8 {
        let (cfg, addr) = (cfg.clone(), daemon.addr("imaps"));
        tasks.push(tokio::spawn(async move {
            let from = IpAddr::from([127, 0, 0, i]);
            let mut c = LineClient::new(tls::connect_from(from, addr, cfg).await?);
            anyhow::ensure!(c.line().await?.starts_with("* OK"));
            c.send_raw(format!("a1 LOGIN hong \"{PASSWORD}\"\r\n").as_bytes())
                .await?;
            // A sign-in replaced by a racing one may be closed before its answer arrives.
            let answer = c.line().await.unwrap_or_default();
            Ok::<_, anyhow::Error>((c, answer))
        }));
    }
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await??);
    }
    // Every sign-in has been answered: the registry, the authority, holds one session.
    let (code, out, _) = fx.certmail(&["session", "list", "--json"])?;
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(v["data"]["sessions"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["data"]["sessions"][0]["connections"], 1);
    // And the clients see it: nineteen hear BYE. A command already read when the kick came
    // may still be answered first, so a connection counts as alive only if it answers twice.
    let mut alive = 0;
    for (mut c, answer) in clients {
        if answer.starts_with("a1 OK") && still_open(&mut c).await? && still_open(&mut c).await? {
            alive += 1;
        }
    }
    assert_eq!(
        alive, 1,
        "exactly one of twenty racing devices holds the session"
    );
    Ok(())
}
