//! FETCH `BINARY[section]<partial>` and `BINARY.SIZE[section]` (RFC 3516 §4.2): a part's
//! content with its Content-Transfer-Encoding removed.

use std::num::NonZeroU32;

use imap_codec::imap_types::{
    core::{NString, NString8, Vec1},
    extensions::binary::Literal8,
    fetch::Part,
};

use super::{
    MessageView,
    mime::{MimePart, PartKind},
    section::resolve,
};

/// A part's transfer encoding is one we cannot undo (RFC 3516 §4.3: `NO [UNKNOWN-CTE]`), or
/// its content does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode content-transfer-encoding {0}")]
pub struct UnknownCte(pub String);

/// The decoded octets of `section` (empty: the whole message, as stored), or `None` when
/// the message has no such part.
pub fn decoded(
    view: &MessageView<'_>,
    section: &[NonZeroU32],
) -> Result<Option<Vec<u8>>, UnknownCte> {
    let Ok(path) = Vec1::try_from(section.to_vec()) else {
        return Ok(Some(view.raw().to_vec()));
    };
    let Some(part) = resolve(view.root(), &Part(path)) else {
        return Ok(None);
    };
    decode_part(view.raw(), part).map(Some)
}

fn decode_part(raw: &[u8], part: &MimePart) -> Result<Vec<u8>, UnknownCte> {
    let body = &raw[part.body.clone()];
    if !matches!(part.kind, PartKind::Leaf) {
        // Multiparts and encapsulated messages are 7bit/8bit/binary (RFC 2045 §6.4).
        return Ok(body.to_vec());
    }
    let encoding = part
        .transfer_encoding(raw)
        .map(|e| String::from_utf8_lossy(&e).trim().to_ascii_lowercase())
        .unwrap_or_default();
    let failed = || UnknownCte(encoding.clone());
    match encoding.as_str() {
        "" | "7bit" | "8bit" | "binary" => Ok(body.to_vec()),
        "base64" => mail_parser::decoders::base64::base64_decode(body).ok_or_else(failed),
        "quoted-printable" => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
                .ok_or_else(failed)
        }
        _ => Err(failed()),
    }
}

/// The FETCH value of decoded octets: a literal8 when they hold NUL (RFC 3516 §4.2), else
/// an ordinary string.
pub fn value(data: Option<Vec<u8>>) -> NString8<'static> {
    match data {
        None => NString8::NString(NString::NIL),
        Some(bytes) if bytes.contains(&0) => NString8::Literal8(Literal8 {
            data: bytes.into(),
            mode: imap_codec::imap_types::core::LiteralMode::Sync,
        }),
        Some(bytes) => NString8::NString(NString(Some(super::envelope::istring(&bytes)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"From: kim@test.go.kr\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
=ED=99=8D=EA=B8=B8=EB=8F=99 soft=\r\nbreak\r\n--b\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
AAEC/w==\r\n--b\r\n\
Content-Type: application/x-odd\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n--b--\r\n";

    fn part(n: u32) -> Vec<NonZeroU32> {
        vec![NonZeroU32::new(n).expect("non-zero")]
    }

    #[test]
    fn parts_are_decoded_by_their_transfer_encoding() {
        let view = MessageView::parse(MESSAGE);
        let text = decoded(&view, &part(1)).expect("decodes").expect("exists");
        assert_eq!(String::from_utf8(text).expect("UTF-8"), "홍길동 softbreak");
        let bytes = decoded(&view, &part(2)).expect("decodes").expect("exists");
        assert_eq!(bytes, [0, 1, 2, 255]);
        assert!(matches!(value(Some(bytes)), NString8::Literal8(_)));
        assert_eq!(
            decoded(&view, &part(3)),
            Err(UnknownCte("x-uuencode".into()))
        );
        assert_eq!(decoded(&view, &part(4)), Ok(None));
        assert_eq!(
            decoded(&view, &[]).expect("whole").expect("exists"),
            MESSAGE
        );
    }
}
