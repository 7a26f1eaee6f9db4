//! FETCH BODY and BODYSTRUCTURE (RFC 3501 §7.4.2) as imap-codec's [`BodyStructure`].

use imap_codec::imap_types::{
    body::{
        BasicFields, Body, BodyStructure, Disposition, Language, Location, MultiPartExtensionData,
        SinglePartExtensionData, SpecificFields,
    },
    core::{IString, NString, Vec1},
};

use super::{
    envelope::{envelope, istring, nstring},
    header::{MimeValue, unfold},
    mime::{MimePart, PartKind},
};

/// Whether to include extension data: BODYSTRUCTURE does, BODY must not (RFC 3501 §7.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extensions {
    /// FETCH BODY: the non-extensible form.
    Without,
    /// FETCH BODYSTRUCTURE: with MD5 (always NIL), disposition, language and location.
    With,
}

/// Builds the body structure of `part`.
pub fn body_structure(raw: &[u8], part: &MimePart, ext: Extensions) -> BodyStructure<'static> {
    match &part.kind {
        PartKind::Multipart(children) => {
            let bodies: Vec<BodyStructure<'static>> = children
                .iter()
                .map(|c| body_structure(raw, c, ext))
                .collect();
            let extension_data = (ext == Extensions::With).then(|| MultiPartExtensionData {
                parameter_list: params(&part.params),
                tail: Some(disposition_tail(raw, part)),
            });
            BodyStructure::Multi {
                bodies: Vec1::try_from(bodies).unwrap_or_else(|_| {
                    // mime.rs never makes an empty multipart; keep a placeholder anyway.
                    Vec1::from(leaf(raw, part, Extensions::Without))
                }),
                subtype: istring(&part.media_subtype),
                extension_data,
            }
        }
        _ => leaf(raw, part, ext),
    }
}

fn leaf(raw: &[u8], part: &MimePart, ext: Extensions) -> BodyStructure<'static> {
    let body_bytes = &raw[part.body.clone()];
    let basic = BasicFields {
        parameter_list: params(&part.params),
        id: nstring(part.header.first_unfolded(raw, "Content-ID").as_deref()),
        description: nstring(
            part.header
                .first_unfolded(raw, "Content-Description")
                .as_deref(),
        ),
        // RFC 2045 §6.1: no Content-Transfer-Encoding means 7bit.
        content_transfer_encoding: istring(
            &part
                .transfer_encoding(raw)
                .unwrap_or_else(|| b"7BIT".to_vec()),
        ),
        size: u32::try_from(body_bytes.len()).unwrap_or(u32::MAX),
    };
    let specific = match &part.kind {
        PartKind::Message(inner) => SpecificFields::Message {
            envelope: Box::new(envelope(raw, &inner.header)),
            body_structure: Box::new(body_structure(raw, inner, ext)),
            number_of_lines: count_lines(body_bytes),
        },
        _ if part.is_text() => SpecificFields::Text {
            subtype: istring(&part.media_subtype),
            number_of_lines: count_lines(body_bytes),
        },
        _ => SpecificFields::Basic {
            r#type: istring(&part.media_type),
            subtype: istring(&part.media_subtype),
        },
    };
    let extension_data = (ext == Extensions::With).then(|| SinglePartExtensionData {
        // We do not compute Content-MD5 (RFC 1864); NIL is allowed.
        md5: NString::NIL,
        tail: Some(disposition_tail(raw, part)),
    });
    BodyStructure::Single {
        body: Body { basic, specific },
        extension_data,
    }
}

/// Disposition, language and location: the extension fields both part kinds share.
fn disposition_tail(raw: &[u8], part: &MimePart) -> Disposition<'static> {
    let disposition = part
        .header
        .first_unfolded(raw, "Content-Disposition")
        .and_then(|v| {
            let parsed = MimeValue::parse(&v);
            (!parsed.value.is_empty()).then(|| (istring(&parsed.value), params(&parsed.params)))
        });
    let language = part
        .header
        .first_unfolded(raw, "Content-Language")
        .map(|v| {
            MimeValue::parse(&v)
                .value
                .split(|&b| b == b',')
                .map(super::header::trim)
                .filter(|t| !t.is_empty())
                .map(istring)
                .collect()
        })
        .unwrap_or_default();
    let location = part
        .header
        .first(raw, "Content-Location")
        .map(unfold)
        .filter(|l| !l.is_empty());
    Disposition {
        disposition,
        tail: Some(Language {
            language,
            tail: Some(Location {
                location: nstring(location.as_deref()),
                extensions: Vec::new(),
            }),
        }),
    }
}

fn params(list: &[(Vec<u8>, Vec<u8>)]) -> Vec<(IString<'static>, IString<'static>)> {
    list.iter().map(|(n, v)| (istring(n), istring(v))).collect()
}

/// Lines of a body: its line feeds, plus one for a last line without a line break.
pub fn count_lines(body: &[u8]) -> u32 {
    let feeds = body.iter().filter(|&&b| b == b'\n').count();
    let unterminated = usize::from(body.last().is_some_and(|&b| b != b'\n'));
    u32::try_from(feeds + unterminated).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counts() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a"), 1);
        assert_eq!(count_lines(b"a\r\n"), 1);
        assert_eq!(count_lines(b"a\r\nb"), 2);
        assert_eq!(count_lines(b"\r\n\r\n"), 2);
    }
}
