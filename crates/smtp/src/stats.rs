//! The SMTP side's counters for the daemon's metrics: messages accepted, local copies and
//! queue entries made by the server, and what happened to outbound recipients. One
//! [`MailCounters`] per daemon (so two daemons in one process count apart), shared by the
//! SMTP context and the queue runner and kept across reloads; relaxed atomics only.

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

/// The counters of one daemon since it started.
#[derive(Debug, Default)]
pub struct MailCounters {
    accepted: AtomicU64,
    local_copies: AtomicU64,
    queued: AtomicU64,
    relay: [AtomicU64; 4],
}

/// Messages the SMTP server accepted and what their delivery made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    /// Messages accepted (`250` sent after DATA or BDAT LAST).
    pub accepted: u64,
    /// Local mailbox copies stored.
    pub local_copies: u64,
    /// Outbound queue entries created.
    pub queued: u64,
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

impl MailCounters {
    /// Counts one accepted message that stored `local_copies` copies and made `queued`
    /// queue entries.
    pub(crate) fn count_accepted(&self, local_copies: usize, queued: usize) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.local_copies
            .fetch_add(local_copies as u64, Ordering::Relaxed);
        self.queued.fetch_add(queued as u64, Ordering::Relaxed);
    }

    /// Counts one outbound `event`.
    pub(crate) fn count(&self, event: Event) {
        self.relay[event as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Messages accepted, local copies stored and queue entries made so far.
    pub fn message_counts(&self) -> MessageCounts {
        MessageCounts {
            accepted: self.accepted.load(Ordering::Relaxed),
            local_copies: self.local_copies.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
        }
    }

    /// The outbound relay's counters so far.
    pub fn relay_counts(&self) -> RelayCounts {
        let n = |e: Event| self.relay[e as usize].load(Ordering::Relaxed);
        RelayCounts {
            delivered: n(Event::Delivered),
            deferred: n(Event::Deferred),
            failed: n(Event::Failed),
            bounced: n(Event::Bounced),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_moves_its_own_counter_of_its_own_daemon() {
        let (one, other) = (MailCounters::default(), MailCounters::default());
        one.count(Event::Delivered);
        one.count(Event::Bounced);
        one.count(Event::Bounced);
        one.count_accepted(2, 1);
        let relay = RelayCounts {
            delivered: 1,
            bounced: 2,
            ..RelayCounts::default()
        };
        assert_eq!(one.relay_counts(), relay);
        let messages = MessageCounts {
            accepted: 1,
            local_copies: 2,
            queued: 1,
        };
        assert_eq!(one.message_counts(), messages);
        assert_eq!(other.relay_counts(), RelayCounts::default());
        assert_eq!(other.message_counts(), MessageCounts::default());
    }
}
