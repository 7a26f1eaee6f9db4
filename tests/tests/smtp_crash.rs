//! A crash (SIGKILL) while clients are submitting loses nothing that was acknowledged with
//! 250: the reply is sent only after the store has flushed.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use certmail_tests::lines::LineClient;
use certmail_tests::{fixtures, tls};

const PASSWORD: &str = "Gpki-Pass-2026!";

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_flight_keeps_every_acknowledged_message() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    let mut daemon = fx.start()?;
    let cfg = fx.user_tls()?;
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let addr = daemon.addr("submissions");

    // Four connections of one device (one session), each submitting until the server dies.
    let mut tasks = Vec::new();
    for client in 0..4 {
        let (cfg, acked) = (cfg.clone(), Arc::clone(&acked));
        tasks.push(tokio::spawn(async move {
            let mut c = LineClient::new(tls::connect(addr, cfg).await?);
            c.smtp_reply().await?;
            c.smtp("EHLO crash.test").await?;
            let auth =
                base64::engine::general_purpose::STANDARD.encode(format!("\0hong\0{PASSWORD}"));
            anyhow::ensure!(
                c.smtp(&format!("AUTH PLAIN {auth}"))
                    .await?
                    .starts_with("235")
            );
            for n in 0..500 {
                let subject = format!("c{client}-m{n}");
                let steps = [
                    "MAIL FROM:<hong@test.go.kr>".to_string(),
                    "RCPT TO:<kim@test.go.kr>".to_string(),
                    "DATA".to_string(),
                    format!(
                        "From: hong@test.go.kr\r\nSubject: {subject}\r\n\r\n{}\r\n.",
                        "본문 ".repeat(200)
                    ),
                ];
                let mut last = String::new();
                for s in &steps {
                    last = c.smtp(s).await?;
                    if last.is_empty() {
                        return Ok(()); // the server is gone
                    }
                }
                if last.starts_with("250") {
                    acked.lock().expect("not poisoned").insert(subject);
                }
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    // Let some messages through, then crash the daemon mid-flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while acked.lock().expect("not poisoned").len() < 40 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemon.kill9()?;
    for t in tasks {
        let _ = t.await; // clients end with an error or a closed connection
    }
    let acked = acked.lock().expect("not poisoned").clone();
    assert!(
        acked.len() >= 40,
        "the clients got going ({} acknowledged)",
        acked.len()
    );

    let stored: BTreeSet<String> =
        certmail_tests::outside::subjects(&fx.mailbox_bodies("kim", "INBOX").await?)
            .into_iter()
            .collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost after kill -9: {lost:?}"
    );
    Ok(())
}
