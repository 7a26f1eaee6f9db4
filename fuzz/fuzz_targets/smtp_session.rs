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

use certmail_smtp::fuzzing::Driver;
use certmail_smtp::proto::{ListenerKind, Session, SessionConfig};
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
    // Alternates accept and refuse following the policy byte's bits.
    let mut decisions = 0u32;
    let mut driver = Driver::new(|| {
        decisions += 1;
        policy.rotate_left(decisions % 8) & 1 == 1
    });
    driver.run(&mut session);
    let read_size = 1 + usize::from(*split);
    for read in rest.chunks(read_size) {
        session.feed(read);
        driver.run(&mut session);
    }
});
