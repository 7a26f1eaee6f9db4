//! The lexer, parser and evaluator never panic: every short input over Sieve's special
//! characters, and random token soups from its vocabulary, compile or fail cleanly, and
//! whatever compiles runs against a fixed message to an outcome or an error value.

mod common;

use certmail_sieve::{Limits, Message, compile, run};
use common::{Store, context};
use proptest::prelude::*;

const MESSAGE: &[u8] = b"Date: Tue, 1 Apr 1997 09:06:31 -0800\r\nFrom: Coyote <coyote@desert.example.org>\r\nTo: me@example.com\r\nSubject: =?UTF-8?B?7KO86rCEIOuztOqzoOyEnA==?=\r\nList-Id: <l.example.org>\r\n\r\nbody text\r\n";

fn check(text: &str) {
    let limits = Limits {
        max_steps: 20_000,
        ..Limits::default()
    };
    if let Ok(script) = compile(text, &limits) {
        let message = Message::parse(MESSAGE);
        let store = Store::default().with_script("x", text);
        let _ = run(
            &script,
            &message,
            &context("coyote@desert.example.org", "me@example.com"),
            &store,
            &limits,
        );
    }
}

/// Every string of up to three characters over the characters that steer the lexer.
#[test]
fn all_short_inputs() {
    let alphabet: Vec<char> = " \"\\[](),;{}:a1#*/\n$.".chars().collect();
    let mut inputs = vec![String::new()];
    for _ in 0..3 {
        let mut next = Vec::new();
        for s in &inputs {
            for c in &alphabet {
                let mut t = s.clone();
                t.push(*c);
                check(&t);
                next.push(t);
            }
        }
        inputs = next;
    }
}

const VOCABULARY: &[&str] = &[
    "require",
    "\"fileinto\"",
    "[\"variables\", \"imap4flags\", \"relational\", \"regex\"]",
    "[\"date\", \"body\", \"vacation\", \"include\", \"envelope\", \"copy\", \"mailbox\"]",
    "\"comparator-i;ascii-numeric\"",
    "if",
    "elsif",
    "else",
    "keep",
    "discard",
    "stop",
    "fileinto",
    "redirect",
    "vacation",
    "set",
    "setflag",
    "addflag",
    "removeflag",
    "include",
    "return",
    "global",
    "header",
    "address",
    "envelope",
    "body",
    "date",
    "currentdate",
    "string",
    "hasflag",
    "exists",
    "size",
    "not",
    "anyof",
    "allof",
    "true",
    "false",
    "mailboxexists",
    ":is",
    ":contains",
    ":matches",
    ":regex",
    ":count",
    ":value",
    ":comparator",
    "\"i;ascii-numeric\"",
    "\"i;octet\"",
    "\"gt\"",
    ":over",
    ":under",
    ":all",
    ":domain",
    ":localpart",
    ":flags",
    ":copy",
    ":create",
    ":days",
    ":subject",
    ":mime",
    ":handle",
    ":lower",
    ":length",
    ":raw",
    ":content",
    ":zone",
    ":originalzone",
    ":once",
    ":index",
    ":last",
    "[\"index\", \"encoded-character\"]",
    "\"${hex:41 42}\"",
    "\"${unicode:D800}\"",
    ":optional",
    "\"subject\"",
    "\"from\"",
    "\"*\"",
    "\"${1}\"",
    "\"${a}${a}\"",
    "\"a\"",
    "\"x\"",
    "\"+0900\"",
    "\"year\"",
    "\"(a*)*b\"",
    "\"\\\\Seen\"",
    "10",
    "1K",
    "[",
    "]",
    "(",
    ")",
    ",",
    ";",
    "{",
    "}",
    "text:\n..x\n.\n",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(0..VOCABULARY.len(), 0..40)) {
        let text: Vec<&str> = tokens.iter().map(|&i| VOCABULARY[i]).collect();
        check(&text.join(" "));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(&text);
    }
}

/// Scripts from the token vocabulary that do compile also run (a sanity check that the
/// soup reaches the evaluator).
#[test]
fn soup_reaches_the_evaluator() {
    let text = "require [\"variables\", \"imap4flags\", \"relational\", \"regex\"]; if header :matches \"subject\" \"*\" { set \"a\" \"${1}\"; addflag \"\\\\Seen\"; }";
    let script = compile(text, &Limits::default()).unwrap();
    let outcome = run(
        &script,
        &Message::parse(MESSAGE),
        &context("coyote@desert.example.org", "me@example.com"),
        &Store::default(),
        &Limits::default(),
    )
    .unwrap();
    assert!(outcome.keeps());
}
