//! What the fuzz targets (`fuzz/`) and the robustness test (`tests/robustness.rs`) share,
//! behind the `fuzzing` feature: a driver that answers a sans-IO [`Session`]'s actions
//! with decisions it is handed, checks every write is whole reply lines and that nothing
//! follows Close, and counts what it saw.

use crate::proto::{Action, AuthRequest, Reply, Session};

/// How often each kind of action was seen (to show a run reaches deep states).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Messages completed (DATA or BDAT LAST).
    pub messages: usize,
    /// Message bodies aborted.
    pub aborted: usize,
    /// STARTTLS upgrades.
    pub starttls: usize,
    /// Sign-in requests decoded from AUTH.
    pub auth: usize,
    /// Closes.
    pub closes: usize,
}

impl std::ops::AddAssign for Seen {
    fn add_assign(&mut self, other: Seen) {
        self.messages += other.messages;
        self.aborted += other.aborted;
        self.starttls += other.starttls;
        self.auth += other.auth;
        self.closes += other.closes;
    }
}

/// Drives a session: each decision (AUTH, MAIL, RCPT) asks `accept`; a completed message
/// is always taken. Panics on a malformed write, on an action after Close, and on a
/// message without a recipient.
pub struct Driver<F: FnMut() -> bool> {
    /// Says whether to accept the next decision.
    pub accept: F,
    /// Whether Close was seen.
    pub closed: bool,
    /// What was seen so far.
    pub seen: Seen,
    /// Every sign-in request the session decoded, in order.
    pub auth_requests: Vec<AuthRequest>,
}

impl<F: FnMut() -> bool> Driver<F> {
    /// A driver deciding with `accept`.
    pub fn new(accept: F) -> Driver<F> {
        Driver {
            accept,
            closed: false,
            seen: Seen::default(),
            auth_requests: Vec::new(),
        }
    }

    /// Performs every action the session has queued.
    pub fn run(&mut self, session: &mut Session) {
        while let Some(action) = session.next_action() {
            assert!(!self.closed, "action after Close: {action:?}");
            self.perform(session, action);
        }
    }

    fn decision(&mut self) -> Result<(), Reply> {
        if (self.accept)() {
            Ok(())
        } else {
            Err(Reply::new(550, (5, 7, 1), "refused"))
        }
    }

    fn perform(&mut self, session: &mut Session, action: Action) {
        match action {
            Action::Write(bytes) => check_replies(&bytes),
            Action::StartTls => {
                self.seen.starttls += 1;
                session
                    .tls_established()
                    .expect("StartTls is answered by tls_established");
            }
            Action::Authenticate(request) => {
                self.seen.auth += 1;
                self.auth_requests.push(request);
                let decision = self.decision();
                session.auth_result(decision).expect("auth was asked");
            }
            Action::CheckSender { .. } => {
                let decision = self.decision();
                session.mail_result(decision).expect("sender was asked");
            }
            Action::CheckRecipient(_) => {
                let decision = self.decision();
                session.rcpt_result(decision).expect("recipient was asked");
            }
            Action::MessageComplete(envelope) => {
                assert!(!envelope.rcpts.is_empty(), "a message needs a recipient");
                self.seen.messages += 1;
                session
                    .message_result(Reply::new(250, (2, 0, 0), "ok"))
                    .expect("message was asked");
            }
            Action::MessageAborted => self.seen.aborted += 1,
            Action::MessageStart | Action::MessageChunk(_) => {}
            Action::Close => {
                self.seen.closes += 1;
                self.closed = true;
            }
        }
    }
}

/// Panics unless `bytes` is one or more whole reply lines: `ddd-` or `ddd `, text, CRLF,
/// no bare CR.
pub fn check_replies(bytes: &[u8]) {
    assert!(
        bytes.ends_with(b"\r\n"),
        "write not ending in CRLF: {bytes:?}"
    );
    for line in bytes[..bytes.len() - 2].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(line.len() >= 4, "short reply line {line:?}");
        assert!(
            line[..3].iter().all(u8::is_ascii_digit),
            "bad code {line:?}"
        );
        assert!(line[3] == b' ' || line[3] == b'-', "bad separator {line:?}");
        assert!(!line.contains(&b'\r'), "bare CR in {line:?}");
    }
}
