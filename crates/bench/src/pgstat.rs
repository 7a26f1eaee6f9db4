//! Where PostgreSQL's share of a run goes: its processes' CPU and disk writes (/proc), the
//! WAL it wrote and flushed and the transactions it committed (its own statistics), read
//! before and after the load. Every figure is a delta over the run, so background work in
//! that window (lease renewals, the WAL writer) is in it too.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context as _;

use crate::procstat::{self, TreeStat};

/// How long to wait before reading the statistics views: a backend publishes its counts
/// (`pg_stat_database`, `pg_stat_wal`) at most once a second (PostgreSQL's
/// `PGSTAT_MIN_INTERVAL`), so without the wait the last second's would be missing.
pub const STATS_SETTLE: Duration = Duration::from_millis(1100);

/// PostgreSQL's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PgSnapshot {
    /// The postmaster's process tree.
    pub processes: TreeStat,
    /// The WAL insert position in bytes (`pg_current_wal_lsn()`): exact, no delay.
    pub wal_position: u64,
    /// The next transaction id (`pg_current_snapshot()`'s xmax): one is used per
    /// transaction that wrote, so the delta counts writing transactions exactly.
    pub next_xid: u64,
    /// `pg_stat_database.xact_commit` of the run's database (reading transactions too).
    pub commits: u64,
    /// `pg_stat_wal.wal_records`.
    pub wal_records: Option<u64>,
    /// `pg_stat_wal.wal_fpi`: full-page images (a page's first change after a checkpoint).
    pub wal_fpi: Option<u64>,
    /// `pg_stat_wal.wal_sync`: WAL flushes to disk (PostgreSQL 14–17; 18 moved them).
    pub wal_syncs: Option<u64>,
}

impl PgSnapshot {
    /// Reads the counters of the server whose postmaster is `pid` through `client`
    /// (connected to the run's database), after [`STATS_SETTLE`].
    pub async fn read(client: &tokio_postgres::Client, pid: u32) -> anyhow::Result<PgSnapshot> {
        tokio::time::sleep(STATS_SETTLE).await;
        let row = client
            .query_one(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, \
                        pg_snapshot_xmax(pg_current_snapshot())::text::bigint, \
                        (SELECT xact_commit FROM pg_stat_database \
                          WHERE datname = current_database())",
                &[],
            )
            .await
            .context("reading PostgreSQL's WAL position and commit count")?;
        let wal = client
            .query_one("SELECT * FROM pg_stat_wal", &[])
            .await
            .context("reading pg_stat_wal")?;
        let column = |name: &str| wal.try_get::<_, i64>(name).ok().map(|v| v.max(0) as u64);
        let count =
            |i: usize| -> anyhow::Result<u64> { Ok(row.try_get::<_, i64>(i)?.max(0) as u64) };
        Ok(PgSnapshot {
            processes: procstat::tree(pid)?,
            wal_position: count(0)?,
            next_xid: count(1)?,
            commits: count(2)?,
            wal_records: column("wal_records"),
            wal_fpi: column("wal_fpi"),
            wal_syncs: column("wal_sync"),
        })
    }

    /// What happened between `before` and `self`.
    pub fn since(&self, before: &PgSnapshot) -> PgFigures {
        let delta = |a: Option<u64>, b: Option<u64>| Some(a?.saturating_sub(b?));
        PgFigures {
            processes: self.processes.since(&before.processes),
            wal_bytes: self.wal_position.saturating_sub(before.wal_position),
            writing_transactions: self.next_xid.saturating_sub(before.next_xid),
            commits: self.commits.saturating_sub(before.commits),
            wal_records: delta(self.wal_records, before.wal_records),
            wal_fpi: delta(self.wal_fpi, before.wal_fpi),
            wal_syncs: delta(self.wal_syncs, before.wal_syncs),
        }
    }
}

/// PostgreSQL's work over one run (deltas of [`PgSnapshot`]s).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PgFigures {
    /// CPU and disk writes of the postmaster and its children.
    pub processes: TreeStat,
    /// WAL bytes written.
    pub wal_bytes: u64,
    /// Transactions that wrote (transaction ids used).
    pub writing_transactions: u64,
    /// Commits of the run's database, reading transactions included.
    pub commits: u64,
    /// WAL records.
    pub wal_records: Option<u64>,
    /// Full-page images in the WAL.
    pub wal_fpi: Option<u64>,
    /// WAL flushes to disk.
    pub wal_syncs: Option<u64>,
}

impl PgFigures {
    /// PostgreSQL's rows of the run's table: each figure in all and per accepted message.
    pub fn rows(&self, messages: usize, secs: f64) -> String {
        let n = messages.max(1) as f64;
        let cpu = self.processes.cpu.as_secs_f64();
        let mut t = String::new();
        let mut row = |k: &str, v: String| {
            let _ = writeln!(t, "| {k} | {v} |");
        };
        row(
            "PostgreSQL CPU (postmaster + children)",
            format!(
                "{cpu:.2} s = {:.0}% of one core, {:.2} ms/msg",
                100.0 * cpu / secs.max(1e-9),
                1e3 * cpu / n
            ),
        );
        row(
            "PostgreSQL disk writes (living processes)",
            per_message_kb(self.processes.disk_writes, n),
        );
        row("WAL written", per_message_kb(self.wal_bytes, n));
        row(
            "transactions that wrote (xids)",
            format!(
                "{} = {:.2}/msg",
                self.writing_transactions,
                self.writing_transactions as f64 / n
            ),
        );
        row(
            "commits (pg_stat_database, reads too)",
            format!("{} = {:.2}/msg", self.commits, self.commits as f64 / n),
        );
        if let (Some(records), Some(fpi)) = (self.wal_records, self.wal_fpi) {
            row(
                "WAL records (full-page images)",
                format!("{:.1}/msg ({:.2}/msg)", records as f64 / n, fpi as f64 / n),
            );
        }
        if let Some(syncs) = self.wal_syncs {
            row(
                "WAL flushes (pg_stat_wal wal_sync)",
                format!(
                    "{syncs} = {:.2}/msg, {:.2} writing transactions per flush",
                    syncs as f64 / n,
                    self.writing_transactions as f64 / syncs.max(1) as f64
                ),
            );
        }
        t
    }
}

fn per_message_kb(bytes: u64, n: f64) -> String {
    format!(
        "{:.1} MB = {:.1} KB/msg",
        bytes as f64 / 1e6,
        bytes as f64 / 1e3 / n
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_deltas_and_rows_are_per_message() {
        let before = PgSnapshot {
            processes: TreeStat {
                cpu: Duration::from_millis(500),
                disk_writes: 1_000_000,
            },
            wal_position: 10_000_000,
            next_xid: 740,
            commits: 2_000,
            wal_records: Some(100),
            wal_fpi: Some(5),
            wal_syncs: Some(7),
        };
        let after = PgSnapshot {
            processes: TreeStat {
                cpu: Duration::from_millis(2_500),
                disk_writes: 41_000_000,
            },
            wal_position: 40_000_000,
            next_xid: 2_740,
            commits: 6_000,
            wal_records: Some(20_100),
            wal_fpi: Some(1_005),
            wal_syncs: Some(507),
        };
        let f = after.since(&before);
        assert_eq!(f.writing_transactions, 2_000);
        assert_eq!(f.wal_syncs, Some(500));
        let t = f.rows(1_000, 2.0);
        assert!(
            t.contains("| 2.00 s = 100% of one core, 2.00 ms/msg |"),
            "{t}"
        );
        assert!(t.contains("| WAL written | 30.0 MB = 30.0 KB/msg |"), "{t}");
        assert!(t.contains("| 2000 = 2.00/msg |"), "{t}");
        assert!(t.contains("| 4000 = 4.00/msg |"), "{t}");
        assert!(t.contains("| 20.0/msg (1.00/msg) |"), "{t}");
        assert!(
            t.contains("| 500 = 0.50/msg, 4.00 writing transactions per flush |"),
            "{t}"
        );
    }

    #[test]
    fn a_server_without_wal_sync_counts_leaves_its_rows_out() {
        let zero = PgSnapshot::default();
        let f = zero.since(&zero);
        assert_eq!(f, PgFigures::default());
        let t = f.rows(10, 1.0);
        assert!(!t.contains("wal_sync"), "{t}");
        assert!(
            t.contains("| transactions that wrote (xids) | 0 = 0.00/msg |"),
            "{t}"
        );
    }
}
