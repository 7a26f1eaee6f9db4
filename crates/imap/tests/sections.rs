//! FETCH BODY[section]<partial> over the corpus (RFC 3501 §6.4.5), sections parsed from real
//! FETCH commands by imap-codec.

mod corpus_files;

use corpus_files::corpus;

use certmail_imap::message::{MessageView, section::partial};
use imap_codec::{
    CommandCodec,
    decode::Decoder,
    imap_types::{
        command::CommandBody,
        fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Section},
    },
};

/// The section of `A1 FETCH 1 (BODY[<spec>])`.
fn section(spec: &str) -> Option<Section<'static>> {
    let line = format!("A1 FETCH 1 (BODY[{spec}])\r\n");
    let (_, command) = CommandCodec::default()
        .decode(line.as_bytes())
        .expect("valid FETCH");
    let CommandBody::Fetch {
        macro_or_item_names: MacroOrMessageDataItemNames::MessageDataItemNames(items),
        ..
    } = command.body
    else {
        panic!("not a FETCH with items")
    };
    match items.into_iter().next() {
        Some(MessageDataItemName::BodyExt { section, .. }) => {
            section.map(|s| imap_codec::imap_types::ToStatic::to_static(&s))
        }
        other => panic!("unexpected item {other:?}"),
    }
}

fn fetch(raw: &[u8], spec: &str) -> Option<String> {
    let view = MessageView::parse(raw);
    view.section(section(spec).as_ref())
        .map(|b| String::from_utf8(b).expect("utf-8 test data"))
}

#[test]
fn nested_multipart_part_numbers() {
    let raw = corpus("02-nested.eml");
    assert_eq!(
        fetch(&raw, "1.1").as_deref(),
        Some("Hello =E2=80=94 plain\r\nsecond line")
    );
    assert_eq!(
        fetch(&raw, "1.2.1").as_deref(),
        Some("<p>Hello <img src=\"cid:logo@example.kr\"></p>")
    );
    assert_eq!(fetch(&raw, "2").as_deref(), Some("JVBERi0xLjQKJcfs"));
    let mime = fetch(&raw, "2.MIME").expect("part 2 exists");
    assert!(mime.starts_with("Content-Type: application/pdf; name=\"report.pdf\"\r\n"));
    assert!(mime.ends_with("Content-Description: Quarterly report\r\n\r\n"));
    // A multipart part's body holds its whole nested structure.
    let alternative = fetch(&raw, "1").expect("part 1 exists");
    assert!(alternative.starts_with("--alt\r\n") && alternative.ends_with("--alt--\r\n"));
    assert_eq!(fetch(&raw, "3"), None);
    assert_eq!(fetch(&raw, "1.3"), None);
    assert_eq!(fetch(&raw, "2.1"), None, "a leaf has no sub-parts");
    assert_eq!(
        fetch(&raw, "2.HEADER"),
        None,
        "HEADER needs a message/rfc822 part"
    );
}

#[test]
fn whole_message_header_and_text() {
    let raw = corpus("01-simple.eml");
    let text = "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
    assert_eq!(fetch(&raw, "").map(String::into_bytes), Some(raw.clone()));
    assert_eq!(fetch(&raw, "TEXT").as_deref(), Some(text));
    // A non-multipart message has exactly one part: its body.
    assert_eq!(fetch(&raw, "1").as_deref(), Some(text));
    assert_eq!(fetch(&raw, "2"), None);
    let header = fetch(&raw, "HEADER").expect("header exists");
    assert!(header.starts_with("Date: ") && header.ends_with("CHARSET=US-ASCII\r\n\r\n"));
    assert_eq!(header.len() + text.len(), raw.len());
}

#[test]
fn header_fields_and_not() {
    let raw = corpus("01-simple.eml");
    assert_eq!(
        fetch(&raw, "HEADER.FIELDS (SUBJECT from)").as_deref(),
        Some(
            "From: Terry Gray <gray@cac.washington.edu>\r\nSubject: IMAP4rev1 WG mtg summary and minutes\r\n\r\n"
        )
    );
    assert_eq!(
        fetch(&raw, "HEADER.FIELDS (X-NONE)").as_deref(),
        Some("\r\n")
    );
    let not = fetch(
        &raw,
        "HEADER.FIELDS.NOT (Date Cc To Message-Id MIME-Version Content-Type)",
    )
    .expect("exists");
    assert_eq!(
        not,
        "From: Terry Gray <gray@cac.washington.edu>\r\nSubject: IMAP4rev1 WG mtg summary and minutes\r\n\r\n"
    );
}

#[test]
fn encapsulated_message_sections() {
    let raw = corpus("03-rfc822-attachment.eml");
    let inner = fetch(&raw, "2").expect("part 2 exists");
    assert!(inner.starts_with("From: Hong Gildong") && inner.ends_with("--in--"));
    let header = fetch(&raw, "2.HEADER").expect("inner header");
    assert!(
        header.starts_with("From: Hong Gildong") && header.ends_with("boundary=\"in\"\r\n\r\n")
    );
    assert_eq!(
        fetch(&raw, "2.HEADER.FIELDS (Subject)").as_deref(),
        Some("Subject: meeting\r\n\r\n")
    );
    assert_eq!(fetch(&raw, "2.1").as_deref(), Some("at 3"));
    assert_eq!(fetch(&raw, "2.2").as_deref(), Some("<b>at 3</b>"));
    assert_eq!(
        fetch(&raw, "2.2.MIME").as_deref(),
        Some("Content-Type: text/html\r\n\r\n")
    );
    assert_eq!(
        fetch(&raw, "2.MIME").as_deref(),
        Some("Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n")
    );
    let text = fetch(&raw, "2.TEXT").expect("inner text");
    assert_eq!(header.len() + text.len(), inner.len());
}

#[test]
fn partial_ranges() {
    assert_eq!(partial(b"0123456789", 2, 3), b"234");
    assert_eq!(partial(b"0123456789", 8, 100), b"89");
    assert_eq!(partial(b"0123456789", 10, 1), b"");
    assert_eq!(partial(b"0123456789", 4_000_000_000, 4_000_000_000), b"");
}
