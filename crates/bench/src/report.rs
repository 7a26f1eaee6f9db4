//! Figures from a run: throughput, latency percentiles, the server's memory and CPU.

use std::fmt::Write as _;
use std::time::Duration;

use crate::pgstat::PgFigures;

/// Nearest-rank percentile (`p` in 0..=100) of sorted samples; zero when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Everything measured in one `smtp` run.
#[derive(Debug, Clone)]
pub struct SmtpRun {
    /// Messages the server accepted (250 after DATA).
    pub accepted: usize,
    /// Messages the server refused (any other final reply).
    pub refused: usize,
    /// Message size in bytes (before dot-stuffing).
    pub size: usize,
    /// Concurrent sessions.
    pub concurrency: usize,
    /// Whether the sessions pipelined MAIL, RCPT and DATA.
    pub pipelining: bool,
    /// Wall time from the first MAIL FROM to the last 250.
    pub elapsed: Duration,
    /// Per accepted message, MAIL FROM to the 250 after DATA.
    pub latencies: Vec<Duration>,
    /// Per session, TCP connect to the 235 after AUTH PLAIN.
    pub sign_ins: Vec<Duration>,
    /// Daemons sharing the load (the `server` figures are their sums).
    pub nodes: usize,
    /// The daemon's resident memory once every session had signed in (VmRSS), bytes.
    pub server_rss_signed_in: u64,
    /// The daemon's peak resident memory (VmHWM), bytes.
    pub server_peak_rss: u64,
    /// The daemon's CPU time (user + system) during the load.
    pub server_cpu: Duration,
    /// This benchmark process's CPU time during the load (it shares the machine).
    pub client_cpu: Duration,
    /// Bytes the daemon sent to storage during the load, if the kernel told us.
    pub server_disk_writes: Option<u64>,
    /// PostgreSQL's work during the load, when the store was on PostgreSQL.
    pub database: Option<PgFigures>,
    /// The file system holding the store, e.g. `ext4 on /dev/vda`.
    pub store_fs: String,
    /// Messages found in the recipients' INBOXes afterwards (IMAP STATUS), if counted.
    pub delivered: Option<u64>,
    /// The machine's 1-minute load average when the load ended (others share it).
    pub load_average: Option<f64>,
}

impl SmtpRun {
    /// Accepted messages per second.
    pub fn messages_per_second(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The header of [`SmtpRun::summary_row`]'s table.
    pub fn summary_header() -> &'static str {
        "| msg/s | p50 | p99 | server CPU/msg | server CPU share | peak RSS | load avg |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n"
    }

    /// The header of [`SmtpRun::cost_row`]'s table.
    pub fn cost_header() -> &'static str {
        "| msg/s | daemon CPU/msg | PostgreSQL CPU/msg | writing xacts/msg | commits/msg | \
         WAL/msg | WAL flushes/msg | load avg |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    }

    /// One Markdown row saying where the time of a run on PostgreSQL went, per message;
    /// None for a run on sled.
    pub fn cost_row(&self) -> Option<String> {
        let db = self.database.as_ref()?;
        let n = self.accepted.max(1) as f64;
        Some(format!(
            "| {:.0} | {:.2} ms | {:.2} ms | {:.2} | {:.2} | {:.1} KB | {} | {} |\n",
            self.messages_per_second(),
            1e3 * self.server_cpu.as_secs_f64() / n,
            1e3 * db.processes.cpu.as_secs_f64() / n,
            db.writing_transactions as f64 / n,
            db.commits as f64 / n,
            db.wal_bytes as f64 / 1e3 / n,
            db.wal_syncs
                .map_or_else(|| "?".into(), |s| format!("{:.2}", s as f64 / n)),
            self.load_average
                .map_or_else(|| "?".into(), |l| format!("{l:.1}")),
        ))
    }

    /// One Markdown row with the figures that matter when comparing runs.
    pub fn summary_row(&self) -> String {
        let mut lat = self.latencies.clone();
        lat.sort_unstable();
        let cpu = self.server_cpu.as_secs_f64();
        format!(
            "| {:.0} | {} | {} | {:.2} ms | {:.0}% | {:.1} MiB | {} |\n",
            self.messages_per_second(),
            ms(percentile(&lat, 50.0)),
            ms(percentile(&lat, 99.0)),
            1e3 * cpu / self.accepted.max(1) as f64,
            100.0 * cpu / self.elapsed.as_secs_f64().max(1e-9),
            self.server_peak_rss as f64 / 1048576.0,
            self.load_average
                .map_or_else(|| "?".into(), |l| format!("{l:.1}")),
        )
    }

    /// The figures as a Markdown table (what BENCHMARKS.md records).
    pub fn table(&self) -> String {
        let mut lat = self.latencies.clone();
        lat.sort_unstable();
        let mut sign = self.sign_ins.clone();
        sign.sort_unstable();
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let bytes = (self.accepted * self.size) as u64;
        let mut t = String::new();
        let mut row = |k: &str, v: String| {
            let _ = writeln!(t, "| {k} | {v} |");
        };
        row("figure", "value".into());
        row("---", "---".into());
        row(
            "messages accepted",
            format!("{} of {}", self.accepted, self.accepted + self.refused),
        );
        if let Some(found) = self.delivered {
            row("found in INBOXes (IMAP STATUS)", found.to_string());
        }
        row("message size", format!("{} bytes", self.size));
        row(
            "concurrent TLS sessions",
            format!(
                "{}, {}",
                self.concurrency,
                if self.pipelining {
                    "PIPELINING"
                } else {
                    "no PIPELINING"
                }
            ),
        );
        row("wall time", format!("{secs:.2} s"));
        row(
            "throughput",
            format!("{:.0} msg/s", self.messages_per_second()),
        );
        row(
            "data rate",
            format!(
                "{:.2} MB/s ({} bytes in all)",
                bytes as f64 / 1e6 / secs,
                bytes
            ),
        );
        for (name, p) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)] {
            row(
                &format!("latency {name} (MAIL FROM → 250)"),
                ms(percentile(&lat, p)),
            );
        }
        row("sign-in p50 (connect → 235)", ms(percentile(&sign, 50.0)));
        row(
            "daemons",
            match (self.nodes, self.database.is_some()) {
                (1, false) => "1, store on sled".into(),
                (1, true) => "1, store on PostgreSQL".into(),
                (n, _) => format!("{n} nodes on one PostgreSQL database (server figures: sums)"),
            },
        );
        self.resource_rows(&mut t, secs);
        if let Some(db) = &self.database {
            t.push_str(&db.rows(self.accepted, secs));
        }
        t
    }

    /// The server's and the client's resource use, as rows of [`SmtpRun::table`].
    fn resource_rows(&self, t: &mut String, secs: f64) {
        let mut row = |k: &str, v: String| {
            let _ = writeln!(t, "| {k} | {v} |");
        };
        row(
            "server RSS once all signed in",
            format!("{:.1} MiB", self.server_rss_signed_in as f64 / 1048576.0),
        );
        row(
            "server peak RSS (VmHWM)",
            format!("{:.1} MiB", self.server_peak_rss as f64 / 1048576.0),
        );
        row(
            "server CPU (user+sys)",
            format!(
                "{:.2} s = {:.0}% of one core, {:.2} ms/msg",
                self.server_cpu.as_secs_f64(),
                100.0 * self.server_cpu.as_secs_f64() / secs,
                1e3 * self.server_cpu.as_secs_f64() / self.accepted.max(1) as f64
            ),
        );
        if let Some(w) = self.server_disk_writes {
            row(
                "server disk writes",
                format!(
                    "{:.1} MB = {:.1} KB/msg",
                    w as f64 / 1e6,
                    w as f64 / 1e3 / self.accepted.max(1) as f64
                ),
            );
        }
        row("store file system", self.store_fs.clone());
        if let Some(l) = self.load_average {
            row("machine load average (1 min)", format!("{l:.1}"));
        }
        row(
            "bench client CPU (user+sys)",
            format!(
                "{:.2} s = {:.0}% of one core",
                self.client_cpu.as_secs_f64(),
                100.0 * self.client_cpu.as_secs_f64() / secs
            ),
        );
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(d).collect();
        assert_eq!(percentile(&v, 50.0), d(50));
        assert_eq!(percentile(&v, 99.0), d(99));
        assert_eq!(percentile(&v, 100.0), d(100));
        assert_eq!(percentile(&v, 0.0), d(1));
        assert_eq!(percentile(&[d(7)], 99.0), d(7));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    fn sled_run() -> SmtpRun {
        SmtpRun {
            accepted: 1000,
            refused: 0,
            size: 10_240,
            concurrency: 8,
            pipelining: true,
            elapsed: Duration::from_secs(2),
            latencies: (1..=1000).map(|i| Duration::from_micros(i * 10)).collect(),
            sign_ins: vec![d(30); 8],
            nodes: 1,
            server_rss_signed_in: 32 * 1024 * 1024,
            server_peak_rss: 64 * 1024 * 1024,
            server_cpu: Duration::from_secs(1),
            client_cpu: Duration::from_millis(500),
            server_disk_writes: Some(40_960_000),
            database: None,
            store_fs: "ext4 on /dev/vda".into(),
            delivered: Some(1000),
            load_average: Some(1.5),
        }
    }

    #[test]
    fn table_shows_throughput_and_percentiles() {
        let run = sled_run();
        assert_eq!(run.messages_per_second(), 500.0);
        let t = run.table();
        assert!(t.contains("| throughput | 500 msg/s |"), "{t}");
        assert!(
            t.contains("| found in INBOXes (IMAP STATUS) | 1000 |"),
            "{t}"
        );
        assert!(
            t.contains("| concurrent TLS sessions | 8, PIPELINING |"),
            "{t}"
        );
        assert!(
            t.contains("| latency p50 (MAIL FROM → 250) | 5.00 ms |"),
            "{t}"
        );
        assert!(
            t.contains("| latency p99 (MAIL FROM → 250) | 9.90 ms |"),
            "{t}"
        );
        assert!(t.contains("| server peak RSS (VmHWM) | 64.0 MiB |"), "{t}");
        assert!(
            t.contains("| server RSS once all signed in | 32.0 MiB |"),
            "{t}"
        );
        assert!(t.contains("50% of one core, 1.00 ms/msg"), "{t}");
        assert!(
            t.contains("| server disk writes | 41.0 MB = 41.0 KB/msg |"),
            "{t}"
        );
    }

    #[test]
    fn a_two_node_run_on_postgres_says_where_the_time_went() {
        let sled = sled_run();
        assert_eq!(sled.cost_row(), None);
        assert!(sled.table().contains("| daemons | 1, store on sled |"));
        let run = SmtpRun {
            nodes: 2,
            database: Some(PgFigures {
                processes: crate::procstat::TreeStat {
                    cpu: Duration::from_millis(1500),
                    disk_writes: 0,
                },
                wal_bytes: 25_000_000,
                writing_transactions: 3000,
                commits: 5000,
                wal_records: None,
                wal_fpi: None,
                wal_syncs: Some(400),
            }),
            ..sled
        };
        let t = run.table();
        assert!(
            t.contains("| daemons | 2 nodes on one PostgreSQL database (server figures: sums) |"),
            "{t}"
        );
        assert!(
            t.contains("| 1.50 s = 75% of one core, 1.50 ms/msg |"),
            "{t}"
        );
        assert_eq!(
            run.cost_row().as_deref(),
            Some("| 500 | 1.00 ms | 1.50 ms | 3.00 | 5.00 | 25.0 KB | 0.40 | 1.5 |\n")
        );
    }
}
