//! Pseudo-random IMAP-ish input through the plaintext phase, the driver and the session, and
//! random byte soup through the MIME views: nothing panics, literal reservations come back.
//! (The fuzz target fuzz/fuzz_targets/imap_parse.rs does the same with coverage guidance.)

use certmail_imap::fuzzing::{OneUser, XorShift, check_message_views, run_session};
use certmail_imap::proto::plaintext::{PlaintextLimits, PlaintextPhase};

const TOKENS: &[&str] = &[
    "a1 ",
    "b2 ",
    "LOGIN ",
    "hong ",
    "secret",
    "AUTHENTICATE PLAIN",
    " AGhvbmcAc2VjcmV0",
    "AUTHENTICATE EXTERNAL",
    " =",
    "{5}\r\n",
    "{3+}\r\n",
    "{99999}\r\n",
    "{0}\r\n",
    "\r\n",
    "\n",
    "*",
    "\"",
    "(",
    ")",
    "NOOP",
    "CAPABILITY",
    "ENABLE CONDSTORE",
    "ID (\"name\" NIL)",
    "STARTTLS",
    "LOGOUT",
    "SELECT INBOX",
    "APPEND INBOX ",
    "hello",
    "DONE",
    "IDLE",
    "\u{d64d}\u{ae38}\u{b3d9}",
    "\0",
    "\\Seen",
    " ",
    // The forms our own parser reads (proto::ext).
    "LIST ",
    "(SUBSCRIBED RECURSIVEMATCH) ",
    " RETURN (CHILDREN STATUS (MESSAGES SIZE))",
    "CREATE ",
    " (USE (\\Drafts))",
    "SEARCH RETURN (MIN SAVE) ",
    "UID ",
    "FETCH $ ",
    "ENABLE IMAP4rev2",
];

fn random_input(rng: &mut XorShift) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(40) {
        if rng.below(10) == 0 {
            out.push(rng.next() as u8);
        } else {
            out.extend_from_slice(TOKENS[rng.below(TOKENS.len())].as_bytes());
        }
    }
    out
}

#[test]
fn random_sessions_never_panic() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2000 {
        let input = random_input(&mut rng);
        let chunk = 1 + rng.below(16);
        run_session(&input, chunk, 500, 1000, OneUser("hong"));
        let mut phase = PlaintextPhase::new(PlaintextLimits::default());
        for c in input.chunks(chunk) {
            let _ = phase.feed(c);
        }
    }
}

#[test]
fn random_messages_never_panic() {
    let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
    let pieces: &[&str] = &[
        "Content-Type: multipart/mixed; boundary=b\r\n",
        "Content-Type: message/rfc822\r\n",
        "\r\n",
        "--b\r\n",
        "--b--\r\n",
        "From: \"a\" <b@c>, g: d@e;\r\n",
        "Subject: =?euc-kr?B?x?=\r\n",
        " folded\r\n",
        "body\r\n",
        "Content-Transfer-Encoding: base64\r\n",
        "Content-Disposition: attachment; filename*0*=x\r\n",
        "(((\"",
    ];
    for _ in 0..3000 {
        let mut raw = Vec::new();
        for _ in 0..rng.below(30) {
            if rng.below(8) == 0 {
                raw.push(rng.next() as u8);
            } else {
                raw.extend_from_slice(pieces[rng.below(pieces.len())].as_bytes());
            }
        }
        check_message_views(&raw);
    }
}
