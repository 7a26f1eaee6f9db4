//! `[relay]`: outbound delivery of mail for remote domains (the queue runner).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// TLS of the smarthost connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmarthostTlsName {
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// STARTTLS when offered, else cleartext.
    Opportunistic,
}

/// TLS policy of MX delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsPolicyName {
    /// STARTTLS when offered, any certificate, else cleartext (Postfix `may`).
    May,
    /// STARTTLS required, any certificate.
    Encrypt,
    /// STARTTLS required, certificate verified for the MX host.
    Verify,
}

impl TlsPolicyName {
    /// The relay's policy.
    pub fn policy(self) -> certmail_smtp::outbound::TlsPolicy {
        use certmail_smtp::outbound::TlsPolicy;
        match self {
            TlsPolicyName::May => TlsPolicy::May,
            TlsPolicyName::Encrypt => TlsPolicy::Encrypt,
            TlsPolicyName::Verify => TlsPolicy::Verify,
        }
    }
}

/// `[relay]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelaySection {
    /// Run the queue runner. Off, queued mail waits (and `certmail queue` still works).
    pub enabled: bool,
    /// `host:port` of a relay all outbound mail goes through; empty for MX delivery.
    pub smarthost: String,
    /// `starttls` (required), `implicit` or `opportunistic`.
    pub smarthost_tls: SmarthostTlsName,
    /// With TLS to the smarthost, require its certificate to verify for its host name.
    pub smarthost_verify: bool,
    /// Client certificate chain (PEM) presented to the smarthost; empty for none.
    pub smarthost_client_cert: PathBuf,
    /// The key of `smarthost_client_cert` (PEM); empty for none.
    pub smarthost_client_key: PathBuf,
    /// Extra trusted CA certificates (PEM) for verified TLS, e.g. a government relay's CA.
    pub ca_file: PathBuf,
    /// DNS servers (`ip:port`) for MX lookups; empty for those of /etc/resolv.conf.
    pub dns_servers: Vec<SocketAddr>,
    /// The port of MX hosts (25; other values only for tests).
    pub mx_port: u16,
    /// Our EHLO name; empty for `[server] hostname`.
    pub helo_name: String,
    /// TLS policy of MX delivery: `may` (default), `encrypt` or `verify`.
    pub tls_policy: TlsPolicyName,
    /// Per-domain TLS policies, e.g. `{ "mofa.go.kr" = "verify" }`.
    pub domain_tls_policy: BTreeMap<String, TlsPolicyName>,
    /// Look up and apply MTA-STS policies (RFC 8461) in MX delivery; `enforce` policies
    /// take precedence over `tls_policy`. Policies are cached in `<data_dir>/mta-sts`.
    pub mta_sts: bool,
    /// The HTTPS port of `mta-sts.<domain>` (443; other values only for tests).
    pub mta_sts_port: u16,
    /// Seconds for fetching one MTA-STS policy (connection, TLS and body).
    pub mta_sts_timeout_secs: u64,
    /// DANE (RFC 7672): validate DNSSEC in the relay's resolver and honour the TLSA records
    /// of MX hosts reached through secure MX answers; DANE takes precedence over MTA-STS
    /// and `tls_policy`. Needs name servers that pass DNSSEC records on.
    pub dane: bool,
    /// DNSKEY records (zone-file syntax) trusted as DNSSEC anchors; empty for the root
    /// zone's KSKs built into the resolver (other files are for tests and private roots).
    pub dnssec_trust_anchor: PathBuf,
    /// TLS reporting (RFC 8460): count each MX session's TLS result per recipient domain
    /// and day (in `<data_dir>/tls-reports`) and mail the daily report to the domains that
    /// publish `_smtp._tls` with a `mailto:` rua.
    pub tls_reports: bool,
    /// Most domains counted a day (sessions to further domains are not counted).
    pub tls_reports_max_domains: usize,
    /// Seconds to wait after the 1st, 2nd, … failed attempt; the last one repeats.
    pub retry_schedule_secs: Vec<u64>,
    /// Hours after which an undelivered recipient fails (5 days, like Postfix).
    pub expire_hours: u64,
    /// Hours after which the sender is told once that delivery is delayed; 0 for never.
    pub delay_notice_hours: u64,
    /// Outbound connections at once in total.
    pub max_connections: usize,
    /// Outbound connections at once to one destination.
    pub max_connections_per_destination: usize,
    /// Messages sent on one connection before it is closed.
    pub max_messages_per_connection: usize,
    /// More Received: headers than this is a mail loop (RFC 5321 §6.3).
    pub max_received_headers: usize,
    /// Longest wait in seconds between two looks at the queue.
    pub poll_interval_secs: u64,
    /// Seconds for a TCP connection and TLS handshake.
    pub connect_timeout_secs: u64,
    /// Seconds to wait for each reply (RFC 5321 §4.5.3.2: 5 minutes).
    pub command_timeout_secs: u64,
    /// Seconds to wait for the reply after the message (RFC 5321 §4.5.3.2.6: 10 minutes).
    pub data_timeout_secs: u64,
}

impl Default for RelaySection {
    fn default() -> Self {
        Self {
            enabled: true,
            smarthost: String::new(),
            smarthost_tls: SmarthostTlsName::Starttls,
            smarthost_verify: true,
            smarthost_client_cert: PathBuf::new(),
            smarthost_client_key: PathBuf::new(),
            ca_file: PathBuf::new(),
            dns_servers: Vec::new(),
            mx_port: 25,
            helo_name: String::new(),
            // Postfix's `may`: over the Internet most MX certificates do not verify.
            tls_policy: TlsPolicyName::May,
            domain_tls_policy: BTreeMap::new(),
            // A published enforce policy is the domain's own demand for verified TLS.
            mta_sts: true,
            mta_sts_port: 443,
            // RFC 8461 §3.3 suggests "a reasonable timeout"; a minute at most.
            mta_sts_timeout_secs: 30,
            // Off by default: with name servers that strip DNSSEC records every answer
            // would be bogus and all mail would wait; turn it on knowing they pass them on.
            dane: false,
            dnssec_trust_anchor: PathBuf::new(),
            // Reports only go to domains that ask for them.
            tls_reports: true,
            // One small JSON entry each: bounds the file and the day's mail.
            tls_reports_max_domains: 10_000,
            // Minutes growing to hours, like Postfix and Stalwart.
            retry_schedule_secs: certmail_smtp::outbound::DEFAULT_RETRY_SCHEDULE.to_vec(),
            expire_hours: 120,
            delay_notice_hours: 4,
            max_connections: 20,
            max_connections_per_destination: 2,
            max_messages_per_connection: 50,
            max_received_headers: 50,
            poll_interval_secs: 30,
            connect_timeout_secs: 30,
            command_timeout_secs: 300,
            data_timeout_secs: 600,
        }
    }
}

/// Checks `[relay]`: ranges, the smarthost address, files.
pub(super) fn validate(r: &RelaySection, bad: &mut impl FnMut(&str, String)) {
    if !r.smarthost.is_empty() && parse_host_port(&r.smarthost).is_none() {
        bad(
            "[relay] smarthost",
            format!(
                "`{}` is not host:port (e.g. relay.example.go.kr:25)",
                r.smarthost
            ),
        );
    }
    let cert = !r.smarthost_client_cert.as_os_str().is_empty();
    let key = !r.smarthost_client_key.as_os_str().is_empty();
    if cert != key {
        bad(
            "[relay] smarthost_client_key",
            "set smarthost_client_cert and smarthost_client_key together".into(),
        );
    }
    for (name, path) in [
        ("[relay] smarthost_client_cert", &r.smarthost_client_cert),
        ("[relay] smarthost_client_key", &r.smarthost_client_key),
        ("[relay] ca_file", &r.ca_file),
        ("[relay] dnssec_trust_anchor", &r.dnssec_trust_anchor),
    ] {
        if !path.as_os_str().is_empty() && !path.is_file() {
            bad(
                name,
                format!("{} does not exist or is not a file", path.display()),
            );
        }
    }
    if r.retry_schedule_secs.is_empty() || r.retry_schedule_secs.contains(&0) {
        bad(
            "[relay] retry_schedule_secs",
            "needs at least one step, each at least 1 second".into(),
        );
    }
    if r.expire_hours == 0 {
        bad("[relay] expire_hours", "must be at least 1".into());
    }
    for (key, n) in [
        ("[relay] max_connections", r.max_connections),
        (
            "[relay] max_connections_per_destination",
            r.max_connections_per_destination,
        ),
        (
            "[relay] max_messages_per_connection",
            r.max_messages_per_connection,
        ),
        ("[relay] max_received_headers", r.max_received_headers),
        ("[relay] tls_reports_max_domains", r.tls_reports_max_domains),
    ] {
        if n == 0 {
            bad(key, "must be at least 1".into());
        }
    }
    for (key, n) in [
        ("[relay] poll_interval_secs", r.poll_interval_secs),
        ("[relay] connect_timeout_secs", r.connect_timeout_secs),
        ("[relay] command_timeout_secs", r.command_timeout_secs),
        ("[relay] data_timeout_secs", r.data_timeout_secs),
        ("[relay] mta_sts_timeout_secs", r.mta_sts_timeout_secs),
    ] {
        if n == 0 {
            bad(key, "must be at least 1 second".into());
        }
    }
}

/// `host:port` → (host, port).
pub fn parse_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then_some(())?;
    Some((host.to_string(), port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::super::check;

    #[test]
    fn relay_mistakes_are_each_reported_by_key() {
        let text = "[pki]\ncerts_dir = \"/nonexistent\"\ncrl_dir = \"/nonexistent\"\n\
                    [relay]\nsmarthost = \"relay.go.kr\"\nsmarthost_tls = \"always\"\n\
                    retry_schedule_secs = []\nsmarthost_client_cert = \"/nonexistent/c.pem\"\n";
        let problems = check(text).expect_err("bad keys");
        let relay: Vec<_> = problems
            .iter()
            .filter(|p| p.key.starts_with("[relay]"))
            .map(|p| p.key.as_str())
            .collect();
        assert_eq!(
            relay,
            [
                "[relay] smarthost_tls",
                "[relay] smarthost",
                "[relay] smarthost_client_key",
                "[relay] smarthost_client_cert",
                "[relay] retry_schedule_secs"
            ]
        );
    }

    #[test]
    fn host_port_parses() {
        assert_eq!(
            super::parse_host_port("relay.go.kr:587"),
            Some(("relay.go.kr".into(), 587))
        );
        assert_eq!(super::parse_host_port("[::1]:25"), Some(("::1".into(), 25)));
        assert_eq!(super::parse_host_port("relay.go.kr"), None);
    }
}
