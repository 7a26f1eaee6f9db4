//! Command lines: parsing with smtp-proto and one handler per command.

use smtp_proto::{Error as ParseError, MailFrom, RcptTo, Request};

use super::{Action, Body, Decision, Greeting, LineRead, Phase, Session};
use crate::proto::config::ListenerKind;
use crate::proto::envelope::{MailParams, Rcpt};
use crate::proto::reply::{Capabilities, Reply, ehlo_reply};
use crate::proto::sasl::{self, Mechanism, SaslOutcome};

/// MAIL parameters smtp-proto parses but we do not offer: BINARYMIME, CONPERM, DELIVERBY
/// (RFC 5321 §4.1.1.11: an unoffered parameter gets 555).
const UNOFFERED_MAIL_FLAGS: u64 = smtp_proto::MAIL_BODY_BINARYMIME
    | smtp_proto::MAIL_CONPERM
    | smtp_proto::MAIL_BY_NOTIFY
    | smtp_proto::MAIL_BY_RETURN
    | smtp_proto::MAIL_BY_TRACE;

/// RCPT parameters we do not offer: CONNEG, RRVS.
const UNOFFERED_RCPT_FLAGS: u64 =
    smtp_proto::RCPT_CONNEG | smtp_proto::RCPT_RRVS_REJECT | smtp_proto::RCPT_RRVS_CONTINUE;

fn bad_sequence(text: &str) -> Reply {
    Reply::new(503, (5, 5, 1), text)
}

fn starttls_first() -> Reply {
    // RFC 3207 §4: 530 Must issue a STARTTLS command first
    Reply::new(530, (5, 7, 0), "Must issue a STARTTLS command first")
}

fn unsupported_parameter() -> Reply {
    Reply::new(
        555,
        (5, 5, 4),
        "Parameter not recognized or not implemented",
    )
}

fn not_implemented() -> Reply {
    Reply::new(502, (5, 5, 1), "Command not implemented")
}

impl Session {
    /// Reads and handles one command line.
    pub(super) fn step_command(&mut self) -> bool {
        let first_line = !self.seen_first_line;
        match self.take_line() {
            LineRead::Incomplete => return false,
            LineRead::NotSmtp => {
                self.close(Reply::new(500, (5, 5, 1), "This is an SMTP server"));
            }
            LineRead::TooLong => {
                self.seen_first_line = true;
                // RFC 5321 §4.5.3.1.4 / RFC 3463 5.5.2: line too long
                self.client_error(Reply::new(500, (5, 5, 2), "Line too long"));
            }
            LineRead::Line(line) => {
                self.seen_first_line = true;
                if self.too_many_commands_before_auth() {
                    return true;
                }
                match Request::parse(&mut line.iter()) {
                    Ok(request) => self.handle(request.into_owned()),
                    // A first line that is no SMTP command (e.g. "GET / HTTP/1.1"): one
                    // reply, then close.
                    Err(ParseError::UnknownCommand) if first_line => {
                        self.close(Reply::new(500, (5, 5, 1), "This is an SMTP server"));
                    }
                    Err(error) => self.client_error(parse_error_reply(&error, &line)),
                }
            }
        }
        true
    }

    /// Counts commands before sign-in on submission listeners; closes past the limit.
    fn too_many_commands_before_auth(&mut self) -> bool {
        if !self.config.is_submission() || self.authenticated {
            return false;
        }
        self.commands_before_auth += 1;
        if self.commands_before_auth > self.config.max_commands_before_auth {
            self.close(Reply::new(
                421,
                (4, 7, 0),
                "Too many commands without signing in, closing connection",
            ));
            return true;
        }
        false
    }

    /// Dispatches one parsed command.
    fn handle(&mut self, request: Request<String>) {
        match request {
            Request::Ehlo { host } => self.ehlo(host, true),
            Request::Helo { host } => self.ehlo(host, false),
            Request::StartTls => self.starttls(),
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, &initial_response),
            Request::Mail { from } => self.mail(from),
            Request::Rcpt { to } => self.rcpt(to),
            Request::Data => self.data(),
            Request::Bdat {
                chunk_size,
                is_last,
            } => self.bdat(chunk_size, is_last),
            Request::Rset => {
                // RFC 5321 §4.1.1.5
                self.transaction = None;
                self.reply(Reply::new(250, (2, 0, 0), "OK"));
            }
            Request::Noop { .. } => self.reply(Reply::new(250, (2, 0, 0), "OK")),
            Request::Quit => {
                // RFC 5321 §4.1.1.10
                self.close(Reply::new(221, (2, 0, 0), "Bye"));
            }
            // RFC 5321 §3.5.3: 252 when we will not verify but will accept mail.
            Request::Vrfy { .. } => self.reply(Reply::new(
                252,
                (2, 5, 0),
                "Cannot VRFY user, but will accept message and attempt delivery",
            )),
            Request::Help { .. } => self.reply(Reply::new(
                214,
                (2, 0, 0),
                "See RFC 5321; commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP QUIT",
            )),
            Request::Lhlo { .. }
            | Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => self.client_error(not_implemented()),
        }
    }

    /// EHLO and HELO (RFC 5321 §4.1.1.1); either one resets the transaction (§4.1.4).
    fn ehlo(&mut self, host: String, extended: bool) {
        self.transaction = None;
        self.greeting = Some(Greeting { name: host });
        if !extended {
            self.reply(Reply::plain(250, self.config.hostname.clone()));
            return;
        }
        let submission = self.config.is_submission();
        let capabilities = Capabilities {
            max_message_size: self.config.max_message_size,
            starttls: !self.tls_active && self.config.starttls_available,
            requiretls: self.tls_active,
            auth_mechanisms: if submission && self.tls_active && !self.authenticated {
                // RFC 4954 §3: offer only what can succeed; EXTERNAL alone signs in only
                // where policy does not require the password as well.
                let mut m = vec!["PLAIN", "LOGIN"];
                if self.config.offer_external {
                    m.insert(0, "EXTERNAL");
                }
                m
            } else {
                Vec::new()
            },
        };
        let reply = ehlo_reply(&self.config.hostname, &capabilities);
        self.reply(reply);
    }

    /// STARTTLS (RFC 3207 §4): reply 220, drop buffered input, hand over to the driver.
    fn starttls(&mut self) {
        if self.tls_active {
            return self.client_error(bad_sequence("TLS already active"));
        }
        if !self.config.starttls_available {
            // RFC 3207 §4: 454 TLS not available due to temporary reason
            return self.reply(Reply::new(454, (4, 7, 0), "TLS not available"));
        }
        self.reply(Reply::new(220, (2, 0, 0), "Ready to start TLS"));
        // RFC 3207 §5 / CVE-2011-0411: plaintext pipelined after STARTTLS is discarded.
        self.input.clear();
        self.phase = Phase::AwaitingTls;
        self.emit(Action::StartTls);
    }

    /// AUTH (RFC 4954 §4).
    fn auth(&mut self, mechanism: u64, initial_response: &str) {
        if self.config.listener == ListenerKind::Mx {
            return self.client_error(bad_sequence("Authentication is not offered here"));
        }
        if !self.tls_active {
            return self.client_error(starttls_first());
        }
        if self.greeting.is_none() {
            return self.client_error(bad_sequence("Send EHLO first"));
        }
        if self.authenticated {
            return self.client_error(bad_sequence("Already authenticated"));
        }
        if self.transaction.is_some() {
            return self.client_error(bad_sequence("AUTH is not allowed during a transaction"));
        }
        let Some(mechanism) = Mechanism::from_flag(mechanism) else {
            return self.client_error(unknown_mechanism());
        };
        let outcome = sasl::start(mechanism, initial_response);
        self.sasl_outcome(outcome);
    }

    /// Reads one SASL response line.
    pub(super) fn step_sasl(&mut self) -> bool {
        match self.take_line() {
            LineRead::Incomplete => return false,
            LineRead::Line(line) => {
                let Phase::Sasl(step) = std::mem::replace(&mut self.phase, Phase::Command) else {
                    return true;
                };
                let outcome = match std::str::from_utf8(&line) {
                    Ok(text) => sasl::respond(step, text),
                    Err(_) => SaslOutcome::Refuse(sasl::bad_response()),
                };
                self.sasl_outcome(outcome);
            }
            LineRead::TooLong | LineRead::NotSmtp => {
                self.phase = Phase::Command;
                self.client_error(Reply::new(500, (5, 5, 2), "Line too long"));
            }
        }
        true
    }

    fn sasl_outcome(&mut self, outcome: SaslOutcome) {
        match outcome {
            SaslOutcome::Request(request) => {
                self.wait_for(Decision::Auth, Action::Authenticate(request));
            }
            SaslOutcome::Continue(step, challenge) => {
                self.reply(challenge);
                self.phase = Phase::Sasl(step);
            }
            SaslOutcome::Refuse(reply) => self.client_error(reply),
        }
    }

    /// MAIL FROM (RFC 5321 §4.1.1.2).
    fn mail(&mut self, from: MailFrom<String>) {
        if self.config.is_submission() && !self.tls_active {
            return self.client_error(starttls_first());
        }
        if self.greeting.is_none() {
            return self.client_error(bad_sequence("Send EHLO first"));
        }
        if self.config.auth_required_for_mail && !self.authenticated {
            // RFC 4954 §6: 530 5.7.0 Authentication required
            return self.client_error(Reply::new(530, (5, 7, 0), "Authentication required"));
        }
        if self.transaction.is_some() {
            return self.client_error(bad_sequence("Nested MAIL command"));
        }
        if from.flags & UNOFFERED_MAIL_FLAGS != 0 || has_unoffered_mail_values(&from) {
            return self.client_error(unsupported_parameter());
        }
        if from.flags & smtp_proto::MAIL_REQUIRETLS != 0 && !self.tls_active {
            // RFC 8689 §4.1: REQUIRETLS is offered, and accepted, over TLS only.
            return self.client_error(Reply::new(
                530,
                (5, 7, 10),
                "REQUIRETLS needs a TLS connection",
            ));
        }
        let params = MailParams::from_parsed(&from);
        if params
            .size
            .is_some_and(|size| size > self.config.max_message_size)
        {
            // RFC 1870 §6.1: 552 for a declared size over the fixed maximum.
            return self.client_error(too_big());
        }
        if !params.smtputf8 && !from.address.is_ascii() {
            return self.client_error(needs_smtputf8());
        }
        let address = from.address;
        self.wait_for(
            Decision::Sender {
                address: address.clone(),
                params: params.clone(),
            },
            Action::CheckSender { address, params },
        );
    }

    /// RCPT TO (RFC 5321 §4.1.1.3).
    fn rcpt(&mut self, to: RcptTo<String>) {
        let Some(transaction) = self.transaction.as_ref() else {
            return self.client_error(bad_sequence("Need MAIL before RCPT"));
        };
        if transaction.body != Body::NotStarted {
            return self.client_error(bad_sequence("RCPT is not allowed after BDAT"));
        }
        if transaction.rcpts.len() >= self.config.max_recipients {
            // RFC 5321 §4.5.3.1.10: 452 too many recipients
            return self.reply(Reply::new(452, (4, 5, 3), "Too many recipients"));
        }
        if to.flags & UNOFFERED_RCPT_FLAGS != 0 || to.rrvs != 0 {
            return self.client_error(unsupported_parameter());
        }
        if !transaction.params.smtputf8 && !to.address.is_ascii() {
            return self.client_error(needs_smtputf8());
        }
        let rcpt = Rcpt::from_parsed(to);
        self.wait_for(
            Decision::Recipient(rcpt.clone()),
            Action::CheckRecipient(rcpt),
        );
    }
}

/// Parameters smtp-proto parses into fields that we do not offer (MT-PRIORITY, FUTURERELEASE,
/// MTRK, NO-SOLICITING, BY, TRANSID).
fn has_unoffered_mail_values(from: &MailFrom<String>) -> bool {
    from.mt_priority != 0
        || from.hold_for != 0
        || from.hold_until != 0
        || from.by != 0
        || from.mtrk.is_some()
        || from.solicit.is_some()
        || from.trans_id.is_some()
}

/// RFC 1870 / RFC 3463: 552 5.3.4 message too big.
pub(super) fn too_big() -> Reply {
    Reply::new(
        552,
        (5, 3, 4),
        "Message size exceeds the fixed maximum message size",
    )
}

/// RFC 6531 §3.5: a non-ASCII address without SMTPUTF8.
fn needs_smtputf8() -> Reply {
    Reply::new(
        553,
        (5, 6, 7),
        "Non-ASCII address needs the SMTPUTF8 parameter",
    )
}

/// RFC 4954 §4: 504 5.5.4 for a mechanism we do not offer.
fn unknown_mechanism() -> Reply {
    Reply::new(504, (5, 5, 4), "Unrecognized authentication type")
}

/// The reply to a line smtp-proto could not parse.
fn parse_error_reply(error: &ParseError, line: &[u8]) -> Reply {
    match error {
        ParseError::UnknownCommand => Reply::new(500, (5, 5, 1), "Command unrecognized"),
        // smtp-proto reports an unknown mechanism as a syntax error; with an argument
        // present it is a mechanism we do not know.
        ParseError::SyntaxError { syntax }
            if syntax.starts_with("AUTH") && line.trim_ascii().contains(&b' ') =>
        {
            unknown_mechanism()
        }
        ParseError::SyntaxError { syntax } => {
            Reply::new(501, (5, 5, 4), format!("Syntax: {syntax}"))
        }
        ParseError::InvalidSenderAddress => Reply::new(501, (5, 1, 7), "Bad sender address syntax"),
        ParseError::InvalidRecipientAddress => {
            Reply::new(501, (5, 1, 3), "Bad recipient address syntax")
        }
        ParseError::InvalidParameter { param } => Reply::new(
            501,
            (5, 5, 4),
            format!("Invalid value for parameter {param}"),
        ),
        ParseError::UnsupportedParameter { .. } => unsupported_parameter(),
        ParseError::ResponseTooLong => Reply::new(500, (5, 5, 2), "Line too long"),
        ParseError::NeedsMoreData { .. } | ParseError::InvalidResponse { .. } => {
            Reply::new(501, (5, 5, 4), "Syntax error")
        }
    }
}
