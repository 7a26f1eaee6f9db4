//! [`FilingObserver`]: told when a user files messages into another mailbox (COPY, MOVE),
//! so that a spam filter can learn from what users move into and out of Junk. The daemon
//! plugs one into the [`crate::server::ImapContext`]; without one nothing is told.

/// Hears about messages a user copied or moved between mailboxes.
pub trait FilingObserver: Send + Sync + 'static {
    /// `uids` of mailbox `to` of `account` were just copied or moved there from mailbox
    /// `from`. Called on the IMAP command's path after it succeeded: it must return at once
    /// (queue the work elsewhere), never wait for the network or the store.
    fn filed(&self, account: &str, from: &str, to: &str, uids: &[u32]);
}
