//! Pseudo-random sessions (a deterministic stand-in for the fuzz target in fuzz/, which
//! needs cargo-fuzz): SMTP-shaped fragments and random bytes, split at random points, with
//! random decisions. No panic, every write is whole reply lines, nothing after Close.

use certmail_smtp::fuzzing::{Driver, Seen};
use certmail_smtp::proto::{ListenerKind, Session, SessionConfig};

/// xorshift64*: small, deterministic, good enough to pick fragments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const AUTH_PLAIN_OK: &str = "AUTH PLAIN AGhvbmdAZXhhbXBsZS5rcgBwdw==\r\n";
const AUTH_EXTERNAL: &str = "AUTH EXTERNAL =\r\n";
const MAIL: &str = "MAIL FROM:<hong@example.kr> SIZE=10\r\n";
const RCPT: &str = "RCPT TO:<kim@example.kr> NOTIFY=SUCCESS\r\n";

const FRAGMENTS: &[&str] = &[
    AUTH_PLAIN_OK,
    AUTH_EXTERNAL,
    MAIL,
    RCPT,
    "EHLO a\r\n",
    "HELO b\r\n",
    "STARTTLS\r\n",
    "AUTH LOGIN\r\n",
    "AUTH PLAIN\r\n",
    "aG9uZw==\r\n",
    "*\r\n",
    "MAIL FROM:<> BODY=8BITMIME\r\n",
    "DATA\r\n",
    "BDAT 3\r\n",
    "BDAT 0 LAST\r\n",
    "BDAT 5 LAST\r\n",
    ".\r\n",
    "..\r\n",
    "\r\n.\r\n",
    "\r\n",
    "\n",
    "\r",
    ".",
    "RSET\r\n",
    "NOOP\r\n",
    "QUIT\r\n",
    "홍길동\r\n",
];

/// A valid session for the listener with fragments replaced, inserted and bytes flipped.
fn mutated_session(rng: &mut Rng, listener: ListenerKind) -> Vec<u8> {
    let mut script: Vec<&str> = vec!["EHLO a\r\n"];
    match listener {
        ListenerKind::Submission {
            implicit_tls: false,
        } => script.extend(["STARTTLS\r\n", "EHLO a\r\n", AUTH_PLAIN_OK]),
        ListenerKind::Submission { implicit_tls: true } => script.push(AUTH_EXTERNAL),
        ListenerKind::Mx => {}
    }
    for _ in 0..1 + rng.below(3) {
        script.extend([MAIL, RCPT, RCPT]);
        if rng.below(2) == 0 {
            script.extend(["DATA\r\n", "Subject: x\r\n\r\n..body\r\n", ".\r\n"]);
        } else {
            script.extend(["BDAT 3\r\n", "abc", "BDAT 0 LAST\r\n"]);
        }
    }
    script.push("QUIT\r\n");
    let mut input = Vec::new();
    for fragment in script {
        match rng.below(12) {
            0 => input.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())].as_bytes()),
            1 => input.extend((0..rng.below(20)).map(|_| rng.next() as u8)),
            _ => input.extend_from_slice(fragment.as_bytes()),
        }
        if rng.below(12) == 0 {
            input.extend_from_slice(fragment.as_bytes());
        }
    }
    if rng.below(4) == 0 && !input.is_empty() {
        let at = rng.below(input.len());
        input[at] = rng.next() as u8;
    }
    input
}

#[test]
fn random_sessions_never_panic_and_keep_reply_framing() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut decisions = Rng(0x2545_f491_4f6c_dd1d);
    let mut seen = Seen::default();
    for round in 0..3000 {
        let listener = match round % 3 {
            0 => ListenerKind::Mx,
            1 => ListenerKind::Submission {
                implicit_tls: false,
            },
            _ => ListenerKind::Submission { implicit_tls: true },
        };
        let mut config = SessionConfig::new("mail.example.kr", listener);
        config.max_message_size = 8 + rng.below(64);
        config.max_recipients = 1 + rng.below(3);
        config.max_line_length = 512;
        config.max_errors = 3 + rng.below(10);
        config.auth_required_for_mail = rng.below(2) == 0;
        let input = mutated_session(&mut rng, listener);
        let mut session = Session::new(config);
        let mut driver = Driver::new(|| decisions.below(3) != 0);
        driver.run(&mut session);
        let mut rest = input.as_slice();
        while !rest.is_empty() {
            let (read, tail) = rest.split_at(1 + rng.below(rest.len()));
            session.feed(read);
            driver.run(&mut session);
            rest = tail;
        }
        seen += driver.seen;
    }
    for (what, count) in [
        ("messages", seen.messages),
        ("aborted bodies", seen.aborted),
        ("STARTTLS", seen.starttls),
        ("sign-ins", seen.auth),
        ("closes", seen.closes),
    ] {
        assert!(
            count > 10,
            "only {count} {what}: the rounds are too shallow"
        );
    }
}
