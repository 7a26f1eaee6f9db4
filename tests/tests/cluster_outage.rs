//! The database goes away under a running node and comes back (issue 17): while it is
//! down, SMTP answers 451 (the sending server retries) and an IMAP sign-in `NO
//! [UNAVAILABLE]`, never a permanent refusal; once it is back, the same daemon (not
//! restarted) takes mail and sign-ins again, and nothing acknowledged was lost.

use std::time::{Duration, Instant};

use certmail_store_pg::pg_harness::PgServer;
use certmail_tests::cluster::{PASSWORD, imap_login, on_postgres_at};

/// swaks to hong@test.go.kr on port 25: its transcript, accepted or not.
fn swaks(port: u16, subject: &str) -> String {
    let out = std::process::Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--from",
            "minister@other.example",
            "--to",
            "hong@test.go.kr",
        ])
        .args([
            "--h-Subject",
            subject,
            "--body",
            "보고서를 확인해 주십시오.",
        ])
        .args(["--timeout", "20"])
        .output()
        .expect("swaks runs (scripts/test installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_refuses_for_now_while_the_database_is_down_and_recovers() -> anyhow::Result<()> {
    let mut server = PgServer::start()?;
    let url = server.create_database().await;
    let fx = on_postgres_at(&url, "")?;
    let daemon = fx.start()?;
    let (mx, imaps) = (daemon.addr("smtp").port(), daemon.addr("imaps"));
    let t = swaks(mx, "장애 전");
    assert!(t.contains("<-  250 "), "{t}");

    tokio::task::block_in_place(|| server.stop());
    let t = swaks(mx, "장애 중");
    assert!(
        t.contains("<** 451 "),
        "a temporary refusal while the database is down: {t}"
    );
    let (_, answer) = imap_login(&fx, imaps, "127.0.0.1", PASSWORD).await?;
    assert!(answer.starts_with("a1 NO [UNAVAILABLE]"), "{answer}");

    tokio::task::block_in_place(|| server.run())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let t = swaks(mx, "장애 후");
        if t.contains("<-  250 ") {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "not recovered in 30 s: {t}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (mut imap, answer) = imap_login(&fx, imaps, "127.0.0.1", PASSWORD).await?;
    assert!(answer.starts_with("a1 OK"), "{answer}");
    imap.send_raw(b"a2 STATUS INBOX (MESSAGES)\r\n").await?;
    let status = imap.line().await?;
    assert!(
        status.contains("(MESSAGES 2)"),
        "the message before and the one after, not the refused one: {status}"
    );
    Ok(())
}
