//! Fuzzes certmail-sieve: the input, as a script, is lexed, parsed and compiled; when it
//! compiles it runs against a fixed message (with itself available to `include`, so loops
//! are exercised). Nothing may panic, and the run must stay within its step budget.
#![no_main]

use certmail_sieve::ast::Location;
use certmail_sieve::{Context, Envelope, Environment, Limits, Message, Timestamp, compile, run};
use libfuzzer_sys::fuzz_target;

const MESSAGE: &[u8] = b"Date: Tue, 1 Apr 1997 09:06:31 -0800\r\n\
From: Coyote <coyote@desert.example.org>\r\n\
To: me@example.com, Group: a@b.example, c@d.example;\r\n\
Subject: =?EUC-KR?B?uriw7byt?= report\r\n\
X-Priority: 2\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
the missile is ready\r\n\
--b\r\n\
Content-Type: text/html\r\n\
\r\n\
<p>html</p>\r\n\
--b--\r\n";

/// Every mailbox but "missing" exists; every script name is the input itself.
struct FuzzStore<'a>(&'a str);

impl Environment for FuzzStore<'_> {
    fn mailbox_exists(&self, name: &str) -> bool {
        name != "missing"
    }

    fn script(&self, _name: &str, _location: Location) -> Option<String> {
        Some(self.0.to_owned())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits {
        max_steps: 50_000,
        ..Limits::default()
    };
    let Ok(script) = compile(text, &limits) else {
        return;
    };
    let context = Context {
        envelope: Envelope {
            from: "coyote@desert.example.org".into(),
            to: "me@example.com".into(),
        },
        now: Timestamp {
            unix: 1_796_000_000,
            offset_minutes: 540,
        },
        user_addresses: vec!["me@example.com".into()],
        script_name: Some("main".into()),
    };
    let message = Message::parse(MESSAGE);
    if let Ok(outcome) = run(&script, &message, &context, &FuzzStore(text), &limits) {
        assert!(outcome.steps <= limits.max_steps);
        assert!(outcome.actions.len() <= limits.max_actions + 1);
    }
});
