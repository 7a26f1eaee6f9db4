//! Gauges and counters for the daemon's metrics: connections signed in (by protocol), IMAP
//! connections in IDLE, and sessions ended by cause. One [`SessionStats`] per registry
//! (so two daemons in one process count apart); relaxed atomics only: counting never takes
//! a lock and never waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::{KickReason, Protocol};

/// Every kick cause, in the order [`SessionStats::kicks`] reports them
/// ([`KickReason::code`]).
pub const KICK_CAUSES: [&str; 8] = [
    "another-device",
    "admin-kick",
    "password-changed",
    "account-locked",
    "account-disabled",
    "certificate-unbound",
    "certificate-revoked",
    "shutdown",
];

/// The counts of one session registry, shared by the guards it hands out.
#[derive(Debug, Default)]
pub struct SessionStats {
    signed_in: [AtomicI64; 4],
    idling: AtomicI64,
    kicked_sessions: [AtomicU64; KICK_CAUSES.len()],
    kicked_connections: [AtomicU64; KICK_CAUSES.len()],
}

fn protocol_index(protocol: Protocol) -> usize {
    match protocol {
        Protocol::Imap => 0,
        Protocol::Smtp => 1,
        Protocol::Web => 2,
        Protocol::ManageSieve => 3,
    }
}

impl SessionStats {
    /// Connections signed in now with `protocol` (a [`crate::ConnectionGuard`] alive).
    pub fn signed_in_connections(&self, protocol: Protocol) -> i64 {
        self.signed_in[protocol_index(protocol)].load(Ordering::Relaxed)
    }

    /// IMAP connections in IDLE now.
    pub fn idle_connections(&self) -> i64 {
        self.idling.load(Ordering::Relaxed)
    }

    /// Sessions ended and connections they had, by cause: `(cause, sessions, connections)`.
    pub fn kicks(&self) -> Vec<(&'static str, u64, u64)> {
        KICK_CAUSES
            .iter()
            .enumerate()
            .map(|(i, cause)| {
                (
                    *cause,
                    self.kicked_sessions[i].load(Ordering::Relaxed),
                    self.kicked_connections[i].load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Counts one ended session of `connections` connections.
    pub(crate) fn count_kick(&self, reason: &KickReason, connections: usize) {
        if let Some(i) = KICK_CAUSES.iter().position(|c| *c == reason.code()) {
            self.kicked_sessions[i].fetch_add(1, Ordering::Relaxed);
            self.kicked_connections[i].fetch_add(connections as u64, Ordering::Relaxed);
        }
    }
}

/// Counts a signed-in connection while it lives (held by [`crate::ConnectionGuard`]).
#[derive(Debug)]
pub(crate) struct SignedInGauge {
    stats: Arc<SessionStats>,
    index: usize,
}

impl SignedInGauge {
    pub(crate) fn new(stats: Arc<SessionStats>, protocol: Protocol) -> Self {
        let index = protocol_index(protocol);
        stats.signed_in[index].fetch_add(1, Ordering::Relaxed);
        Self { stats, index }
    }

    /// The stats this gauge counts in.
    pub(crate) fn stats(&self) -> &Arc<SessionStats> {
        &self.stats
    }
}

impl Drop for SignedInGauge {
    fn drop(&mut self) {
        self.stats.signed_in[self.index].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts an IMAP connection as idling while it is held (from the IDLE continuation to
/// DONE or the connection's end); made by [`crate::ConnectionGuard::idle_gauge`].
#[derive(Debug)]
pub struct IdleGauge(Arc<SessionStats>);

impl IdleGauge {
    pub(crate) fn new(stats: Arc<SessionStats>) -> Self {
        stats.idling.fetch_add(1, Ordering::Relaxed);
        Self(stats)
    }
}

impl Drop for IdleGauge {
    fn drop(&mut self) {
        self.0.idling.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kick_reason_has_a_counter() {
        let ip = std::net::IpAddr::from([127, 0, 0, 1]);
        let with_address = KickReason::AnotherDevice { ip };
        for reason in [with_address]
            .into_iter()
            .chain(crate::kick::ALL_WITHOUT_ADDRESS)
        {
            assert!(KICK_CAUSES.contains(&reason.code()), "{reason:?}");
        }
    }

    #[test]
    fn gauges_count_while_held_and_only_in_their_own_stats() {
        let one = Arc::new(SessionStats::default());
        let other = SessionStats::default();
        let signed_in = SignedInGauge::new(Arc::clone(&one), Protocol::Smtp);
        let idle = IdleGauge::new(Arc::clone(&one));
        assert_eq!(one.signed_in_connections(Protocol::Smtp), 1);
        assert_eq!(one.idle_connections(), 1);
        assert_eq!(other.signed_in_connections(Protocol::Smtp), 0);
        assert_eq!(other.idle_connections(), 0);
        drop((signed_in, idle));
        assert_eq!(one.signed_in_connections(Protocol::Smtp), 0);
        assert_eq!(one.idle_connections(), 0);
    }
}
