//! Connections open now and accepted so far, by listener kind: counted by the protocol
//! handlers ([`OpenConnection`]), read by `/metrics`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::services::listener::ListenerKind;

/// Every listener kind, in the order `/metrics` lists them.
pub const KINDS: [ListenerKind; 6] = [
    ListenerKind::ImapTls,
    ListenerKind::ImapStartTls,
    ListenerKind::SubmissionTls,
    ListenerKind::SubmissionStartTls,
    ListenerKind::Mx,
    ListenerKind::Web,
];

static OPENED: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
static OPEN: [AtomicI64; 6] = [const { AtomicI64::new(0) }; 6];

fn index(kind: ListenerKind) -> usize {
    KINDS
        .iter()
        .position(|k| *k == kind)
        .expect("every listener kind is in KINDS")
}

/// Counts a connection as open while it lives.
pub struct OpenConnection(usize);

impl OpenConnection {
    /// A connection accepted on a `kind` listener.
    pub fn new(kind: ListenerKind) -> Self {
        let i = index(kind);
        OPENED[i].fetch_add(1, Ordering::Relaxed);
        OPEN[i].fetch_add(1, Ordering::Relaxed);
        Self(i)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        OPEN[self.0].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Connections accepted so far on `kind` listeners.
pub fn opened_total(kind: ListenerKind) -> u64 {
    OPENED[index(kind)].load(Ordering::Relaxed)
}

/// Connections open now on listeners of the given kinds.
pub fn open_connections(kinds: &[ListenerKind]) -> i64 {
    kinds
        .iter()
        .map(|k| OPEN[index(*k)].load(Ordering::Relaxed))
        .sum()
}
