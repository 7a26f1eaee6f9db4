//! What `/metrics` reports (Prometheus text format 0.0.4).

use std::fmt::Write as _;

use crate::connections::KINDS;
use crate::context::Daemon;

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The metrics text.
pub async fn render(daemon: &Daemon) -> String {
    let mut out = String::new();
    process_gauges(&mut out);
    connection_counters(daemon, &mut out);
    sessions_and_signins(daemon, &mut out).await;
    message_counters(daemon, &mut out);
    relay_counters(daemon, &mut out);
    queue_gauges(daemon, &mut out).await;
    store_counters(daemon, &mut out);
    crate::services::state_metrics::render(daemon, &mut out).await;
    match &daemon.cluster {
        Some(cluster) => crate::services::cluster::with_node_label(&out, &cluster.node),
        None => out,
    }
}

/// The build (`certmail_build_info`) and what Linux says about this process: resident
/// memory (`VmRSS`) and open file descriptors. The commit is `CERTMAIL_COMMIT` at build
/// time (`unknown` without it, e.g. from a tarball).
fn process_gauges(out: &mut String) {
    family(
        out,
        "certmail_build_info",
        "gauge",
        "The running build: version and commit (1).",
    );
    let _ = writeln!(
        out,
        "certmail_build_info{{version=\"{}\",commit=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        option_env!("CERTMAIL_COMMIT").unwrap_or("unknown")
    );
    let rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
    if let Some(kib) = rss_kib {
        family(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
        );
        let _ = writeln!(out, "process_resident_memory_bytes {}", kib * 1024);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        family(
            out,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
        );
        let _ = writeln!(out, "process_open_fds {}", fds.count());
    }
    if let Some((cpu, start)) = process_times() {
        family(
            out,
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent, in seconds.",
        );
        let _ = writeln!(out, "process_cpu_seconds_total {cpu}");
        family(
            out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch, in seconds.",
        );
        let _ = writeln!(out, "process_start_time_seconds {start}");
    }
}

/// Linux's clock ticks per second as `/proc` reports times (`USER_HZ`, fixed at 100 by
/// the kernel's user ABI on every architecture we build for).
const USER_HZ: f64 = 100.0;

/// (CPU seconds used, start time in Unix seconds) from `/proc/self/stat` (fields 14, 15
/// and 22: utime, stime, starttime in ticks since boot) and `/proc/stat`'s `btime`, as the
/// Prometheus client libraries compute them.
fn process_times() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state), so field n is at index n - 3.
    let ticks = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let cpu = (ticks(14)? + ticks(15)?) as f64 / USER_HZ;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<u64>().ok())?;
    let start = boot as f64 + ticks(22)? as f64 / USER_HZ;
    Some((cpu, start))
}

/// Connections accepted and open now, by listener.
fn connection_counters(daemon: &Daemon, out: &mut String) {
    family(
        out,
        "certmail_connections_total",
        "counter",
        "Connections accepted, by listener.",
    );
    for k in KINDS {
        let _ = writeln!(
            out,
            "certmail_connections_total{{listener=\"{}\"}} {}",
            k.name(),
            daemon.connections.opened_total(k)
        );
    }
    family(
        out,
        "certmail_connections_open",
        "gauge",
        "Connections open now, by listener.",
    );
    for k in KINDS {
        let _ = writeln!(
            out,
            "certmail_connections_open{{listener=\"{}\"}} {}",
            k.name(),
            daemon.connections.open_connections(&[k])
        );
    }
}

/// Live sessions, sign-in decisions and failed TLS handshakes.
async fn sessions_and_signins(daemon: &Daemon, out: &mut String) {
    let sessions = certmail_session::SessionRegistry::list(daemon.registry.as_ref()).await;
    family(
        out,
        "certmail_sessions",
        "gauge",
        "Signed-in sessions (devices) now.",
    );
    let _ = writeln!(out, "certmail_sessions {}", sessions.len());
    family(
        out,
        "certmail_signins_total",
        "counter",
        "Sign-in decisions, by outcome and refusal reason.",
    );
    family(
        out,
        "certmail_tls_handshake_failures_total",
        "counter",
        "Failed TLS handshakes on user listeners.",
    );
    for ((outcome, reason), n) in daemon.sign_in_state.outcome_counts() {
        if outcome == "tls_handshake_failed" {
            let _ = writeln!(
                out,
                "certmail_tls_handshake_failures_total{{listener=\"{reason}\"}} {n}"
            );
        } else {
            let _ = writeln!(
                out,
                "certmail_signins_total{{outcome=\"{outcome}\",reason=\"{reason}\"}} {n}"
            );
        }
    }
    let remembered = &daemon.sign_in_state.remembered;
    family(
        out,
        "certmail_signin_cache_hits_total",
        "counter",
        "Sign-ins whose password was recognised without argon2 ([auth] signin_cache_secs).",
    );
    let _ = writeln!(
        out,
        "certmail_signin_cache_hits_total {}",
        remembered.hits()
    );
    family(
        out,
        "certmail_signin_cache_entries",
        "gauge",
        "Matched passwords remembered now (keyed hashes).",
    );
    let _ = writeln!(out, "certmail_signin_cache_entries {}", remembered.len());
}

/// Messages received by SMTP, stored locally and queued for relay.
fn message_counters(daemon: &Daemon, out: &mut String) {
    let c = daemon.mail_counters.message_counts();
    for (name, help, n) in [
        (
            "certmail_messages_received_total",
            "Messages accepted by SMTP (250 sent).",
            c.accepted,
        ),
        (
            "certmail_messages_delivered_total",
            "Local mailbox copies stored.",
            c.local_copies,
        ),
        (
            "certmail_messages_queued_total",
            "Outbound queue entries created.",
            c.queued,
        ),
    ] {
        family(out, name, "counter", help);
        let _ = writeln!(out, "{name} {n}");
    }
}

/// The outbound queue's depth and the age of its oldest entry (read from the store).
async fn queue_gauges(daemon: &Daemon, out: &mut String) {
    let Ok(queue) = daemon.store.queue_list().await else {
        return;
    };
    let now = certmail_auth::now();
    let oldest = queue.iter().map(|e| now - e.created_at).max().unwrap_or(0);
    family(
        out,
        "certmail_queue_depth",
        "gauge",
        "Outbound queue entries waiting.",
    );
    let _ = writeln!(out, "certmail_queue_depth {}", queue.len());
    family(
        out,
        "certmail_queue_oldest_seconds",
        "gauge",
        "Age of the oldest queue entry.",
    );
    let _ = writeln!(out, "certmail_queue_oldest_seconds {oldest}");
}

/// Store writes and flushes (sled group-commits: fewer flushes than writes; on PostgreSQL
/// each write is a COMMIT).
fn store_counters(daemon: &Daemon, out: &mut String) {
    let stats = daemon.store.stats();
    family(
        out,
        "certmail_store_writes_total",
        "counter",
        "Acknowledged store writes.",
    );
    let _ = writeln!(out, "certmail_store_writes_total {}", stats.writes);
    family(
        out,
        "certmail_store_flushes_total",
        "counter",
        "Store flushes to disk: sled group commits (fewer than writes), or PostgreSQL COMMITs.",
    );
    let _ = writeln!(out, "certmail_store_flushes_total {}", stats.flushes);
}

/// The outbound relay's counters (queue depth and age are gauges read from the store).
fn relay_counters(daemon: &Daemon, out: &mut String) {
    let c = daemon.mail_counters.relay_counts();
    for (name, help, n) in [
        (
            "certmail_relay_delivered_total",
            "Outbound recipients the remote server accepted.",
            c.delivered,
        ),
        (
            "certmail_relay_deferred_total",
            "Outbound recipient attempts that failed temporarily (4xx, timeout, no connection).",
            c.deferred,
        ),
        (
            "certmail_relay_failed_total",
            "Outbound recipients that failed for good (5xx or expired).",
            c.failed,
        ),
        (
            "certmail_relay_bounced_total",
            "Failure reports (bounces) stored for senders.",
            c.bounced,
        ),
    ] {
        family(out, name, "counter", help);
        let _ = writeln!(out, "{name} {n}");
    }
}
