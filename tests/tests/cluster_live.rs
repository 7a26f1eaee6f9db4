//! Two nodes (and three) on one PostgreSQL database behave as one server: a change
//! committed through node B reaches an IDLE connection on node A within a second (also
//! after A lost its notification connection), one device per person holds across the
//! nodes under both session policies (a dead node's lease lapses within `[cluster]
//! session_lease_secs`), and `session list`, the audit log and the metrics name the node.

use std::time::{Duration, Instant};

use base64::Engine as _;
use certmail_store_pg::pg_harness::PgServer;
use certmail_tests::cluster::{
    LEASE_SECS, PASSWORD, Tls, certmail_at, imap_login, imaplib_at, on_postgres, other_node, start,
};
use certmail_tests::lines::LineClient;
use certmail_tests::outside::swaks_to_hong;
use certmail_tests::{DaemonProcess, fixtures, tls};

/// Signs in on `daemon` from 127.0.0.1, selects INBOX and enters IDLE.
async fn idle_on(fx: &fixtures::Installation, daemon: &DaemonProcess) -> anyhow::Result<Tls> {
    let (mut c, answer) = imap_login(fx, daemon.addr("imaps"), "127.0.0.1", PASSWORD).await?;
    anyhow::ensure!(answer.starts_with("a1 OK"), "{answer}");
    c.send_raw(b"a2 SELECT INBOX\r\n").await?;
    while !c.line().await?.starts_with("a2 ") {}
    c.send_raw(b"a3 IDLE\r\n").await?;
    anyhow::ensure!(c.line().await?.starts_with('+'));
    Ok(c)
}

/// The first untagged line containing `wanted` within `limit`; every line read is
/// returned in the error if none does.
async fn within(c: &mut Tls, limit: Duration, wanted: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match tokio::time::timeout(left, c.line()).await {
            Ok(line) => {
                let line = line?;
                if line.contains(wanted) {
                    return Ok(line);
                }
                anyhow::ensure!(!line.is_empty(), "connection closed after {seen:?}");
                seen.push(line);
            }
            Err(_) => break,
        }
    }
    anyhow::bail!("no {wanted:?} within {limit:?}; heard {seen:?}")
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_through_node_b_reach_idle_on_node_a_within_a_second() -> anyhow::Result<()> {
    let (fx, url) = on_postgres("").await?;
    let b_config = other_node(&fx, "node-b")?;
    let a = fx.start()?;
    let b = start(&b_config, &[])?;
    let mut idle = idle_on(&fx, &a).await?;
    let second = Duration::from_secs(1);

    // A delivery (swaks) through B: its 250 came after COMMIT, and the notice with it.
    swaks_to_hong(b.addr("smtp"), "B를 거친 회의 자료")?;
    assert_eq!(within(&mut idle, second, "EXISTS").await?, "* 1 EXISTS");

    // A flag change and an expunge through B (imaplib, the same device as the IDLE).
    let b_port = b.addr("imaps").port();
    let flag =
        "M.select(\"INBOX\")\nassert M.store(\"1\", \"+FLAGS\", \"\\\\Flagged\")[0] == \"OK\"";
    imaplib_at(&fx, b_port, flag)?;
    let fetch = within(&mut idle, second, "FETCH").await?;
    assert!(
        fetch.starts_with("* 1 FETCH") && fetch.contains("\\Flagged"),
        "{fetch}"
    );
    let expunge = "M.select(\"INBOX\")\nM.store(\"1\", \"+FLAGS\", \"\\\\Deleted\")\n\
                   assert M.expunge()[0] == \"OK\"";
    imaplib_at(&fx, b_port, expunge)?;
    assert_eq!(within(&mut idle, second, "EXPUNGE").await?, "* 1 EXPUNGE");

    // A loses its notification connection; a delivery meanwhile is not missed: A
    // reconnects and every IDLE re-reads its mailbox.
    let db = url.rsplit('/').next().and_then(|d| d.split('?').next());
    let db = db.expect("the URL names its database");
    let admin = PgServer::shared().admin().await;
    let ended = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = 'certmail listen node-a' AND datname = $1",
            &[&db],
        )
        .await?;
    assert_eq!(ended.len(), 1, "node A has one LISTEN connection");
    swaks_to_hong(b.addr("smtp"), "연결이 끊긴 사이의 공문")?;
    let limit = Duration::from_secs(5);
    assert_eq!(within(&mut idle, limit, "EXISTS").await?, "* 1 EXISTS");
    Ok(())
}

/// RFC 5465 SubscriptionChange: SUBSCRIBE and UNSUBSCRIBE through node B reach a NOTIFY
/// connection on node A (set_subscribed sends its cluster notice like every other change).
#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_change_through_node_b_reaches_notify_on_node_a() -> anyhow::Result<()> {
    let (fx, _) = on_postgres("").await?;
    let b_config = other_node(&fx, "node-b")?;
    let a = fx.start()?;
    let b = start(&b_config, &[])?;
    let (mut c, answer) = imap_login(&fx, a.addr("imaps"), "127.0.0.1", PASSWORD).await?;
    anyhow::ensure!(answer.starts_with("a1 OK"), "{answer}");
    c.send_raw(b"a2 NOTIFY SET (personal (SubscriptionChange))\r\n")
        .await?;
    let done = within(&mut c, Duration::from_secs(5), "a2 ").await?;
    assert!(done.starts_with("a2 OK"), "{done}");

    let limit = Duration::from_secs(5);
    let b_port = b.addr("imaps").port();
    imaplib_at(&fx, b_port, "assert M.subscribe(\"INBOX\")[0] == \"OK\"")?;
    let line = within(&mut c, limit, "* LIST").await?;
    assert_eq!(line, "* LIST (\\Subscribed) \"/\" \"INBOX\"");
    imaplib_at(&fx, b_port, "assert M.unsubscribe(\"INBOX\")[0] == \"OK\"")?;
    let line = within(&mut c, limit, "* LIST").await?;
    assert_eq!(line, "* LIST () \"/\" \"INBOX\"");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_on_node_b_ends_the_old_device_on_node_a_within_two_seconds() -> anyhow::Result<()>
{
    let (fx, _) = on_postgres("").await?;
    let b_config = other_node(&fx, "node-b")?;
    let a = fx.start()?;
    let b = start(&b_config, &[])?;

    // The old device (127.0.0.1) on A: IMAP in IDLE and a signed-in SMTP submission.
    let mut idle = idle_on(&fx, &a).await?;
    let cfg = fx.user_tls()?;
    let from_a = "127.0.0.1".parse()?;
    let mut smtp = LineClient::new(tls::connect_from(from_a, a.addr("submissions"), cfg).await?);
    smtp.smtp_reply().await?;
    smtp.smtp("EHLO device-a").await?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("\0hong\0{PASSWORD}"));
    let reply = smtp.smtp(&format!("AUTH PLAIN {auth}")).await?;
    assert!(reply.starts_with("235"), "{reply}");

    // The new device (127.0.0.2) signs in on B.
    let (_phone, answer) = imap_login(&fx, b.addr("imaps"), "127.0.0.2", PASSWORD).await?;
    assert!(answer.starts_with("a1 OK"), "{answer}");
    let two = Duration::from_secs(2);
    let bye = within(&mut idle, two, "BYE").await?;
    assert!(
        bye.starts_with("* BYE [UNAVAILABLE]") && bye.contains("127.0.0.2"),
        "{bye}"
    );
    let reply = tokio::time::timeout(two, smtp.smtp_reply()).await??;
    assert!(
        reply.starts_with("421 4.7.0") && reply.contains("another device"),
        "{reply}"
    );

    // Both nodes list the one session left: the new device's, held by node B.
    for config in [&fx.config_path, &b_config] {
        let (code, out, err) = certmail_at(config, &["session", "list", "--json"])?;
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out)?;
        let sessions = v["data"]["sessions"].as_array().expect("a list").clone();
        assert_eq!(sessions.len(), 1, "{out}");
        assert_eq!(sessions[0]["node"], "node-b");
        assert_eq!(sessions[0]["ip"], "127.0.0.2");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn reject_holds_across_nodes_until_the_holders_lease_lapses() -> anyhow::Result<()> {
    let (fx, _) = on_postgres("[auth]\nsession_policy = \"reject\"").await?;
    let b_config = other_node(&fx, "node-b")?;
    let mut a = fx.start()?;
    let b = start(&b_config, &[])?;

    let (mut held, answer) = imap_login(&fx, a.addr("imaps"), "127.0.0.1", PASSWORD).await?;
    assert!(answer.starts_with("a1 OK"), "{answer}");
    let (_, answer) = imap_login(&fx, b.addr("imaps"), "127.0.0.2", PASSWORD).await?;
    assert!(
        answer.starts_with("a1 NO [UNAVAILABLE]") && answer.contains("127.0.0.1"),
        "the newcomer on B is refused while A holds the session: {answer}"
    );
    held.send_raw(b"a2 NOOP\r\n").await?;
    assert!(
        held.line().await?.starts_with("a2 OK"),
        "A's session goes on"
    );

    // Node A dies without a word; its lease lapses and B lets the newcomer in.
    a.kill9()?;
    let died = Instant::now();
    let limit = Duration::from_secs(LEASE_SECS + 3);
    loop {
        let (_, answer) = imap_login(&fx, b.addr("imaps"), "127.0.0.2", PASSWORD).await?;
        if answer.starts_with("a1 OK") {
            break;
        }
        assert!(answer.starts_with("a1 NO [UNAVAILABLE]"), "{answer}");
        assert!(
            died.elapsed() < limit,
            "still refused {:?} after node A died (lease {LEASE_SECS} s)",
            died.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_and_the_metrics_name_the_node() -> anyhow::Result<()> {
    let (fx, _) = on_postgres("[http]\nmetrics_listen = [\"127.0.0.1:0\"]").await?;
    let b_config = other_node(&fx, "node-b")?;
    let a = start(&fx.config_path, &["metrics"])?;
    let b = start(&b_config, &["metrics"])?;
    let (_held, answer) = imap_login(&fx, b.addr("imaps"), "127.0.0.1", PASSWORD).await?;
    assert!(answer.starts_with("a1 OK"), "{answer}");

    // The sign-in through B is audited as B's, seen from either node.
    let (code, out, err) = fx.certmail(&["audit", "tail", "-n", "50", "--json"])?;
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let events = v["data"]["events"].as_array().expect("a list");
    let sign_in = events
        .iter()
        .rev()
        .find(|e| e["kind"] == "sign_in_ok")
        .expect("the sign-in is audited");
    assert_eq!(sign_in["fields"]["node"], "node-b", "{sign_in}");

    // Each node's metrics carry its name; both count the one live session.
    for (daemon, node) in [(&a, "node-a"), (&b, "node-b")] {
        let text = certmail_tests::metrics::scrape(daemon)?;
        let series = format!("certmail_sessions{{node=\"{node}\"}}");
        assert_eq!(
            certmail_tests::metrics::sample(&text, &series),
            Some(1.0),
            "{text}"
        );
    }
    Ok(())
}

/// Three nodes on one database: a delivery through C wakes IDLE on A and on B at once,
/// and a sign-in from another device on C ends the old device's connections on both.
#[tokio::test(flavor = "multi_thread")]
async fn three_nodes_tell_each_other_and_keep_one_device() -> anyhow::Result<()> {
    let (fx, _) = on_postgres("").await?;
    let b_config = other_node(&fx, "node-b")?;
    let c_config = other_node(&fx, "node-c")?;
    let a = fx.start()?;
    let b = start(&b_config, &[])?;
    let c = start(&c_config, &[])?;
    // One device (127.0.0.1), two connections: one on A, one on B.
    let mut on_a = idle_on(&fx, &a).await?;
    let mut on_b = idle_on(&fx, &b).await?;

    swaks_to_hong(c.addr("smtp"), "세 번째 노드로 들어온 공문")?;
    let second = Duration::from_secs(1);
    assert_eq!(within(&mut on_a, second, "EXISTS").await?, "* 1 EXISTS");
    assert_eq!(within(&mut on_b, second, "EXISTS").await?, "* 1 EXISTS");

    let (_phone, answer) = imap_login(&fx, c.addr("imaps"), "127.0.0.2", PASSWORD).await?;
    assert!(answer.starts_with("a1 OK"), "{answer}");
    let two = Duration::from_secs(2);
    for idle in [&mut on_a, &mut on_b] {
        let bye = within(idle, two, "BYE").await?;
        assert!(bye.starts_with("* BYE [UNAVAILABLE]"), "{bye}");
    }
    let (code, out, err) = certmail_at(&fx.config_path, &["session", "list", "--json"])?;
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let sessions = v["data"]["sessions"].as_array().expect("a list").clone();
    assert_eq!(sessions.len(), 1, "{out}");
    assert_eq!(sessions[0]["node"], "node-c");
    Ok(())
}
