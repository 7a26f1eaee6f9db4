//! The message view a script runs against, and the caller's side of a run: the envelope,
//! the clock, the user's addresses ([`Context`]) and the store's answers ([`Environment`]).
//! Nothing here performs IO; the caller fills these in.

use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderValue, MessageParser, MimeHeaders, PartType};

use crate::ast::Location;
use crate::eval::date::Timestamp;

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// The field name as written.
    pub name: String,
    /// The value as written, unfolded lines kept, without the final line break.
    pub raw: String,
    /// The value with RFC 2047 encoded words decoded (any charset `mail-parser` knows,
    /// EUC-KR included) and folding removed: what `header` compares (RFC 5228 §2.7.2).
    pub decoded: String,
}

/// One leaf part of the body, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPart {
    /// `type/subtype`, lower-case (`text/plain` when the part does not say).
    pub content_type: String,
    /// The decoded content (transfer encoding and charset undone).
    pub text: String,
}

/// What a script may look at in a message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The top-level header fields, in order.
    pub headers: Vec<HeaderField>,
    /// The body as transmitted (for `body :raw`).
    pub raw_body: String,
    /// The leaf parts, in order (for `body :text` and `:content`).
    pub parts: Vec<BodyPart>,
    /// The size of the whole message in octets (for `size`).
    pub size: u64,
}

impl Message {
    /// Parses a whole RFC 5322 message. Unparseable input gives a message with no headers
    /// and the input as its body, never an error: a filter must still run.
    pub fn parse(raw: &[u8]) -> Message {
        let size = raw.len() as u64;
        let Some(parsed) = MessageParser::default().parse(raw) else {
            return Message {
                raw_body: String::from_utf8_lossy(raw).into_owned(),
                size,
                ..Message::default()
            };
        };
        let root = parsed.root_part();
        let headers = root
            .headers
            .iter()
            .map(|h| {
                let bytes = raw
                    .get(h.offset_start as usize..h.offset_end as usize)
                    .unwrap_or_default();
                field(h.name.as_str(), bytes)
            })
            .collect();
        let raw_body = raw
            .get(root.offset_body as usize..)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let parts = parsed
            .parts
            .iter()
            .filter_map(|part| {
                let text = match &part.body {
                    PartType::Text(t) | PartType::Html(t) => t.to_string(),
                    PartType::Binary(b) | PartType::InlineBinary(b) => {
                        String::from_utf8_lossy(b).into_owned()
                    }
                    PartType::Message(_) | PartType::Multipart(_) => return None,
                };
                let content_type = part.content_type().map_or_else(
                    || "text/plain".to_owned(),
                    |ct| match ct.subtype() {
                        Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
                        None => ct.ctype().to_ascii_lowercase(),
                    },
                );
                Some(BodyPart { content_type, text })
            })
            .collect();
        Message {
            headers,
            raw_body,
            parts,
            size,
        }
    }

    /// A message from header fields (raw values) and a plain-text body, for tests and for
    /// callers that already hold a parsed message.
    pub fn from_parts<N: Into<String>, V: AsRef<str>>(
        headers: impl IntoIterator<Item = (N, V)>,
        body: &str,
    ) -> Message {
        let headers: Vec<HeaderField> = headers
            .into_iter()
            .map(|(n, v)| field(&n.into(), v.as_ref().as_bytes()))
            .collect();
        let header_bytes: usize = headers.iter().map(|h| h.name.len() + h.raw.len() + 4).sum();
        Message {
            size: (header_bytes + 2 + body.len()) as u64,
            raw_body: body.to_owned(),
            parts: vec![BodyPart {
                content_type: "text/plain".into(),
                text: body.to_owned(),
            }],
            headers,
        }
    }

    /// The fields named `name` (case-insensitive), in order.
    pub fn header<'m>(&'m self, name: &'m str) -> impl Iterator<Item = &'m HeaderField> + 'm {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
    }
}

fn field(name: &str, raw: &[u8]) -> HeaderField {
    let raw_text = String::from_utf8_lossy(raw);
    let raw_text = raw_text.trim_end_matches(['\r', '\n']).trim_start();
    HeaderField {
        name: name.to_owned(),
        decoded: decode_unstructured(raw_text.as_bytes()),
        raw: raw_text.to_owned(),
    }
}

/// Decodes RFC 2047 encoded words and unfolds, through `mail-parser`.
pub(crate) fn decode_unstructured(raw: &[u8]) -> String {
    let mut buf = Vec::with_capacity(raw.len() + 2);
    buf.extend_from_slice(raw);
    buf.extend_from_slice(b"\r\n");
    match MessageStream::new(&buf).parse_unstructured() {
        HeaderValue::Text(t) => t.trim().to_owned(),
        _ => String::new(),
    }
}

/// The SMTP envelope of this delivery (RFC 5228 §5.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// MAIL FROM, without angle brackets; empty for the null sender `<>`.
    pub from: String,
    /// The RCPT TO this delivery is for, without angle brackets.
    pub to: String,
}

/// Everything about a run that is not the message or the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The envelope.
    pub envelope: Envelope,
    /// The current time (`currentdate`, and the local zone of `date`).
    pub now: Timestamp,
    /// The user's own addresses (vacation's "is this mail for me" rule, RFC 5230 §4.5).
    pub user_addresses: Vec<String>,
    /// The running script's name, so that including itself is seen as a loop.
    pub script_name: Option<String>,
}

/// What a run asks the store. Both answers must come from memory the caller prepared
/// (a mailbox list, a map of the user's scripts): the evaluator calls them synchronously.
pub trait Environment {
    /// Whether the user has a mailbox of this name (RFC 5490 `mailboxexists`).
    fn mailbox_exists(&self, name: &str) -> bool;

    /// The text of the script `name` for `include` (RFC 6609), or `None` if there is none.
    fn script(&self, name: &str, location: Location) -> Option<String> {
        let _ = (name, location);
        None
    }
}
