//! Counters that hold across the nodes of a cluster exactly as on one node: failed
//! sign-ins from one address, alternating between node A and node B, are refused by the
//! per-IP throttle at the same count as on one node, and an account's lockout comes at
//! its threshold however the failures are spread over the nodes.

use certmail_tests::DaemonProcess;
use certmail_tests::cluster::{PASSWORD, imap_login, on_postgres, other_node, start};
use certmail_tests::fixtures;

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
