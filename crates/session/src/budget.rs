//! A memory budget shared by every connection of the daemon: the octets all IMAP literals
//! (`[imap] max_literal_memory`) or all SMTP message bodies (`[smtp] max_message_memory`)
//! may hold at once. Connections reserve before they buffer and release when done.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

/// A budget of octets shared by every connection of the daemon.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: AtomicU64,
}

impl MemoryBudget {
    /// A budget of `limit` octets.
    pub fn new(limit: u64) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            limit,
            used: AtomicU64::new(0),
        })
    }

    /// Octets reserved right now.
    pub fn in_use(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// Reserves `octets`; false if that would exceed the limit.
    pub fn try_reserve(&self, octets: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(octets)
                    .filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Returns `octets` reserved earlier.
    pub fn release(&self, octets: u64) {
        // Saturating: a release never exceeds what was reserved, but never wrap if it did.
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(octets))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryBudget;

    #[test]
    fn reserves_up_to_its_limit_and_never_wraps() {
        let pool = MemoryBudget::new(100);
        assert!(pool.try_reserve(60));
        assert!(!pool.try_reserve(41));
        assert!(pool.try_reserve(40));
        assert_eq!(pool.in_use(), 100);
        pool.release(60);
        assert_eq!(pool.in_use(), 40);
        pool.release(1000);
        assert_eq!(pool.in_use(), 0);
    }
}
