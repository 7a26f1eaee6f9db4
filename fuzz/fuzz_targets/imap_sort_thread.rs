//! Fuzzes what SORT, THREAD and BINARY compute from message bytes: the input is split at
//! NUL octets into up to 64 messages; each is parsed into a SORT/THREAD candidate and has
//! its first parts decoded for BINARY; then the candidates are sorted by every key and
//! threaded both ways, and the input as text goes through base-subject extraction. Nothing
//! may panic (but mail-parser's one known debug assertion, `common/known_panics.rs`), and
//! every message must appear exactly once in the threads.
#![no_main]

#[path = "common/known_panics.rs"]
mod known_panics;

use std::num::NonZeroU32;

use certmail_imap::{
    commands::sort::{Candidate, sort_candidates},
    message::{MessageView, base_subject::base_subject, binary},
};
use imap_codec::imap_types::extensions::sort::{SortCriterion, SortKey};
use known_panics::tolerating_mail_parser_debug_assert;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = base_subject(&String::from_utf8_lossy(data));
    let mut found = Vec::new();
    for (i, raw) in data.split(|&b| b == 0).take(64).enumerate() {
        let n = u32::try_from(i + 1).expect("at most 64");
        let parsed = tolerating_mail_parser_debug_assert(|| {
            mail_parser::MessageParser::default().parse(raw)
        })
        .flatten();
        found.push(Candidate::of(n, n, 0, raw.len() as u64, parsed.as_ref()));
        let view = MessageView::parse(raw);
        for part in 1..=3 {
            let _ = binary::decoded(&view, &[NonZeroU32::new(part).expect("non-zero")]);
        }
    }
    let keys = [
        SortKey::Arrival,
        SortKey::Cc,
        SortKey::Date,
        SortKey::From,
        SortKey::Size,
        SortKey::Subject,
        SortKey::To,
    ];
    let criteria: Vec<SortCriterion> = keys
        .into_iter()
        .enumerate()
        .map(|(i, key)| SortCriterion {
            reverse: i % 2 == 1,
            key,
        })
        .collect();
    let mut sorted = found.clone();
    sort_candidates(&mut sorted, &criteria);
    assert_eq!(sorted.len(), found.len());
    for references in [true, false] {
        certmail_imap::fuzzing::check_threads_once_each(&found, references, "fuzz input");
    }
});
