//! SEARCH criteria (RFC 3501 §6.4.4), one test per criterion family, keys parsed from real
//! SEARCH commands by imap-codec.

mod corpus_files;

use corpus_files::corpus;
use std::{fs, path::Path};

use certmail_imap::{
    commands::search::{Reads, reads},
    fetch_items::FetchFacts,
    message::cache::header_block,
    search_eval::{SearchMessage, SearchScope, fields_parser, matches, parser_for},
};
use chrono::{DateTime, FixedOffset};
use imap_codec::{
    CommandCodec,
    decode::Decoder,
    imap_types::{
        ToStatic,
        command::CommandBody,
        core::{AString, Vec1},
        flag::Flag,
        search::SearchKey,
    },
};
use mail_parser::MessageParser;

const SCOPE: SearchScope = SearchScope {
    max_seq: 10,
    max_uid: 300,
};

fn key(criteria: &str) -> SearchKey<'static> {
    let line = format!("A1 SEARCH {criteria}\r\n");
    let (_, command) = CommandCodec::default()
        .decode(line.as_bytes())
        .expect("valid SEARCH");
    let CommandBody::Search { criteria, .. } = command.body else {
        panic!("not SEARCH")
    };
    let keys: Vec<SearchKey<'static>> = criteria.as_ref().iter().map(|k| k.to_static()).collect();
    match keys.len() {
        1 => keys.into_iter().next().expect("one key"),
        _ => SearchKey::And(Vec1::try_from(keys).expect("at least one key")),
    }
}

struct Fixture {
    raw: Vec<u8>,
    flags: Vec<Flag<'static>>,
    recent: bool,
    date: DateTime<FixedOffset>,
}

impl Fixture {
    fn new(raw: Vec<u8>) -> Fixture {
        Fixture {
            raw,
            flags: vec![
                Flag::Seen,
                Flag::keyword("$Work".try_into().expect("valid atom")),
            ],
            recent: false,
            date: DateTime::parse_from_rfc3339("2026-11-05T23:30:00+09:00").expect("valid date"),
        }
    }

    fn hit(&self, criteria: &str) -> bool {
        self.hit_key(&key(criteria))
    }

    /// Whether `key` matches, checking on the way that a key the cached header block can
    /// answer (see `reads`) gives the same result on that block as on the whole message.
    fn hit_key(&self, key: &SearchKey<'_>) -> bool {
        let hit = self.hit_on(key, &self.raw, &MessageParser::default());
        if reads(key) < Reads::Message {
            assert_eq!(
                self.hit_on(key, header_block(&self.raw), &parser_for(key, &[])),
                hit,
                "{key:?} on the header block"
            );
        }
        hit
    }

    fn hit_on(&self, key: &SearchKey<'_>, content: &[u8], parser: &MessageParser) -> bool {
        let parsed = parser.parse(content);
        let message = SearchMessage {
            seq: 4,
            facts: FetchFacts {
                uid: 200,
                flags: &self.flags,
                recent: self.recent,
                internal_date: self.date,
                size: u32::try_from(self.raw.len()).expect("small test message"),
                modseq: 77,
            },
            raw: content,
            parsed: parsed.as_ref(),
        };
        matches(key, &message, SCOPE)
    }
}

fn korean(make: fn(AString<'static>) -> SearchKey<'static>, s: &str) -> SearchKey<'static> {
    make(AString::try_from(s.to_string()).expect("valid astring"))
}

#[test]
fn all_and_not_or() {
    let f = Fixture::new(corpus("01-simple.eml"));
    assert!(f.hit("ALL"));
    assert!(!f.hit("NOT ALL"));
    assert!(f.hit("OR DELETED SEEN"));
    assert!(!f.hit("OR DELETED DRAFT"));
    assert!(f.hit("SEEN NOT DELETED"), "several keys are ANDed");
    assert!(!f.hit("SEEN DELETED"));
    assert!(f.hit("(SEEN UNDELETED)"));
}

#[test]
fn system_flags_and_their_negations() {
    let mut f = Fixture::new(corpus("01-simple.eml"));
    f.flags = vec![
        Flag::Answered,
        Flag::Deleted,
        Flag::Draft,
        Flag::Flagged,
        Flag::Seen,
    ];
    for name in ["ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN"] {
        assert!(f.hit(name), "{name}");
        assert!(!f.hit(&format!("UN{name}")), "UN{name}");
    }
    f.flags.clear();
    for name in ["ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN"] {
        assert!(!f.hit(name), "{name}");
        assert!(f.hit(&format!("UN{name}")), "UN{name}");
    }
}

#[test]
fn keywords_are_case_insensitive() {
    let f = Fixture::new(corpus("01-simple.eml"));
    assert!(f.hit("KEYWORD $work"));
    assert!(!f.hit("KEYWORD $Junk"));
    assert!(f.hit("UNKEYWORD $Junk"));
    assert!(!f.hit("UNKEYWORD $WORK"));
}

#[test]
fn recent_new_old() {
    let mut f = Fixture::new(corpus("01-simple.eml"));
    assert!(!f.hit("RECENT") && f.hit("OLD") && !f.hit("NEW"));
    f.recent = true;
    assert!(f.hit("RECENT") && !f.hit("OLD"));
    assert!(
        !f.hit("NEW"),
        "NEW is RECENT and UNSEEN; the message is \\Seen"
    );
    f.flags.clear();
    assert!(f.hit("NEW"));
}

#[test]
fn sizes() {
    let f = Fixture::new(corpus("01-simple.eml"));
    let size = f.raw.len();
    assert!(f.hit(&format!("LARGER {}", size - 1)));
    assert!(!f.hit(&format!("LARGER {size}")));
    assert!(f.hit(&format!("SMALLER {}", size + 1)));
    assert!(!f.hit(&format!("SMALLER {size}")));
}

#[test]
fn internal_date_ignores_time_and_timezone() {
    // INTERNALDATE is 2026-11-05 23:30 +09:00 (14:30 UTC): its date is the 5th.
    let f = Fixture::new(corpus("01-simple.eml"));
    assert!(f.hit("ON 5-Nov-2026"));
    assert!(!f.hit("ON 4-Nov-2026"));
    assert!(f.hit("SINCE 5-Nov-2026") && f.hit("SINCE 1-Nov-2026") && !f.hit("SINCE 6-Nov-2026"));
    assert!(f.hit("BEFORE 6-Nov-2026") && !f.hit("BEFORE 5-Nov-2026"));
}

#[test]
fn sent_dates_use_the_date_header() {
    // Date: Wed, 17 Jul 1996 02:23:25 -0700
    let f = Fixture::new(corpus("01-simple.eml"));
    assert!(f.hit("SENTON 17-Jul-1996"));
    assert!(!f.hit("SENTON 16-Jul-1996"));
    assert!(f.hit("SENTSINCE 17-Jul-1996") && !f.hit("SENTSINCE 18-Jul-1996"));
    assert!(f.hit("SENTBEFORE 18-Jul-1996") && !f.hit("SENTBEFORE 17-Jul-1996"));
    let undated = Fixture::new(corpus("07-broken-missing-boundary.eml"));
    assert!(!undated.hit("SENTBEFORE 1-Jan-2100") && !undated.hit("SENTSINCE 1-Jan-1970"));
}

#[test]
fn address_and_subject_headers() {
    let f = Fixture::new(corpus("01-simple.eml"));
    assert!(f.hit("FROM terry"));
    assert!(f.hit("FROM GRAY@CAC"));
    assert!(!f.hit("FROM klensin"));
    assert!(f.hit("CC klensin"));
    assert!(f.hit("TO imap@"));
    assert!(!f.hit("BCC imap"));
    assert!(f.hit("SUBJECT \"wg MTG\""));
    assert!(!f.hit("SUBJECT tomorrow"));
    let groups = Fixture::new(corpus("10-groups.eml"));
    assert!(groups.hit("BCC lee@example.kr"));
    assert!(groups.hit("TO park"));
}

#[test]
fn encoded_words_are_decoded_for_search() {
    let euckr = Fixture::new(corpus("04-korean-euckr.eml"));
    assert!(euckr.hit_key(&korean(SearchKey::Subject, "회의")));
    assert!(euckr.hit_key(&korean(SearchKey::From, "홍길동")));
    assert!(euckr.hit_key(&korean(SearchKey::To, "김철수")));
    assert!(!euckr.hit_key(&korean(SearchKey::From, "김철수")));
    let utf8 = Fixture::new(corpus("05-korean-utf8.eml"));
    assert!(
        utf8.hit_key(&korean(SearchKey::Subject, "자료 첨부")),
        "folded encoded-words join"
    );
    assert!(utf8.hit_key(&korean(SearchKey::From, "홍길동")));
    assert!(
        utf8.hit_key(&korean(SearchKey::To, "김철수")),
        "raw UTF-8 header"
    );
}

#[test]
fn header_criterion() {
    let f = Fixture::new(corpus("01-simple.eml"));
    assert!(f.hit("HEADER Message-Id B27397"));
    assert!(
        f.hit("HEADER MIME-Version \"\""),
        "empty string: the field exists"
    );
    assert!(!f.hit("HEADER X-Spam \"\""));
    assert!(!f.hit("HEADER Message-Id nothere"));
    let euckr = Fixture::new(corpus("04-korean-euckr.eml"));
    let subject = SearchKey::Header(
        AString::try_from("Subject").expect("atom"),
        AString::try_from("안내".to_string()).expect("literal"),
    );
    assert!(euckr.hit_key(&subject));
    // A field mail-parser keeps raw still matches decoded: X-Korean: =?UTF-8?B?7ZmN6ri464+Z?=
    let custom =
        Fixture::new(b"X-Korean: =?UTF-8?B?7ZmN6ri464+Z?=\r\nSubject: x\r\n\r\nbody\r\n".to_vec());
    let key = SearchKey::Header(
        AString::try_from("X-Korean").expect("atom"),
        AString::try_from("홍길동".to_string()).expect("literal"),
    );
    assert!(custom.hit_key(&key));
}

#[test]
fn body_and_text_decode_transfer_encoding_and_charset() {
    let euckr = Fixture::new(corpus("04-korean-euckr.eml"));
    assert!(
        euckr.hit_key(&korean(SearchKey::Body, "회의는 3시")),
        "base64 + EUC-KR body"
    );
    assert!(
        !euckr.hit_key(&korean(SearchKey::Body, "회의 안내")),
        "BODY does not search headers"
    );
    assert!(
        euckr.hit_key(&korean(SearchKey::Text, "회의 안내")),
        "TEXT searches headers too"
    );
    assert!(euckr.hit_key(&korean(SearchKey::Text, "홍길동입니다")));
    let nested = Fixture::new(corpus("02-nested.eml"));
    assert!(
        nested.hit_key(&korean(SearchKey::Body, "hello — plain")),
        "quoted-printable decoded"
    );
    assert!(nested.hit("BODY \"SECOND LINE\""));
    assert!(
        !nested.hit("BODY iVBORw0KGgo"),
        "binary attachments are not text"
    );
    let forwarded = Fixture::new(corpus("03-rfc822-attachment.eml"));
    assert!(forwarded.hit("BODY \"at 3\""), "encapsulated message text");
    assert!(!forwarded.hit("BODY \"Fwd: meeting\""));
    assert!(forwarded.hit("TEXT \"Fwd: meeting\""));
}

#[test]
fn sequence_sets_and_uids() {
    let f = Fixture::new(corpus("01-simple.eml"));
    // The message is seq 4, uid 200; '*' is seq 10, uid 300.
    assert!(f.hit("4"));
    assert!(f.hit("1:3,4"));
    assert!(f.hit("2:*"));
    assert!(f.hit("*:3"), "ranges are unordered");
    assert!(!f.hit("5:*"));
    assert!(!f.hit("*"));
    assert!(f.hit("UID 200"));
    assert!(f.hit("UID 150:*"));
    assert!(f.hit("UID 400:100"), "n:m with n > m");
    assert!(!f.hit("UID 201:*"));
    assert!(!f.hit("UID 4"));
}

#[test]
fn modseq_is_at_least() {
    let f = Fixture::new(corpus("01-simple.eml"));
    assert!(f.hit("MODSEQ 77"));
    assert!(f.hit("MODSEQ 1"));
    assert!(!f.hit("MODSEQ 78"));
    assert!(f.hit("MODSEQ \"/flags/\\\\draft\" all 70"));
}

#[test]
fn unparsable_message_falls_back_to_raw_bytes() {
    let f = Fixture::new(b"garbage without headers".to_vec());
    assert!(f.hit("TEXT garbage"));
    assert!(!f.hit("SUBJECT nothing"));
}

#[test]
fn the_lean_parser_decodes_the_named_fields_as_the_default_does() {
    use mail_parser::HeaderName as H;
    let named = [
        H::From,
        H::To,
        H::Cc,
        H::Bcc,
        H::Subject,
        H::Date,
        H::MessageId,
        H::References,
        H::InReplyTo,
        H::ContentType,
    ];
    for entry in
        fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")).expect("corpus")
    {
        let raw = fs::read(entry.expect("entry").path()).expect("readable");
        let full = MessageParser::default().parse(&raw).expect("parses");
        let lean = fields_parser(named.clone())
            .parse(header_block(&raw))
            .expect("parses");
        let (a, b) = (full.root_part().headers(), lean.root_part().headers());
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x.name, y.name);
            assert_eq!(
                (x.offset_start, x.offset_end),
                (y.offset_start, y.offset_end)
            );
            if named.contains(&x.name) {
                assert_eq!(x.value, y.value, "{}", x.name.as_str());
            }
        }
    }
}
