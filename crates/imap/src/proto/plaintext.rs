//! The plaintext phase of port 143, before STARTTLS (RFC 3501 §6.2.1), done by hand because
//! imap-next has no server-side STARTTLS (notes/crates.md).
//!
//! Sans-IO: feed it bytes, write what it returns, and act on the outcome. Only CAPABILITY,
//! NOOP, LOGOUT and STARTTLS work; LOGIN and AUTHENTICATE get `NO [PRIVACYREQUIRED]`
//! (RFC 3501 §6.2.3 LOGINDISABLED, RFC 5530); everything else is BAD. Bytes the client sent
//! after the STARTTLS line are thrown away with this state (RFC 3501 §6.2.1: a command
//! injected before the handshake must not run after it, CVE-2011-0411).

use imap_codec::{
    CommandCodec,
    fragmentizer::{
        DecodeMessageError, FragmentInfo, Fragmentizer, LineEnding, LiteralAnnouncement,
    },
    imap_types::{
        IntoStatic,
        command::{Command, CommandBody},
        core::{LiteralMode, Tag},
        response::{Code, Data, Greeting, Response},
    },
};

use super::{
    capability::{CapabilityPhase, capabilities},
    response::{bad, bye, code, encode, encode_greeting, encode_status, no, ok},
};

/// Limits of the plaintext phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaintextLimits {
    /// Largest command in octets, literals included (small: nothing here needs much).
    pub max_command: u32,
    /// Bad commands allowed before we say BYE.
    pub max_bad_commands: u32,
}

impl Default for PlaintextLimits {
    fn default() -> Self {
        PlaintextLimits {
            max_command: 8 * 1024,
            max_bad_commands: 10,
        }
    }
}

/// What the connection must do after writing [`PlaintextStep::output`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaintextOutcome {
    /// Read more input.
    Continue,
    /// Start the TLS handshake now; then run an [`super::driver::Driver`] created with
    /// `after_starttls = true`.
    StartTls,
    /// Close the connection.
    Close,
}

/// The result of feeding bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaintextStep {
    /// Bytes to write, in order.
    pub output: Vec<u8>,
    /// What to do next.
    pub outcome: PlaintextOutcome,
}

/// The plaintext phase's state.
#[derive(Debug)]
pub struct PlaintextPhase {
    fragmentizer: Fragmentizer,
    limits: PlaintextLimits,
    bad_commands: u32,
    finished: Option<PlaintextOutcome>,
}

impl PlaintextPhase {
    /// A new plaintext phase.
    pub fn new(limits: PlaintextLimits) -> PlaintextPhase {
        PlaintextPhase {
            fragmentizer: Fragmentizer::new(limits.max_command),
            limits,
            bad_commands: 0,
            finished: None,
        }
    }

    /// The greeting to send first: `* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] text`.
    pub fn greeting(text: &str) -> Vec<u8> {
        let caps = Code::Capability(capabilities(CapabilityPhase::Plaintext, 0, false));
        let text = super::response::safe_text(text);
        match Greeting::ok(Some(caps), text.inner()) {
            Ok(greeting) => encode_greeting(&greeting),
            Err(_) => b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n".to_vec(),
        }
    }

    /// Feeds bytes read from the socket; returns what to write and what to do next. After
    /// `StartTls` or `Close`, further input is ignored.
    pub fn feed(&mut self, bytes: &[u8]) -> PlaintextStep {
        let mut output = Vec::new();
        if let Some(outcome) = self.finished {
            return PlaintextStep { output, outcome };
        }
        self.fragmentizer.enqueue_bytes(bytes);
        while let Some(fragment) = self.fragmentizer.progress() {
            if let FragmentInfo::Line {
                announcement: Some(LiteralAnnouncement { mode, .. }),
                ..
            } = fragment
            {
                // Nothing allowed here takes a literal. Refuse a synchronizing one at once
                // (the client waits for "+" and sends nothing more); swallow a
                // non-synchronizing one, then refuse the whole command.
                if mode == LiteralMode::Sync {
                    let tag = self.fragmentizer.decode_tag().map(IntoStatic::into_static);
                    self.fragmentizer.skip_message();
                    self.refuse_bad(
                        &mut output,
                        tag,
                        "Literals are not accepted before STARTTLS",
                    );
                } else {
                    self.fragmentizer.poison_message();
                }
            } else if let FragmentInfo::Line {
                ending: LineEnding::Lf,
                ..
            } = fragment
            {
                self.fragmentizer.poison_message();
            }
            if self.fragmentizer.is_message_complete() {
                self.complete_message(&mut output);
            }
            if let Some(outcome) = self.finished {
                return PlaintextStep { output, outcome };
            }
        }
        PlaintextStep {
            output,
            outcome: PlaintextOutcome::Continue,
        }
    }

    fn complete_message(&mut self, output: &mut Vec<u8>) {
        let tag = self.fragmentizer.decode_tag().map(IntoStatic::into_static);
        match self.fragmentizer.decode_message(&CommandCodec::default()) {
            Ok(command) => {
                let command = command.into_static();
                self.handle(command, output);
            }
            Err(DecodeMessageError::MessageTooLong { .. }) => {
                self.refuse_bad(output, tag, "Command too long")
            }
            Err(_) => self.refuse_bad(output, tag, "Syntax error or not allowed before STARTTLS"),
        }
    }

    fn handle(&mut self, command: Command<'static>, output: &mut Vec<u8>) {
        let tag = command.tag;
        match command.body {
            CommandBody::Capability => {
                let data = Data::Capability(capabilities(CapabilityPhase::Plaintext, 0, false));
                output.extend(encode(&Response::Data(data)));
                output.extend(encode_status(ok(tag, None, "CAPABILITY completed")));
            }
            CommandBody::Noop => output.extend(encode_status(ok(tag, None, "NOOP completed"))),
            CommandBody::Logout => {
                output.extend(encode_status(bye(None, "Logging out")));
                output.extend(encode_status(ok(tag, None, "LOGOUT completed")));
                self.finished = Some(PlaintextOutcome::Close);
            }
            CommandBody::StartTLS => {
                output.extend(encode_status(ok(tag, None, "Begin TLS negotiation now")));
                self.finished = Some(PlaintextOutcome::StartTls);
            }
            CommandBody::Login { .. } | CommandBody::Authenticate { .. } => {
                // RFC 3501 §6.2.3 / RFC 5530 §3: sign-in needs TLS first.
                let text = "Sign-in needs TLS: use STARTTLS first, or port 993";
                output.extend(encode_status(no(tag, Some(code("PRIVACYREQUIRED")), text)));
            }
            _ => self.refuse_bad(
                output,
                Some(tag),
                "Only CAPABILITY, NOOP, LOGOUT and STARTTLS before STARTTLS",
            ),
        }
    }

    fn refuse_bad(&mut self, output: &mut Vec<u8>, tag: Option<Tag<'static>>, text: &str) {
        output.extend(encode_status(bad(tag, text)));
        self.bad_commands += 1;
        if self.bad_commands >= self.limits.max_bad_commands {
            output.extend(encode_status(bye(None, "Too many bad commands")));
            self.finished = Some(PlaintextOutcome::Close);
        }
    }
}
