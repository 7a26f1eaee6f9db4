//! The outbound queue of a two-node cluster (one PostgreSQL database): both nodes deliver,
//! each claiming entries with a lease, so a queue of 200 messages reaches a loopback SMTP
//! sink exactly once while both run, and completely when one node is killed with SIGKILL
//! in the middle (the other takes its claims over once their lease lapsed). For that one,
//! the sink holds its replies until the whole queue is submitted: were the submission
//! slower than the deliveries (a busy machine), A could die between two claims.
//!
//! Each node names itself in EHLO (`[relay] helo_name`), so the sink tells which node sent
//! what; every message carries its number in `X-Certmail-Seq`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use certmail_store_pg::pg_harness::PgServer;
use certmail_testkit::sink::{Sink, SinkBehaviour};
use certmail_tests::cluster::{
    PASSWORD, QUEUE_LEASE_SECS, certmail_at, on_postgres, other_node, start,
};
use certmail_tests::fixtures;

/// Messages in the queue.
const MESSAGES: usize = 200;
/// How long the whole queue may take to reach the sink.
const ALL_DELIVERED: Duration = Duration::from_secs(120);

/// A sink that takes 150 ms per message (a remote server under load): slower than the
/// submissions, so the queue builds up, both nodes have work and deliveries last long
/// enough to be interrupted.
async fn slow_sink() -> Sink {
    Sink::start(SinkBehaviour {
        data_delay: Some(Duration::from_millis(150)),
        ..SinkBehaviour::default()
    })
    .await
}

/// [`slow_sink`] that also holds every reply until the returned sender says `true`.
async fn stalled_sink() -> (Sink, tokio::sync::watch::Sender<bool>) {
    let (open, held) = tokio::sync::watch::channel(false);
    let sink = Sink::start(SinkBehaviour {
        data_delay: Some(Duration::from_millis(150)),
        hold_replies: Some(held),
        ..SinkBehaviour::default()
    })
    .await;
    (sink, open)
}

/// A cluster relaying through `sink`: node A's installation (started by the caller) and
/// node B's configuration. Each node has at most 2 connections of 10 messages, so it
/// claims at most 20 entries at once and leaves the rest to the other.
async fn cluster(
    sink: &Sink,
) -> anyhow::Result<(fixtures::Installation, std::path::PathBuf, String)> {
    let port = sink.addr.port();
    let relay = format!(
        "[relay]\nsmarthost = \"127.0.0.1:{port}\"\nsmarthost_tls = \"opportunistic\"\n\
         retry_schedule_secs = [1]\npoll_interval_secs = 1\nmax_connections = 2\n\
         max_messages_per_connection = 10\nhelo_name = \"node-a.relay.test\"\n"
    );
    let (fx, url) = on_postgres(&relay).await?;
    let b_config = other_node(&fx, "node-b")?;
    let text = std::fs::read_to_string(&b_config)?;
    std::fs::write(
        &b_config,
        text.replacen("node-a.relay.test", "node-b.relay.test", 1),
    )?;
    Ok((fx, b_config, url))
}

/// Starts Python's smtplib submitting the numbered messages to 이순신 at a remote domain
/// through the submissions listener at `port`, signed in as 홍길동, on one connection.
fn submit_all(fx: &fixtures::Installation, port: u16) -> anyhow::Result<Child> {
    let (ca, cert, key) = fx.client_pem_paths();
    let script = format!(
        r#"
import smtplib, ssl
from email.message import EmailMessage
ctx = ssl.create_default_context(cafile={ca:?})
ctx.load_cert_chain({cert:?}, {key:?})
with smtplib.SMTP_SSL("localhost", {port}, context=ctx, timeout=30) as s:
    s.login("hong", {PASSWORD:?})
    for i in range({MESSAGES}):
        m = EmailMessage()
        m["From"] = "홍길동 <hong@test.go.kr>"
        m["To"] = "이순신 <lee@remote.go.kr>"
        m["Subject"] = f"대외 공문 {{i}}호"
        m["X-Certmail-Seq"] = str(i)
        m.set_content("외부 기관으로 보내는 공문입니다.")
        s.send_message(m)
"#
    );
    Ok(Command::new("python3").arg("-c").arg(script).spawn()?)
}

/// Waits for `child` and fails with its status unless it succeeded.
fn finished(mut child: Child) -> anyhow::Result<()> {
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "smtplib submission failed: {status}");
    Ok(())
}

/// What the sink took: for each message number, the EHLO names of the nodes that sent it
/// (one per copy).
fn taken(sink: &Sink) -> BTreeMap<usize, Vec<String>> {
    let mut by_seq: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for m in sink.received() {
        let body = String::from_utf8_lossy(&m.body);
        let seq = body
            .lines()
            .find_map(|l| l.strip_prefix("X-Certmail-Seq: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("every message carries its number");
        by_seq.entry(seq).or_default().push(m.helo);
    }
    by_seq
}

/// How many messages the node named `helo` sent.
fn sent_by(taken: &BTreeMap<usize, Vec<String>>, helo: &str) -> usize {
    taken.values().flatten().filter(|h| *h == helo).count()
}

/// Waits until every message reached the sink and node `config`'s queue is empty (so
/// nothing more will be sent); returns what the sink took.
async fn all_delivered(sink: &Sink, config: &Path) -> anyhow::Result<BTreeMap<usize, Vec<String>>> {
    let deadline = Instant::now() + ALL_DELIVERED;
    loop {
        let (code, out, err) = certmail_at(config, &["queue", "list", "--json"])?;
        anyhow::ensure!(code == 0, "queue list: {err}");
        let listed: serde_json::Value = serde_json::from_str(&out)?;
        let left = listed["data"]["queue"].as_array().map_or(0, Vec::len);
        let got = taken(sink);
        if got.len() == MESSAGES && left == 0 {
            return Ok(got);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "after {ALL_DELIVERED:?}: {} of {MESSAGES} messages at the sink, {left} queued",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn both_nodes_deliver_a_queue_of_200_each_message_exactly_once() -> anyhow::Result<()> {
    let sink = slow_sink().await;
    let (fx, b_config, _) = cluster(&sink).await?;
    let _a = fx.start()?;
    let b = start(&b_config, &[])?;
    finished(submit_all(&fx, b.addr("submissions").port())?)?;

    let got = all_delivered(&sink, &b_config).await?;
    let twice: Vec<_> = got.iter().filter(|(_, copies)| copies.len() > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        (0..MESSAGES).collect::<Vec<_>>()
    );
    let (by_a, by_b) = (
        sent_by(&got, "node-a.relay.test"),
        sent_by(&got, "node-b.relay.test"),
    );
    assert_eq!(by_a + by_b, MESSAGES);
    assert!(
        by_a > 0 && by_b > 0,
        "both nodes deliver: A {by_a}, B {by_b}"
    );
    eprintln!("node A sent {by_a}, node B {by_b}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_killed_mid_run_leaves_no_message_undelivered() -> anyhow::Result<()> {
    // The remote stalls until all 200 are queued, so the queue is long when A dies
    // however fast the submission runs next to the deliveries.
    let (sink, open) = stalled_sink().await;
    let (fx, b_config, url) = cluster(&sink).await?;
    let mut a = fx.start()?;
    let b = start(&b_config, &[])?;
    finished(submit_all(&fx, b.addr("submissions").port())?)?;
    open.send(true)?;

    // Node A dies (SIGKILL) once it has sent 10 messages, at a moment it holds claims
    // (between two of its deliveries it may hold none).
    let db = url.rsplit('/').next().and_then(|d| d.split('?').next());
    let db = PgServer::shared()
        .connect(db.expect("the URL names its database"))
        .await;
    let held_by_a =
        "SELECT count(*) FROM queue WHERE claimed_by = 'node-a' AND lease_until > now()";
    let deadline = Instant::now() + ALL_DELIVERED;
    loop {
        if sent_by(&taken(&sink), "node-a.relay.test") >= 10
            && db.query_one(held_by_a, &[]).await?.get::<_, i64>(0) > 0
        {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "node A did not send 10 messages while holding claims"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill9()?;
    let at_kill = taken(&sink).len();
    let orphaned: i64 = db
        .query_one(
            "SELECT count(*) FROM queue WHERE claimed_by = 'node-a'",
            &[],
        )
        .await?
        .get(0);
    assert!(
        at_kill < MESSAGES,
        "A died before the queue was done ({at_kill} sent)"
    );
    assert!(orphaned > 0, "A died holding claims");

    // B takes A's entries over once A's claims lapsed: every message arrives. One A was
    // sending when it died may arrive twice (at least once, README "Cluster").
    let started = Instant::now();
    let got = all_delivered(&sink, &b_config).await?;
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        (0..MESSAGES).collect::<Vec<_>>()
    );
    let twice = got.values().filter(|copies| copies.len() > 1).count();
    assert!(
        twice <= 2,
        "only messages on A's two connections at its death may go twice: {twice}"
    );
    eprintln!(
        "{orphaned} entries taken over from the dead node, all delivered {:?} after its \
         death (lease {QUEUE_LEASE_SECS} s); {twice} sent twice",
        started.elapsed()
    );
    Ok(())
}
