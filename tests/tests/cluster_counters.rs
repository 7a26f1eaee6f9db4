//! Counters that hold across the nodes of a cluster exactly as on one node: failed
//! sign-ins from one address, alternating between node A and node B, are refused by the
//! per-IP throttle at the same count as on one node, and an account's lockout comes at
//! its threshold however the failures are spread over the nodes; two nodes delivering to
//! one mailbox at once cannot together pass its quota.

use certmail_tests::DaemonProcess;
use certmail_tests::cluster::{PASSWORD, imap_login, on_postgres, other_node, start};
use certmail_tests::fixtures;
use certmail_tests::lines::LineClient;

/// `[auth] ip_failure_limit` of the throttle test.
const IP_LIMIT: usize = 4;
/// `[auth] lockout_threshold` of the lockout test.
const LOCKOUT: usize = 3;

/// A cluster with `auth` in its configuration, both nodes running.
async fn two_nodes(
    auth: &str,
) -> anyhow::Result<(fixtures::Installation, DaemonProcess, DaemonProcess)> {
    let (fx, _) = on_postgres(auth).await?;
    let b_config = other_node(&fx, "node-b")?;
    let a = fx.start()?;
    let b = start(&b_config, &[])?;
    Ok((fx, a, b))
}

/// The answer of each of `nodes` to hong's right password from `from`.
async fn right_password_on(
    fx: &fixtures::Installation,
    nodes: &[&DaemonProcess],
    from: &str,
) -> anyhow::Result<Vec<String>> {
    let mut answers = Vec::new();
    for node in nodes {
        answers.push(imap_login(fx, node.addr("imaps"), from, PASSWORD).await?.1);
    }
    Ok(answers)
}

/// Signs in with a wrong password from `from`, cycling over `nodes`, until an answer is
/// not "wrong password"; returns how many wrong passwords were answered as such, and the
/// answer that ended it (on the node after the last).
async fn wrong_passwords_until_refused(
    fx: &fixtures::Installation,
    nodes: &[&DaemonProcess],
    from: &str,
) -> anyhow::Result<(usize, String)> {
    for n in 0..20 {
        let node = nodes[n % nodes.len()];
        let (_, answer) = imap_login(fx, node.addr("imaps"), from, "Wrong-Pass-2026!").await?;
        if !answer.starts_with("a1 NO [AUTHENTICATIONFAILED]") {
            return Ok((n, answer));
        }
    }
    anyhow::bail!("20 wrong passwords from {from} and still no refusal")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_per_ip_throttle_counts_failures_on_every_node_together() -> anyhow::Result<()> {
    let auth = format!("[auth]\nip_failure_limit = {IP_LIMIT}\nlockout_threshold = 0\n");
    let (fx, a, b) = two_nodes(&auth).await?;

    // One node: refused after the limit.
    let (alone, answer) = wrong_passwords_until_refused(&fx, &[&a], "127.0.0.3").await?;
    assert_eq!(alone, IP_LIMIT, "{answer}");
    assert!(answer.starts_with("a1 NO [UNAVAILABLE]"), "{answer}");
    assert!(answer.contains("Too many failed sign-ins"), "{answer}");

    // Alternating nodes from another address: refused at the same count.
    let (spread, answer) = wrong_passwords_until_refused(&fx, &[&a, &b], "127.0.0.2").await?;
    assert_eq!(spread, IP_LIMIT, "{answer}");
    assert!(answer.starts_with("a1 NO [UNAVAILABLE]"), "{answer}");

    // The address is refused on both nodes, even with the right password; another address
    // still signs in.
    for answer in right_password_on(&fx, &[&a, &b], "127.0.0.2").await? {
        assert!(answer.starts_with("a1 NO [UNAVAILABLE]"), "{answer}");
    }
    let (_, answer) = imap_login(&fx, b.addr("imaps"), "127.0.0.4", PASSWORD).await?;
    assert!(answer.starts_with("a1 OK"), "{answer}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_spread_over_the_nodes_lock_the_account_at_its_threshold() -> anyhow::Result<()> {
    let auth = format!("[auth]\nlockout_threshold = {LOCKOUT}\nip_failure_limit = 100\n");
    let (fx, a, b) = two_nodes(&auth).await?;

    // Wrong passwords on A, B, A lock the account: the next attempt, on B, is refused.
    let (counted, answer) = wrong_passwords_until_refused(&fx, &[&a, &b], "127.0.0.1").await?;
    assert_eq!(counted, LOCKOUT, "{answer}");
    assert!(answer.starts_with("a1 NO [CONTACTADMIN]"), "{answer}");
    // Locked on both nodes, also with the right password.
    for answer in right_password_on(&fx, &[&a, &b], "127.0.0.1").await? {
        assert!(answer.starts_with("a1 NO [CONTACTADMIN]"), "{answer}");
    }
    Ok(())
}

/// MAIL and RCPT on `mx`, then DATA up to its `354`: a delivery to hong from outside,
/// waiting for its message.
async fn mx_ready_to_send(
    mx: std::net::SocketAddr,
) -> anyhow::Result<LineClient<tokio::net::TcpStream>> {
    let mut c = LineClient::new(tokio::net::TcpStream::connect(mx).await?);
    c.smtp_reply().await?;
    c.smtp("EHLO mx.other.example").await?;
    let r = c.smtp("MAIL FROM:<kim@other.example>").await?;
    anyhow::ensure!(r.starts_with("250"), "MAIL: {r}");
    let r = c.smtp("RCPT TO:<hong@test.go.kr>").await?;
    anyhow::ensure!(r.starts_with("250"), "RCPT: {r}");
    let r = c.smtp("DATA").await?;
    anyhow::ensure!(r.starts_with("354"), "DATA: {r}");
    Ok(c)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_delivering_at_once_share_one_quota() -> anyhow::Result<()> {
    // hong's mailbox takes mail while below 100 bytes: one message fills it.
    let (fx, _) = on_postgres("").await?;
    let text = std::fs::read_to_string(&fx.config_path)?;
    anyhow::ensure!(text.contains("[smtp]\n"), "no [smtp] in {text}");
    std::fs::write(
        &fx.config_path,
        text.replace("[smtp]\n", "[smtp]\nquota_bytes = 100\n"),
    )?;
    let b_config = other_node(&fx, "node-b")?;
    let a = fx.start()?;
    let b = start(&b_config, &[])?;

    // Both nodes accept the recipient while the mailbox is empty, then get the message at
    // the same moment: one stores it, the other finds the mailbox full and stores nothing.
    let mut on_a = mx_ready_to_send(a.addr("smtp")).await?;
    let mut on_b = mx_ready_to_send(b.addr("smtp")).await?;
    let message = |n: u32| {
        format!(
            "From: 김철수 <kim@other.example>\r\nTo: hong@test.go.kr\r\n\
             Subject: 예산 보고서 {n}\r\n\r\n{}\r\n.",
            "첨부한 예산 보고서를 검토해 주십시오. ".repeat(4)
        )
    };
    let (first, second) = (message(1), message(2));
    let (ra, rb) = tokio::join!(on_a.smtp(&first), on_b.smtp(&second));
    let mut replies = [ra?, rb?];
    replies.sort();
    assert!(replies[0].starts_with("250 "), "{replies:?}");
    assert!(replies[1].starts_with("452 4.2.2"), "{replies:?}");
    assert!(
        replies[1].contains("<hong@test.go.kr> became full") && replies[1].contains("try again"),
        "{replies:?}"
    );

    // The retry is refused at RCPT, on either node, for good.
    for node in [&a, &b] {
        let mut c = LineClient::new(tokio::net::TcpStream::connect(node.addr("smtp")).await?);
        c.smtp_reply().await?;
        c.smtp("EHLO mx.other.example").await?;
        c.smtp("MAIL FROM:<kim@other.example>").await?;
        let r = c.smtp("RCPT TO:<hong@test.go.kr>").await?;
        assert!(r.starts_with("552 5.2.2") && r.contains("full"), "{r}");
    }
    let store = fx.open_store().await?;
    let inbox = store.messages("hong", "INBOX", 1..=u32::MAX).await?;
    assert_eq!(
        inbox.len(),
        1,
        "exactly one of the two racing messages is stored"
    );
    Ok(())
}
