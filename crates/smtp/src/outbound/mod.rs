//! The outbound relay: delivering what the store queued for remote domains.
//!
//! - [`runner`]: [`QueueRunner`], the tokio task that takes due queue entries, groups them
//!   by destination, sends them, records per-recipient results and sends DSNs.
//! - [`transport`]: the [`Transport`]/[`Connection`] traits the runner uses, and
//!   [`SmtpTransport`], which routes by MX ([`route`], [`dns`]) or to a smarthost.
//! - [`client`]: the SMTP client on tokio ([`SmtpClient`]); [`reply`] parses replies
//!   without I/O; [`tls`] holds the rustls client configs.
//! - [`downgrade`]: 8-bit mail converted to 7-bit for servers without 8BITMIME.
//! - [`mta_sts`]: MTA-STS (RFC 8461) policies, fetched over HTTPS, cached, enforced.
//! - [`report`]: RFC 3464 failure, delay and relay reports (built with mail-builder).
//! - [`meta`]: the envelope data kept in a queue entry's `envelope_meta`.
//! - [`dane`]: DANE (RFC 7672) TLSA matching; [`tlsrpt`], [`tlsrpt_send`]: TLS reports
//!   (RFC 8460), recorded per session and mailed daily.
//!
//! Rules: 4xx is temporary and 5xx permanent, per recipient (RFC 5321 §4.2.1); every
//! attempt is written to the store before a byte is sent, and a recipient leaves the queue
//! only after the remote's final `250` or a permanent failure (with its DSN stored first);
//! no report ever goes to the null sender; time comes from a [`Clock`], so retry timing is
//! tested with tokio's paused time.
//!
//! TLS choice for MX delivery (documented in conf/certmail.toml): the default policy is
//! Postfix's `may`: STARTTLS whenever offered, any certificate accepted, cleartext when
//! STARTTLS is missing or its handshake fails. Per-domain policies (`encrypt`, `verify`)
//! and REQUIRETLS (RFC 8689) mail never fall back: REQUIRETLS needs a verified
//! certificate and a server that advertises REQUIRETLS, else it fails permanently.
//! An MTA-STS policy in `enforce` mode takes precedence over the local policy: only the MX
//! hosts it names, only over verified TLS, else a temporary failure (never cleartext).
//! DANE takes precedence over both, per MX host: a DNSSEC-secure MX and address chain with
//! usable TLSA records pins the certificate ([`dane`]); its failure is temporary too.

pub mod client;
pub mod dane;
pub mod dns;
pub mod downgrade;
pub mod meta;
pub mod mta_sts;
pub mod reply;
pub mod report;
pub mod route;
pub mod runner;
pub mod tls;
pub mod tlsrpt;
pub mod tlsrpt_send;
pub mod transport;

use std::time::Duration;

pub use client::{SmtpClient, Timeouts};
pub use dns::{HickoryResolver, TrustAnchor};
pub use mta_sts::{MtaSts, MtaStsSettings};
pub use route::{MxAnswer, Resolver, StaticResolver, Validated};
pub use runner::QueueRunner;
pub use tls::{ClientIdentity, ClientTls};
pub use transport::{
    Connection, Route, Smarthost, SmarthostTls, SmtpTransport, TlsPolicy, Transport,
};

/// What the outbound queue's writers share: one per daemon (two daemons in one process
/// keep apart), held by the SMTP context, the queue runner and the admin handler.
#[derive(Debug, Default)]
pub struct QueueSignals {
    /// Wakes every runner waiting on it: new mail was queued, or an administrator asked
    /// for a retry.
    changed: tokio::sync::Notify,
    /// Serialises read-modify-write edits of queue entries: the runners' bookkeeping
    /// around a delivery and an administrator's `queue hold|release|retry`, so neither
    /// overwrites the other's change with a stale copy.
    edits: tokio::sync::Mutex<()>,
}

impl QueueSignals {
    /// Wakes every queue runner of this daemon at once: new mail was queued, or an
    /// administrator asked for a retry. (Runners also look at the queue every poll
    /// interval, so a wake that finds no runner waiting is not lost for long.)
    pub fn queue_changed(&self) {
        self.changed.notify_waiters();
    }

    /// Resolves at the next [`QueueSignals::queue_changed`].
    pub(crate) async fn changed(&self) {
        self.changed.notified().await
    }

    /// Waits for the queue-edit lock; hold it from reading an entry until its update is
    /// written.
    pub async fn lock_queue_edits(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.edits.lock().await
    }
}

/// DKIM (or any other) signing of outbound mail, implemented by the mail-auth side.
pub trait MessageSigner: Send + Sync {
    /// Header bytes (ending in CRLF) to prepend to `message`, whose From: domain is
    /// `from_domain`; `None` to send it unsigned (no key for the domain).
    fn sign(&self, from_domain: &str, message: &[u8]) -> Option<Vec<u8>>;
}

/// The time, in unix seconds.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }
}

/// A clock that follows tokio's (pausable) time from a fixed start: with
/// `tokio::time::pause`, sleeping moves it forward instantly.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start_unix: i64,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `start_unix` now.
    pub fn starting_at(start_unix: i64) -> Self {
        Self {
            start_unix,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> i64 {
        self.start_unix + self.start.elapsed().as_secs() as i64
    }
}

/// What the queue runner needs to know (from the daemon's `[relay]` and `[server]`).
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Our host name: `Reporting-MTA` and the From: of reports.
    pub hostname: String,
    /// Domains delivered locally, lowercase (reports to their users go to them, through
    /// their Sieve scripts).
    pub local_domains: Vec<String>,
    /// `[sieve]`: the bounds a local sender's script runs under when their report arrives.
    pub sieve: crate::inbound::filter::SieveSettings,
    /// Seconds to wait after the 1st, 2nd, … failed attempt; the last repeats.
    pub retry_schedule: Vec<u64>,
    /// Seconds after queueing when a still-undelivered recipient fails (4.4.7).
    pub expire_after: u64,
    /// Seconds after queueing when a delay notice goes out once; `None` for never.
    pub delay_notice_after: Option<u64>,
    /// Connections open at once in total.
    pub max_connections: usize,
    /// Connections open at once to one destination.
    pub max_connections_per_destination: usize,
    /// Messages sent on one connection before it is closed.
    pub max_messages_per_connection: usize,
    /// More `Received:` headers than this is a mail loop (RFC 5321 §6.3).
    pub max_received_headers: usize,
    /// Longest wait between two looks at the queue.
    pub poll_interval: Duration,
    /// How long shutdown waits for connections to finish their message.
    pub drain_timeout: Duration,
    /// How long this runner's claim on a queue entry lasts unrenewed (a store shared by
    /// several nodes: another node takes the entry over after it); renewed every third of
    /// it while the delivery runs.
    pub claim_lease: Duration,
}

/// The default retry schedule: minutes growing to hours (like Postfix and Stalwart), in
/// seconds: 5m, 10m, 20m, 40m, 1h, 2h, then every 4h.
pub const DEFAULT_RETRY_SCHEDULE: [u64; 7] = [300, 600, 1200, 2400, 3600, 7200, 14_400];

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            hostname: "localhost".into(),
            local_domains: Vec::new(),
            sieve: Default::default(),
            retry_schedule: DEFAULT_RETRY_SCHEDULE.to_vec(),
            expire_after: 5 * 86_400,
            delay_notice_after: Some(4 * 3600),
            max_connections: 20,
            max_connections_per_destination: 2,
            max_messages_per_connection: 50,
            max_received_headers: 50,
            poll_interval: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
            claim_lease: Duration::from_secs(60),
        }
    }
}
