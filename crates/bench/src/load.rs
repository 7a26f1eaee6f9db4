//! The SMTP load: C clients, each one signed-in TLS session with its own certificate,
//! share N messages and submit them to random local recipients.
//!
//! Every session signs in first; the clock starts only when all are ready, so the figures
//! measure message submission, not handshakes (sign-in time is reported on its own).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::sync::watch;

use crate::client::{Reply, SmtpClient};
use crate::install::{DOMAIN, Recipient, Sender};
use crate::message::{self, Envelope};

/// What to send, and where.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Messages in all.
    pub messages: usize,
    /// Bytes per message.
    pub size: usize,
    /// The submissions (465) listener of each node: client `i` uses node `i mod N`.
    pub addrs: Vec<SocketAddr>,
    /// The CA of the server certificate.
    pub server_ca: std::path::PathBuf,
    /// One per concurrent client.
    pub senders: Vec<Sender>,
    /// Who gets mail.
    pub recipients: Arc<Vec<Recipient>>,
    /// The longest wait for any one reply.
    pub reply_timeout: Duration,
}

/// What one client did.
#[derive(Debug, Default)]
pub struct ClientResult {
    /// MAIL FROM → 250 of each accepted message.
    pub latencies: Vec<Duration>,
    /// Final replies of refused messages.
    pub refusals: Vec<Reply>,
    /// When the last message was answered.
    pub finished: Option<Instant>,
}

/// The outcome of a load run before /proc figures are added.
#[derive(Debug)]
pub struct LoadOutcome {
    /// Per client.
    pub clients: Vec<ClientResult>,
    /// Per client, connect → 235.
    pub sign_ins: Vec<Duration>,
    /// When the clients were released.
    pub started: Instant,
    /// Whether every session pipelined MAIL, RCPT and DATA (RFC 2920).
    pub pipelining: bool,
}

/// Signs every client in, then awaits `at_start` (to sample the daemons' and the database's
/// counters) and releases them all at once; returns when every message has been answered.
pub async fn run(plan: LoadPlan, at_start: impl AsyncFnOnce()) -> anyhow::Result<LoadOutcome> {
    anyhow::ensure!(!plan.recipients.is_empty(), "no recipients");
    anyhow::ensure!(!plan.addrs.is_empty(), "no submissions listener");
    let next = Arc::new(AtomicUsize::new(0));
    let (go_tx, go_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(plan.senders.len());
    let mut tasks = tokio::task::JoinSet::new();
    for (index, sender) in plan.senders.iter().cloned().enumerate() {
        let plan = plan.clone();
        let next = Arc::clone(&next);
        let go = go_rx.clone();
        let ready = ready_tx.clone();
        tasks.spawn(async move {
            let result = client(index, &sender, &plan, next, go, ready).await;
            result.with_context(|| format!("client {} ({})", index + 1, sender.id))
        });
    }
    drop(ready_tx);
    let mut sign_ins = Vec::with_capacity(plan.senders.len());
    let mut pipelining = true;
    while sign_ins.len() < plan.senders.len() {
        tokio::select! {
            Some((t, pipelined)) = ready_rx.recv() => {
                sign_ins.push(t);
                pipelining &= pipelined;
            }
            Some(joined) = tasks.join_next() => {
                // A client ended before the start: only an error can do that.
                joined.context("client task panicked")??;
                bail!("a client ended before the start");
            }
            else => bail!("the clients vanished before the start"),
        }
    }
    at_start().await;
    let started = Instant::now();
    go_tx.send(true).context("clients gone")?;
    let mut clients = Vec::with_capacity(plan.senders.len());
    while let Some(joined) = tasks.join_next().await {
        clients.push(joined.context("client task panicked")??);
    }
    Ok(LoadOutcome {
        clients,
        sign_ins,
        started,
        pipelining,
    })
}

/// One client: sign in, report ready, wait for the start, submit until none are left.
async fn client(
    index: usize,
    sender: &Sender,
    plan: &LoadPlan,
    next: Arc<AtomicUsize>,
    mut go: watch::Receiver<bool>,
    ready: tokio::sync::mpsc::Sender<(Duration, bool)>,
) -> anyhow::Result<ClientResult> {
    let t0 = Instant::now();
    let config = crate::tls::client_config(&plan.server_ca, &sender.cert, &sender.key)?;
    let addr = plan.addrs[index % plan.addrs.len()];
    let tls = tokio::time::timeout(plan.reply_timeout, crate::tls::connect(addr, config))
        .await
        .context("TLS connection timed out")??;
    let mut smtp = SmtpClient::start(tls, "bench.client.go.kr", plan.reply_timeout).await?;
    smtp.auth_plain(&sender.id, &sender.password)
        .await
        .context("signing in")?;
    ready
        .send((t0.elapsed(), smtp.pipelining()))
        .await
        .context("the run was abandoned")?;
    go.wait_for(|g| *g).await.context("the run was abandoned")?;

    let mut rng = message::Rng::seeded(index as u64);
    let mut result = ClientResult::default();
    loop {
        let seq = next.fetch_add(1, Ordering::Relaxed);
        if seq >= plan.messages {
            break;
        }
        let to = rng.choose(&plan.recipients).expect("checked non-empty");
        let env = Envelope {
            from: sender.into(),
            to: to.into(),
            seq: seq as u64,
            domain: DOMAIN,
        };
        let msg = message::build(&env, plan.size, &mut rng);
        let payload = message::data_payload(&msg);
        let t = Instant::now();
        let outcome = smtp
            .submit(&sender.address, &to.address, msg.len(), &payload)
            .await
            .with_context(|| format!("message {seq}"))?;
        match outcome {
            Ok(()) => result.latencies.push(t.elapsed()),
            Err(refusal) => result.refusals.push(refusal),
        }
    }
    result.finished = Some(Instant::now());
    smtp.quit().await;
    Ok(result)
}
