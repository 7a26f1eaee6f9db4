//! A whole SMTP session fed from arbitrary bytes. The first bytes pick the listener, the
//! limits, where the input is split into reads and how the driver decides; the rest is the
//! client's input. Checks: no panic, every write is whole CRLF-terminated reply lines, no
//! action after Close, a completed message always has a recipient.
//!
//! Run: `cargo +nightly fuzz run smtp_session` from the repository root. Without
//! cargo-fuzz, from fuzz/: `RUSTFLAGS="-Cpasses=sancov-module
//! -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
//! -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares
//! --cfg fuzzing -Cdebug-assertions -Coverflow-checks" cargo +nightly build --release
//! --target x86_64-unknown-linux-gnu --bin smtp_session`, then run
//! `target/x86_64-unknown-linux-gnu/release/smtp_session -max_total_time=60 corpus/smtp_session`.
#![no_main]

use certmail_smtp::proto::{Action, ListenerKind, Reply, Session, SessionConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [listener, limits, split, policy, rest @ ..] = data else {
        return;
    };
    let listener = match listener % 3 {
        0 => ListenerKind::Mx,
        1 => ListenerKind::Submission {
            implicit_tls: false,
        },
        _ => ListenerKind::Submission { implicit_tls: true },
    };
    let mut config = SessionConfig::new("mail.example.kr", listener);
    config.max_message_size = 16 + usize::from(*limits) * 4;
    config.max_line_length = 512;
    config.max_recipients = 1 + usize::from(limits % 4);
    config.max_errors = 2 + usize::from(limits % 8);
    let mut session = Session::new(config);
    let mut driver = Driver {
        policy: *policy,
        decisions: 0,
        closed: false,
    };
    driver.run(&mut session);
    let read_size = 1 + usize::from(*split);
    for read in rest.chunks(read_size) {
        session.feed(read);
        driver.run(&mut session);
    }
});

struct Driver {
    policy: u8,
    decisions: u32,
    closed: bool,
}

impl Driver {
    /// Alternates accept and refuse following the policy byte's bits.
    fn accept(&mut self) -> bool {
        self.decisions += 1;
        self.policy.rotate_left(self.decisions % 8) & 1 == 1
    }

    fn run(&mut self, session: &mut Session) {
        while let Some(action) = session.next_action() {
            assert!(!self.closed, "action after Close: {action:?}");
            self.perform(session, action);
        }
    }

    fn perform(&mut self, session: &mut Session, action: Action) {
        let refusal = || Reply::new(550, (5, 7, 1), "refused");
        match action {
            Action::Write(bytes) => check_replies(&bytes),
            Action::StartTls => session
                .tls_established()
                .expect("StartTls is answered by tls_established"),
            Action::Authenticate(_) => {
                let decision = if self.accept() {
                    Ok(())
                } else {
                    Err(refusal())
                };
                session.auth_result(decision).expect("auth was asked");
            }
            Action::CheckSender { .. } => {
                let decision = if self.accept() {
                    Ok(())
                } else {
                    Err(refusal())
                };
                session.mail_result(decision).expect("sender was asked");
            }
            Action::CheckRecipient(_) => {
                let decision = if self.accept() {
                    Ok(())
                } else {
                    Err(refusal())
                };
                session.rcpt_result(decision).expect("recipient was asked");
            }
            Action::MessageComplete(envelope) => {
                assert!(!envelope.rcpts.is_empty(), "a message needs a recipient");
                session
                    .message_result(Reply::new(250, (2, 0, 0), "ok"))
                    .expect("message was asked");
            }
            Action::MessageStart | Action::MessageChunk(_) | Action::MessageAborted => {}
            Action::Close => self.closed = true,
        }
    }
}

/// Every write is one or more whole reply lines: `ddd-` or `ddd `, text, CRLF.
fn check_replies(bytes: &[u8]) {
    assert!(bytes.ends_with(b"\r\n"), "write not ending in CRLF");
    for line in bytes[..bytes.len() - 2].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(line.len() >= 4, "short reply line {line:?}");
        assert!(
            line[..3].iter().all(u8::is_ascii_digit),
            "bad code {line:?}"
        );
        assert!(line[3] == b' ' || line[3] == b'-', "bad separator {line:?}");
        assert!(!line.contains(&b'\r'), "bare CR in a reply line");
    }
}
