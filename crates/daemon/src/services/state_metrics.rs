//! The operational part of `/metrics`: connections by protocol and state, kicks by cause,
//! the store's size, its flush-latency histogram, and each CRL's nextUpdate. Appended to
//! [`crate::services::metrics::render`]'s text.

use std::fmt::Write as _;

use certmail_session::Protocol;

use crate::context::Daemon;
use crate::services::listener::ListenerKind;

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Appends the families of this module to `out`.
pub async fn render(daemon: &Daemon, out: &mut String) {
    connections_by_state(daemon, out);
    kicks(daemon, out);
    // A store that does not answer (PostgreSQL down) leaves the family out; /healthz says why.
    if let Ok(size) = daemon.store.size_bytes().await {
        family(
            out,
            "certmail_store_size_bytes",
            "gauge",
            "Bytes the store takes: sled's files on disk, or the PostgreSQL database (pg_database_size).",
        );
        let _ = writeln!(out, "certmail_store_size_bytes {size}");
    }
    flush_latency(out, &daemon.store.stats().flush_latency);
    crl_next_update(daemon, out);
    memory_pools(daemon, out);
}

/// `certmail_memory_pool_bytes{pool}`: what the bounded in-memory pools hold now, to set
/// `[smtp] max_message_memory`, `[imap] max_literal_memory` and `header_cache_memory` by;
/// and argon2's working memory kept between sign-ins (at most 4 × 19 MiB).
fn memory_pools(daemon: &Daemon, out: &mut String) {
    family(
        out,
        "certmail_memory_pool_bytes",
        "gauge",
        "Bytes held now by each bounded memory pool: smtp_messages (bodies arriving), imap_literals (APPEND literals arriving), imap_headers (the header cache), argon2_buffers (password checks' working memory, kept for the next check).",
    );
    let smtp = daemon
        .smtp
        .read()
        .map(|c| c.message_memory.in_use())
        .unwrap_or_default();
    let (literals, headers) = daemon
        .imap
        .read()
        .map(|c| c.memory_in_use())
        .unwrap_or_default();
    for (pool, bytes) in [
        ("smtp_messages", smtp),
        ("imap_literals", literals),
        ("imap_headers", headers),
        (
            "argon2_buffers",
            daemon.sign_in_state.passwords.memory_in_use(),
        ),
    ] {
        let _ = writeln!(out, "certmail_memory_pool_bytes{{pool=\"{pool}\"}} {bytes}");
    }
}

/// `certmail_crl_next_update_timestamp_seconds{file}`: when each CRL in force expires, so
/// an alert can fire before sign-ins fail with `revocation_unknown`.
fn crl_next_update(daemon: &Daemon, out: &mut String) {
    family(
        out,
        "certmail_crl_next_update_timestamp_seconds",
        "gauge",
        "nextUpdate of each CRL in force (Unix time), by file name in [pki] crl_dir.",
    );
    for crl in daemon.tls.current().pki.crls() {
        let file = crl
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Prometheus label values escape backslash, double quote and newline.
        let file = file
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = writeln!(
            out,
            "certmail_crl_next_update_timestamp_seconds{{file=\"{file}\"}} {}",
            crl.next_update
        );
    }
}

/// `certmail_connections{protocol, state}`: open connections that have not signed in
/// (`pre_auth`; every MX connection stays there), signed in (`authenticated`), and IMAP
/// connections in IDLE (`idle`, not counted in `authenticated`).
fn connections_by_state(daemon: &Daemon, out: &mut String) {
    family(
        out,
        "certmail_connections",
        "gauge",
        "Open connections by protocol and state (pre_auth, authenticated, idle).",
    );
    let stats = daemon.registry.stats();
    let imap_open = daemon
        .connections
        .open_connections(&[ListenerKind::ImapTls, ListenerKind::ImapStartTls]);
    let smtp_open = daemon.connections.open_connections(&[
        ListenerKind::SubmissionTls,
        ListenerKind::SubmissionStartTls,
        ListenerKind::Mx,
    ]);
    let idle = stats.idle_connections().max(0);
    for (protocol, open) in [(Protocol::Imap, imap_open), (Protocol::Smtp, smtp_open)] {
        let signed_in = stats.signed_in_connections(protocol).max(0);
        let idle = if protocol == Protocol::Imap { idle } else { 0 };
        let name = protocol.as_str().to_ascii_lowercase();
        for (state, n) in [
            ("pre_auth", (open - signed_in).max(0)),
            ("authenticated", (signed_in - idle).max(0)),
            ("idle", idle),
        ] {
            if protocol == Protocol::Smtp && state == "idle" {
                continue;
            }
            let _ = writeln!(
                out,
                "certmail_connections{{protocol=\"{name}\",state=\"{state}\"}} {n}"
            );
        }
    }
}

/// `certmail_kicks_total{cause}` (sessions ended) and the connections they had.
fn kicks(daemon: &Daemon, out: &mut String) {
    let all = daemon.registry.stats().kicks();
    family(
        out,
        "certmail_kicks_total",
        "counter",
        "Sessions ended by the server, by cause (another device, admin, revocation, ...).",
    );
    for (cause, sessions, _) in &all {
        let _ = writeln!(out, "certmail_kicks_total{{cause=\"{cause}\"}} {sessions}");
    }
    family(
        out,
        "certmail_kicked_connections_total",
        "counter",
        "Connections closed by those kicks, by cause.",
    );
    for (cause, _, connections) in &all {
        let _ = writeln!(
            out,
            "certmail_kicked_connections_total{{cause=\"{cause}\"}} {connections}"
        );
    }
}

/// `certmail_store_flush_seconds`: a Prometheus histogram of flushes to disk (sled group
/// commits, PostgreSQL COMMITs).
fn flush_latency(out: &mut String, h: &certmail_store::FlushLatency) {
    family(
        out,
        "certmail_store_flush_seconds",
        "histogram",
        "Time of each flush to disk: a sled group commit (flush + fdatasync), or a PostgreSQL COMMIT (WAL flush).",
    );
    for (bound, count) in certmail_store::FLUSH_LATENCY_BOUNDS_SECS
        .iter()
        .zip(h.buckets.iter())
    {
        let _ = writeln!(
            out,
            "certmail_store_flush_seconds_bucket{{le=\"{bound}\"}} {count}"
        );
    }
    let _ = writeln!(
        out,
        "certmail_store_flush_seconds_bucket{{le=\"+Inf\"}} {}",
        h.count
    );
    let _ = writeln!(
        out,
        "certmail_store_flush_seconds_sum {}",
        h.sum_micros as f64 / 1e6
    );
    let _ = writeln!(out, "certmail_store_flush_seconds_count {}", h.count);
}
