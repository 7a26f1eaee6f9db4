//! One IMAP connection's state after TLS (RFC 3501 §3), held once: [`Session`] with its
//! [`SessionState`] (not signed in, [`SignedIn`] with what the client enabled and the
//! selected mailbox, logging out), and the dispatch of imap-next events to `commands/`.
//!
//! The session answers the commands that need no store itself (CAPABILITY, NOOP before
//! sign-in, LOGOUT, ID, ENABLE, LOGIN, AUTHENTICATE, and STARTTLS refused). Every other
//! command of a signed-in client comes back as [`Flow::Unhandled`] or [`Flow::Extended`]:
//! the connection driver (`crate::server`) runs it against the store as a function of
//! [`Session::signed_in_mut`]. One command runs at a time.

use imap_codec::imap_types::{core::Tag, response::Status};
use imap_next::server::{Error, Event, Server};

use crate::{
    commands::{self, sign_in::Authenticator},
    mailbox::Selected,
    proto::{
        driver::DriverEvent,
        ext::ExtCommand,
        literal::line_tag,
        response::{bad, bye},
    },
};

pub use crate::proto::capability::Enabled;

/// Connection state (RFC 3501 §3), each carrying its data.
// One state per connection, moved rarely: boxing the signed-in state would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum SessionState<Account> {
    /// TLS is up, nobody signed in yet.
    NotAuthenticated,
    /// Signed in (RFC 3501 authenticated state), or signed in with a mailbox selected
    /// (selected state: [`SignedIn::selected`] holds the mailbox).
    SignedIn(SignedIn<Account>),
    /// LOGOUT was received; the connection closes.
    Logout,
}

/// A signed-in connection: the account, what the client enabled and the selected
/// mailbox, each held once. The store-backed commands run against it
/// ([`crate::account::SignedIn`] is the server's).
#[derive(Debug)]
pub struct SignedIn<Account> {
    /// Who signed in (the [`Authenticator`]'s answer).
    pub account: Account,
    /// What the client has enabled on this connection.
    pub enabled: Enabled,
    /// The selected mailbox (RFC 3501 selected state), if any.
    pub selected: Option<Selected>,
}

impl<Account> SignedIn<Account> {
    /// Just signed in: nothing enabled, no mailbox selected.
    pub fn new(account: Account) -> SignedIn<Account> {
        SignedIn {
            account,
            enabled: Enabled::default(),
            selected: None,
        }
    }
}

/// Per-connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// APPENDLIMIT in octets (advertised in CAPABILITY).
    pub append_limit: u32,
    /// Bad commands (BAD responses) before `* BYE` and close.
    pub max_bad_commands: u32,
    /// Refused sign-ins on this connection before `* BYE` and close.
    pub max_failed_sign_ins: u32,
    /// Our ID response fields (RFC 2971), e.g. ("name", "certmail").
    pub server_id: Vec<(String, String)>,
    /// The certificate alone signs in (no password required): AUTH=EXTERNAL is advertised.
    pub auth_external: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            append_limit: crate::context::DEFAULT_APPEND_LIMIT,
            max_bad_commands: 20,
            max_failed_sign_ins: 3,
            server_id: vec![
                ("name".to_string(), "certmail".to_string()),
                ("version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ],
            auth_external: false,
        }
    }
}

/// What the connection does after an event.
#[derive(Debug)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Write what is queued, then close.
    Close,
    /// Not handled here (a command that needs the store, IDLE): the caller handles it.
    Unhandled(Event),
    /// A command our own parser read (all need the store), from a signed-in client: the
    /// caller handles it.
    Extended(ExtCommand),
}

/// An AUTHENTICATE waiting for the client's SASL data.
#[derive(Debug, Clone)]
pub(crate) struct PendingAuthenticate {
    pub(crate) tag: Tag<'static>,
    pub(crate) mechanism: commands::sign_in::SignInMechanism,
}

/// One connection's session.
pub struct Session<A: Authenticator> {
    pub(crate) state: SessionState<A::Account>,
    pub(crate) config: SessionConfig,
    pub(crate) authenticator: A,
    pub(crate) pending_authenticate: Option<PendingAuthenticate>,
    pub(crate) failed_sign_ins: u32,
    pub(crate) bad_commands: u32,
    pub(crate) client_id: Vec<(String, Option<String>)>,
}

impl<A: Authenticator> std::fmt::Debug for Session<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<A: Authenticator> Session<A> {
    /// A session for a connection whose TLS is up.
    pub fn new(config: SessionConfig, authenticator: A) -> Session<A> {
        Session {
            state: SessionState::NotAuthenticated,
            config,
            authenticator,
            pending_authenticate: None,
            failed_sign_ins: 0,
            bad_commands: 0,
            client_id: Vec::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> &SessionState<A::Account> {
        &self.state
    }

    /// Changes the state (sign-in, LOGOUT).
    pub fn set_state(&mut self, state: SessionState<A::Account>) {
        self.state = state;
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The signed-in state, if signed in.
    pub fn signed_in(&self) -> Option<&SignedIn<A::Account>> {
        match &self.state {
            SessionState::SignedIn(signed_in) => Some(signed_in),
            _ => None,
        }
    }

    /// The signed-in state, if signed in, to run a command against.
    pub fn signed_in_mut(&mut self) -> Option<&mut SignedIn<A::Account>> {
        match &mut self.state {
            SessionState::SignedIn(signed_in) => Some(signed_in),
            _ => None,
        }
    }

    /// What the client has enabled (nothing before sign-in).
    pub fn enabled(&self) -> Enabled {
        self.signed_in().map(|s| s.enabled).unwrap_or_default()
    }

    /// True once the client has enabled CONDSTORE (RFC 7162 §3.1).
    pub fn condstore_enabled(&self) -> bool {
        self.enabled().condstore
    }

    /// True once the client has enabled QRESYNC (RFC 7162 §3.2.3; it implies CONDSTORE).
    pub fn qresync_enabled(&self) -> bool {
        self.enabled().qresync
    }

    /// True once the client has sent `ENABLE IMAP4rev2` (RFC 9051 §6.3.1): the session
    /// then answers as IMAP4rev2 (ESEARCH, no \Recent, RFC 9051 LIST).
    pub fn imap4rev2_enabled(&self) -> bool {
        self.enabled().imap4rev2
    }

    /// What the client said about itself in ID (RFC 2971), for logs.
    pub fn client_id(&self) -> &[(String, Option<String>)] {
        &self.client_id
    }

    /// The signed-in account, if any.
    pub fn account(&self) -> Option<&A::Account> {
        self.signed_in().map(|s| &s.account)
    }

    /// Handles one event from the driver.
    pub async fn handle_event(
        &mut self,
        server: &mut Server,
        event: impl Into<DriverEvent>,
    ) -> Flow {
        if matches!(self.state, SessionState::Logout) {
            // Input that arrived behind LOGOUT (or a BYE) is never run.
            return Flow::Close;
        }
        let event = match event.into() {
            DriverEvent::Imap(event) => event,
            DriverEvent::Extended(command) if self.account().is_none() => {
                let text = "Sign in first (AUTHENTICATE or LOGIN)";
                return self.reply_bad(server, bad(Some(command.tag), text));
            }
            DriverEvent::Extended(command) => return Flow::Extended(command),
        };
        match event {
            Event::CommandReceived { command } => commands::dispatch(self, server, command).await,
            Event::CommandAuthenticateReceived {
                command_authenticate,
            } => commands::authenticate::start(self, server, command_authenticate).await,
            Event::AuthenticateDataReceived { authenticate_data } => {
                commands::authenticate::data(self, server, authenticate_data).await
            }
            Event::IdleCommandReceived { tag } if self.account().is_none() => {
                // RFC 2177 §3: IDLE is valid only when signed in.
                let _ = server.idle_reject(bad(Some(tag), "Sign in first (AUTHENTICATE or LOGIN)"));
                self.count_bad(server)
            }
            Event::GreetingSent { .. } | Event::ResponseSent { .. } => Flow::Continue,
            other => Flow::Unhandled(other),
        }
    }

    /// Handles a driver error: answers BAD where imap-next did not, and closes after too
    /// many bad commands (STYLE.md: bound bad commands).
    pub fn handle_error(&mut self, server: &mut Server, error: &Error) -> Flow {
        let tag = match error {
            Error::MalformedMessage { discarded_bytes }
            | Error::ExpectedCrlfGotLf { discarded_bytes }
            | Error::CommandTooLong { discarded_bytes } => {
                line_tag(discarded_bytes.declassify()).and_then(|t| Tag::try_from(t.to_vec()).ok())
            }
            // imap-next already answered `<tag> BAD` for an over-long literal.
            Error::LiteralTooLong { .. } => return self.count_bad(server),
        };
        if let Some(pending) = self.pending_authenticate.take() {
            // Undecodable SASL data (not base64): end the exchange (RFC 3501 §6.2.2).
            let _ = server.authenticate_finish(bad(
                Some(pending.tag),
                "Invalid base64 in AUTHENTICATE data",
            ));
            return self.count_bad(server);
        }
        let text = match error {
            Error::ExpectedCrlfGotLf { .. } => "Lines must end with CRLF",
            Error::CommandTooLong { .. } => "Command too long",
            _ => "Syntax error",
        };
        server.enqueue_status(bad(tag, text));
        self.count_bad(server)
    }

    /// Counts one bad command; says BYE when there were too many.
    pub(crate) fn count_bad(&mut self, server: &mut Server) -> Flow {
        self.bad_commands += 1;
        if self.bad_commands >= self.config.max_bad_commands {
            server.enqueue_status(bye(None, "Too many bad commands"));
            self.state = SessionState::Logout;
            return Flow::Close;
        }
        Flow::Continue
    }

    /// Enqueues a BAD answer and counts it.
    pub(crate) fn reply_bad(&mut self, server: &mut Server, status: Status<'static>) -> Flow {
        server.enqueue_status(status);
        self.count_bad(server)
    }
}
