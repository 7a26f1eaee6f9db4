//! FETCH data items (RFC 3501 §6.4.5, §7.4.2): macros, UID FETCH, MODSEQ, the \Seen rule,
//! partial ranges and missing sections, as the wire shows them.

mod corpus_files;

use corpus_files::corpus;
use std::{fs, path::Path};

use certmail_imap::{
    fetch_items::{
        FetchError, FetchFacts, fetch_items, header_suffices, imap_date_time, item_names,
        needs_content,
    },
    message::{MessageView, cache::header_block},
    proto::response::encode,
};
use chrono::DateTime;
use imap_codec::{
    CommandCodec,
    decode::Decoder,
    imap_types::{
        ToStatic,
        command::CommandBody,
        flag::Flag,
        response::{Data, Response},
    },
};

/// Runs `A1 [UID] FETCH 1 <items>` against `raw`; returns the untagged FETCH line and
/// whether \Seen must be set.
fn fetch(raw: &[u8], items: &str, uid: bool, modseq: bool) -> (String, bool) {
    fetch_from(raw, raw, items, uid, modseq)
}

/// The item names of `A1 [UID] FETCH 1 <items>`.
fn names_of(
    items: &str,
    uid: bool,
    modseq: bool,
) -> Vec<imap_codec::imap_types::fetch::MessageDataItemName<'static>> {
    let line = format!("A1 {}FETCH 1 {items}\r\n", if uid { "UID " } else { "" });
    let (_, command) = CommandCodec::default()
        .decode(line.as_bytes())
        .expect("valid FETCH");
    let CommandBody::Fetch {
        macro_or_item_names,
        ..
    } = command.body
    else {
        panic!("not FETCH")
    };
    item_names(&macro_or_item_names.to_static(), uid, modseq)
}

/// As [`fetch`], with the view built from `content` (the message or its cached header
/// block) while RFC822.SIZE stays that of `raw`.
fn fetch_from(raw: &[u8], content: &[u8], items: &str, uid: bool, modseq: bool) -> (String, bool) {
    let names = names_of(items, uid, modseq);
    let flags = [Flag::Seen];
    let facts = FetchFacts {
        uid: 42,
        flags: &flags,
        recent: true,
        internal_date: DateTime::parse_from_rfc3339("2026-11-05T23:30:00.5+09:00").expect("valid"),
        size: u32::try_from(raw.len()).expect("small"),
        modseq: 7,
    };
    let view = needs_content(&names).then(|| MessageView::parse(content));
    let result = fetch_items(&names, &facts, view.as_ref()).expect("answerable");
    let data = Data::fetch(1, result.items).expect("at least one item");
    (
        String::from_utf8(encode(&Response::Data(data))).expect("utf-8"),
        result.sets_seen,
    )
}

#[test]
fn fast_macro_needs_no_content() {
    let raw = corpus("01-simple.eml");
    let (line, seen) = fetch(&raw, "FAST", false, false);
    assert_eq!(
        line,
        format!(
            "* 1 FETCH (FLAGS (\\Seen \\Recent) INTERNALDATE \"05-Nov-2026 23:30:00 +0900\" RFC822.SIZE {})\r\n",
            raw.len()
        )
    );
    assert!(!seen);
}

#[test]
fn uid_fetch_always_returns_uid_and_condstore_adds_modseq() {
    let raw = corpus("01-simple.eml");
    assert_eq!(
        fetch(&raw, "FLAGS", true, true).0,
        "* 1 FETCH (UID 42 FLAGS (\\Seen \\Recent) MODSEQ (7))\r\n"
    );
    assert_eq!(
        fetch(&raw, "(UID FLAGS)", true, false).0,
        "* 1 FETCH (UID 42 FLAGS (\\Seen \\Recent))\r\n"
    );
}

#[test]
fn body_sections_set_seen_unless_peek() {
    let raw = corpus("01-simple.eml");
    let (line, seen) = fetch(&raw, "BODY[HEADER.FIELDS (SUBJECT)]", false, false);
    assert_eq!(
        line,
        "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {49}\r\nSubject: IMAP4rev1 WG mtg summary and minutes\r\n\r\n)\r\n"
    );
    assert!(seen);
    let (line, seen) = fetch(&raw, "BODY.PEEK[TEXT]<0.10>", false, false);
    assert_eq!(line, "* 1 FETCH (BODY[TEXT]<0> \"Hello Joe,\")\r\n");
    assert!(!seen);
    assert!(fetch(&raw, "RFC822.TEXT", false, false).1);
    assert!(!fetch(&raw, "RFC822.HEADER", false, false).1);
}

#[test]
fn missing_section_is_nil_and_origin_past_end_is_empty() {
    let raw = corpus("01-simple.eml");
    assert_eq!(
        fetch(&raw, "BODY.PEEK[3]", false, false).0,
        "* 1 FETCH (BODY[3] NIL)\r\n"
    );
    assert_eq!(
        fetch(&raw, "BODY.PEEK[1]<1000.5>", false, false).0,
        "* 1 FETCH (BODY[1]<1000> \"\")\r\n"
    );
}

#[test]
fn binary_needs_content_and_content_must_be_loaded() {
    let facts = FetchFacts {
        uid: 1,
        flags: &[],
        recent: false,
        internal_date: DateTime::UNIX_EPOCH.fixed_offset(),
        size: 0,
        modseq: 1,
    };
    let binary = imap_codec::imap_types::fetch::MessageDataItemName::Binary {
        section: vec![],
        partial: None,
        peek: true,
    };
    assert_eq!(
        fetch_items(&[binary], &facts, None),
        Err(FetchError::ContentNotLoaded)
    );
    let envelope = imap_codec::imap_types::fetch::MessageDataItemName::Envelope;
    assert_eq!(
        fetch_items(&[envelope], &facts, None),
        Err(FetchError::ContentNotLoaded)
    );
}

#[test]
fn internal_dates_are_made_imap_safe() {
    let odd = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.999+05:30").expect("valid");
    assert_eq!(
        imap_date_time(odd).as_ref().to_rfc3339(),
        "2026-01-02T03:04:05+05:30"
    );
}

#[test]
fn the_cached_header_block_answers_header_items_exactly_as_the_message_does() {
    let header_only = [
        "(UID RFC822.SIZE FLAGS ENVELOPE)",
        "RFC822.HEADER",
        "BODY[HEADER]",
        "BODY.PEEK[HEADER]<0.20>",
        "BODY.PEEK[HEADER.FIELDS (From Subject Date Message-ID Content-Type)]",
        "(ENVELOPE BODY.PEEK[HEADER.FIELDS.NOT (Received)])",
    ];
    for name in fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus"))
        .expect("corpus")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
    {
        let raw = corpus(&name);
        let header = header_block(&raw);
        assert!(header.len() < raw.len(), "{name}: has a body");
        for items in header_only {
            assert!(header_suffices(&names_of(items, false, false)), "{items}");
            assert_eq!(
                fetch_from(&raw, header, items, false, false),
                fetch(&raw, items, false, false),
                "{name}: {items}"
            );
        }
    }
    // Anything that looks past the header needs the message.
    for items in [
        "BODY",
        "BODYSTRUCTURE",
        "BODY.PEEK[]",
        "BODY[TEXT]",
        "BODY[1.HEADER]",
        "BINARY.SIZE[1]",
        "RFC822",
        "(ENVELOPE RFC822.TEXT)",
    ] {
        assert!(!header_suffices(&names_of(items, false, false)), "{items}");
    }
    // Metadata-only FETCHes need neither (and the header would do).
    assert!(header_suffices(&names_of("FAST", false, false)));
}
