//! Fuzzes certmail-imap's protocol side from raw bytes: the FETCH views (ENVELOPE,
//! BODYSTRUCTURE, BODY, BODY[]) of the input as a message, the port-143 plaintext phase,
//! and a whole TLS-side session (driver + session) fed the input as client bytes. Nothing
//! may panic, every encoded FETCH line must parse back, literal reservations come back.
#![no_main]

use certmail_imap::{
    fuzzing::{OneUser, check_message_views, run_session},
    proto::plaintext::{PlaintextLimits, PlaintextPhase},
};
use libfuzzer_sys::fuzz_target;

fn plaintext(data: &[u8]) {
    let mut phase = PlaintextPhase::new(PlaintextLimits::default());
    let (a, b) = data.split_at(data.len() / 2);
    let _ = phase.feed(a);
    let _ = phase.feed(b);
}

fuzz_target!(|data: &[u8]| {
    check_message_views(data);
    plaintext(data);
    // The whole input in one read; signs in "fuzz" with any password.
    run_session(data, data.len(), 64 * 1024, 1 << 20, OneUser("fuzz"));
});
