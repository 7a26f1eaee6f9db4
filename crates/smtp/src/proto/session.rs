//! The sans-IO SMTP server session: bytes in, [`Action`]s out.
//!
//! The session never reads a socket, touches the store or looks at a clock. The I/O driver
//! feeds it what it reads ([`Session::feed`]) and then performs every [`Action`] that
//! [`Session::next_action`] returns, in order, until it returns `None`; then it reads again.
//!
//! Some actions ask the driver for a decision ([`Action::Authenticate`],
//! [`Action::CheckSender`], [`Action::CheckRecipient`], [`Action::MessageComplete`]). While
//! one is outstanding the session processes no further input, so pipelined commands are
//! answered in order (RFC 2920 §3.1). The driver answers with the matching `*_result`
//! method and calls `next_action` again.
//!
//! Replies are coalesced: the replies to a group of pipelined commands leave in one
//! [`Action::Write`] (RFC 2920 §3.2 asks servers to send them together).

use std::collections::VecDeque;

use super::config::SessionConfig;
use super::envelope::{Envelope, MailParams, Rcpt};
use super::reply::Reply;
use super::sasl::{AuthRequest, SaslStep};
use crate::error::Error;

mod command;
mod data;

pub(crate) use data::{BdatIn, DataIn};

/// What the I/O driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes to the client (one or more complete replies).
    Write(Vec<u8>),
    /// The `220` to STARTTLS has been queued in an earlier `Write`: flush it, run the TLS
    /// handshake on the raw socket, then call [`Session::tls_established`]. Input fed after
    /// the STARTTLS line and before the handshake is discarded (CVE-2011-0411 class).
    StartTls,
    /// Decide a sign-in; answer with [`Session::auth_result`].
    Authenticate(AuthRequest),
    /// Decide whether this client may use this reverse-path (empty for `<>`); answer with
    /// [`Session::mail_result`].
    CheckSender {
        /// The reverse-path without angle brackets.
        address: String,
        /// The MAIL parameters (SIZE, BODY, SMTPUTF8, RET, ENVID).
        params: MailParams,
    },
    /// Decide whether to accept this recipient; answer with [`Session::rcpt_result`].
    CheckRecipient(Rcpt),
    /// A message body starts (after `354`, or with the first BDAT chunk): open a spool.
    MessageStart,
    /// The next part of the message body, already dot-unstuffed. Append it to the spool.
    MessageChunk(Vec<u8>),
    /// The body is complete: store it durably, then answer with
    /// [`Session::message_result`] (`250` only after the store has flushed).
    MessageComplete(Envelope),
    /// Drop the spooled body: the message was refused while it was being received (too
    /// big, or the transaction failed). The session replies by itself.
    MessageAborted,
    /// Close the connection (after writing what was queued before).
    Close,
}

/// What the session waits for, so the driver can pick the right timeout
/// (RFC 5321 §4.5.3.2: 5 minutes for commands, 3 minutes per DATA block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expecting {
    /// A command line from the client.
    Command,
    /// A SASL response line from the client (AUTH in progress).
    AuthResponse,
    /// Message body octets from the client (DATA or a BDAT chunk).
    MessageBody,
    /// A `*_result` answer from the driver; nothing from the client.
    Decision,
    /// The driver's TLS handshake and [`Session::tls_established`].
    TlsHandshake,
    /// Nothing: the session is closed.
    Nothing,
}

/// The client's EHLO or HELO.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Greeting {
    /// The name the client gave.
    name: String,
}

/// How far the body of the current transaction has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// No DATA or BDAT yet.
    NotStarted,
    /// BDAT chunks accepted so far, in octets.
    Bdat {
        /// Octets received in earlier chunks.
        received: usize,
    },
    /// A BDAT chunk was refused: later chunks of this transaction are read and refused
    /// until BDAT LAST or RSET (RFC 3030 §2).
    BdatFailed,
}

/// The mail transaction in progress (RFC 5321 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Transaction {
    mail_from: String,
    params: MailParams,
    rcpts: Vec<Rcpt>,
    body: Body,
}

impl Transaction {
    fn into_envelope(self) -> Envelope {
        Envelope {
            mail_from: self.mail_from,
            params: self.params,
            rcpts: self.rcpts,
        }
    }
}

/// A decision the session waits for.
#[derive(Debug)]
enum Decision {
    Auth,
    Sender { address: String, params: MailParams },
    Recipient(Rcpt),
    Message,
}

/// What input the session expects next.
enum Phase {
    /// Command lines.
    Command,
    /// A SASL response line.
    Sasl(SaslStep),
    /// DATA content up to CRLF.CRLF.
    Data(Box<DataIn>),
    /// The octets of a BDAT chunk.
    Bdat(Box<BdatIn>),
    /// Nothing: a decision is outstanding.
    Waiting(Decision),
    /// Nothing: STARTTLS was accepted, the handshake has not finished.
    AwaitingTls,
    /// Nothing ever again.
    Closed,
}

/// One complete line taken from the input, or why there is none.
enum LineRead {
    /// A line with its LF.
    Line(Vec<u8>),
    /// A line longer than the limit was discarded up to and including its LF.
    TooLong,
    /// The first bytes of the connection cannot start an SMTP command.
    NotSmtp,
    /// No complete line yet.
    Incomplete,
}

/// One SMTP server session. See the module docs for the driving loop.
///
/// Its Debug output shows the state and counters only, never input or AUTH payloads.
pub struct Session {
    config: SessionConfig,
    phase: Phase,
    /// Bytes fed and not processed yet.
    input: Vec<u8>,
    /// Replies not yet handed out as a `Write`.
    out: Vec<u8>,
    actions: VecDeque<Action>,
    greeting: Option<Greeting>,
    authenticated: bool,
    tls_active: bool,
    transaction: Option<Transaction>,
    errors: usize,
    commands_before_auth: usize,
    seen_first_line: bool,
    discarding_long_line: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("listener", &self.config.listener)
            .field("expecting", &self.expecting())
            .field("tls_active", &self.tls_active)
            .field("authenticated", &self.authenticated)
            .field("in_transaction", &self.transaction.is_some())
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A new session; the `220` greeting is the first action. On port 465 create it after
    /// the TLS handshake, with `config.tls_active` set.
    pub fn new(config: SessionConfig) -> Self {
        let tls_active = config.tls_active;
        let mut session = Self {
            config,
            phase: Phase::Command,
            input: Vec::new(),
            out: Vec::new(),
            actions: VecDeque::new(),
            greeting: None,
            authenticated: false,
            tls_active,
            transaction: None,
            errors: 0,
            commands_before_auth: 0,
            seen_first_line: false,
            discarding_long_line: false,
        };
        // RFC 5321 §4.2: the greeting carries no enhanced status code.
        let greeting = format!("{} ESMTP certmail", session.config.hostname);
        session.reply(Reply::plain(220, greeting));
        session
    }

    /// Gives the session bytes read from the client. Call [`Session::next_action`] until
    /// it returns `None` afterwards. Bytes fed while STARTTLS is pending, or after the
    /// session closed, are discarded.
    ///
    /// Feed one read at a time and read only when `next_action` has returned `None` and no
    /// decision is outstanding: the session buffers what it cannot process yet, so that
    /// rhythm is what bounds its memory (one read plus one partial line).
    pub fn feed(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::AwaitingTls | Phase::Closed) {
            return;
        }
        self.input.extend_from_slice(bytes);
    }

    /// The next thing to do, or `None` when the session needs more input or a decision.
    pub fn next_action(&mut self) -> Option<Action> {
        loop {
            if let Some(action) = self.actions.pop_front() {
                return Some(action);
            }
            if !self.step() {
                if self.out.is_empty() {
                    return None;
                }
                return Some(Action::Write(std::mem::take(&mut self.out)));
            }
        }
    }

    /// The TLS handshake after STARTTLS succeeded. Forgets everything learnt before it
    /// (RFC 3207 §4.2): the EHLO name, the transaction, and any buffered plaintext.
    pub fn tls_established(&mut self) -> Result<(), Error> {
        if !matches!(self.phase, Phase::AwaitingTls) {
            return Err(Error::UnexpectedCall {
                call: "tls_established",
            });
        }
        self.input.clear();
        self.greeting = None;
        self.transaction = None;
        self.authenticated = false;
        self.tls_active = true;
        self.phase = Phase::Command;
        Ok(())
    }

    /// Answers [`Action::Authenticate`]: `Ok` signs the client in (`235 2.7.0`), `Err`
    /// carries the refusal to send (e.g. `535 5.7.8 …`).
    pub fn auth_result(&mut self, decision: Result<(), Reply>) -> Result<(), Error> {
        self.take_decision("auth_result", |d| matches!(d, Decision::Auth))?;
        match decision {
            Ok(()) => {
                self.authenticated = true;
                // RFC 4954 §6: 235 2.7.0 Authentication Succeeded
                self.reply(Reply::new(235, (2, 7, 0), "Authentication successful"));
            }
            Err(refusal) => self.refusal(refusal),
        }
        Ok(())
    }

    /// Answers [`Action::CheckSender`]: `Ok` opens the transaction (`250 2.1.0`), `Err`
    /// carries the refusal (e.g. `550 5.7.1` for an address that is not the account's).
    pub fn mail_result(&mut self, decision: Result<(), Reply>) -> Result<(), Error> {
        let Decision::Sender { address, params } =
            self.take_decision("mail_result", |d| matches!(d, Decision::Sender { .. }))?
        else {
            return Err(Error::UnexpectedCall {
                call: "mail_result",
            });
        };
        match decision {
            Ok(()) => {
                self.transaction = Some(Transaction {
                    mail_from: address,
                    params,
                    rcpts: Vec::new(),
                    body: Body::NotStarted,
                });
                self.reply(Reply::new(250, (2, 1, 0), "Sender OK"));
            }
            Err(refusal) => self.refusal(refusal),
        }
        Ok(())
    }

    /// Answers [`Action::CheckRecipient`]: `Ok` adds the recipient (`250 2.1.5`), `Err`
    /// carries the refusal (e.g. `550 5.1.1` unknown user, `554 5.7.1` relaying denied).
    pub fn rcpt_result(&mut self, decision: Result<(), Reply>) -> Result<(), Error> {
        let Decision::Recipient(rcpt) =
            self.take_decision("rcpt_result", |d| matches!(d, Decision::Recipient(_)))?
        else {
            return Err(Error::UnexpectedCall {
                call: "rcpt_result",
            });
        };
        match decision {
            Ok(()) => {
                if let Some(transaction) = self.transaction.as_mut() {
                    transaction.rcpts.push(rcpt);
                }
                self.reply(Reply::new(250, (2, 1, 5), "Recipient OK"));
            }
            Err(refusal) => self.refusal(refusal),
        }
        Ok(())
    }

    /// Answers [`Action::MessageComplete`] with the final reply: `250` once the message is
    /// durably stored, or a refusal. The transaction ends either way (RFC 5321 §4.1.1.4).
    pub fn message_result(&mut self, reply: Reply) -> Result<(), Error> {
        self.take_decision("message_result", |d| matches!(d, Decision::Message))?;
        self.reply(reply);
        Ok(())
    }

    /// Ends the session with this reply (e.g. `421 4.4.2` on a timeout, `421 4.7.0` when a
    /// newer sign-in replaced this session). The reply and [`Action::Close`] are queued.
    pub fn close_with(&mut self, reply: Reply) {
        if !matches!(self.phase, Phase::Closed) {
            self.close(reply);
        }
    }

    /// True once the client has signed in.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// True when TLS is active on the connection.
    pub fn is_tls_active(&self) -> bool {
        self.tls_active
    }

    /// True once the session has queued [`Action::Close`].
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// True while a decision (`*_result` call) is outstanding.
    pub fn is_waiting_for_decision(&self) -> bool {
        matches!(self.phase, Phase::Waiting(_))
    }

    /// What the session waits for next (to choose a timeout).
    pub fn expecting(&self) -> Expecting {
        match self.phase {
            Phase::Command => Expecting::Command,
            Phase::Sasl(_) => Expecting::AuthResponse,
            Phase::Data(_) | Phase::Bdat(_) => Expecting::MessageBody,
            Phase::Waiting(_) => Expecting::Decision,
            Phase::AwaitingTls => Expecting::TlsHandshake,
            Phase::Closed => Expecting::Nothing,
        }
    }

    /// The name the client gave in EHLO or HELO, for the Received header.
    pub fn client_name(&self) -> Option<&str> {
        self.greeting
            .as_ref()
            .map(|greeting| greeting.name.as_str())
    }

    /// The configuration this session runs with.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Processes one unit of input (a line, or what is buffered of a body). False when
    /// nothing could be done.
    fn step(&mut self) -> bool {
        match self.phase {
            Phase::Command => self.step_command(),
            Phase::Sasl(_) => self.step_sasl(),
            Phase::Data(_) => self.step_data(),
            Phase::Bdat(_) => self.step_bdat(),
            Phase::Waiting(_) | Phase::AwaitingTls | Phase::Closed => false,
        }
    }

    /// Takes the decision the session waits for, if it is the one being answered.
    fn take_decision(
        &mut self,
        call: &'static str,
        expected: impl Fn(&Decision) -> bool,
    ) -> Result<Decision, Error> {
        match &self.phase {
            Phase::Waiting(decision) if expected(decision) => {}
            _ => return Err(Error::UnexpectedCall { call }),
        }
        match std::mem::replace(&mut self.phase, Phase::Command) {
            Phase::Waiting(decision) => Ok(decision),
            _ => Err(Error::UnexpectedCall { call }),
        }
    }

    /// Queues a reply.
    fn reply(&mut self, reply: Reply) {
        reply.write_to(&mut self.out);
    }

    /// Queues an action after the replies queued so far.
    fn emit(&mut self, action: Action) {
        if !self.out.is_empty() {
            let bytes = std::mem::take(&mut self.out);
            self.actions.push_back(Action::Write(bytes));
        }
        self.actions.push_back(action);
    }

    /// Stops processing input and waits for the driver's answer.
    fn wait_for(&mut self, decision: Decision, action: Action) {
        self.phase = Phase::Waiting(decision);
        self.emit(action);
    }

    /// Sends a refusal from the driver; permanent ones count as client errors.
    fn refusal(&mut self, reply: Reply) {
        if reply.is_permanent() {
            self.client_error(reply);
        } else {
            self.reply(reply);
        }
    }

    /// Sends a reply to a client mistake and closes after too many of them.
    fn client_error(&mut self, reply: Reply) {
        self.reply(reply);
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            self.close(Reply::new(
                421,
                (4, 7, 0),
                "Too many errors, closing connection",
            ));
        }
    }

    /// Queues a last reply and [`Action::Close`], and ignores all further input.
    fn close(&mut self, reply: Reply) {
        self.reply(reply);
        self.input.clear();
        self.phase = Phase::Closed;
        self.emit(Action::Close);
    }

    /// Takes one line from the input, enforcing the line length limit while keeping
    /// framing: an overlong line is discarded up to its LF (RFC 5321 §4.5.3.1.4).
    fn take_line(&mut self) -> LineRead {
        if !self.seen_first_line
            && let Some(&first) = self.input.first()
            && !first.is_ascii_alphabetic()
        {
            // A TLS ClientHello (0x16) or other binary: not an SMTP client.
            return LineRead::NotSmtp;
        }
        let max = self.config.max_line_length.max(512);
        match self.input.iter().position(|&byte| byte == b'\n') {
            Some(end) => {
                let line: Vec<u8> = self.input.drain(..=end).collect();
                if std::mem::take(&mut self.discarding_long_line) || line.len() > max {
                    LineRead::TooLong
                } else {
                    LineRead::Line(line)
                }
            }
            None => {
                if self.discarding_long_line || self.input.len() > max {
                    self.discarding_long_line = true;
                    self.input.clear();
                }
                LineRead::Incomplete
            }
        }
    }
}
