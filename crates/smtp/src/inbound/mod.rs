//! The SMTP server's I/O side: sockets, TLS, sign-in, recipients and delivery around the
//! sans-IO [`crate::proto::Session`].
//!
//! One task per connection reads bytes, feeds the session, and carries out its actions:
//! writing replies, the STARTTLS handshake, sign-in decisions, recipient checks, spooling
//! the body and storing it. The `250` after DATA/BDAT LAST is written only after the store
//! has flushed the delivery (group commit). A kicked session (another device signed in)
//! hears `421 4.7.0` at once, even mid-DATA, and nothing partial is stored.
//!
//! On port 25, when the context has a [`crate::mailauth::InboundVerifier`], each message is
//! checked (SPF, DKIM, DMARC) after DATA and before it is stored: refused, delivered to
//! Junk, or delivered with an `Authentication-Results:` header on top. Then, when the
//! context has a [`crate::spam::Rspamd`], rspamd scans it (port 25, and submissions when
//! configured): refused, deferred, delivered to Junk or delivered, with `X-Spam-*` fields.
//! Then each local recipient's Sieve script decides where its copy goes ([`filter`]); the
//! server's own mail to local accounts goes through the same plan ([`own_mail`]).

mod authenticate;
mod autoreply;
mod connection;
mod decide;
mod deliver;
pub(crate) mod dsn;
pub mod filter;
mod headers;
pub mod own_mail;
pub(crate) mod recipients;
mod spam;
pub mod spool;
mod state;

pub use connection::{Connection, serve};

use std::sync::Arc;

use certmail_session::{ChangeHub, SessionPolicy, SessionRegistry};
use certmail_store::Store;

impl SmtpContext {
    /// This context drawing on `memory` (the one the previous context had, after a reload).
    pub fn with_message_memory(mut self, memory: Arc<spool::MessageMemory>) -> SmtpContext {
        self.message_memory = memory;
        self
    }

    /// This context counting in `counters` (the daemon's one, kept across reloads).
    pub fn with_counters(mut self, counters: Arc<crate::stats::MailCounters>) -> SmtpContext {
        self.counters = counters;
        self
    }

    /// This context waking the queue runners of `queue` (the daemon's one).
    pub fn with_queue_signals(mut self, queue: Arc<crate::outbound::QueueSignals>) -> SmtpContext {
        self.queue = queue;
        self
    }
}

pub use crate::proto::config::{DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_RECIPIENTS};
/// Default longest command line in bytes (RFC 5321 §4.5.3.1.4: at least 512).
pub const DEFAULT_MAX_LINE_LENGTH: usize = 4096;
/// Default errors before the connection is closed with 421.
pub const DEFAULT_MAX_ERRORS: usize = 20;
/// Default commands allowed before sign-in on submission ports.
pub const DEFAULT_MAX_COMMANDS_BEFORE_AUTH: usize = 50;
/// Default seconds to wait for a command (RFC 5321 §4.5.3.2.7: at least 5 minutes).
pub const DEFAULT_COMMAND_TIMEOUT_SECS: u64 = 300;
/// Default seconds to wait for each chunk of DATA (RFC 5321 §4.5.3.2.5: at least 3 minutes).
pub const DEFAULT_DATA_TIMEOUT_SECS: u64 = 180;

/// Settings of the SMTP server (from the daemon's `[smtp]` and `[server]` sections).
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Our host name (greeting, Received, Message-ID).
    pub hostname: String,
    /// Domains delivered locally, lowercase.
    pub local_domains: Vec<String>,
    /// Largest message in bytes.
    pub max_message_size: usize,
    /// Recipients per message.
    pub max_recipients: usize,
    /// Longest command line.
    pub max_line_length: usize,
    /// Errors before 421.
    pub max_errors: usize,
    /// Commands before sign-in.
    pub max_commands_before_auth: usize,
    /// Seconds to wait for a command.
    pub command_timeout_secs: u64,
    /// Seconds to wait for each piece of DATA.
    pub data_timeout_secs: u64,
    /// Refuse submitted messages whose From: is not the account's.
    pub enforce_from_header: bool,
    /// Seconds for a TLS handshake.
    pub tls_handshake_timeout_secs: u64,
    /// Sign-in policy (`[auth]`): the password requirement, lockout, password age,
    /// networks and the per-IP throttle shared with IMAP.
    pub sign_in: certmail_auth::signin::SignInPolicy,
    /// What a sign-in from another device does to the live session.
    pub session_policy: SessionPolicy,
    /// Per-account storage quota in bytes (0 = none).
    pub quota_bytes: u64,
    /// Sieve filters at delivery (`[sieve]`).
    pub sieve: filter::SieveSettings,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            hostname: "localhost".into(),
            local_domains: Vec::new(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            max_line_length: DEFAULT_MAX_LINE_LENGTH,
            max_errors: DEFAULT_MAX_ERRORS,
            max_commands_before_auth: DEFAULT_MAX_COMMANDS_BEFORE_AUTH,
            command_timeout_secs: DEFAULT_COMMAND_TIMEOUT_SECS,
            data_timeout_secs: DEFAULT_DATA_TIMEOUT_SECS,
            enforce_from_header: true,
            tls_handshake_timeout_secs: 30,
            sign_in: certmail_auth::signin::SignInPolicy::default(),
            session_policy: SessionPolicy::Replace,
            quota_bytes: 0,
            sieve: filter::SieveSettings::default(),
        }
    }
}

/// What every SMTP connection shares.
pub struct SmtpContext {
    /// The mail store.
    pub store: Arc<dyn Store>,
    /// The single-active-session registry.
    pub registry: Arc<dyn SessionRegistry>,
    /// Where deliveries are announced (IDLE wakes on them).
    pub hub: ChangeHub,
    /// Settings (replaced on reload by building a new context).
    pub settings: SmtpSettings,
    /// SPF/DKIM/DMARC checks of mail on port 25; `None` delivers it unchecked.
    pub mail_auth: Option<Arc<dyn crate::mailauth::InboundVerifier>>,
    /// The spam filter (`[spam] scan_url`); `None` delivers unscanned.
    pub spam: Option<Arc<crate::spam::Rspamd>>,
    /// The memory all connections' message bodies share (`max_message_memory`); keep the
    /// same one across reloads.
    pub message_memory: Arc<spool::MessageMemory>,
    /// Wakes the outbound queue's runners when a delivery queued mail; the daemon's one
    /// (keep the same one across reloads).
    pub queue: Arc<crate::outbound::QueueSignals>,
    /// Messages accepted, copies stored and entries queued: the daemon's one (keep the
    /// same one across reloads).
    pub counters: Arc<crate::stats::MailCounters>,
}

impl SmtpContext {
    /// Where the server's own mail goes (reports, notices), with these settings.
    pub fn postbox(&self) -> crate::notice::Postbox<'_> {
        crate::notice::Postbox {
            store: self.store.as_ref(),
            hub: Some(&self.hub),
            hostname: &self.settings.hostname,
            local_domains: &self.settings.local_domains,
            sieve: &self.settings.sieve,
        }
    }
}
