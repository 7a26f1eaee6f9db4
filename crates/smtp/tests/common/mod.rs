//! A test driver for the sans-IO session: it performs every action the way the real I/O
//! driver will, with a fixed sign-in and delivery policy, and records what it saw.
#![allow(dead_code)] // each test binary uses a different part of it

use certmail_smtp::proto::{
    Action, AuthRequest, Envelope, ListenerKind, Reply, Session, SessionConfig,
};

/// The one account of the test policy.
pub const ACCOUNT: &str = "hong@example.kr";
/// Its password (PLAIN / LOGIN).
pub const PASSWORD: &str = "비밀번호";
/// Local users of example.kr.
pub const LOCAL_USERS: [&str; 2] = ["hong", "kim"];

/// Our host name in every test.
pub const HOST: &str = "mail.example.kr";

/// Submission on port 587 (STARTTLS), with certificate-only sign-in allowed so that the
/// transcripts exercise EXTERNAL too.
pub fn submission_587() -> SessionConfig {
    let mut c = SessionConfig::new(
        HOST,
        ListenerKind::Submission {
            implicit_tls: false,
        },
    );
    c.offer_external = true;
    c
}

/// Submission on port 465 (implicit TLS), EXTERNAL offered as in [`submission_587`].
pub fn submission_465() -> SessionConfig {
    let mut c = SessionConfig::new(HOST, ListenerKind::Submission { implicit_tls: true });
    c.offer_external = true;
    c
}

/// MX on port 25.
pub fn mx() -> SessionConfig {
    SessionConfig::new(HOST, ListenerKind::Mx)
}

/// One accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub envelope: Envelope,
    pub body: Vec<u8>,
}

/// Drives a session and records its effects.
pub struct Harness {
    pub session: Session,
    /// Everything written to the client so far, not yet taken.
    pub output: Vec<u8>,
    /// Messages the driver stored.
    pub stored: Vec<Stored>,
    /// Bodies the driver was told to drop.
    pub aborted: usize,
    /// True once the session asked to close.
    pub closed: bool,
    /// Complete the TLS handshake as soon as STARTTLS is accepted.
    pub auto_tls: bool,
    /// True while STARTTLS was accepted and the handshake not yet done.
    pub tls_pending: bool,
    /// Sign-in requests seen (for asserting what was decoded).
    pub auth_requests: Vec<AuthRequest>,
    spool: Option<Vec<u8>>,
}

impl Harness {
    pub fn new(config: SessionConfig) -> Self {
        let mut harness = Self {
            session: Session::new(config),
            output: Vec::new(),
            stored: Vec::new(),
            aborted: 0,
            closed: false,
            auto_tls: true,
            tls_pending: false,
            auth_requests: Vec::new(),
            spool: None,
        };
        harness.drive();
        harness
    }

    /// A session on `config` with the greeting already taken.
    pub fn greeted(config: SessionConfig) -> Self {
        let mut harness = Self::new(config);
        harness.take_output();
        harness
    }

    /// Feeds bytes and performs all resulting actions.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.session.feed(bytes);
        self.drive();
    }

    /// Feeds a string.
    pub fn send(&mut self, text: &str) {
        self.feed(text.as_bytes());
    }

    /// Feeds a string and returns what the server wrote in answer.
    pub fn exchange(&mut self, text: &str) -> String {
        self.send(text);
        self.take_output()
    }

    /// Takes the output written so far.
    pub fn take_output(&mut self) -> String {
        String::from_utf8(std::mem::take(&mut self.output)).expect("replies are UTF-8")
    }

    /// Completes a pending TLS handshake (when `auto_tls` is off).
    pub fn finish_tls(&mut self) {
        self.session
            .tls_established()
            .expect("a STARTTLS was accepted");
        self.tls_pending = false;
        self.drive();
    }

    /// Performs every action until the session needs input.
    pub fn drive(&mut self) {
        while let Some(action) = self.session.next_action() {
            assert!(!self.closed, "action {action:?} after Close");
            self.perform(action);
        }
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::Write(bytes) => self.output.extend_from_slice(&bytes),
            Action::StartTls => {
                self.tls_pending = true;
                if self.auto_tls {
                    self.session
                        .tls_established()
                        .expect("StartTls is followed by tls_established");
                    self.tls_pending = false;
                }
            }
            Action::Authenticate(request) => {
                let decision = decide_auth(&request);
                self.auth_requests.push(request);
                self.session.auth_result(decision).expect("auth was asked");
            }
            Action::CheckSender { address, .. } => {
                let decision = decide_sender(self.session.is_authenticated(), &address);
                self.session
                    .mail_result(decision)
                    .expect("sender was asked");
            }
            Action::CheckRecipient(rcpt) => {
                let decision = decide_recipient(self.session.is_authenticated(), &rcpt.address);
                self.session
                    .rcpt_result(decision)
                    .expect("recipient was asked");
            }
            Action::MessageStart => {
                assert!(self.spool.is_none(), "MessageStart while a body is open");
                self.spool = Some(Vec::new());
            }
            Action::MessageChunk(chunk) => self
                .spool
                .as_mut()
                .expect("MessageChunk after MessageStart")
                .extend_from_slice(&chunk),
            Action::MessageAborted => {
                self.spool
                    .take()
                    .expect("MessageAborted after MessageStart");
                self.aborted += 1;
            }
            Action::MessageComplete(envelope) => {
                let body = self
                    .spool
                    .take()
                    .expect("MessageComplete after MessageStart");
                self.stored.push(Stored { envelope, body });
                self.session
                    .message_result(Reply::new(250, (2, 0, 0), "Message accepted"))
                    .expect("message was asked");
            }
            Action::Close => self.closed = true,
        }
    }
}

fn decide_auth(request: &AuthRequest) -> Result<(), Reply> {
    let accepted = match request {
        AuthRequest::External { authzid } => {
            authzid.is_none() || authzid.as_deref() == Some(ACCOUNT)
        }
        AuthRequest::Plain {
            username, password, ..
        }
        | AuthRequest::Login { username, password } => {
            username == ACCOUNT && password.expose() == PASSWORD
        }
    };
    if accepted {
        Ok(())
    } else {
        Err(Reply::new(
            535,
            (5, 7, 8),
            "Authentication credentials invalid",
        ))
    }
}

fn decide_sender(authenticated: bool, address: &str) -> Result<(), Reply> {
    if !authenticated || address == ACCOUNT {
        Ok(())
    } else {
        Err(Reply::new(550, (5, 7, 1), "Sender address is not yours"))
    }
}

fn decide_recipient(authenticated: bool, address: &str) -> Result<(), Reply> {
    match address.rsplit_once('@') {
        Some((local, "example.kr")) if LOCAL_USERS.contains(&local) => Ok(()),
        Some((_, "example.kr")) => Err(Reply::new(550, (5, 1, 1), "No such user")),
        _ if authenticated => Ok(()),
        _ => Err(Reply::new(554, (5, 7, 1), "Relaying denied")),
    }
}

/// Runs a `C:`/`S:` transcript: each group of `C:` lines is fed at once (pipelined), and
/// the server's output must then equal the following group of `S:` lines exactly. Lines
/// get CRLF appended. Returns the harness for further checks.
pub fn transcript(config: SessionConfig, script: &str) -> Harness {
    let mut harness = Harness::new(config);
    let mut client = String::new();
    let mut expected = String::new();
    let mut lines = script
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty());
    let check = |harness: &mut Harness, client: &mut String, expected: &mut String| {
        harness.send(client);
        let got = harness.take_output();
        assert_eq!(got, *expected, "after client sent {client:?}");
        client.clear();
        expected.clear();
    };
    for line in lines.by_ref() {
        if let Some(text) = line.strip_prefix("C:") {
            if !expected.is_empty() {
                check(&mut harness, &mut client, &mut expected);
            }
            client.push_str(text.strip_prefix(' ').unwrap_or(text));
            client.push_str("\r\n");
        } else if let Some(text) = line.strip_prefix("S:") {
            expected.push_str(text.strip_prefix(' ').unwrap_or(text));
            expected.push_str("\r\n");
        } else {
            panic!("transcript line without C: or S: {line:?}");
        }
    }
    check(&mut harness, &mut client, &mut expected);
    harness
}

/// The EHLO reply lines every submission session has, before and after TLS and sign-in.
macro_rules! ehlo_common {
    () => {
        "S: 250-mail.example.kr
S: 250-PIPELINING
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-SIZE 50000000
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250-DSN
"
    };
}

/// The EHLO reply lines of a submission session after TLS.
pub const EHLO_AFTER_TLS: &str = concat!(
    ehlo_common!(),
    "S: 250-REQUIRETLS
S: 250 AUTH EXTERNAL PLAIN LOGIN"
);

/// The EHLO reply lines before TLS (STARTTLS offered, no AUTH).
pub const EHLO_BEFORE_TLS: &str = concat!(ehlo_common!(), "S: 250 STARTTLS");

/// The EHLO reply lines after TLS and sign-in (AUTH no longer offered).
pub const EHLO_AFTER_AUTH: &str = concat!(ehlo_common!(), "S: 250 REQUIRETLS");

/// Base64 of the PLAIN response for the test account.
pub fn plain_response() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{ACCOUNT}\0{PASSWORD}"))
}

/// Base64 of a string.
pub fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
