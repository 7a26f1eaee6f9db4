//! The queue runner: a tokio task that delivers due queue entries.
//!
//! Each round lists the queue, takes the due entries that are neither held nor already in
//! flight, splits each entry's pending recipients by destination ([`Transport::destination`])
//! and starts up to `max_connections_per_destination` tasks per destination, bounded in total
//! by `max_connections`. A task opens one connection and sends its messages one after the
//! other on it (connection reuse), up to `max_messages_per_connection`.
//!
//! Crash safety, per message:
//! 1. Before anything is sent, the attempt is written to the store: attempt counts go up and
//!    `next_attempt` moves to the next retry time. A crash from here on leaves the
//!    recipients queued, to be retried on schedule, never lost.
//! 2. After the remote answered, DSNs are stored first, then the queue entry is rewritten
//!    without the recipients that are done (accepted, or permanently failed). A crash
//!    between the remote's `250` and this write sends the message again on the next try:
//!    SMTP's at-least-once, and the only window for a duplicate.
//!
//! Reports (failure, delay, relay) are built and stored by the `notices` submodule.
//!
//! Several nodes sharing one store each run a runner; a round delivers only the entries it
//! claimed (the `claims` submodule), so each message goes out from one node, and a dead
//! node's entries are taken over once its claims lapse.
//!
//! Writes to queue entries go through one lock, so two tasks working on one entry (two
//! destinations) never overwrite each other's changes.
//!
//! A reload replaces the transport, settings and signer at once ([`QueueRunner::reconfigure`]):
//! each round and each connection works with the set that was in force when it started, so
//! deliveries in progress finish as they began and the next round uses the new set.

mod claims;
mod notices;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use certmail_session::ChangeHub;
use certmail_store::{QueueEntry, RecipientStatus, Store, notify};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::client::{OutRecipient, Outgoing, Sent};
use super::reply::RemoteReply;
use super::report::{ReportKind, ReportRecipient};
use super::transport::{Connection, Transport};
use super::{Clock, MessageSigner, QueueSignals, RelaySettings};
use super::{downgrade, meta};
use crate::inbound::recipients::domain_of;
use crate::stats::{Event, MailCounters};
use notices::{report_line, wants_delay_notice, wants_failure_notice};

/// The delivery task of the outbound queue.
pub struct QueueRunner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    live: RwLock<Arc<Live>>,
    hub: Option<ChangeHub>,
    in_flight: claims::InFlight,
    /// A round left due entries unclaimed because this node had enough in flight: the end
    /// of a connection starts another round.
    backlog: AtomicBool,
    wake: Notify,
    /// Shared with the SMTP server and the admin handler (see [`QueueSignals`]).
    signals: Arc<QueueSignals>,
    /// The daemon's counters of delivered, deferred, failed and bounced recipients.
    counters: Arc<crate::stats::MailCounters>,
}

/// What a reload replaces, taken as one snapshot by each round.
struct Live {
    transport: Arc<dyn Transport>,
    settings: RelaySettings,
    signer: Option<Arc<dyn MessageSigner>>,
    /// The `max_connections` bound (a new one on reconfigure: connections of the old set
    /// finish under the old bound).
    total: Arc<Semaphore>,
}

impl Live {
    fn new(
        transport: Arc<dyn Transport>,
        settings: RelaySettings,
        signer: Option<Arc<dyn MessageSigner>>,
    ) -> Self {
        Self {
            transport,
            total: Arc::new(Semaphore::new(settings.max_connections.max(1))),
            settings,
            signer,
        }
    }
}

impl std::fmt::Debug for QueueRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueRunner")
            .field("settings", &self.live().settings)
            .finish_non_exhaustive()
    }
}

/// An entry's pending recipients by destination.
type Groups = BTreeMap<String, Vec<String>>;

/// The recipients of one entry that go to one destination.
#[derive(Debug, Clone)]
struct Job {
    entry: u64,
    recipients: Vec<String>,
}

/// A job ready to send: the message and who it goes to.
struct Prepared {
    entry: QueueEntry,
    body: Vec<u8>,
    recipients: Vec<OutRecipient>,
}

/// How a job's send ended.
enum Outcome {
    /// The remote answered the transaction: the reply for each recipient address, the
    /// remote host, and whether it took our DSN parameters.
    Sent(HashMap<String, RemoteReply>, String, bool),
    /// The whole transaction failed with this reply (connection, MAIL, DATA, local policy).
    Failed(RemoteReply, Option<String>),
}

impl QueueRunner {
    /// A runner over `store`, delivering through `transport`.
    pub fn new(
        store: Arc<dyn Store>,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        settings: RelaySettings,
    ) -> Self {
        Self {
            store,
            clock,
            live: RwLock::new(Arc::new(Live::new(transport, settings, None))),
            hub: None,
            in_flight: claims::InFlight::default(),
            backlog: AtomicBool::new(false),
            wake: Notify::new(),
            signals: Arc::new(QueueSignals::default()),
            counters: Arc::default(),
        }
    }

    /// Shares `signals` with whoever else writes this queue (the SMTP server, the admin
    /// handler); without it the runner has its own and only hears [`QueueRunner::wake`].
    pub fn with_signals(mut self, signals: Arc<QueueSignals>) -> Self {
        self.signals = signals;
        self
    }

    /// Counts in `counters` (the daemon's one, shared with the SMTP server and kept when a
    /// reload replaces the runner).
    pub fn with_counters(mut self, counters: Arc<crate::stats::MailCounters>) -> Self {
        self.counters = counters;
        self
    }

    /// Signs each message before sending (DKIM); the signer returns header bytes to prepend.
    pub fn with_signer(self, signer: Arc<dyn MessageSigner>) -> Self {
        let live = self.live();
        self.reconfigure(
            Arc::clone(&live.transport),
            live.settings.clone(),
            Some(signer),
        );
        self
    }

    /// Replaces the transport, settings and signer (a reload). Deliveries in progress
    /// finish with the old ones; the next look at the queue, started at once, uses the new.
    pub fn reconfigure(
        &self,
        transport: Arc<dyn Transport>,
        settings: RelaySettings,
        signer: Option<Arc<dyn MessageSigner>>,
    ) {
        *self.live.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(Live::new(transport, settings, signer));
        self.wake();
    }

    fn live(&self) -> Arc<Live> {
        Arc::clone(&self.live.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Announces DSNs stored in local mailboxes (IDLE wakes on them).
    pub fn with_hub(mut self, hub: ChangeHub) -> Self {
        self.hub = Some(hub);
        self
    }

    /// Asks the runner to look at the queue now (new mail, an admin retry).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until `shutdown`, then lets the connections in progress finish their current
    /// message (at most `drain_timeout`) and returns.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        let renewals = CancellationToken::new();
        let renewer = Arc::clone(&self);
        let stop_renewing = renewals.clone();
        tokio::spawn(async move { renewer.renew_claims(stop_renewing).await });
        loop {
            let next_due = match self.dispatch_due(&tracker, &shutdown).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "reading the outbound queue failed");
                    None
                }
            };
            let mut wait = self.live().settings.poll_interval;
            if let Some(due) = next_due {
                let secs = u64::try_from(due - self.clock.now()).unwrap_or(0);
                wait = wait.min(Duration::from_secs(secs));
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = self.signals.changed() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        tracker.close();
        if tokio::time::timeout(self.live().settings.drain_timeout, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "outbound deliveries still running at shutdown; they are retried after restart"
            );
        }
        renewals.cancel();
    }

    /// Delivers every due entry once and waits for the attempts to end (tests, and an
    /// operator's "flush").
    pub async fn run_once(self: &Arc<Self>) -> Result<(), certmail_store::StoreError> {
        let tracker = TaskTracker::new();
        self.dispatch_due(&tracker, &CancellationToken::new())
            .await?;
        tracker.close();
        tracker.wait().await;
        Ok(())
    }

    /// Starts tasks for the due entries this runner could claim; returns when the next
    /// not-yet-due entry is due.
    async fn dispatch_due(
        self: &Arc<Self>,
        tracker: &TaskTracker,
        shutdown: &CancellationToken,
    ) -> Result<Option<i64>, certmail_store::StoreError> {
        let now = self.clock.now();
        let live = self.live();
        let (mut due, next_due) = self.due_entries(&live, now).await?;
        let room = (live.settings.max_connections.max(1))
            .saturating_mul(live.settings.max_messages_per_connection.max(1))
            .saturating_sub(self.in_flight.len());
        let ids: Vec<u64> = due.keys().copied().take(room).collect();
        self.backlog.store(ids.len() < due.len(), Ordering::Relaxed);
        let claimed = if ids.is_empty() {
            Vec::new()
        } else {
            let lease = live.settings.claim_lease;
            self.store.queue_claim(&ids, now, lease).await?
        };
        let mut by_destination: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        for id in claimed {
            let Some(groups) = due.remove(&id) else {
                continue;
            };
            self.in_flight.add(id, groups.len());
            for (dest, recipients) in groups {
                by_destination.entry(dest).or_default().push(Job {
                    entry: id,
                    recipients,
                });
            }
        }
        for (dest, jobs) in by_destination {
            let lanes = live
                .settings
                .max_connections_per_destination
                .clamp(1, jobs.len());
            let mut split: Vec<Vec<Job>> = vec![Vec::new(); lanes];
            for (i, job) in jobs.into_iter().enumerate() {
                split[i % lanes].push(job);
            }
            for jobs in split {
                let runner = Arc::clone(self);
                let (live, dest) = (Arc::clone(&live), dest.clone());
                let shutdown = shutdown.clone();
                tracker.spawn(
                    async move { runner.run_destination(&live, dest, jobs, shutdown).await },
                );
            }
        }
        Ok(next_due)
    }

    /// The due entries neither held nor in flight here, each with its pending recipients
    /// by destination, and when the next not-yet-due entry is due. An entry with nothing
    /// pending (e.g. written by an older version) is freed.
    async fn due_entries(
        &self,
        live: &Live,
        now: i64,
    ) -> Result<(BTreeMap<u64, Groups>, Option<i64>), certmail_store::StoreError> {
        let mut next_due: Option<i64> = None;
        let mut due = BTreeMap::new();
        for entry in self.store.queue_list().await? {
            if meta::is_held(&entry) || self.in_flight.contains(entry.id) {
                continue;
            }
            if entry.next_attempt > now {
                next_due = Some(next_due.map_or(entry.next_attempt, |n| n.min(entry.next_attempt)));
                continue;
            }
            let mut groups = Groups::new();
            for r in entry
                .recipients
                .iter()
                .filter(|r| r.status == RecipientStatus::Pending)
            {
                let domain = domain_of(&r.address).unwrap_or_default();
                let dest = live.transport.destination(&domain);
                groups.entry(dest).or_default().push(r.address.clone());
            }
            if groups.is_empty() {
                self.store.queue_remove(entry.id).await?;
                continue;
            }
            due.insert(entry.id, groups);
        }
        Ok((due, next_due))
    }

    /// One connection's worth of jobs to one destination.
    async fn run_destination(
        &self,
        live: &Live,
        dest: String,
        jobs: Vec<Job>,
        shutdown: CancellationToken,
    ) {
        let Ok(_permit) = Arc::clone(&live.total).acquire_owned().await else {
            return;
        };
        let mut conn: Option<Box<dyn Connection>> = None;
        let mut connect_failure: Option<RemoteReply> = None;
        let mut sent_here = 0usize;
        for job in jobs {
            if shutdown.is_cancelled() {
                self.in_flight.done(job.entry);
                continue;
            }
            if let Err(e) = self
                .run_job(
                    live,
                    &dest,
                    &job,
                    &mut conn,
                    &mut connect_failure,
                    &mut sent_here,
                )
                .await
            {
                tracing::error!(entry = job.entry, error = %e, "outbound delivery bookkeeping failed");
            }
            self.in_flight.done(job.entry);
        }
        if let Some(c) = conn {
            c.close().await;
        }
        if self.backlog.swap(false, Ordering::Relaxed) {
            self.wake();
        }
    }

    async fn run_job(
        &self,
        live: &Live,
        dest: &str,
        job: &Job,
        conn: &mut Option<Box<dyn Connection>>,
        connect_failure: &mut Option<RemoteReply>,
        sent_here: &mut usize,
    ) -> Result<(), certmail_store::StoreError> {
        let Some(prepared) = self.prepare(job).await? else {
            return Ok(());
        };
        if let Some(refusal) = self.local_refusal(&prepared) {
            return self.apply(job, Outcome::Failed(refusal, None)).await;
        }
        let c = match Self::connection(live, dest, conn, connect_failure, sent_here).await {
            Ok(c) => c,
            Err(reply) => return self.apply(job, Outcome::Failed(reply, None)).await,
        };
        let smtputf8 = meta::needs_smtputf8(&prepared.entry);
        // RFC 6152 §3: 7-bit for a server without 8BITMIME, converted before signing.
        let body = match downgrade::for_peer(&prepared.body, smtputf8 || c.takes_8bit()) {
            Ok(body) => signed(live.signer.as_deref(), &body, &prepared.entry.from),
            Err(reply) => {
                let remote = c.remote();
                return self.apply(job, Outcome::Failed(reply, Some(remote))).await;
            }
        };
        let message = Outgoing {
            from: &prepared.entry.from,
            recipients: &prepared.recipients,
            body: &body,
            ret: meta::ret(&prepared.entry),
            envid: prepared
                .entry
                .envelope_meta
                .get(meta::ENVID)
                .map(String::as_str),
            smtputf8,
            requiretls: meta::requires_tls(&prepared.entry),
        };
        *sent_here += 1;
        let remote = c.remote();
        let outcome = match c.send(&message).await {
            Ok(Sent {
                replies,
                dsn_passed_on,
            }) => {
                let by_address = prepared
                    .recipients
                    .iter()
                    .map(|r| r.address.clone())
                    .zip(replies)
                    .collect();
                Outcome::Sent(by_address, remote, dsn_passed_on)
            }
            Err(reply) => Outcome::Failed(reply, Some(remote)),
        };
        self.apply(job, outcome).await
    }

    /// The connection to send on: the open one while it may take another message, else a
    /// new one. A destination that already refused a connection in this round is not tried
    /// again; its reply stands for every job behind it.
    async fn connection<'c>(
        live: &Live,
        dest: &str,
        conn: &'c mut Option<Box<dyn Connection>>,
        connect_failure: &mut Option<RemoteReply>,
        sent_here: &mut usize,
    ) -> Result<&'c mut Box<dyn Connection>, RemoteReply> {
        let worn_out = |c: &dyn Connection| -> bool {
            !c.reusable() || *sent_here >= live.settings.max_messages_per_connection
        };
        if conn.as_deref().is_some_and(worn_out)
            && let Some(old) = conn.take()
        {
            old.close().await;
        }
        if let Some(c) = conn {
            return Ok(c);
        }
        if let Some(reply) = connect_failure.clone() {
            return Err(reply);
        }
        match live.transport.connect(dest).await {
            Ok(c) => {
                *sent_here = 0;
                Ok(conn.insert(c))
            }
            Err(reply) => {
                tracing::info!(destination = dest, error = %reply, "cannot connect");
                *connect_failure = Some(reply.clone());
                Err(reply)
            }
        }
    }

    /// Loads the entry and body and records the attempt before anything is sent.
    async fn prepare(&self, job: &Job) -> Result<Option<Prepared>, certmail_store::StoreError> {
        let now = self.clock.now();
        let _guard = self.signals.lock_queue_edits().await;
        let Some(mut entry) = self.store.queue_get(job.entry).await? else {
            return Ok(None);
        };
        if meta::is_held(&entry) {
            return Ok(None);
        }
        let mut max_attempts = 0;
        let mut recipients = Vec::new();
        for r in entry.recipients.iter_mut() {
            if r.status == RecipientStatus::Pending && job.recipients.contains(&r.address) {
                r.attempts += 1;
                max_attempts = max_attempts.max(r.attempts);
                recipients.push(r.address.clone());
            }
        }
        if recipients.is_empty() {
            return Ok(None);
        }
        let schedule = self.live().settings.retry_schedule.clone();
        entry.next_attempt = now + retry_delay(&schedule, max_attempts) as i64;
        self.store.queue_update(entry.clone()).await?;
        drop(_guard);
        let body = self.store.queue_body(job.entry).await?;
        let recipients = recipients
            .into_iter()
            .map(|address| OutRecipient {
                orcpt: meta::orcpt(&entry, &address),
                notify: entry
                    .recipients
                    .iter()
                    .find(|r| r.address == address)
                    .map_or(0, |r| r.notify),
                address,
            })
            .collect();
        Ok(Some(Prepared {
            entry,
            body,
            recipients,
        }))
    }

    /// Failures known without asking anyone: a mail loop (RFC 5321 §6.3).
    fn local_refusal(&self, p: &Prepared) -> Option<RemoteReply> {
        let hops = received_count(&p.body);
        (hops > self.live().settings.max_received_headers).then(|| {
            RemoteReply::local(
                554,
                "5.4.6",
                format!("mail loop: the message has passed {hops} servers"),
            )
        })
    }

    /// Records what happened to a job's recipients, sending DSNs first.
    async fn apply(&self, job: &Job, outcome: Outcome) -> Result<(), certmail_store::StoreError> {
        let now = self.clock.now();
        let _guard = self.signals.lock_queue_edits().await;
        let Some(mut entry) = self.store.queue_get(job.entry).await? else {
            return Ok(());
        };
        let expired = now >= entry.created_at + self.live().settings.expire_after as i64;
        let (failed, relayed) = settle(job, &mut entry, &outcome, expired, &self.counters);
        let body = if failed.is_empty() && relayed.is_empty() && !self.delay_due(&entry, now) {
            Vec::new()
        } else {
            self.store.queue_body(entry.id).await?
        };
        self.notify(&entry, ReportKind::Failed, &failed, &body, now)
            .await;
        self.notify(&entry, ReportKind::Relayed, &relayed, &body, now)
            .await;
        if self.delay_due(&entry, now) {
            let delayed = delayed_recipients(&entry);
            self.notify(&entry, ReportKind::Delayed, &delayed, &body, now)
                .await;
            meta::set_flag(&mut entry, meta::DELAY_NOTIFIED, true);
        }
        if entry
            .recipients
            .iter()
            .any(|r| r.status == RecipientStatus::Pending)
        {
            self.store.queue_update(entry).await
        } else {
            self.store.queue_remove(entry.id).await
        }
    }
}

/// Sorts the job's recipients of `entry` by the outcome: delivered and failed ones leave
/// it, deferred ones stay with their last error; each outcome is counted in `counters`.
/// Returns the lines of the failure report and of the relay (success) report.
fn settle(
    job: &Job,
    entry: &mut QueueEntry,
    outcome: &Outcome,
    expired: bool,
    counters: &MailCounters,
) -> (Vec<ReportRecipient>, Vec<ReportRecipient>) {
    let mut failed = Vec::new();
    let mut relayed = Vec::new();
    let mut keep = Vec::new();
    let (remote, dsn_passed_on) = match outcome {
        Outcome::Sent(_, remote, dsn) => (Some(remote.clone()), *dsn),
        Outcome::Failed(_, remote) => (remote.clone(), false),
    };
    for mut r in std::mem::take(&mut entry.recipients) {
        let in_job = r.status == RecipientStatus::Pending && job.recipients.contains(&r.address);
        if !in_job {
            keep.push(r);
            continue;
        }
        let reply = match outcome {
            Outcome::Sent(replies, _, _) => replies
                .get(&r.address)
                .cloned()
                .unwrap_or_else(|| RemoteReply::local(451, "4.3.0", "no reply for this recipient")),
            Outcome::Failed(reply, _) => reply.clone(),
        };
        let line = report_line(&r, entry, &reply, &remote);
        if reply.is_positive() {
            counters.count(Event::Delivered);
            tracing::info!(entry = entry.id, rcpt = %r.address, remote = ?remote, "delivered");
            if r.notify & notify::SUCCESS != 0 && !dsn_passed_on {
                relayed.push(line);
            }
        } else if reply.is_permanent() || expired {
            counters.count(Event::Failed);
            tracing::info!(entry = entry.id, rcpt = %r.address, reply = %reply, expired, "failed");
            if wants_failure_notice(r.notify) {
                let mut line = line;
                if !reply.is_permanent() {
                    line.status = "4.4.7".into(); // RFC 3463: delivery time expired
                }
                failed.push(line);
            }
        } else {
            counters.count(Event::Deferred);
            tracing::info!(entry = entry.id, rcpt = %r.address, reply = %reply, "deferred");
            r.last_error = Some(reply.to_string());
            keep.push(r);
        }
    }
    entry.recipients = keep;
    (failed, relayed)
}

/// The recipients still pending that asked for delay notices (RFC 3461 NOTIFY=DELAY).
fn delayed_recipients(entry: &QueueEntry) -> Vec<ReportRecipient> {
    entry
        .recipients
        .iter()
        .filter(|r| r.status == RecipientStatus::Pending && wants_delay_notice(r.notify))
        .map(|r| ReportRecipient {
            address: r.address.clone(),
            original: meta::orcpt(entry, &r.address),
            status: "4.4.7".into(),
            remote_mta: None,
            diagnostic: r.last_error.clone(),
        })
        .collect()
}

/// `body` with the signer's header prepended (unchanged without a signer or key);
/// `envelope_from` names the domain when the From: header does not.
fn signed(signer: Option<&dyn MessageSigner>, body: &[u8], envelope_from: &str) -> Vec<u8> {
    let Some(signer) = signer else {
        return body.to_vec();
    };
    let from_domain = crate::message::header_from_addresses(body)
        .first()
        .and_then(|a| domain_of(a))
        .or_else(|| domain_of(envelope_from))
        .unwrap_or_default();
    match signer.sign(&from_domain, body) {
        Some(mut header) => {
            header.extend_from_slice(body);
            header
        }
        None => body.to_vec(),
    }
}

/// Seconds to wait after attempt number `attempts` (1-based): the schedule's entry, its
/// last one once it runs out.
pub fn retry_delay(schedule: &[u64], attempts: u32) -> u64 {
    let i = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
    schedule.get(i).or(schedule.last()).copied().unwrap_or(3600)
}

/// How many `Received:` headers the message's header section has.
pub fn received_count(message: &[u8]) -> usize {
    crate::inbound::dsn::header_section(message)
        .split(|&b| b == b'\n')
        .filter(|line| line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"received:"))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_follows_the_schedule_then_repeats_the_last() {
        let s = [60, 300, 3600];
        assert_eq!(
            (1..=5).map(|n| retry_delay(&s, n)).collect::<Vec<_>>(),
            vec![60, 300, 3600, 3600, 3600]
        );
    }

    #[test]
    fn received_headers_are_counted_in_the_header_section_only() {
        let m = b"Received: a\r\nreceived: b\r\nSubject: x\r\n\r\nReceived: not a header\r\n";
        assert_eq!(received_count(m), 2);
    }
}
