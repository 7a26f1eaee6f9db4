//! The daemon's TOML configuration: typed sections, defaults with reasons, and a checker
//! that reports every problem at once, naming each key (serde alone stops at the first).
//!
//! Every field has a default, so a section deserialises from any subset of its keys. That
//! is what lets [`check`] try each key on its own and report all bad keys in one pass.

mod check;
mod cluster;
pub mod crl_fetch;
mod mailauth;
mod relay;
mod sieve;
mod spam;
mod write;

pub use check::{check, load};
pub use cluster::{ClusterSection, DEFAULT_SLED_CACHE_MB, StoreBackend, StoreSection};
pub use crl_fetch::CrlFetchSection;
pub use mailauth::MailAuthSection;
pub use relay::{RelaySection, SmarthostTlsName, parse_host_port};
pub use sieve::SieveSection;
pub use spam::SpamSection;
pub use write::LocalFiles;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole configuration file. Only `[pki]` is required (it names the CA and CRL
/// directories); every other section has defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`: identity, data and process-wide settings.
    #[serde(default)]
    pub server: ServerSection,
    /// `[tls]`: the server certificate presented on every TLS listener.
    #[serde(default)]
    pub tls: TlsSection,
    /// `[pki]`: GPKI/EPKI trust, policy and revocation for client certificates.
    pub pki: certmail_pki::PkiConfig,
    /// `[limits]`: connection limits shared by every listener.
    #[serde(default)]
    pub limits: LimitsSection,
    /// `[imap]`: IMAP listeners and limits.
    #[serde(default)]
    pub imap: ImapSection,
    /// `[smtp]`: SMTP listeners and limits.
    #[serde(default)]
    pub smtp: SmtpSection,
    /// `[auth]`: sign-in and account security policy, shared by IMAP and SMTP.
    #[serde(default)]
    pub auth: AuthSection,
    /// `[http]`: metrics and autoconfig listeners.
    #[serde(default)]
    pub http: HttpSection,
    /// `[crl_fetch]`: the `certmail crl fetch` job.
    #[serde(default)]
    pub crl_fetch: CrlFetchSection,
    /// `[mailauth]`: SPF/DKIM/DMARC checks on port 25 and DKIM signing keys.
    #[serde(default)]
    pub mailauth: MailAuthSection,
    /// `[relay]`: outbound delivery to remote domains.
    #[serde(default)]
    pub relay: RelaySection,
    /// `[spam]`: spam filtering through rspamd.
    #[serde(default)]
    pub spam: SpamSection,
    /// `[web]`: the self-service HTTPS front (sign-up, passwords, TOTP, org admins).
    #[serde(default)]
    pub web: certmail_web::WebConfig,
    /// `[store]`: which backend holds the mail (sled or PostgreSQL).
    #[serde(default)]
    pub store: StoreSection,
    /// `[cluster]`: this node's name among several sharing one PostgreSQL store.
    #[serde(default)]
    pub cluster: ClusterSection,
    /// `[sieve]`: filters at delivery and the limits on people's scripts.
    #[serde(default)]
    pub sieve: SieveSection,
}

/// `[http]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Prometheus metrics (`GET /metrics`) and readiness (`GET /healthz`: 200, or 503
    /// naming what is not ready) listeners. Keep them on localhost or where only the
    /// monitoring and the load balancer reach them. Empty (the default): none.
    pub metrics_listen: Vec<SocketAddr>,
    /// Mail-client set-up listeners, for the local domains: Thunderbird's autoconfig
    /// (`/.well-known/autoconfig/mail/config-v1.1.xml`, `/mail/config-v1.1.xml`),
    /// Outlook's autodiscover (`POST /autodiscover/autodiscover.xml`) and Apple's profile
    /// (`/apple/certmail.mobileconfig?email=ADDRESS`). Empty (the default): none; put one
    /// behind the organisation's web server or on port 80 of `autoconfig.<domain>`.
    pub autoconfig_listen: Vec<SocketAddr>,
    /// Largest request body these listeners read, bytes (Outlook's autodiscover request
    /// is about 400). Default 16384: room for any client's request, little for a flood.
    /// At most [`HTTP_BODY_CAP`].
    pub max_request_bytes: usize,
}

/// The most `[http] max_request_bytes` may be (1 MiB).
pub const HTTP_BODY_CAP: usize = 1024 * 1024;

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            metrics_listen: Vec::new(),
            autoconfig_listen: Vec::new(),
            max_request_bytes: 16 * 1024,
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// The host name used in greetings, Received headers and Message-IDs.
    pub hostname: String,
    /// Domains whose mail is delivered locally. Port 25 accepts mail only for these.
    pub local_domains: Vec<String>,
    /// Directory of the mail store (sled files). Must be writable by the daemon.
    pub data_dir: PathBuf,
    /// The store's AES-256-GCM key file (32 bytes, mode 0600). Created at first start
    /// if missing. Default: `<data_dir>/store.key`.
    pub key_file: Option<PathBuf>,
    /// Unix socket for `certmail` subcommands on a running daemon (mode 0600).
    /// Default: `<data_dir>/admin.sock`.
    pub admin_socket: Option<PathBuf>,
    /// Log filter when `RUST_LOG` is unset: error, warn, info, debug or trace.
    pub log_level: String,
    /// Log format: "text" (journal-friendly, no timestamps under systemd) or "json".
    pub log_format: String,
    /// Seconds to wait for connections to finish on shutdown before closing them.
    pub shutdown_grace_secs: u64,
    /// Seconds between checks of `[pki] crl_dir` for new or changed CRL files, which are
    /// then loaded without a reload; 0 turns the check off (SIGHUP still reloads).
    pub crl_check_interval_secs: u64,
    /// Days the audit log keeps its records (sign-ins, kicks, admin actions); 0 keeps them
    /// forever.
    pub audit_retention_days: u64,
    /// Networks of TCP load balancers that start each connection with a PROXY protocol
    /// header (HAProxy's v1 or v2) giving the client's address, `["10.0.0.0/8", ...]`.
    /// Connections from these addresses must send one; from anyone else none is read.
    /// Empty (the default): no PROXY headers.
    pub proxy_protocol_from: Vec<String>,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            hostname: "localhost".into(),
            local_domains: Vec::new(),
            data_dir: PathBuf::from("/var/lib/certmail"),
            key_file: None,
            admin_socket: None,
            log_level: "info".into(),
            log_format: "text".into(),
            // Long enough for an SMTP DATA in flight to finish; short enough for systemd's
            // default 90 s stop timeout.
            shutdown_grace_secs: 30,
            // A CRL fetch job replaces files every hour or so; a minute is prompt enough.
            crl_check_interval_secs: 60,
            // A year of sign-in records covers the usual public-sector inspection cycle.
            audit_retention_days: 365,
            proxy_protocol_from: Vec::new(),
        }
    }
}

impl ServerSection {
    /// The store key file, defaulting to `<data_dir>/store.key`.
    pub fn key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("store.key"))
    }
    /// The admin socket path, defaulting to `<data_dir>/admin.sock`.
    pub fn admin_socket(&self) -> PathBuf {
        self.admin_socket
            .clone()
            .unwrap_or_else(|| self.data_dir.join("admin.sock"))
    }
}

/// `[tls]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSection {
    /// PEM file with the server certificate chain (leaf first).
    pub cert: PathBuf,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Default for TlsSection {
    fn default() -> Self {
        Self {
            cert: PathBuf::from("/etc/certmail/tls/server.crt"),
            key: PathBuf::from("/etc/certmail/tls/server.key"),
        }
    }
}

/// `[limits]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Connections open at once across all listeners; more wait in the kernel backlog.
    pub max_connections: usize,
    /// Connections open at once from one IP address; more are refused with a reason.
    pub max_connections_per_ip: usize,
    /// Seconds a client may take to finish the TLS handshake.
    pub tls_handshake_timeout_secs: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        Self {
            // 10,000 idle IMAP connections is a design goal; LimitNOFILE in the unit is
            // sized above this.
            max_connections: 20_000,
            // Thunderbird keeps ~5 IMAP + 1 SMTP per device; offices share NAT addresses.
            max_connections_per_ip: 200,
            tls_handshake_timeout_secs: 30,
        }
    }
}

/// `[imap]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImapSection {
    /// Implicit-TLS listeners (port 993).
    pub listen_tls: Vec<SocketAddr>,
    /// STARTTLS listeners (port 143).
    pub listen_starttls: Vec<SocketAddr>,
    /// Largest APPEND literal in bytes (APPENDLIMIT). Default: the SMTP size limit, so a
    /// large sent message can be saved to Sent.
    pub append_limit: Option<u64>,
    /// Longest command line in bytes, literals excluded.
    pub max_command_line: usize,
    /// Bytes of APPEND literals held in memory across all connections at once.
    pub max_literal_memory: u64,
    /// Largest literal in bytes a client may send before signing in (a login id, a
    /// password or a SASL response); larger ones are refused `NO [TOOBIG]` unread, and
    /// none counts against `max_literal_memory`. 8 KiB by default.
    pub max_literal_before_login: u32,
    /// Bytes of message headers kept in memory for SEARCH, SORT, THREAD and FETCH
    /// ENVELOPE (0: none).
    pub header_cache_memory: u64,
    /// Bad commands before the connection is closed.
    pub max_bad_commands: u32,
    /// Minutes of inactivity before a signed-in connection is logged out (RFC 9051 §5.4:
    /// at least 30).
    pub autologout_minutes: u64,
    /// Seconds of inactivity allowed before sign-in.
    pub preauth_timeout_secs: u64,
    /// The most entries (people, `org:` groups, `anyone`) one mailbox's access list may
    /// hold; sharing with one more (SETACL, `certmail mailbox share`) is refused. 100 by
    /// default: a department shares with its staff one by one, a larger group is one
    /// `org:` entry, and every rights check reads the whole list.
    pub max_acl_entries: usize,
    /// The most live searches (`SEARCH RETURN (UPDATE)`, RFC 5267) one connection keeps;
    /// each is searched again after every command. One more is refused `NO [NOUPDATE]`.
    pub max_search_contexts: usize,
}

impl Default for ImapSection {
    fn default() -> Self {
        Self {
            listen_tls: vec!["0.0.0.0:993".parse().expect("literal address")],
            listen_starttls: vec!["0.0.0.0:143".parse().expect("literal address")],
            append_limit: None,
            max_command_line: certmail_imap::server::DEFAULT_MAX_COMMAND_LINE as usize,
            max_literal_memory: certmail_imap::server::DEFAULT_MAX_LITERAL_MEMORY,
            max_literal_before_login: certmail_imap::server::DEFAULT_MAX_LITERAL_BEFORE_LOGIN,
            header_cache_memory: certmail_imap::server::DEFAULT_HEADER_CACHE_MEMORY,
            max_bad_commands: certmail_imap::server::DEFAULT_MAX_BAD_COMMANDS,
            autologout_minutes: certmail_imap::server::DEFAULT_AUTOLOGOUT_MINUTES,
            preauth_timeout_secs: certmail_imap::server::DEFAULT_PREAUTH_TIMEOUT_SECS,
            max_acl_entries: certmail_imap::server::DEFAULT_MAX_ACL_ENTRIES,
            max_search_contexts: certmail_imap::server::DEFAULT_MAX_SEARCH_CONTEXTS,
        }
    }
}

/// `[smtp]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSection {
    /// Implicit-TLS submission listeners (port 465, RFC 8314).
    pub listen_submissions: Vec<SocketAddr>,
    /// STARTTLS submission listeners (port 587).
    pub listen_submission: Vec<SocketAddr>,
    /// Listeners for other mail servers (port 25); no client certificate is asked for.
    pub listen_mx: Vec<SocketAddr>,
    /// Largest message in bytes (SIZE). 50 MB by default, as large attachments are common.
    pub max_message_size: u64,
    /// Bytes of incoming message bodies held in memory across all connections at once;
    /// a message that finds them spent is refused with 452 4.3.1 (retried later).
    pub max_message_memory: u64,
    /// Recipients per message (RFC 5321 §4.5.3.1.8 requires at least 100).
    pub max_recipients: usize,
    /// Longest command line in bytes (RFC 5321 §4.5.3.1.4: at least 512).
    pub max_line_length: usize,
    /// Errors before the connection is closed with 421.
    pub max_errors: u32,
    /// Commands allowed before sign-in on submission ports.
    pub max_commands_before_auth: u32,
    /// Seconds to wait for a command (RFC 5321 §4.5.3.2.7: at least 5 minutes).
    pub command_timeout_secs: u64,
    /// Seconds to wait for each chunk of DATA (RFC 5321 §4.5.3.2.5: at least 3 minutes).
    pub data_timeout_secs: u64,
    /// Refuse a submitted message whose From: header is not an address of the account.
    pub enforce_from_header: bool,
    /// Storage quota per account in bytes; 0 means none. A full mailbox refuses new mail
    /// with 552 5.2.2.
    pub quota_bytes: u64,
}

impl Default for SmtpSection {
    fn default() -> Self {
        Self {
            listen_submissions: vec!["0.0.0.0:465".parse().expect("literal address")],
            listen_submission: vec!["0.0.0.0:587".parse().expect("literal address")],
            listen_mx: vec!["0.0.0.0:25".parse().expect("literal address")],
            max_message_size: certmail_smtp::inbound::DEFAULT_MAX_MESSAGE_SIZE as u64,
            max_message_memory: 1024 * 1024 * 1024,
            max_recipients: certmail_smtp::inbound::DEFAULT_MAX_RECIPIENTS,
            max_line_length: certmail_smtp::inbound::DEFAULT_MAX_LINE_LENGTH,
            max_errors: certmail_smtp::inbound::DEFAULT_MAX_ERRORS as u32,
            max_commands_before_auth: certmail_smtp::inbound::DEFAULT_MAX_COMMANDS_BEFORE_AUTH
                as u32,
            command_timeout_secs: certmail_smtp::inbound::DEFAULT_COMMAND_TIMEOUT_SECS,
            data_timeout_secs: certmail_smtp::inbound::DEFAULT_DATA_TIMEOUT_SECS,
            enforce_from_header: true,
            quota_bytes: 0,
        }
    }
}

/// What a sign-in from a second device does to the account's live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionPolicyName {
    /// The newcomer wins: every connection of the old session ends (the default).
    Replace,
    /// The newcomer is refused while the old session lives.
    Reject,
}

/// `[auth]`. `certmail reload` applies changes to sign-ins after it, over IMAP and SMTP,
/// except `max_connections_per_session` and the `ip_failure_*` limits, which apply from a
/// restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// Require the account password as well as the certificate (SASL EXTERNAL alone is
    /// then refused and not offered).
    pub require_password: bool,
    /// "replace" (a new device's sign-in ends the old device's session) or "reject" (the
    /// new device is refused while the old session lives).
    pub session_policy: SessionPolicyName,
    /// Connections one signed-in device may hold, IMAP and SMTP together.
    pub max_connections_per_session: usize,
    /// Consecutive failed passwords (made with the account's own certificate) that lock the
    /// account; 0 never locks.
    pub lockout_threshold: u32,
    /// Minutes an automatic lock lasts; 0 keeps it until `certmail account unlock`.
    pub lockout_minutes: u64,
    /// Failed sign-ins from one address (IPv6: one /64) within the window after which
    /// that address is refused with `too_many_failures`; 0 turns the throttle off.
    /// Retries on a locked account check no password and do not count.
    pub ip_failure_limit: u32,
    /// Seconds of the per-address failure window.
    pub ip_failure_window_secs: u64,
    /// Attempts refused before any credential is checked (no certificate, a certificate
    /// the PKI refuses) from one address within the window, after which that address's
    /// attempts without a valid certificate are refused at once; counted apart from
    /// `ip_failure_limit`, so they never lock out certificate holders behind the same
    /// (NAT) address. 0 turns it off.
    pub precredential_failure_limit: u32,
    /// Seconds of the pre-credential failure window.
    pub precredential_failure_window_secs: u64,
    /// Fewest characters in a password an administrator sets.
    pub password_min_length: usize,
    /// Fewest kinds of character among lowercase (or Hangul) letters, uppercase letters,
    /// digits and symbols, 0-4.
    pub password_classes: usize,
    /// Days a password stays valid; 0 = never expires.
    pub password_max_age_days: u64,
    /// Hours a generated temporary password stays valid; 0 = until replaced.
    pub temporary_password_hours: u64,
    /// Whom users should ask, quoted in refusal sentences.
    pub contact: String,
    /// Days a device (certificate + network) that gave a TOTP code stays trusted after it
    /// was last seen.
    pub totp_remember_days: u64,
    /// Devices (certificate + /24 or /64 network) remembered per account; a new one beyond
    /// this pushes out the one least recently seen.
    pub max_devices_per_account: usize,
    /// Seconds a password that matched is remembered for the same account, certificate and
    /// stored hash, so the next sign-in skips argon2 (every other check still runs; a
    /// wrong password is always hashed); 0 turns the sign-in cache off.
    pub signin_cache_secs: u64,
    /// Matched passwords remembered at most (as keyed hashes, ~100 bytes each).
    pub signin_cache_entries: usize,
    /// Networks each organisation may sign in from, `organisation = ["CIDR", ...]`; an
    /// organisation not listed may sign in from anywhere. `certmail account networks`
    /// gives one account its own list, which replaces its organisation's.
    pub networks: BTreeMap<String, Vec<String>>,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            require_password: true,
            session_policy: SessionPolicyName::Replace,
            // Thunderbird: up to 5 IMAP + 1 SMTP, with room for overlapping reconnects.
            max_connections_per_session: 10,
            lockout_threshold: 5,
            // Until an administrator unlocks: a locked account usually means a stolen
            // certificate, which someone should look at.
            lockout_minutes: 0,
            // Offices share NAT addresses: generous enough for typos of many people,
            // low enough to stop password guessing.
            ip_failure_limit: 30,
            ip_failure_window_secs: 300,
            // Ten minutes: a mail program reconnecting all day pays argon2 six times an
            // hour, not at every connection.
            signin_cache_secs: 600,
            signin_cache_entries: 10_000,
            precredential_failure_limit: 100,
            precredential_failure_window_secs: 300,
            password_min_length: 10,
            password_classes: 3,
            // The government's usual rotation (quarterly).
            password_max_age_days: 90,
            // Three days covers a weekend between issuing and first use.
            temporary_password_hours: 72,
            contact: "your mail administrator".into(),
            totp_remember_days: 30,
            // A desktop, a laptop and a phone on a few networks each.
            max_devices_per_account: 20,
            networks: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The sign-in policy from `[auth]`, with a fresh per-IP throttle. Build it once per
    /// daemon and share it between IMAP and SMTP, so their failures count together.
    pub fn sign_in_policy(&self) -> certmail_auth::signin::SignInPolicy {
        let a = &self.auth;
        let networks = a
            .networks
            .iter()
            .map(|(org, list)| {
                let cidrs = certmail_auth::policy::parse_cidrs(list.iter().map(String::as_str))
                    .unwrap_or_default();
                (org.clone(), cidrs)
            })
            .collect();
        let secs = |n: u64, unit: u64| i64::try_from(n.saturating_mul(unit)).unwrap_or(i64::MAX);
        certmail_auth::signin::SignInPolicy {
            require_password: a.require_password,
            lockout_threshold: a.lockout_threshold,
            lockout_secs: secs(a.lockout_minutes, 60),
            password_max_age_secs: secs(a.password_max_age_days, 86_400),
            temporary_password_secs: secs(a.temporary_password_hours, 3600),
            contact: a.contact.clone(),
            password_change_hint: self.web.password_hint(),
            networks,
            throttle: std::sync::Arc::new(certmail_auth::policy::IpThrottle::new(
                a.ip_failure_limit,
                a.ip_failure_window_secs,
            )),
            precredential_throttle: std::sync::Arc::new(certmail_auth::policy::IpThrottle::new(
                a.precredential_failure_limit,
                a.precredential_failure_window_secs,
            )),
            totp_remember_secs: secs(a.totp_remember_days, 86_400),
            max_devices: a.max_devices_per_account,
            signin_cache: certmail_auth::remembered::CacheLimits {
                secs: secs(a.signin_cache_secs, 1),
                entries: a.signin_cache_entries,
            },
            on_lock: None,
            on_new_device: None,
            state: Default::default(),
        }
    }

    /// The password rules from `[auth]`.
    pub fn password_rules(&self) -> certmail_auth::policy::PasswordRules {
        certmail_auth::policy::PasswordRules {
            min_length: self.auth.password_min_length,
            classes: self.auth.password_classes,
        }
    }

    /// The session policy from `[auth]`.
    pub fn session_policy(&self) -> certmail_session::SessionPolicy {
        match self.auth.session_policy {
            SessionPolicyName::Replace => certmail_session::SessionPolicy::Replace,
            SessionPolicyName::Reject => certmail_session::SessionPolicy::Reject,
        }
    }

    /// The effective IMAP APPENDLIMIT: configured, or the SMTP size limit.
    pub fn append_limit(&self) -> u64 {
        self.imap.append_limit.unwrap_or(self.smtp.max_message_size)
    }
}
