//! Building and encoding responses with imap-codec, with texts made safe: a response text
//! cannot hold CR or LF or be empty (RFC 3501 §9 `text`).

use imap_codec::{
    GreetingCodec, ResponseCodec,
    encode::Encoder,
    imap_types::{
        core::{Atom, Tag, Text},
        response::{Code, CodeOther, Greeting, Response, Status, StatusKind},
    },
};

/// A response code that imap-codec has no variant for (RFC 5530 codes such as
/// `AUTHENTICATIONFAILED`, `PRIVACYREQUIRED`, `CONTACTADMIN`, `EXPIRED`, `UNAVAILABLE`).
pub fn code(name: &'static str) -> Code<'static> {
    // An atom is the shape of every RFC 5530 code; `Code::Other` is written as-is.
    debug_assert!(Atom::validate(name).is_ok(), "response codes are atoms");
    Code::Other(CodeOther::unvalidated(name.as_bytes()))
}

/// `text` with CR/LF turned into spaces; never empty.
pub fn safe_text(text: &str) -> Text<'static> {
    let cleaned: String = text
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    let cleaned = cleaned.trim();
    let cleaned = if cleaned.is_empty() || cleaned.starts_with('[') {
        "completed"
    } else {
        cleaned
    };
    Text::try_from(cleaned.to_string()).unwrap_or_else(|_| Text::unvalidated("completed"))
}

/// A status response (`kind` OK/NO/BAD), tagged when `tag` is given.
pub fn status(
    kind: StatusKind,
    tag: Option<Tag<'static>>,
    code: Option<Code<'static>>,
    text: &str,
) -> Status<'static> {
    Status::new(tag, kind, code, safe_text(text))
        .expect("safe_text is a valid Text and carries no base64 marker")
}

/// `<tag> OK [code] text`.
pub fn ok(tag: Tag<'static>, code: Option<Code<'static>>, text: &str) -> Status<'static> {
    status(StatusKind::Ok, Some(tag), code, text)
}

/// `<tag> NO [code] text`.
pub fn no(tag: Tag<'static>, code: Option<Code<'static>>, text: &str) -> Status<'static> {
    status(StatusKind::No, Some(tag), code, text)
}

/// `<tag> BAD text`, or `* BAD text` when the tag could not be read.
pub fn bad(tag: Option<Tag<'static>>, text: &str) -> Status<'static> {
    status(StatusKind::Bad, tag, None, text)
}

/// `* BYE [code] text`.
pub fn bye(code: Option<Code<'static>>, text: &str) -> Status<'static> {
    Status::bye(code, safe_text(text)).expect("safe_text is a valid Text")
}

/// The wire bytes of a response.
pub fn encode(response: &Response<'_>) -> Vec<u8> {
    ResponseCodec::default().encode(response).dump()
}

/// The wire bytes of a status response.
pub fn encode_status(status: Status<'static>) -> Vec<u8> {
    encode(&Response::Status(status))
}

/// The wire bytes of a greeting.
pub fn encode_greeting(greeting: &Greeting<'_>) -> Vec<u8> {
    GreetingCodec::default().encode(greeting).dump()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_made_safe_and_codes_written_as_is() {
        let tag = Tag::try_from("a1").expect("valid tag");
        let bytes = encode_status(no(tag, Some(code("PRIVACYREQUIRED")), "no\r\nway"));
        assert_eq!(bytes, b"a1 NO [PRIVACYREQUIRED] no  way\r\n");
        assert_eq!(encode_status(bad(None, "")), b"* BAD completed\r\n");
    }
}
