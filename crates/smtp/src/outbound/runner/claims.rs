//! The entries this runner is delivering, and its claims on them.
//!
//! Before a round starts deliveries it claims the due entries from the store
//! ([`certmail_store::QueueStore::queue_claim`]): with a store several nodes share, an
//! entry another node is delivering is left to that node, so each message goes out once.
//! While deliveries run, [`QueueRunner::renew_claims`] extends the claims every third of
//! the lease; if this node dies, its claims lapse and another node takes the entries over.
//! A store one process holds (sled) grants every claim and ignores renewals.
//!
//! A node claims no more than its connections can carry at once (`max_connections` ×
//! `max_messages_per_connection` entries in flight), so the other nodes get the rest; a
//! round cut short by that bound looks at the queue again when a connection ends.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::QueueRunner;

/// Entries with deliveries in progress here, each with how many of its jobs (one per
/// destination) are still running.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    jobs: Mutex<HashMap<u64, usize>>,
}

impl InFlight {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<u64, usize>> {
        self.jobs
            .lock()
            .expect("in-flight map lock is never held across a panic")
    }

    /// Whether entry `id` has a delivery in progress.
    pub(super) fn contains(&self, id: u64) -> bool {
        self.map().contains_key(&id)
    }

    /// Records that `jobs` deliveries of entry `id` start.
    pub(super) fn add(&self, id: u64, jobs: usize) {
        self.map().insert(id, jobs);
    }

    /// Records that one delivery of entry `id` ended.
    pub(super) fn done(&self, id: u64) {
        let mut map = self.map();
        if let Some(n) = map.get_mut(&id) {
            *n -= 1;
            if *n == 0 {
                map.remove(&id);
            }
        }
    }

    /// How many entries have deliveries in progress.
    pub(super) fn len(&self) -> usize {
        self.map().len()
    }

    /// The entries with deliveries in progress, ascending.
    pub(super) fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.map().keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

impl QueueRunner {
    /// Extends the claims on the entries in flight every third of the lease, until `stop`.
    /// A failed renewal is logged and tried again next time: the claims live on until their
    /// lease ends.
    pub(super) async fn renew_claims(&self, stop: CancellationToken) {
        loop {
            let lease = self.live().settings.claim_lease;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(lease / 3) => {}
            }
            let ids = self.in_flight.ids();
            if ids.is_empty() {
                continue;
            }
            if let Err(e) = self.store.queue_renew(&ids, lease).await {
                tracing::warn!(error = %e, entries = ids.len(), "renewing outbound queue claims failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InFlight;

    #[test]
    fn an_entry_stays_in_flight_until_its_last_job_ends() {
        let f = InFlight::default();
        f.add(7, 2);
        f.add(3, 1);
        assert_eq!((f.ids(), f.len()), (vec![3, 7], 2));
        f.done(7);
        assert!(
            f.contains(7),
            "one of its two destinations is still running"
        );
        f.done(7);
        f.done(3);
        assert!(!f.contains(7) && f.ids().is_empty());
    }
}
