//! What clients without a certificate can make the daemon hold before sign-in.
//!
//! F2 of the hostile-input issue: before sign-in, `p LOGIN {49000000}` was answered `+`
//! and reserved that much of `[imap] max_literal_memory`; a handful of such connections
//! held the whole pool, and every signed-in user's APPEND got `NO [LIMIT]`. Now a literal
//! over `[imap] max_literal_before_login` is refused before sign-in without `+`, and
//! smaller ones never count against the pool.

use certmail_tests::lines::{LineClient, imaps_login};
use certmail_tests::{fixtures, tls};
use std::time::Duration;

const PASSWORD: &str = "Gpki-Pass-2026!";

#[tokio::test(flavor = "multi_thread")]
async fn preauth_literals_cannot_starve_a_signed_in_append() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    // A pool one attacker's announcement alone would once have filled.
    let config = std::fs::read_to_string(&fx.config_path)?;
    // The fixture writes only keys that differ from the defaults: [imap] has its ports.
    let small = config.replacen("[imap]\n", "[imap]\nmax_literal_memory = 1048576\n", 1);
    anyhow::ensure!(small != config, "no [imap] section in the fixture's config");
    std::fs::write(&fx.config_path, small)?;
    let daemon = fx.start()?;
    let no_cert = tls::client_config(&fx.server_ca, None, tls::ALL_VERSIONS)?;

    // Twenty connections without a certificate, from the same address, announce literals
    // from 1 MiB down (sync and non-sync) and never send them.
    let mut attackers = Vec::new();
    for i in 0..20u32 {
        let mut c = LineClient::new(tls::connect(daemon.addr("imaps"), no_cert.clone()).await?);
        let greeting = c.line().await?;
        anyhow::ensure!(greeting.starts_with("* OK"), "greeting: {greeting}");
        let size = (1_048_576 >> (i / 2)).max(16_384);
        let plus = if i % 2 == 1 { "+" } else { "" };
        c.send_raw(format!("p{i} LOGIN {{{size}{plus}}}\r\n").as_bytes())
            .await?;
        attackers.push((i, plus, c));
    }
    // The sync ones are refused at once, without "+".
    for (i, plus, c) in attackers.iter_mut() {
        if plus.is_empty() {
            let reply = tokio::time::timeout(Duration::from_secs(10), c.line()).await??;
            assert!(
                reply.starts_with(&format!("p{i} NO [TOOBIG] ")) && reply.contains("sign in"),
                "attacker {i}: {reply}"
            );
        }
    }

    // 홍길동, signed in with his certificate and password, saves a 200 KB draft.
    let mut c = imaps_login(daemon.addr("imaps"), fx.user_tls()?, "hong", PASSWORD).await?;
    let body = format!(
        "From: 홍길동 <hong@test.go.kr>\r\nSubject: 초안\r\n\r\n{}\r\n",
        "가나다라마바사아자차카타파하\r\n".repeat(4_700)
    );
    c.send_raw(format!("a2 APPEND INBOX {{{}}}\r\n", body.len()).as_bytes())
        .await?;
    let go = tokio::time::timeout(Duration::from_secs(10), c.line()).await??;
    assert!(go.starts_with("+ "), "APPEND literal refused: {go}");
    c.send_raw(body.as_bytes()).await?;
    c.send_raw(b"\r\n").await?;
    let done = tokio::time::timeout(Duration::from_secs(10), c.line()).await??;
    assert!(done.starts_with("a2 OK"), "APPEND: {done}");

    // The non-sync ones send their announced octets (nothing is read into memory), then
    // hear the same refusal; each connection still answers.
    for (i, plus, c) in attackers.iter_mut() {
        if !plus.is_empty() {
            let size = (1_048_576usize >> (*i / 2)).max(16_384);
            c.send_raw(&vec![b'x'; size]).await?;
            c.send_raw(b"\r\n").await?;
            let reply = tokio::time::timeout(Duration::from_secs(10), c.line()).await??;
            assert!(
                reply.starts_with(&format!("p{i} NO [TOOBIG] ")),
                "attacker {i}: {reply}"
            );
        }
        c.send_raw(format!("n{i} NOOP\r\n").as_bytes()).await?;
        let noop = tokio::time::timeout(Duration::from_secs(10), c.line()).await??;
        assert!(
            noop.starts_with(&format!("n{i} OK")),
            "attacker {i}: {noop}"
        );
    }
    Ok(())
}
