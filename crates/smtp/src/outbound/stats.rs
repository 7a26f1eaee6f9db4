//! Counters of the outbound relay since the process started, for the daemon's metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// Something that happened to one outbound recipient or message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A recipient was accepted by the remote server (its final 250).
    Delivered,
    /// A recipient's attempt failed temporarily (4xx, timeout, no connection): retried later.
    Deferred,
    /// A recipient failed for good (5xx, or expired in the queue).
    Failed,
    /// A failure report (bounce) was stored for a sender.
    Bounced,
}

static COUNTS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// Counts one `event`.
pub fn count(event: Event) {
    COUNTS[event as usize].fetch_add(1, Ordering::Relaxed);
}

/// The relay's counters so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayCounts {
    /// Recipients delivered.
    pub delivered: u64,
    /// Recipient attempts deferred.
    pub deferred: u64,
    /// Recipients failed for good.
    pub failed: u64,
    /// Failure reports stored.
    pub bounced: u64,
}

/// The counters since the process started.
pub fn relay_counts() -> RelayCounts {
    let n = |e: Event| COUNTS[e as usize].load(Ordering::Relaxed);
    RelayCounts {
        delivered: n(Event::Delivered),
        deferred: n(Event::Deferred),
        failed: n(Event::Failed),
        bounced: n(Event::Bounced),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_moves_its_own_counter() {
        let before = relay_counts();
        count(Event::Delivered);
        count(Event::Bounced);
        count(Event::Bounced);
        let after = relay_counts();
        assert!(after.delivered > before.delivered);
        assert!(after.bounced >= before.bounced + 2);
    }
}
