//! \Recent (RFC 3501 §2.3.2): a message is recent in the first session that selects its
//! mailbox after it arrived, and in no other. The store does not keep it (it is session
//! state), so the daemon remembers per mailbox the highest UID some session has claimed.
//! After a restart every message above the remembered UID (none) counts as new once more,
//! which RFC 3501 allows (\Recent is advisory).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Highest UID claimed per (account, UIDVALIDITY). UIDVALIDITY is unique per mailbox in the
/// store, so a renamed mailbox keeps its entry and a re-created one starts afresh.
#[derive(Debug, Default)]
pub struct RecentTracker {
    claimed: Mutex<HashMap<(String, u32), u32>>,
}

impl RecentTracker {
    /// A tracker with nothing claimed.
    pub fn new() -> RecentTracker {
        RecentTracker::default()
    }

    /// Claims every UID up to `up_to` for the caller; returns the highest UID claimed before
    /// (UIDs above it and up to `up_to` are recent for the caller).
    pub fn claim(&self, account: &str, uid_validity: u32, up_to: u32) -> u32 {
        let mut map = self.claimed.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry((account.to_owned(), uid_validity)).or_insert(0);
        let before = *entry;
        *entry = before.max(up_to);
        before
    }

    /// The highest UID claimed so far, without claiming (EXAMINE, STATUS).
    pub fn peek(&self, account: &str, uid_validity: u32) -> u32 {
        let map = self.claimed.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&(account.to_owned(), uid_validity))
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_claimer_sees_a_message_as_recent() {
        let t = RecentTracker::new();
        assert_eq!(t.claim("hong", 7, 3), 0, "first session: 1..=3 recent");
        assert_eq!(t.claim("hong", 7, 3), 3, "second session: none recent");
        assert_eq!(t.peek("hong", 7), 3);
        assert_eq!(t.claim("hong", 7, 5), 3, "4 and 5 are recent for this one");
        assert_eq!(t.peek("kim", 7), 0);
    }
}
