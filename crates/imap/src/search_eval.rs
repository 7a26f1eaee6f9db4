//! SEARCH evaluation (RFC 3501 §6.4.4, MODSEQ from RFC 7162 §3.1.5) of one message against
//! imap-codec's [`SearchKey`].
//!
//! String criteria are case-insensitive substring matches over *decoded* text: header values
//! with RFC 2047 encoded-words decoded and MIME text parts with their transfer encoding and
//! charset (EUC-KR included) decoded, both by mail-parser. Which strings BODY and TEXT read
//! is defined once, in `certmail_store::search_index`, so the store's full-text index holds
//! the n-grams of exactly those strings. Dates ignore time and timezone.

use certmail_store::search_index::{any_body_text, any_header_text, value_text};
use chrono::NaiveDate;
use imap_codec::imap_types::{
    flag::Flag,
    search::SearchKey,
    sequence::{SeqOrUid, Sequence, SequenceSet},
};
use mail_parser::{HeaderName, HeaderValue, Message, MessageParser};

use crate::fetch_items::FetchFacts;

/// What SEARCH knows about one message of the selected mailbox.
#[derive(Debug, Clone, Copy)]
pub struct SearchMessage<'a> {
    /// Message sequence number.
    pub seq: u32,
    /// What the store knows about it (UID, flags, \Recent, INTERNALDATE, size, MODSEQ): the
    /// same facts FETCH answers from.
    pub facts: FetchFacts<'a>,
    /// The raw message.
    pub raw: &'a [u8],
    /// The message parsed by mail-parser (`None` if it could not be parsed: strings are then
    /// matched against the raw bytes).
    pub parsed: Option<&'a Message<'a>>,
}

/// The mailbox-wide values `*` stands for (RFC 3501 §9 seq-number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchScope {
    /// The number of messages (the largest sequence number).
    pub max_seq: u32,
    /// The largest UID in use.
    pub max_uid: u32,
}

/// The parser to read messages with for `key` (and the fields in `also`): mail-parser's
/// default when the key reads the text or every header (BODY, TEXT); otherwise one that
/// decodes only the fields named (as the default would) and keeps the rest raw. Matching is the same, and a
/// header search then skips decoding fields like Received, whose parsing was a twentieth
/// of the server's time under the IMAP benchmark.
pub fn parser_for(key: &SearchKey<'_>, also: &[HeaderName<'static>]) -> MessageParser {
    let mut names = also.to_vec();
    if !header_fields(key, &mut names) {
        return MessageParser::default();
    }
    fields_parser(names)
}

/// A parser that decodes `names` as mail-parser's default would and keeps other fields raw.
pub fn fields_parser(names: impl IntoIterator<Item = HeaderName<'static>>) -> MessageParser {
    use HeaderName as H;
    // An empty map would make mail-parser fall back to decoding every field.
    let mut parser = MessageParser::new()
        .default_header_raw()
        .header_raw(H::MimeVersion);
    for name in names {
        parser = match name {
            H::Subject
            | H::Comments
            | H::ContentDescription
            | H::ContentLocation
            | H::ContentTransferEncoding => parser.header_text(name),
            H::From
            | H::To
            | H::Cc
            | H::Bcc
            | H::ReplyTo
            | H::Sender
            | H::ResentTo
            | H::ResentFrom
            | H::ResentBcc
            | H::ResentCc
            | H::ResentSender
            | H::ListArchive
            | H::ListHelp
            | H::ListId
            | H::ListOwner
            | H::ListPost
            | H::ListSubscribe
            | H::ListUnsubscribe => parser.header_address(name),
            H::Date | H::ResentDate => parser.header_date(name),
            H::MessageId
            | H::References
            | H::InReplyTo
            | H::ReturnPath
            | H::ContentId
            | H::ResentMessageId => parser.header_id(name),
            H::Keywords | H::ContentLanguage => parser.header_comma_separated(name),
            H::Received => parser.header_received(name),
            H::ContentType | H::ContentDisposition => parser.header_content_type(name),
            _ => parser,
        };
    }
    parser
}

/// Collects the header fields `key` reads into `names`; false when it reads the text or
/// every field.
fn header_fields(key: &SearchKey<'_>, names: &mut Vec<HeaderName<'static>>) -> bool {
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().all(|k| header_fields(k, names)),
        SearchKey::Or(a, b) => header_fields(a, names) && header_fields(b, names),
        SearchKey::Not(k) => header_fields(k, names),
        SearchKey::Body(_) | SearchKey::Text(_) => false,
        SearchKey::From(_) => push(names, HeaderName::From),
        SearchKey::To(_) => push(names, HeaderName::To),
        SearchKey::Cc(_) => push(names, HeaderName::Cc),
        SearchKey::Bcc(_) => push(names, HeaderName::Bcc),
        SearchKey::Subject(_) => push(names, HeaderName::Subject),
        SearchKey::SentBefore(_) | SearchKey::SentOn(_) | SearchKey::SentSince(_) => {
            push(names, HeaderName::Date)
        }
        SearchKey::Header(name, _) => {
            match HeaderName::parse(String::from_utf8_lossy(name.as_ref()).into_owned()) {
                Some(name) => push(names, name),
                None => true,
            }
        }
        _ => true,
    }
}

fn push(names: &mut Vec<HeaderName<'static>>, name: HeaderName<'static>) -> bool {
    names.push(name);
    true
}

/// True when `message` matches `key`.
pub fn matches(key: &SearchKey<'_>, message: &SearchMessage<'_>, scope: SearchScope) -> bool {
    let m = message;
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().all(|k| matches(k, m, scope)),
        SearchKey::Or(a, b) => matches(a, m, scope) || matches(b, m, scope),
        SearchKey::Not(k) => !matches(k, m, scope),
        SearchKey::All => true,
        SearchKey::SequenceSet(set) => set_contains(set, m.seq, scope.max_seq),
        SearchKey::Uid(set) => set_contains(set, m.facts.uid, scope.max_uid),
        SearchKey::Answered => has_flag(m, &Flag::Answered),
        SearchKey::Deleted => has_flag(m, &Flag::Deleted),
        SearchKey::Draft => has_flag(m, &Flag::Draft),
        SearchKey::Flagged => has_flag(m, &Flag::Flagged),
        SearchKey::Seen => has_flag(m, &Flag::Seen),
        SearchKey::Unanswered => !has_flag(m, &Flag::Answered),
        SearchKey::Undeleted => !has_flag(m, &Flag::Deleted),
        SearchKey::Undraft => !has_flag(m, &Flag::Draft),
        SearchKey::Unflagged => !has_flag(m, &Flag::Flagged),
        SearchKey::Unseen => !has_flag(m, &Flag::Seen),
        SearchKey::Keyword(k) => has_keyword(m, k.as_ref()),
        SearchKey::Unkeyword(k) => !has_keyword(m, k.as_ref()),
        SearchKey::Recent => m.facts.recent,
        // RFC 3501: NEW is "RECENT UNSEEN", OLD is "NOT RECENT".
        SearchKey::New => m.facts.recent && !has_flag(m, &Flag::Seen),
        SearchKey::Old => !m.facts.recent,
        SearchKey::Larger(n) => m.facts.size > *n,
        SearchKey::Smaller(n) => m.facts.size < *n,
        SearchKey::Before(d) => m.facts.internal_date.date_naive() < *d.as_ref(),
        SearchKey::On(d) => m.facts.internal_date.date_naive() == *d.as_ref(),
        SearchKey::Since(d) => m.facts.internal_date.date_naive() >= *d.as_ref(),
        SearchKey::SentBefore(d) => sent_date(m).is_some_and(|s| s < *d.as_ref()),
        SearchKey::SentOn(d) => sent_date(m).is_some_and(|s| s == *d.as_ref()),
        SearchKey::SentSince(d) => sent_date(m).is_some_and(|s| s >= *d.as_ref()),
        SearchKey::From(s) => header_contains(m, "From", s.as_ref()),
        SearchKey::To(s) => header_contains(m, "To", s.as_ref()),
        SearchKey::Cc(s) => header_contains(m, "Cc", s.as_ref()),
        SearchKey::Bcc(s) => header_contains(m, "Bcc", s.as_ref()),
        SearchKey::Subject(s) => header_contains(m, "Subject", s.as_ref()),
        SearchKey::Header(name, s) => {
            header_contains(m, &String::from_utf8_lossy(name.as_ref()), s.as_ref())
        }
        SearchKey::Body(s) => body_contains(m, &needle(s.as_ref())),
        SearchKey::Text(s) => {
            let n = needle(s.as_ref());
            any_header_contains(m, &n) || body_contains(m, &n)
        }
        // RFC 7162 §3.1.5: messages whose modseq is at least the given value. We keep one
        // modseq per message, so the optional entry name/type does not narrow the match.
        SearchKey::ModSequence { modseq, .. } => m.facts.modseq >= *modseq,
    }
}

/// The strings every match of `key` contains in its text (BODY and TEXT under AND, at any
/// depth), lowercased as SEARCH compares them: what the store's full-text index can narrow
/// the candidates by. Under OR and NOT a string is not required, so it is left out.
pub fn required_needles(key: &SearchKey<'_>) -> Vec<String> {
    let mut out = Vec::new();
    collect_needles(key, &mut out);
    out
}

fn collect_needles(key: &SearchKey<'_>, out: &mut Vec<String>) {
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().for_each(|k| collect_needles(k, out)),
        SearchKey::Body(s) | SearchKey::Text(s) => out.push(needle(s.as_ref())),
        _ => {}
    }
}

/// Whether `value` is in `set`, with `*` meaning `max` (RFC 3501 §9: a range is unordered,
/// and `n:*` includes `max` even when `n > max`).
pub fn set_contains(set: &SequenceSet, value: u32, max: u32) -> bool {
    let resolve = |s: &SeqOrUid| match s {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => max,
    };
    set.0.as_ref().iter().any(|seq| match seq {
        Sequence::Single(s) => resolve(s) == value,
        Sequence::Range(a, b) => {
            let (a, b) = (resolve(a), resolve(b));
            (a.min(b)..=a.max(b)).contains(&value)
        }
    })
}

fn has_flag(m: &SearchMessage<'_>, flag: &Flag<'_>) -> bool {
    m.facts.flags.iter().any(|f| f == flag)
}

fn has_keyword(m: &SearchMessage<'_>, keyword: &str) -> bool {
    m.facts
        .flags
        .iter()
        .any(|f| matches!(f, Flag::Keyword(k) if k.as_ref().eq_ignore_ascii_case(keyword)))
}

/// The Date header's calendar date as written (time and timezone disregarded).
fn sent_date(m: &SearchMessage<'_>) -> Option<NaiveDate> {
    let date = m.parsed?.date()?;
    NaiveDate::from_ymd_opt(
        i32::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    )
}

/// The lowercased search string (as the full-text index is asked for it, too).
pub fn needle(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_lowercase()
}

fn contains(haystack: &str, needle: &str) -> bool {
    needle.is_empty() || haystack.to_lowercase().contains(needle)
}

/// RFC 3501 §6.4.4: header criteria match the field's value; an empty string matches
/// every message that has the field (HEADER). Both the decoded and the raw value count.
fn header_contains(m: &SearchMessage<'_>, name: &str, s: &[u8]) -> bool {
    let n = needle(s);
    let Some(parsed) = m.parsed else {
        return raw_contains(m.raw, &n);
    };
    parsed
        .root_part()
        .headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .any(|h| {
            let raw = parsed
                .raw_message()
                .get(h.offset_start() as usize..h.offset_end() as usize)
                .unwrap_or_default();
            contains(&value_text(h.value()), &n)
                || contains(&String::from_utf8_lossy(raw), &n)
                || contains(&decode_unstructured(raw), &n)
        })
}

/// A raw header value with RFC 2047 encoded-words decoded (for fields mail-parser keeps raw).
fn decode_unstructured(raw: &[u8]) -> String {
    let mut value = raw.to_vec();
    value.extend_from_slice(b"\r\n");
    match mail_parser::parsers::MessageStream::new(&value).parse_unstructured() {
        HeaderValue::Text(text) => text.into_owned(),
        _ => String::new(),
    }
}

fn any_header_contains(m: &SearchMessage<'_>, n: &str) -> bool {
    match m.parsed {
        Some(parsed) => any_header_text(parsed, &mut |t| contains(t, n)),
        None => raw_contains(m.raw, n),
    }
}

fn raw_contains(raw: &[u8], n: &str) -> bool {
    contains(&String::from_utf8_lossy(raw), n)
}

/// BODY: the decoded text parts (encapsulated messages included).
fn body_contains(m: &SearchMessage<'_>, n: &str) -> bool {
    match m.parsed {
        Some(parsed) => any_body_text(parsed, &mut |t| contains(t, n)),
        None => raw_contains(m.raw, n),
    }
}
