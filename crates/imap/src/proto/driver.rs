//! An imap-next [`Server`] driven without I/O, for the TLS part of a connection.
//!
//! What it adds to imap-next:
//! - after STARTTLS the greeting imap-next always emits is dropped (RFC 3501 §6.2.1: no
//!   greeting after the TLS handshake);
//! - client input reaches the server one line (or literal chunk) at a time, so every literal
//!   announcement is seen *before* imap-next buffers it: the octets are reserved from the
//!   daemon-wide [`LiteralPool`], and a command whose literal does not fit gets
//!   `NO [LIMIT]` without its literal ever being held;
//! - `max_literal_size` (APPENDLIMIT) and `max_command_size` from [`DriverLimits`];
//! - the commands imap-codec cannot parse (see [`super::ext::claims`]) never reach
//!   imap-next: the driver collects them whole (line and literals, at most `max_line`
//!   octets, sending `+` for a synchronizing literal itself), parses them with
//!   [`super::ext::parse`] and reports them as [`DriverEvent::Extended`].
//!
//! Use: it is an imap-next [`State`]: call `next()` in a loop; write `Io::Output`, read on
//! `Io::NeedMoreInput` and pass the bytes to `enqueue_input()` (or let
//! `imap_next::stream::Stream::next(&mut driver)` do both); answer events through
//! [`Driver::server`]. Never log events with `{:?}`: imap-types' `Secret` prints LOGIN
//! passwords in debug builds.

use std::{collections::VecDeque, sync::Arc};

use imap_codec::imap_types::{
    core::{Tag, Vec1},
    response::{Code, CommandContinuationRequest, Greeting},
    secret::Secret,
};
use imap_next::{
    Interrupt, Io, State,
    server::{Error, Event, Options, Server},
};

use super::{
    capability::{CapabilityPhase, capabilities},
    ext::{self, ExtCommand},
    literal::{LiteralPool, announcement, line_tag},
    response::{bad, code, no, safe_text},
};

/// Size limits of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverLimits {
    /// Largest literal (APPENDLIMIT), octets.
    pub max_literal: u32,
    /// Largest command including its literals, octets; must exceed `max_literal`.
    pub max_command: u32,
    /// Longest first line of a command, octets (longer ones get BAD and are dropped
    /// without being buffered).
    pub max_line: u32,
    /// Whether the greeting's capabilities offer AUTH=EXTERNAL (the certificate alone
    /// signs in); not a limit, but fixed for the connection like them.
    pub auth_external: bool,
    /// Largest literal accepted before sign-in, octets (`[imap] max_literal_before_login`):
    /// enough for a login id, a password or a SASL response. Such literals never reserve
    /// from the shared [`LiteralPool`], which is kept for signed-in users' APPENDs.
    pub max_literal_before_login: u32,
}

/// Default of [`DriverLimits::max_literal_before_login`]: 8 KiB.
pub const DEFAULT_MAX_LITERAL_BEFORE_LOGIN: u32 = 8 * 1024;

impl DriverLimits {
    /// Limits for an APPENDLIMIT of `max_literal` octets, with 64 KiB for the rest of the
    /// command and for a command line (Dovecot's figure, per imap-next).
    pub fn for_append_limit(max_literal: u32) -> DriverLimits {
        DriverLimits {
            max_literal,
            max_command: max_literal.saturating_add(64 * 1024),
            max_line: 64 * 1024,
            auth_external: false,
            max_literal_before_login: DEFAULT_MAX_LITERAL_BEFORE_LOGIN,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// At the start of (or inside) a line; `message_start` is true when this line begins
    /// a new command.
    Line { message_start: bool },
    /// Inside a literal the server will receive; octets left.
    Literal(u64),
    /// Inside a literal we refused and swallow; octets left.
    Discard(u64),
    /// Swallowing the rest of a refused command, from the start of a line.
    DiscardLine,
    /// Inside a literal of a command we parse ourselves; octets left.
    OwnLiteral(u64),
    /// At the start of a further line of a command we parse ourselves.
    OwnLine,
}

/// What the driver reports: an imap-next event, or a command our own parser read.
#[derive(Debug)]
pub enum DriverEvent {
    /// An event of imap-next (commands it parsed, AUTHENTICATE data, IDLE, output sent).
    Imap(Event),
    /// A command in a form imap-codec does not parse (ESEARCH, extended LIST, CREATE USE).
    Extended(ExtCommand),
}

impl From<Event> for DriverEvent {
    fn from(event: Event) -> DriverEvent {
        DriverEvent::Imap(event)
    }
}

/// What one feeding step did.
enum Feed {
    /// Bytes went to the server.
    Fed,
    /// Nothing complete to hand over: read more.
    NeedInput,
    /// A command line exceeded `max_line`; its first octets.
    LineTooLong(Vec<u8>),
    /// A whole command for our own parser.
    Own(Vec<u8>),
}

/// The imap-next server plus STARTTLS and literal accounting.
pub struct Driver {
    server: Server,
    limits: DriverLimits,
    pool: Arc<LiteralPool>,
    drop_greeting: bool,
    pending: VecDeque<u8>,
    scan: Scan,
    /// Octets reserved for the command being received.
    reserved: u64,
    /// Octets reserved for the command the caller is handling now (freed on the next call).
    held: u64,
    /// The last octets of a line being dropped (to see a literal announced at its end).
    discard_tail: Vec<u8>,
    /// The command being collected for our own parser.
    own: Vec<u8>,
    /// That command is an APPEND: its literals are messages (up to APPENDLIMIT each and
    /// `max_command` in all), not names.
    own_append: bool,
    /// IMAP4rev2 is enabled: quoted strings may carry UTF-8 (RFC 9051 §4.3).
    utf8_quoted: bool,
    /// The command collected for our own parser has 8-bit in a quoted string while
    /// IMAP4rev2 is off: it is refused like imap-codec refuses one (RFC 3501 §9).
    own_8bit: bool,
    /// IDLE was accepted and DONE not yet seen: every line goes to imap-next, which
    /// expects DONE (RFC 2177), none to our own parser.
    idling: bool,
    /// The connection has signed in: literals up to APPENDLIMIT, reserved from the pool.
    signed_in: bool,
    /// The tag of the command being received (from its first line), for refusals.
    command_tag: Option<Tag<'static>>,
    /// The command being received announced a literal over `max_literal_before_login`:
    /// imap-next gets it with an empty literal instead, and whatever it makes of the
    /// command is replaced by `NO [TOOBIG]`.
    too_big: bool,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print buffered input: it may hold a password or AUTHENTICATE data.
        f.debug_struct("Driver")
            .field("limits", &self.limits)
            .field("reserved", &self.reserved)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// A driver for a connection whose TLS is up. With `after_starttls`, the greeting is
    /// not sent (the plaintext phase already greeted); otherwise (port 993) it is
    /// `* OK [CAPABILITY ...] greeting_text`.
    pub fn new(
        limits: DriverLimits,
        pool: Arc<LiteralPool>,
        greeting_text: &str,
        after_starttls: bool,
    ) -> Driver {
        let mut options = Options::default();
        options.max_literal_size = limits.max_literal;
        options.max_command_size = limits.max_command.max(limits.max_literal.saturating_add(1));
        options.crlf_relaxed = false;
        // Static texts without CR/LF: imap-next accepts them.
        let _ = options.set_literal_accept_text("Ready for literal data".to_string());
        let _ = options.set_literal_reject_text("Literal is larger than APPENDLIMIT".to_string());
        let caps = Code::Capability(capabilities(
            CapabilityPhase::TlsNotAuthenticated,
            limits.max_literal,
            limits.auth_external,
        ));
        let text = safe_text(greeting_text);
        let greeting = Greeting::ok(Some(caps), text.inner())
            .map(|g| imap_codec::imap_types::ToStatic::to_static(&g))
            .unwrap_or_else(|_| Greeting::ok(None, "ready").expect("static greeting is valid"));
        Driver {
            server: Server::new(options, greeting),
            limits,
            pool,
            drop_greeting: after_starttls,
            pending: VecDeque::new(),
            scan: Scan::Line {
                message_start: true,
            },
            reserved: 0,
            held: 0,
            discard_tail: Vec::new(),
            own: Vec::new(),
            own_append: false,
            utf8_quoted: false,
            own_8bit: false,
            idling: false,
            signed_in: false,
            command_tag: None,
            too_big: false,
        }
    }

    /// Says whether IDLE is under way (accepted, DONE not yet received): while it is, a
    /// command our own parser would read is left to imap-next, which refuses it as it
    /// refuses every line but DONE.
    pub fn set_idling(&mut self, on: bool) {
        self.idling = on;
    }

    /// Says the connection has signed in: from now on literals may be as large as
    /// APPENDLIMIT and are reserved from the shared pool; before, they are bounded by
    /// `max_literal_before_login` and never touch the pool.
    pub fn set_signed_in(&mut self, on: bool) {
        self.signed_in = on;
    }

    /// Once IMAP4rev2 is enabled, quoted strings with UTF-8 reach imap-codec as literals
    /// (see [`super::utf8_quoted`]); before, they stay a BAD as in IMAP4rev1.
    pub fn set_utf8_quoted(&mut self, on: bool) {
        self.utf8_quoted = on;
    }

    /// The imap-next server, to enqueue responses and answer AUTHENTICATE / IDLE.
    pub fn server(&mut self) -> &mut Server {
        &mut self.server
    }

    /// Octets of input not yet handed to the server.
    pub fn pending_input(&self) -> usize {
        self.pending.len()
    }

    fn progress(&mut self) -> Result<DriverEvent, Interrupt<Error>> {
        self.release_held();
        loop {
            match self.server.next() {
                Ok(Event::GreetingSent { .. }) if self.drop_greeting => self.drop_greeting = false,
                Ok(
                    Event::CommandReceived { .. }
                    | Event::CommandAuthenticateReceived { .. }
                    | Event::IdleCommandReceived { .. },
                ) if self.too_big => self.refuse_too_big(),
                Ok(event) => {
                    if matches!(
                        event,
                        Event::CommandReceived { .. }
                            | Event::CommandAuthenticateReceived { .. }
                            | Event::IdleCommandReceived { .. }
                    ) {
                        self.held += std::mem::take(&mut self.reserved);
                    }
                    return Ok(DriverEvent::Imap(event));
                }
                Err(Interrupt::Io(Io::Output(_))) if self.drop_greeting => {
                    // RFC 3501 §6.2.1: the greeting was sent before STARTTLS, not again.
                }
                Err(Interrupt::Io(Io::NeedMoreInput)) => match self.feed_one() {
                    Feed::Fed => {}
                    Feed::NeedInput => return Err(Interrupt::Io(Io::NeedMoreInput)),
                    Feed::LineTooLong(start) => {
                        // Like imap-next's own limit: the caller answers BAD and counts it.
                        let discarded_bytes = Secret::new(start.into_boxed_slice());
                        return Err(Interrupt::Error(Error::CommandTooLong { discarded_bytes }));
                    }
                    Feed::Own(command) if std::mem::take(&mut self.own_8bit) => {
                        self.pool.release(std::mem::take(&mut self.reserved));
                        let discarded_bytes = Secret::new(command.into_boxed_slice());
                        return Err(Interrupt::Error(Error::MalformedMessage {
                            discarded_bytes,
                        }));
                    }
                    Feed::Own(command) => {
                        // Held while the caller runs the command, like imap-next's commands.
                        self.held += std::mem::take(&mut self.reserved);
                        return parse_own(command);
                    }
                },
                Err(Interrupt::Error(_)) if self.too_big => {
                    self.pool.release(std::mem::take(&mut self.reserved));
                    self.refuse_too_big();
                }
                Err(Interrupt::Error(error)) => {
                    // The command is gone (imap-next discarded it): free its literal octets.
                    self.pool.release(std::mem::take(&mut self.reserved));
                    return Err(Interrupt::Error(error));
                }
                Err(other) => return Err(other),
            }
        }
    }

    fn release_held(&mut self) {
        self.pool.release(std::mem::take(&mut self.held));
    }

    /// Hands the server the next line or literal chunk.
    fn feed_one(&mut self) -> Feed {
        loop {
            if self.pending.is_empty() {
                return Feed::NeedInput;
            }
            let fed = match self.scan {
                Scan::Literal(left) | Scan::Discard(left) => self.feed_literal(left),
                Scan::OwnLiteral(left) => {
                    self.collect_own_literal(left);
                    None
                }
                Scan::OwnLine => self.feed_own_line(),
                Scan::Line { message_start } => self.feed_line(message_start),
                Scan::DiscardLine => self.discard_line_step(),
            };
            if let Some(feed) = fed {
                return feed;
            }
        }
    }

    /// A chunk of a literal: to the server (`Scan::Literal`) or dropped (`Scan::Discard`).
    /// `None` means: keep feeding.
    fn feed_literal(&mut self, left: u64) -> Option<Feed> {
        let n = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(self.pending.len());
        let chunk: Vec<u8> = self.pending.drain(..n).collect();
        let left = left - n as u64;
        let literal = matches!(self.scan, Scan::Literal(_));
        self.scan = match (literal, left) {
            (true, 0) => Scan::Line {
                message_start: false,
            },
            (true, _) => Scan::Literal(left),
            (false, 0) => Scan::DiscardLine,
            (false, _) => Scan::Discard(left),
        };
        if literal {
            self.server.enqueue_input(&chunk);
            return Some(Feed::Fed);
        }
        None
    }

    /// A chunk of a literal of a command our own parser reads.
    fn collect_own_literal(&mut self, left: u64) {
        let n = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(self.pending.len());
        self.own.extend(self.pending.drain(..n));
        let left = left - n as u64;
        self.scan = match left {
            0 => Scan::OwnLine,
            _ => Scan::OwnLiteral(left),
        };
    }

    /// The next line of a command our own parser reads. `None` means: keep feeding.
    fn feed_own_line(&mut self) -> Option<Feed> {
        if self.first_line_too_long() {
            return Some(self.own_too_long());
        }
        let Some(line) = self.take_line() else {
            return Some(Feed::NeedInput);
        };
        self.own_line(line)
    }

    /// The next line for imap-next, unless our own parser claims the command or the line
    /// is rewritten first (IMAP4rev2 UTF-8 quoted strings). `None` means: keep feeding.
    fn feed_line(&mut self, message_start: bool) -> Option<Feed> {
        if message_start && self.first_line_too_long() {
            // STYLE.md rule 4: bound the command line. Keep its start (for the
            // tag), drop the rest up to its line break without buffering it.
            let start: Vec<u8> = self.pending.iter().take(64).copied().collect();
            self.scan = Scan::DiscardLine;
            self.discard_tail.clear();
            return Some(Feed::LineTooLong(start));
        }
        let Some(line) = self.take_line() else {
            return Some(Feed::NeedInput);
        };
        if message_start && !self.idling && ext::claims(&line) {
            self.own.clear();
            self.own_8bit = false;
            self.own_append = ext::is_append(&line);
            return self.own_line(line);
        }
        if self.utf8_quoted
            && !self.idling
            && let Some(rewritten) = super::utf8_quoted::quoted_to_literals(&line)
        {
            // Scanned again: the literals are announced and accounted as usual.
            for &b in rewritten.iter().rev() {
                self.pending.push_front(b);
            }
            return None;
        }
        if message_start {
            self.command_tag = line_tag(&line).and_then(|t| Tag::try_from(t.to_vec()).ok());
            self.too_big = false;
        }
        if let Some(feed) = self.refuse_before_login(&line) {
            return Some(feed);
        }
        self.scan = self.scan_line(&line, message_start)?;
        self.server.enqueue_input(&line);
        Some(Feed::Fed)
    }

    /// Adds a line to the command we collect for our own parser: the whole command when it
    /// announces no literal, `+` for a synchronizing literal, or a refusal past `max_line`.
    /// `None` means: keep feeding.
    fn own_line(&mut self, line: Vec<u8>) -> Option<Feed> {
        if !self.utf8_quoted && super::utf8_quoted::quoted_to_literals(&line).is_some() {
            self.own_8bit = true;
        }
        self.own.extend_from_slice(&line);
        let max = match (self.signed_in, self.own_append) {
            (true, true) => u64::from(self.limits.max_command),
            (true, false) => u64::from(self.limits.max_line),
            (false, _) => u64::from(
                self.limits
                    .max_line
                    .min(self.limits.max_literal_before_login),
            ),
        };
        let over = |a: &super::literal::Announcement, own: &[u8]| {
            own.len() as u64 + u64::from(a.length) > max
        };
        match announcement(&line) {
            Some(a)
                if self.own_append
                    && (a.length > self.limits.max_literal
                        || (self.signed_in && over(&a, &self.own))) =>
            {
                self.refuse_big_append(a);
                Some(Feed::Fed)
            }
            None => {
                self.scan = Scan::Line {
                    message_start: true,
                };
                Some(Feed::Own(std::mem::take(&mut self.own)))
            }
            Some(a) if over(&a, &self.own) => {
                self.pool.release(std::mem::take(&mut self.reserved));
                // STYLE.md rule 4: these commands carry names and search strings, never
                // messages. A sync literal is never sent (no "+"); a non-sync one is
                // swallowed with the rest of the command.
                let start: Vec<u8> = self.own.iter().take(64).copied().collect();
                self.own.clear();
                self.scan = if a.non_sync {
                    Scan::Discard(u64::from(a.length))
                } else {
                    Scan::Line {
                        message_start: true,
                    }
                };
                Some(Feed::LineTooLong(start))
            }
            Some(a) => {
                let length = u64::from(a.length);
                if !self.signed_in {
                    // Bounded above; never from the pool signed-in users need.
                } else if self.pool.try_reserve(length) {
                    self.reserved += length;
                } else {
                    // Counted like every other literal: refused with NO [LIMIT] when the
                    // daemon-wide budget is spent.
                    self.pool.release(std::mem::take(&mut self.reserved));
                    let tag = line_tag(&self.own).and_then(|t| Tag::try_from(t.to_vec()).ok());
                    self.own.clear();
                    match tag {
                        Some(tag) => self.refuse_busy(tag, a.non_sync, length),
                        None => return Some(self.own_too_long()),
                    }
                    return Some(Feed::Fed);
                }
                if !a.non_sync {
                    // RFC 9051 §7.5: the client waits for "+" before a sync literal.
                    let text = "Ready for literal data";
                    let go = CommandContinuationRequest::basic(None, text)
                        .expect("a static text is a valid continuation");
                    self.server.enqueue_continuation_request(go);
                }
                self.scan = Scan::OwnLiteral(u64::from(a.length));
                // Let the server write the "+" before more input is read.
                (!a.non_sync).then_some(Feed::Fed)
            }
        }
    }

    /// A further line of our own command has no line break within `max_line`.
    fn own_too_long(&mut self) -> Feed {
        self.pool.release(std::mem::take(&mut self.reserved));
        let start: Vec<u8> = self.own.iter().take(64).copied().collect();
        self.own.clear();
        self.scan = Scan::DiscardLine;
        self.discard_tail.clear();
        Feed::LineTooLong(start)
    }

    /// True when the pending first line of a command has no line break within `max_line`.
    fn first_line_too_long(&self) -> bool {
        let max_line = self.limits.max_line as usize;
        self.pending.len() > max_line
            && !self.pending.iter().take(max_line + 1).any(|&b| b == b'\n')
    }

    /// The state after `line`, with its literal reserved; `None` when the command was
    /// refused for lack of literal memory (the line is then dropped).
    fn scan_line(&mut self, line: &[u8], message_start: bool) -> Option<Scan> {
        Some(match announcement(line) {
            // Before sign-in (bounded by `refuse_before_login`): not from the pool.
            Some(a) if !self.signed_in => Scan::Literal(u64::from(a.length)),
            Some(a) if a.length <= self.limits.max_literal => {
                let length = u64::from(a.length);
                if self.pool.try_reserve(length) {
                    self.reserved += length;
                } else if message_start
                    && let Some(tag) = line_tag(line).and_then(|t| Tag::try_from(t.to_vec()).ok())
                {
                    self.refuse_busy(tag, a.non_sync, length);
                    return None;
                }
                // Otherwise (a later literal of a command already under way) it goes
                // through unaccounted, bounded by max_command.
                Scan::Literal(length)
            }
            // imap-next refuses an over-long sync literal and drops the command (the client
            // never sends it); an over-long non-sync literal is still read, then dropped.
            Some(a) if a.non_sync => Scan::Literal(u64::from(a.length)),
            _ => Scan::Line {
                message_start: true,
            },
        })
    }

    /// One step of `Scan::DiscardLine`; at the end of a command refused before sign-in,
    /// imap-next gets its line end. `None` means: keep feeding.
    fn discard_line_step(&mut self) -> Option<Feed> {
        if !self.discard_line() {
            return Some(Feed::NeedInput);
        }
        if self.too_big && matches!(self.scan, Scan::Line { .. }) {
            // The swallowed command ends here: imap-next gets its line end.
            self.server.enqueue_input(b"\r\n");
            return Some(Feed::Fed);
        }
        None
    }

    /// Drops input up to and including the next line break, remembering only the line's
    /// last octets: a non-sync literal announced there is dropped too. False if the line
    /// has not ended yet.
    fn discard_line(&mut self) -> bool {
        const TAIL: usize = 24;
        let Some(lf) = self.pending.iter().position(|&b| b == b'\n') else {
            self.discard_tail.extend(self.pending.drain(..));
            let excess = self.discard_tail.len().saturating_sub(TAIL);
            self.discard_tail.drain(..excess);
            return false;
        };
        self.discard_tail.extend(self.pending.drain(..=lf));
        self.scan = match announcement(&self.discard_tail) {
            Some(a) if a.non_sync => Scan::Discard(u64::from(a.length)),
            _ => Scan::Line {
                message_start: true,
            },
        };
        self.discard_tail.clear();
        true
    }

    /// Takes one complete line from the pending input. A line longer than the command limit
    /// is handed over unfinished so imap-next's own limit handles it.
    fn take_line(&mut self) -> Option<Vec<u8>> {
        let end = match self.pending.iter().position(|&b| b == b'\n') {
            Some(lf) => lf + 1,
            None if self.pending.len() as u64 > u64::from(self.limits.max_command) => {
                self.pending.len()
            }
            None => return None,
        };
        Some(self.pending.drain(..end).collect())
    }

    /// The literal pool is exhausted: refuse the command without reading its literal.
    fn refuse_busy(&mut self, tag: Tag<'static>, non_sync: bool, length: u64) {
        // RFC 5530 §3 LIMIT.
        let text = "Server is busy with other uploads, try again shortly";
        self.refuse_literal(tag, non_sync, length, "LIMIT", text);
    }

    /// An APPEND literal over APPENDLIMIT, or messages over `max_command` in all: `NO
    /// [TOOBIG]` (RFC 7889 §4, RFC 4469 §4) without reading the literal.
    fn refuse_big_append(&mut self, a: super::literal::Announcement) {
        self.pool.release(std::mem::take(&mut self.reserved));
        let tag = line_tag(&self.own).and_then(|t| Tag::try_from(t.to_vec()).ok());
        self.own.clear();
        let text = match a.length > self.limits.max_literal {
            true => format!(
                "The message is larger than APPENDLIMIT ({} octets)",
                self.limits.max_literal
            ),
            false => format!(
                "The messages of one APPEND may hold {} octets in all; append them one at a time",
                self.limits.max_command
            ),
        };
        let length = u64::from(a.length);
        match tag {
            Some(tag) => self.refuse_literal(tag, a.non_sync, length, "TOOBIG", &text),
            None => {
                self.server.enqueue_status(bad(None, &text));
                self.scan = match a.non_sync {
                    true => Scan::Discard(length),
                    false => Scan::Line {
                        message_start: true,
                    },
                };
            }
        }
    }

    /// Answers `tag NO [code] text` for a command whose literal is not read: a sync
    /// literal is never sent (no "+"); a non-sync one is already on its way and is
    /// swallowed with the rest of the command.
    fn refuse_literal(
        &mut self,
        tag: Tag<'static>,
        non_sync: bool,
        length: u64,
        name: &'static str,
        text: &str,
    ) {
        self.server.enqueue_status(no(tag, Some(code(name)), text));
        self.scan = if non_sync {
            Scan::Discard(length)
        } else {
            Scan::Line {
                message_start: true,
            }
        };
    }
}

impl Driver {
    /// Before sign-in, a literal over `max_literal_before_login` is never read: imap-next
    /// gets the line with an empty non-synchronizing literal instead (so no `+` is sent),
    /// the announced octets of a non-sync literal are swallowed with the rest of the
    /// command, and the command is answered `NO [TOOBIG]` (see `progress`). `None` when
    /// the line is not refused.
    fn refuse_before_login(&mut self, line: &[u8]) -> Option<Feed> {
        let a = announcement(line).filter(|a| {
            !self.signed_in && !self.idling && a.length > self.limits.max_literal_before_login
        })?;
        let open = line.iter().rposition(|&b| b == b'{')?;
        let mut empty = line[..open].to_vec();
        empty.extend_from_slice(b"{0+}\r\n");
        self.too_big = true;
        self.server.enqueue_input(&empty);
        if a.non_sync {
            // RFC 7888: the client sends it without waiting; drop it, then the rest of
            // the command up to its line end.
            self.scan = Scan::Discard(u64::from(a.length));
            self.discard_tail.clear();
        } else {
            // The client waits for "+", which never comes: the command ends here.
            self.server.enqueue_input(b"\r\n");
            self.scan = Scan::Line {
                message_start: true,
            };
        }
        Some(Feed::Fed)
    }

    /// Answers the command refused by `refuse_before_login` (RFC 4469 §4 TOOBIG).
    fn refuse_too_big(&mut self) {
        self.too_big = false;
        let text = format!(
            "Literals before sign-in are limited to {} octets; sign in first",
            self.limits.max_literal_before_login
        );
        match self.command_tag.take() {
            Some(tag) => self
                .server
                .enqueue_status(no(tag, Some(code("TOOBIG")), &text)),
            None => self.server.enqueue_status(bad(None, &text)),
        };
    }
}

/// The driver is itself an imap-next `State`, so it can run under imap-next's `Stream`
/// (tokio) or any other I/O loop.
impl State for Driver {
    type Event = DriverEvent;
    type Error = Error;

    /// Adds bytes read from the socket.
    fn enqueue_input(&mut self, bytes: &[u8]) {
        self.pending.extend(bytes);
    }

    /// Progresses until the next event, output or need for input.
    fn next(&mut self) -> Result<DriverEvent, Interrupt<Error>> {
        self.progress()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.pool.release(self.reserved + self.held);
    }
}

/// Our own parser's verdict on a collected command; a command it cannot read is
/// reported like one imap-next cannot read (the session answers BAD and counts it).
fn parse_own(command: Vec<u8>) -> Result<DriverEvent, Interrupt<Error>> {
    match ext::parse(&command) {
        Ok(parsed) => Ok(DriverEvent::Extended(parsed)),
        Err(_) => {
            let discarded_bytes = Secret::new(command.into_boxed_slice());
            Err(Interrupt::Error(Error::MalformedMessage {
                discarded_bytes,
            }))
        }
    }
}

/// The capability list as a response code, for `OK [CAPABILITY ...]` after sign-in.
pub fn capability_code(
    phase: CapabilityPhase,
    append_limit: u32,
    auth_external: bool,
) -> Code<'static> {
    let caps: Vec1<_> = capabilities(phase, append_limit, auth_external);
    Code::Capability(caps)
}
