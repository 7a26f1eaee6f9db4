//! The session's configuration: limits, listener kind and TLS state at start.

/// Which listener accepted the connection: it decides what is offered and required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// Message submission (RFC 6409) for signed-in users: port 465 (`implicit_tls`) or 587
    /// (STARTTLS). AUTH is offered only over TLS; AUTH and MAIL before TLS get `530 5.7.0`.
    Submission {
        /// True on port 465, where TLS is negotiated before the greeting.
        implicit_tls: bool,
    },
    /// Port 25, mail from other servers: no AUTH, STARTTLS offered when configured.
    Mx,
}

/// Limits and settings of one SMTP session. Build it with [`SessionConfig::new`] and
/// change the fields you need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our host name, written in the greeting, EHLO and HELO replies.
    pub hostname: String,
    /// Largest message in octets (the SIZE extension, RFC 1870). Default 50 MiB, the product
    /// limit in DESIGN.md (IMAP APPENDLIMIT uses the same figure).
    pub max_message_size: usize,
    /// Most recipients per message. Default 100, the minimum RFC 5321 §4.5.3.1.8 asks
    /// servers to accept.
    pub max_recipients: usize,
    /// Longest command line in octets, CRLF included. RFC 5321 §4.5.3.1.4 sets 512 as the
    /// minimum; the default 4096 leaves room for SMTPUTF8 addresses, DSN parameters and
    /// SASL initial responses. Values under 512 are raised to 512.
    pub max_line_length: usize,
    /// Client errors (5xx replies to commands) before the session answers `421 4.7.0` and
    /// closes. Default 10: enough for a confused client, few for a dictionary attack.
    pub max_errors: usize,
    /// Commands accepted on a submission listener before a successful AUTH; the next one
    /// gets `421 4.7.0` and the session closes. Default 20: EHLO, STARTTLS, EHLO, AUTH and a
    /// few retries need far fewer.
    pub max_commands_before_auth: usize,
    /// The listener this session runs on.
    pub listener: ListenerKind,
    /// True when TLS is already active (port 465: the driver creates the session after the
    /// handshake).
    pub tls_active: bool,
    /// True when the server has a certificate and can answer STARTTLS.
    pub starttls_available: bool,
    /// True when MAIL needs a signed-in client (`530 5.7.0` otherwise). Default true on
    /// submission listeners, false on MX.
    pub auth_required_for_mail: bool,
    /// Offer AUTH EXTERNAL in EHLO: only where the certificate alone may sign in (the
    /// password policy is off). EXTERNAL is still understood when not offered.
    pub offer_external: bool,
}

/// Default largest message in bytes (SIZE): 50 MB, as large attachments are common. The
/// daemon's `[smtp] max_message_size` and `[imap] append_limit` default to it.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 50_000_000;
/// Default recipients per message (RFC 5321 §4.5.3.1.8 requires at least 100).
pub const DEFAULT_MAX_RECIPIENTS: usize = 1000;

impl SessionConfig {
    /// Default limits for `listener`, with TLS inactive and STARTTLS available.
    pub fn new(hostname: impl Into<String>, listener: ListenerKind) -> Self {
        let implicit_tls = matches!(listener, ListenerKind::Submission { implicit_tls: true });
        Self {
            hostname: hostname.into(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            max_line_length: 4096,
            max_errors: 10,
            max_commands_before_auth: 20,
            listener,
            tls_active: implicit_tls,
            starttls_available: !implicit_tls,
            auth_required_for_mail: matches!(listener, ListenerKind::Submission { .. }),
            offer_external: false,
        }
    }

    /// True on a submission listener.
    pub fn is_submission(&self) -> bool {
        matches!(self.listener, ListenerKind::Submission { .. })
    }
}
