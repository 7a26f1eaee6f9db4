//! Panics of dependencies that the targets tolerate, each named, dated and explained.
//! Every other panic still ends the run as a crash.
//!
//! - mail-parser 0.11.9, `parsers/message.rs:485`: `debug_assert!(false, "Invalid part ID,
//!   could not find multipart.")`, reached by hostile multipart messages (found by
//!   `imap_mime` and `imap_sort_thread` on 2026-12-07; the inputs are their seeds
//!   `mail-parser-debug-assert*`). A debug assertion: release builds, the daemon that
//!   ships, compile it out, but cargo-fuzz builds every crate with `-Cdebug-assertions`.
//!   Remove this once mail-parser is upgraded past it.

use std::panic;

const MAIL_PARSER_DEBUG_ASSERT: &str = "Invalid part ID, could not find multipart.";

/// Runs `f`; `None` when it panicked with mail-parser's known debug assertion, which is
/// then not a crash. Any other panic goes on as a crash.
pub fn tolerating_mail_parser_debug_assert<T>(f: impl FnOnce() -> T) -> Option<T> {
    // libFuzzer's panic hook aborts at once: set it aside while `f` runs.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(panic::AssertUnwindSafe(f));
    panic::set_hook(hook);
    match outcome {
        Ok(value) => Some(value),
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if text == MAIL_PARSER_DEBUG_ASSERT {
                None
            } else {
                panic!("{text}");
            }
        }
    }
}
