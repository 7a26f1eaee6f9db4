//! What `/metrics` reports (Prometheus text format 0.0.4) and the Thunderbird autoconfig
//! file (<https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat>).

use std::fmt::Write as _;

use crate::context::Daemon;
use crate::services::connections;

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The metrics text.
pub async fn render(daemon: &Daemon) -> String {
    let mut out = String::new();
    process_gauges(&mut out);
    connection_counters(&mut out);
    sessions_and_signins(daemon, &mut out).await;
    message_counters(&mut out);
    relay_counters(&mut out);
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
}

/// Connections accepted and open now, by listener.
fn connection_counters(out: &mut String) {
    family(
        out,
        "certmail_connections_total",
        "counter",
        "Connections accepted, by listener.",
    );
    for k in connections::KINDS {
        let _ = writeln!(
            out,
            "certmail_connections_total{{listener=\"{}\"}} {}",
            k.name(),
            connections::opened_total(k)
        );
    }
    family(
        out,
        "certmail_connections_open",
        "gauge",
        "Connections open now, by listener.",
    );
    for k in connections::KINDS {
        let _ = writeln!(
            out,
            "certmail_connections_open{{listener=\"{}\"}} {}",
            k.name(),
            connections::open_connections(&[k])
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
}

/// Messages received by SMTP, stored locally and queued for relay.
fn message_counters(out: &mut String) {
    let (accepted, local, queued) = certmail_smtp::inbound::message_counts();
    for (name, help, n) in [
        (
            "certmail_messages_received_total",
            "Messages accepted by SMTP (250 sent).",
            accepted,
        ),
        (
            "certmail_messages_delivered_total",
            "Local mailbox copies stored.",
            local,
        ),
        (
            "certmail_messages_queued_total",
            "Outbound queue entries created.",
            queued,
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

/// Store writes and flushes (group commit: fewer flushes than writes).
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
        "Store flushes to disk (group commit: fewer than writes).",
    );
    let _ = writeln!(out, "certmail_store_flushes_total {}", stats.flushes);
}

/// The outbound relay's counters (queue depth and age are gauges read from the store).
fn relay_counters(out: &mut String) {
    let c = certmail_smtp::outbound::relay_counts();
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

/// Thunderbird's autoconfig file for the domain of `emailaddress` (query) or of the Host
/// header (`autoconfig.<domain>`); `None` when it is not a local domain.
pub fn autoconfig(daemon: &Daemon, query: &str, host: &str) -> Option<String> {
    let config = daemon.config();
    let from_query = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "emailaddress")
        .and_then(|(_, v)| {
            v.replace("%40", "@")
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
        });
    let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
    let domain = from_query.unwrap_or_else(|| {
        host.strip_prefix("autoconfig.")
            .unwrap_or(&host)
            .to_string()
    });
    if !config
        .server
        .local_domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&domain))
    {
        return None;
    }
    let name = &config.server.hostname;
    let imap = config
        .imap
        .listen_tls
        .first()
        .map(|a| a.port())
        .filter(|p| *p != 0)
        .unwrap_or(993);
    let smtp = config
        .smtp
        .listen_submissions
        .first()
        .map(|a| a.port())
        .filter(|p| *p != 0)
        .unwrap_or(465);
    // The password is the second factor: Thunderbird signs in with it and presents the
    // certificate the server asks for during the TLS handshake.
    Some(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{domain}">
    <domain>{domain}</domain>
    <displayName>{name}</displayName>
    <displayShortName>{domain}</displayShortName>
    <incomingServer type="imap">
      <hostname>{name}</hostname>
      <port>{imap}</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>{name}</hostname>
      <port>{smtp}</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"#
    ))
}
