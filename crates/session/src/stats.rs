//! Process-wide gauges and counters for the daemon's metrics: connections signed in (by
//! protocol), IMAP connections in IDLE, and sessions ended by cause. Relaxed atomics only:
//! counting never takes a lock and never waits.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::{KickReason, Protocol};

/// Every kick cause, in the order [`kicks`] reports them ([`KickReason::code`]).
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

static SIGNED_IN: [AtomicI64; 3] = [const { AtomicI64::new(0) }; 3];
static IDLING: AtomicI64 = AtomicI64::new(0);
static KICKED_SESSIONS: [AtomicU64; KICK_CAUSES.len()] =
    [const { AtomicU64::new(0) }; KICK_CAUSES.len()];
static KICKED_CONNECTIONS: [AtomicU64; KICK_CAUSES.len()] =
    [const { AtomicU64::new(0) }; KICK_CAUSES.len()];

fn protocol_index(protocol: Protocol) -> usize {
    match protocol {
        Protocol::Imap => 0,
        Protocol::Smtp => 1,
        Protocol::Web => 2,
    }
}

/// Connections signed in now with `protocol` (a [`crate::ConnectionGuard`] alive).
pub fn signed_in_connections(protocol: Protocol) -> i64 {
    SIGNED_IN[protocol_index(protocol)].load(Ordering::Relaxed)
}

/// IMAP connections in IDLE now.
pub fn idle_connections() -> i64 {
    IDLING.load(Ordering::Relaxed)
}

/// Sessions ended and connections they had, by cause: `(cause, sessions, connections)`.
pub fn kicks() -> Vec<(&'static str, u64, u64)> {
    KICK_CAUSES
        .iter()
        .enumerate()
        .map(|(i, cause)| {
            (
                *cause,
                KICKED_SESSIONS[i].load(Ordering::Relaxed),
                KICKED_CONNECTIONS[i].load(Ordering::Relaxed),
            )
        })
        .collect()
}

/// Counts one ended session of `connections` connections.
pub(crate) fn count_kick(reason: &KickReason, connections: usize) {
    if let Some(i) = KICK_CAUSES.iter().position(|c| *c == reason.code()) {
        KICKED_SESSIONS[i].fetch_add(1, Ordering::Relaxed);
        KICKED_CONNECTIONS[i].fetch_add(connections as u64, Ordering::Relaxed);
    }
}

/// Counts a signed-in connection while it lives (held by [`crate::ConnectionGuard`]).
#[derive(Debug)]
pub(crate) struct SignedInGauge(usize);

impl SignedInGauge {
    pub(crate) fn new(protocol: Protocol) -> Self {
        let i = protocol_index(protocol);
        SIGNED_IN[i].fetch_add(1, Ordering::Relaxed);
        Self(i)
    }
}

impl Drop for SignedInGauge {
    fn drop(&mut self) {
        SIGNED_IN[self.0].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts an IMAP connection as idling while it is held (from the IDLE continuation to
/// DONE or the connection's end).
#[derive(Debug)]
pub struct IdleGauge(());

impl IdleGauge {
    /// Starts counting one idling connection.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        IDLING.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for IdleGauge {
    fn drop(&mut self) {
        IDLING.fetch_sub(1, Ordering::Relaxed);
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
}
