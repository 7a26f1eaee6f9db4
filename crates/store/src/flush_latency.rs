//! How long the group commit's flushes take (sled flush + fdatasync of its log): a
//! fixed-bucket histogram kept in atomics, so recording costs a few relaxed adds on the
//! flusher thread and reading never blocks it. Exported as a Prometheus histogram.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the histogram buckets, in seconds (an SSD flush takes well under a
/// millisecond to a few; a saturated disk or a network volume tens to hundreds).
pub const FLUSH_LATENCY_BOUNDS_SECS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A snapshot of the flush-latency histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushLatency {
    /// Cumulative counts: `buckets[i]` flushes took at most
    /// `FLUSH_LATENCY_BOUNDS_SECS[i]`; the last entry counts every flush (`+Inf`).
    pub buckets: [u64; FLUSH_LATENCY_BOUNDS_SECS.len() + 1],
    /// Total time of every flush, microseconds.
    pub sum_micros: u64,
    /// Number of flushes recorded.
    pub count: u64,
}

/// The recorder the flusher thread writes to.
#[derive(Debug, Default)]
pub struct FlushLatencyRecorder {
    /// Per-bucket (not cumulative) counts; the last is above every bound.
    buckets: [AtomicU64; FLUSH_LATENCY_BOUNDS_SECS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl FlushLatencyRecorder {
    /// Records one flush that took `took`.
    pub fn record(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let i = FLUSH_LATENCY_BOUNDS_SECS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(FLUSH_LATENCY_BOUNDS_SECS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The histogram so far (cumulative buckets, as Prometheus wants them).
    pub fn snapshot(&self) -> FlushLatency {
        let mut out = FlushLatency::default();
        let mut running = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            running += bucket.load(Ordering::Relaxed);
            out.buckets[i] = running;
        }
        out.sum_micros = self.sum_micros.load(Ordering::Relaxed);
        out.count = self.count.load(Ordering::Relaxed);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_land_in_cumulative_buckets() {
        let r = FlushLatencyRecorder::default();
        r.record(Duration::from_micros(300)); // ≤ 0.5 ms
        r.record(Duration::from_millis(3)); // ≤ 5 ms
        r.record(Duration::from_secs(10)); // above every bound
        let s = r.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.buckets[0], 1);
        assert_eq!(s.buckets[2], 1, "2.5 ms bucket holds only the first");
        assert_eq!(s.buckets[3], 2, "5 ms bucket holds both fast ones");
        assert_eq!(s.buckets[FLUSH_LATENCY_BOUNDS_SECS.len() - 1], 2);
        assert_eq!(
            s.buckets[FLUSH_LATENCY_BOUNDS_SECS.len()],
            3,
            "+Inf counts all"
        );
        assert_eq!(s.sum_micros, 300 + 3000 + 10_000_000);
    }
}
