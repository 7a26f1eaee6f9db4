//! `certmail keygen` writes an owner-only key and never overwrites one; the per-IP
//! connection limit refuses the extra connection with a reason where the protocol allows.

use std::os::unix::fs::PermissionsExt as _;

use certmail_tests::lines::LineClient;
use certmail_tests::{fixtures, run_certmail};
use tokio::net::TcpStream;

#[test]
fn keygen_writes_an_owner_only_key_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("store.key");
    let key_s = key.to_str().expect("utf-8");
    let (code, out, err) = run_certmail(&["keygen", "--out", key_s], &[])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mode 0600"), "{out}");
    assert_eq!(std::fs::metadata(&key)?.permissions().mode() & 0o777, 0o600);
    let first = std::fs::read(&key)?;
    let (code, _, err) = run_certmail(&["keygen", "--out", key_s], &[])?;
    assert_eq!(code, 1, "an existing key is never overwritten");
    assert!(!err.is_empty());
    assert_eq!(std::fs::read(&key)?, first);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_per_ip_limit_refuses_with_a_reason() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    let text = std::fs::read_to_string(&fx.config_path)?;
    std::fs::write(
        &fx.config_path,
        format!("{text}\n[limits]\nmax_connections_per_ip = 2\n"),
    )?;
    let daemon = fx.start()?;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = LineClient::new(TcpStream::connect(daemon.addr("smtp")).await?);
        assert!(c.smtp_reply().await?.starts_with("220 "));
        held.push(c);
    }
    let mut third = LineClient::new(TcpStream::connect(daemon.addr("smtp")).await?);
    let r = third.smtp_reply().await?;
    assert!(
        r.starts_with("421 4.7.0") && r.contains("Too many connections from your address"),
        "{r}"
    );
    let mut imap = LineClient::new(TcpStream::connect(daemon.addr("imap")).await?);
    let bye = imap.line().await?;
    assert!(bye.starts_with("* BYE [UNAVAILABLE]"), "{bye}");
    // A slot frees when a connection ends.
    drop(held.pop());
    let mut again = None;
    for _ in 0..50 {
        let mut c = LineClient::new(TcpStream::connect(daemon.addr("smtp")).await?);
        if c.smtp_reply().await?.starts_with("220 ") {
            again = Some(c);
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(again.is_some(), "a freed slot is usable again");
    Ok(())
}
