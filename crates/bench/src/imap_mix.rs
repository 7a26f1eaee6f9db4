//! The IMAP load: C signed-in clients, each on its own account with a pre-filled INBOX,
//! run a mix of FETCH (flags, envelope, whole body), SEARCH, STORE and IDLE one command
//! at a time for a fixed time; and the delivery-to-IDLE latency, an SMTP delivery to
//! a mailbox that another connection watches in IDLE, timed until `* n EXISTS`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use tokio::sync::{mpsc, watch};

use crate::client::SmtpClient;
use crate::imap_client::{self, SignIn};
use crate::install::{DOMAIN, Recipient, Sender};
use crate::message::{self, Envelope, Rng};

/// The kinds of operation in the mix, with their share of it (percent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `UID FETCH a:b (FLAGS)`, 50 messages: a client resynchronising flags.
    FetchFlags,
    /// `UID FETCH a:b (UID RFC822.SIZE FLAGS ENVELOPE)`, 20 messages: a message list.
    FetchEnvelope,
    /// `UID FETCH u (BODY.PEEK[])`: opening one message.
    FetchBody,
    /// `UID SEARCH FROM "senderNNN"`: a header search over the whole mailbox.
    Search,
    /// `UID STORE u +FLAGS (\Seen)` or `-FLAGS`: marking one message.
    Store,
    /// `IDLE` then `DONE`, until the tagged OK.
    Idle,
}

impl Op {
    /// Every kind with its weight in the mix (the weights add up to 100).
    pub const MIX: [(Op, u64); 6] = [
        (Op::FetchFlags, 25),
        (Op::FetchEnvelope, 20),
        (Op::FetchBody, 25),
        (Op::Search, 10),
        (Op::Store, 15),
        (Op::Idle, 5),
    ];

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Op::FetchFlags => "FETCH (FLAGS) ×50",
            Op::FetchEnvelope => "FETCH (ENVELOPE …) ×20",
            Op::FetchBody => "FETCH (BODY.PEEK[]) ×1",
            Op::Search => "SEARCH FROM (header)",
            Op::Store => "STORE ±FLAGS (\\Seen) ×1",
            Op::Idle => "IDLE + DONE",
        }
    }

    fn pick(rng: &mut Rng) -> Op {
        let mut roll = rng.next_u64() % 100;
        for (op, weight) in Self::MIX {
            if roll < weight {
                return op;
            }
            roll -= weight;
        }
        Op::FetchFlags
    }
}

/// What the mix needs.
#[derive(Debug, Clone)]
pub struct MixPlan {
    /// The imaps listeners (one per node); client `i` uses `addrs[i % len]`.
    pub addrs: Vec<SocketAddr>,
    /// The CA of the server certificate.
    pub server_ca: PathBuf,
    /// One account per client, each with a filled INBOX.
    pub accounts: Vec<Recipient>,
    /// Senders whose address appears in From: (for SEARCH FROM).
    pub senders: Vec<String>,
    /// How long the clients run once all are signed in.
    pub duration: Duration,
    /// The longest wait for one response.
    pub timeout: Duration,
}

/// Every operation's kind and latency, the sign-in times and the measured wall time.
#[derive(Debug, Default)]
pub struct MixOutcome {
    /// (kind, command sent → tagged OK).
    pub ops: Vec<(Op, Duration)>,
    /// Connect → OK after AUTHENTICATE, per client.
    pub sign_ins: Vec<Duration>,
    /// From the start signal to the last client's end.
    pub elapsed: Duration,
    /// Literal bytes received (message bodies).
    pub body_bytes: usize,
}

/// Signs every client in and selects INBOX, calls `at_start`, runs the mix for the
/// plan's duration.
pub async fn run(plan: MixPlan, at_start: impl FnOnce()) -> anyhow::Result<MixOutcome> {
    let (go_tx, go_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::channel(plan.accounts.len());
    let mut tasks = tokio::task::JoinSet::new();
    for (index, account) in plan.accounts.iter().cloned().enumerate() {
        let (plan, go, ready) = (plan.clone(), go_rx.clone(), ready_tx.clone());
        tasks.spawn(async move {
            mix_client(index, &account, &plan, go, ready)
                .await
                .with_context(|| format!("IMAP client {} ({})", index + 1, account.id))
        });
    }
    drop(ready_tx);
    let mut outcome = MixOutcome::default();
    while outcome.sign_ins.len() < plan.accounts.len() {
        tokio::select! {
            Some(t) = ready_rx.recv() => outcome.sign_ins.push(t),
            Some(joined) = tasks.join_next() => {
                joined.context("client task panicked")??;
                anyhow::bail!("an IMAP client ended before the start");
            }
            else => anyhow::bail!("the IMAP clients vanished before the start"),
        }
    }
    at_start();
    let started = Instant::now();
    go_tx.send(true).context("clients gone")?;
    while let Some(joined) = tasks.join_next().await {
        let (ops, bytes) = joined.context("client task panicked")??;
        outcome.ops.extend(ops);
        outcome.body_bytes += bytes;
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

type ClientOps = (Vec<(Op, Duration)>, usize);

async fn mix_client(
    index: usize,
    account: &Recipient,
    plan: &MixPlan,
    mut go: watch::Receiver<bool>,
    ready: mpsc::Sender<Duration>,
) -> anyhow::Result<ClientOps> {
    let t0 = Instant::now();
    let cfg = crate::tls::client_config(&plan.server_ca, &account.cert, &account.key)?;
    let from = IpAddr::from([127, 0, 0, 1]);
    let addr = plan.addrs[index % plan.addrs.len()];
    let mut c = imap_client::connect(from, addr, cfg, plan.timeout).await?;
    c.sign_in(SignIn::Plain, &account.id, &account.password)
        .await?;
    c.command_ok("SELECT INBOX").await?;
    let uids = imap_client::search_uids(&c.command_ok("UID SEARCH ALL").await?.untagged);
    ensure!(!uids.is_empty(), "{}'s INBOX is empty", account.id);
    ready.send(t0.elapsed()).await.context("run abandoned")?;
    go.wait_for(|g| *g).await.context("run abandoned")?;

    let deadline = Instant::now() + plan.duration;
    let mut rng = Rng::seeded(0x1a9 ^ index as u64);
    let (mut ops, mut bytes) = (Vec::new(), 0);
    while Instant::now() < deadline {
        let op = Op::pick(&mut rng);
        let text = command_for(op, &uids, &plan.senders, &mut rng);
        let t = Instant::now();
        if op == Op::Idle {
            let tag = c.idle().await?;
            c.done(&tag).await?;
        } else {
            bytes += c.command_ok(&text).await?.literal_bytes;
        }
        ops.push((op, t.elapsed()));
    }
    let _ = c.command("LOGOUT").await;
    Ok((ops, bytes))
}

/// The command text of one operation on a mailbox holding `uids` (sorted).
fn command_for(op: Op, uids: &[u32], senders: &[String], rng: &mut Rng) -> String {
    let window = |rng: &mut Rng, n: usize| {
        let start = (rng.next_u64() % uids.len() as u64) as usize;
        let end = (start + n - 1).min(uids.len() - 1);
        format!("{}:{}", uids[start], uids[end])
    };
    let one = |rng: &mut Rng| *rng.choose(uids).expect("checked non-empty");
    match op {
        Op::FetchFlags => format!("UID FETCH {} (FLAGS)", window(rng, 50)),
        Op::FetchEnvelope => format!(
            "UID FETCH {} (UID RFC822.SIZE FLAGS ENVELOPE)",
            window(rng, 20)
        ),
        Op::FetchBody => format!("UID FETCH {} (BODY.PEEK[])", one(rng)),
        Op::Search => {
            let who = rng.choose(senders).map_or("sender001", String::as_str);
            let local = who.split('@').next().unwrap_or(who);
            format!("UID SEARCH FROM \"{local}\"")
        }
        Op::Store => {
            let sign = if rng.next_u64().is_multiple_of(2) {
                '+'
            } else {
                '-'
            };
            format!("UID STORE {} {sign}FLAGS (\\Seen)", one(rng))
        }
        Op::Idle => "IDLE".to_owned(),
    }
}

/// Delivery-to-IDLE latency of one delivery.
#[derive(Debug, Clone, Copy)]
pub struct Notice {
    /// MAIL FROM sent → `* n EXISTS` read by the IDLE connection.
    pub from_submit: Duration,
    /// The `250` after DATA read by the sender → `* n EXISTS` read (zero when the notice
    /// came first).
    pub from_ack: Duration,
    /// Whether the notice arrived before the sender read its `250`.
    pub before_ack: bool,
}

/// Delivers one message at a time from `sender` to `watcher`, whose INBOX another
/// connection watches in IDLE, until `count` deliveries or `until`, whichever first.
pub async fn notify_latency(
    addrs: (SocketAddr, SocketAddr),
    server_ca: &std::path::Path,
    sender: &Sender,
    watcher: &Recipient,
    count: usize,
    until: Option<Instant>,
    timeout: Duration,
) -> anyhow::Result<Vec<Notice>> {
    let (imaps, submissions) = addrs;
    let cfg = crate::tls::client_config(server_ca, &watcher.cert, &watcher.key)?;
    let mut idle = imap_client::connect([127, 0, 0, 1].into(), imaps, cfg, timeout).await?;
    idle.sign_in(SignIn::Plain, &watcher.id, &watcher.password)
        .await?;
    let selected = idle.command_ok("SELECT INBOX").await?;
    let mut have = selected
        .untagged
        .iter()
        .find_map(|l| imap_client::exists_count(l))
        .context("SELECT gave no EXISTS")?;
    let tag = idle.idle().await?;
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let watch_task = tokio::spawn(async move {
        while let Ok(Some(line)) = idle.next_unbounded().await {
            if let Some(n) = imap_client::exists_count(&line) {
                let _ = seen_tx.send((n, Instant::now()));
            }
        }
        drop(tag);
    });

    let cfg = crate::tls::client_config(server_ca, &sender.cert, &sender.key)?;
    let tls = crate::tls::connect(submissions, cfg).await?;
    let mut smtp = SmtpClient::start(tls, "bench.client.go.kr", timeout).await?;
    smtp.auth_plain(&sender.id, &sender.password).await?;
    let mut rng = Rng::seeded(77);
    let mut notices = Vec::with_capacity(count.min(10_000));
    for seq in 0..count {
        if until.is_some_and(|u| Instant::now() >= u) {
            break;
        }
        let env = Envelope {
            from: sender.into(),
            to: watcher.into(),
            seq: 900_000 + seq as u64,
            domain: DOMAIN,
        };
        let msg = message::build(&env, 4096, &mut rng);
        let payload = message::data_payload(&msg);
        let t0 = Instant::now();
        let reply = smtp
            .submit(&sender.address, &watcher.address, msg.len(), &payload)
            .await?;
        let acked = Instant::now();
        ensure!(reply.is_ok(), "delivery refused: {reply:?}");
        have += 1;
        let seen = tokio::time::timeout(timeout, async {
            while let Some((n, at)) = seen_rx.recv().await {
                if n >= have {
                    return Some(at);
                }
            }
            None
        })
        .await
        .context("no EXISTS in time after a delivery")?
        .context("the IDLE connection closed")?;
        notices.push(Notice {
            from_submit: seen - t0,
            from_ack: seen.saturating_duration_since(acked),
            before_ack: seen < acked,
        });
    }
    smtp.quit().await;
    watch_task.abort();
    Ok(notices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_add_up_and_every_kind_is_drawn() {
        assert_eq!(Op::MIX.iter().map(|(_, w)| w).sum::<u64>(), 100);
        let mut rng = Rng::seeded(3);
        let mut seen = std::collections::HashMap::new();
        for _ in 0..10_000 {
            *seen.entry(Op::pick(&mut rng)).or_insert(0u32) += 1;
        }
        assert_eq!(seen.len(), 6);
        // FETCH BODY has 25%: within a few percent of 2500 in 10 000 draws.
        let body = seen[&Op::FetchBody];
        assert!((2200..2800).contains(&body), "{body}");
    }

    #[test]
    fn commands_stay_within_the_mailbox() {
        let uids: Vec<u32> = (1..=30).collect();
        let senders = vec!["sender002@bench.go.kr".to_owned()];
        let mut rng = Rng::seeded(9);
        for _ in 0..200 {
            let c = command_for(Op::FetchFlags, &uids, &senders, &mut rng);
            let set = c.split(' ').nth(2).expect("set");
            let (a, b) = set.split_once(':').expect("range");
            let (a, b): (u32, u32) = (a.parse().expect("a"), b.parse().expect("b"));
            assert!(a <= b && b <= 30 && b - a < 50, "{c}");
        }
        assert_eq!(
            command_for(Op::Search, &uids, &senders, &mut rng),
            "UID SEARCH FROM \"sender002\""
        );
        let store = command_for(Op::Store, &uids, &senders, &mut rng);
        assert!(store.ends_with("FLAGS (\\Seen)") && store.starts_with("UID STORE "));
    }
}
