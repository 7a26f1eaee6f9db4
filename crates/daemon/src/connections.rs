//! The kinds of listener and the connections open now and accepted so far on each: one
//! [`ConnectionCounts`] per daemon (on [`crate::context::Daemon`]), counted by the protocol
//! handlers ([`OpenConnection`]), read by `/metrics`. A leaf: it imports nothing of this
//! crate.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// IMAP over implicit TLS (993).
    ImapTls,
    /// IMAP with STARTTLS (143).
    ImapStartTls,
    /// SMTP submission over implicit TLS (465).
    SubmissionTls,
    /// SMTP submission with STARTTLS (587).
    SubmissionStartTls,
    /// SMTP for other mail servers (25).
    Mx,
    /// The self-service web, HTTPS (443).
    Web,
    /// ManageSieve with STARTTLS (4190).
    ManageSieve,
}

impl ListenerKind {
    /// The name printed in `listening NAME ADDR:PORT` and used in logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::ImapTls => "imaps",
            Self::ImapStartTls => "imap",
            Self::SubmissionTls => "submissions",
            Self::SubmissionStartTls => "submission",
            Self::Mx => "smtp",
            Self::Web => "web",
            Self::ManageSieve => "managesieve",
        }
    }
}

/// Every listener kind, in the order `/metrics` lists them.
pub const KINDS: [ListenerKind; 7] = [
    ListenerKind::ImapTls,
    ListenerKind::ImapStartTls,
    ListenerKind::SubmissionTls,
    ListenerKind::SubmissionStartTls,
    ListenerKind::Mx,
    ListenerKind::Web,
    ListenerKind::ManageSieve,
];

/// The connection counters of one daemon.
#[derive(Debug, Default)]
pub struct ConnectionCounts {
    opened: [AtomicU64; KINDS.len()],
    open: [AtomicI64; KINDS.len()],
}

fn index(kind: ListenerKind) -> usize {
    KINDS
        .iter()
        .position(|k| *k == kind)
        .expect("every listener kind is in KINDS")
}

impl ConnectionCounts {
    /// Counts a connection accepted on a `kind` listener, open while the result is held.
    pub fn open(&self, kind: ListenerKind) -> OpenConnection<'_> {
        let i = index(kind);
        self.opened[i].fetch_add(1, Ordering::Relaxed);
        self.open[i].fetch_add(1, Ordering::Relaxed);
        OpenConnection {
            counts: self,
            index: i,
        }
    }

    /// Connections accepted so far on `kind` listeners.
    pub fn opened_total(&self, kind: ListenerKind) -> u64 {
        self.opened[index(kind)].load(Ordering::Relaxed)
    }

    /// Connections open now on listeners of the given kinds.
    pub fn open_connections(&self, kinds: &[ListenerKind]) -> i64 {
        kinds
            .iter()
            .map(|k| self.open[index(*k)].load(Ordering::Relaxed))
            .sum()
    }
}

/// Counts a connection as open while it lives ([`ConnectionCounts::open`]).
#[derive(Debug)]
pub struct OpenConnection<'a> {
    counts: &'a ConnectionCounts,
    index: usize,
}

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.counts.open[self.index].fetch_sub(1, Ordering::Relaxed);
    }
}
