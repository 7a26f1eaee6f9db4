//! The envelope and bodystructure builders on arbitrary messages: ENVELOPE, BODYSTRUCTURE
//! and BODY of the input as a stored message must encode as FETCH lines that parse back to
//! the same response, and `BODY[]` must be the message itself (issue 18: no single message
//! may hurt the server). Time and memory per input are bounded by the run:
//! `scripts/fuzz` passes libFuzzer `-timeout` and `-rss_limit_mb`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    certmail_imap::fuzzing::check_message_views(data);
});
