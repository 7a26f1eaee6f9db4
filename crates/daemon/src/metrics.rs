//! What `/metrics` reports (Prometheus text format 0.0.4) and the Thunderbird autoconfig
//! file (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::listener::ListenerKind;
use crate::serve::Daemon;

const KINDS: [ListenerKind; 5] = [
    ListenerKind::ImapTls,
    ListenerKind::ImapStartTls,
    ListenerKind::SubmissionTls,
    ListenerKind::SubmissionStartTls,
    ListenerKind::Mx,
];

static OPENED: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
static OPEN: [AtomicI64; 5] = [const { AtomicI64::new(0) }; 5];

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

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The metrics text.
pub async fn render(daemon: &Daemon) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "certmail_connections_total",
        "counter",
        "Connections accepted, by listener.",
    );
    for k in KINDS {
        let _ = writeln!(
            out,
            "certmail_connections_total{{listener=\"{}\"}} {}",
            k.name(),
            OPENED[index(k)].load(Ordering::Relaxed)
        );
    }
    family(
        &mut out,
        "certmail_connections_open",
        "gauge",
        "Connections open now, by listener.",
    );
    for k in KINDS {
        let _ = writeln!(
            out,
            "certmail_connections_open{{listener=\"{}\"}} {}",
            k.name(),
            OPEN[index(k)].load(Ordering::Relaxed)
        );
    }
    let sessions = certmail_session::SessionRegistry::list(daemon.registry.as_ref()).await;
    family(
        &mut out,
        "certmail_sessions",
        "gauge",
        "Signed-in sessions (devices) now.",
    );
    let _ = writeln!(out, "certmail_sessions {}", sessions.len());
    family(
        &mut out,
        "certmail_signins_total",
        "counter",
        "Sign-in decisions, by outcome and refusal reason.",
    );
    family(
        &mut out,
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
    let (accepted, local, queued) = certmail_smtp::inbound::message_counts();
    family(
        &mut out,
        "certmail_messages_received_total",
        "counter",
        "Messages accepted by SMTP (250 sent).",
    );
    let _ = writeln!(out, "certmail_messages_received_total {accepted}");
    family(
        &mut out,
        "certmail_messages_delivered_total",
        "counter",
        "Local mailbox copies stored.",
    );
    let _ = writeln!(out, "certmail_messages_delivered_total {local}");
    family(
        &mut out,
        "certmail_messages_queued_total",
        "counter",
        "Outbound queue entries created.",
    );
    let _ = writeln!(out, "certmail_messages_queued_total {queued}");
    relay_counters(&mut out);
    if let Ok(queue) = daemon.store.queue_list().await {
        let now = certmail_auth::now();
        let oldest = queue.iter().map(|e| now - e.created_at).max().unwrap_or(0);
        family(
            &mut out,
            "certmail_queue_depth",
            "gauge",
            "Outbound queue entries waiting.",
        );
        let _ = writeln!(out, "certmail_queue_depth {}", queue.len());
        family(
            &mut out,
            "certmail_queue_oldest_seconds",
            "gauge",
            "Age of the oldest queue entry.",
        );
        let _ = writeln!(out, "certmail_queue_oldest_seconds {oldest}");
    }
    let stats = daemon.store.stats();
    family(
        &mut out,
        "certmail_store_writes_total",
        "counter",
        "Acknowledged store writes.",
    );
    let _ = writeln!(out, "certmail_store_writes_total {}", stats.writes);
    family(
        &mut out,
        "certmail_store_flushes_total",
        "counter",
        "Store flushes to disk (group commit: fewer than writes).",
    );
    let _ = writeln!(out, "certmail_store_flushes_total {}", stats.flushes);
    crate::state_metrics::render(daemon, &mut out).await;
    out
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

/// Connections open now on listeners of the given kinds.
pub fn open_connections(kinds: &[ListenerKind]) -> i64 {
    kinds
        .iter()
        .map(|k| OPEN[index(*k)].load(Ordering::Relaxed))
        .sum()
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
