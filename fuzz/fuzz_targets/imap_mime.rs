//! MIME structure and encoded words: the input as a message is split into its MIME tree
//! (`certmail_imap::message::mime`), each of the first parts is decoded for BINARY, and
//! SEARCH's string keys run over it (header values with RFC 2047 encoded-words decoded,
//! text parts with their transfer encoding and charset undone, by mail-parser). Checks:
//! no panic, no loop; every part's header and body lie inside its parent's octets and in
//! order; the tree is no deeper than the parser's bound. mail-parser's one known debug
//! assertion is tolerated (`common/known_panics.rs`).
#![no_main]

#[path = "common/known_panics.rs"]
mod known_panics;

use std::num::NonZeroU32;

use certmail_imap::fetch_items::FetchFacts;
use certmail_imap::message::mime::{MimePart, PartKind};
use certmail_imap::message::{MessageView, binary};
use certmail_imap::search_eval::{SearchMessage, SearchScope, matches, parser_for};
use chrono::DateTime;
use imap_codec::imap_types::{core::AString, search::SearchKey};
use known_panics::tolerating_mail_parser_debug_assert;
use libfuzzer_sys::fuzz_target;

/// Deeper trees than this would mean the parser's nesting bound is gone.
const MAX_DEPTH: usize = 64;

/// Checks `part` lies in `within` and its children lie in its body, in order.
fn check_tree(part: &MimePart, within: std::ops::Range<usize>, depth: usize) -> usize {
    assert!(depth <= MAX_DEPTH, "MIME tree deeper than {MAX_DEPTH}");
    assert!(within.start <= part.body.start && part.body.end <= within.end);
    assert!(part.body.start <= part.body.end);
    let mut parts = 1;
    match &part.kind {
        PartKind::Leaf => {}
        PartKind::Message(inner) => parts += check_tree(inner, part.body.clone(), depth + 1),
        PartKind::Multipart(children) => {
            let mut at = part.body.start;
            for child in children {
                assert!(child.body.start >= at, "children out of order");
                parts += check_tree(child, part.body.clone(), depth + 1);
                at = child.body.end;
            }
        }
    }
    parts
}

fn search(raw: &[u8]) {
    let keys = [
        SearchKey::Subject(AString::try_from("회의").expect("valid")),
        SearchKey::From(AString::try_from("홍길동").expect("valid")),
        SearchKey::Header(
            AString::try_from("X-Note").expect("valid"),
            AString::try_from("예산").expect("valid"),
        ),
        SearchKey::Text(AString::try_from("안내").expect("valid")),
    ];
    let date = DateTime::parse_from_rfc3339("2026-12-01T09:00:00+09:00").expect("valid date");
    for key in &keys {
        let Some(parsed) = tolerating_mail_parser_debug_assert(|| parser_for(key, &[]).parse(raw))
        else {
            continue;
        };
        let message = SearchMessage {
            seq: 1,
            facts: FetchFacts {
                uid: 1,
                flags: &[],
                recent: false,
                internal_date: date,
                size: u32::try_from(raw.len()).unwrap_or(u32::MAX),
                modseq: 1,
            },
            raw,
            parsed: parsed.as_ref(),
        };
        let _ = matches(
            key,
            &message,
            SearchScope {
                max_seq: 1,
                max_uid: 1,
            },
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let view = MessageView::parse(data);
    let parts = check_tree(view.root(), 0..data.len(), 0);
    assert!(
        parts <= data.len() + 1,
        "{parts} parts from {} octets",
        data.len()
    );
    for first in 1..=3 {
        for second in [None, Some(1), Some(2)] {
            let mut path = vec![NonZeroU32::new(first).expect("non-zero")];
            path.extend(second.and_then(NonZeroU32::new));
            if let Ok(Some(decoded)) = binary::decoded(&view, &path) {
                // base64 only shrinks; quoted-printable shrinks but for its line breaks: a
                // bare LF comes out as CRLF (RFC 2045 §6.7, lines end in CRLF), so a part
                // at most doubles (found 2026-12-07; seed `qp-bare-lf-line-breaks`).
                assert!(decoded.len() <= 2 * data.len());
            }
        }
    }
    search(data);
});
