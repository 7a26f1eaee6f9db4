//! FETCH `BODY[section]<partial>` (RFC 3501 §6.4.5): the octets a section names.

use imap_codec::imap_types::fetch::{Part, Section};

use super::{
    header::HeaderBlock,
    mime::{MimePart, PartKind},
};

/// The children a part number indexes: a multipart's parts, an encapsulated message's parts,
/// or, for a message whose body is not multipart, the message's body as part 1
/// (RFC 3501 §6.4.5: "non-multipart messages ... only have a part 1").
fn numbered_children(entity: &MimePart) -> Vec<&MimePart> {
    match &entity.kind {
        PartKind::Multipart(children) => children.iter().collect(),
        PartKind::Message(inner) => match &inner.kind {
            PartKind::Multipart(children) => children.iter().collect(),
            _ => vec![inner.as_ref()],
        },
        PartKind::Leaf => Vec::new(),
    }
}

/// Follows a part path from the message's root entity; `None` if a number does not exist.
pub fn resolve<'p>(root: &'p MimePart, path: &Part) -> Option<&'p MimePart> {
    let mut numbers = path.0.as_ref().iter();
    let first = numbers.next()?.get() as usize;
    // The top level works like an encapsulated message whose entity is `root`.
    let mut current = match &root.kind {
        PartKind::Multipart(children) => children.get(first - 1)?,
        _ if first == 1 => root,
        _ => return None,
    };
    for n in numbers {
        current = *numbered_children(current).get(n.get() as usize - 1)?;
    }
    Some(current)
}

/// The message (header and body) a HEADER / TEXT / HEADER.FIELDS specifier applies to: the
/// root for no part, else the encapsulated message of a message/rfc822 part.
fn message_at<'p>(root: &'p MimePart, part: Option<&Part>) -> Option<&'p MimePart> {
    match part {
        None => Some(root),
        Some(path) => match &resolve(root, path)?.kind {
            PartKind::Message(inner) => Some(inner),
            _ => None,
        },
    }
}

/// The octets of `section` (`None` = the whole message, `BODY[]`); `None` when the section
/// does not exist in this message.
pub fn extract(raw: &[u8], root: &MimePart, section: Option<&Section<'_>>) -> Option<Vec<u8>> {
    let Some(section) = section else {
        return Some(raw.to_vec());
    };
    match section {
        Section::Part(path) => resolve(root, path).map(|p| raw[p.body.clone()].to_vec()),
        Section::Mime(path) => resolve(root, path).map(|p| raw[p.header.range.clone()].to_vec()),
        Section::Header(part) => {
            message_at(root, part.as_ref()).map(|m| raw[m.header.range.clone()].to_vec())
        }
        Section::Text(part) => {
            message_at(root, part.as_ref()).map(|m| raw[m.body.clone()].to_vec())
        }
        Section::HeaderFields(part, names) => message_at(root, part.as_ref())
            .map(|m| header_fields(raw, &m.header, names.as_ref(), true)),
        Section::HeaderFieldsNot(part, names) => message_at(root, part.as_ref())
            .map(|m| header_fields(raw, &m.header, names.as_ref(), false)),
    }
}

/// The fields whose name is (or, with `keep_listed = false`, is not) in `names`, byte-exact,
/// followed by the empty line that ends a header (RFC 3501 §6.4.5).
fn header_fields<N: AsRef<[u8]>>(
    raw: &[u8],
    header: &HeaderBlock,
    names: &[N],
    keep_listed: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    for field in &header.fields {
        let name = &raw[field.name.clone()];
        let listed = names.iter().any(|n| n.as_ref().eq_ignore_ascii_case(name));
        if listed == keep_listed {
            out.extend_from_slice(&raw[field.raw.clone()]);
            if !out.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Applies a `<origin.count>` partial range (RFC 3501 §6.4.5): an origin past the end gives
/// the empty string.
pub fn partial(data: &[u8], origin: u32, count: u32) -> &[u8] {
    let start = (origin as usize).min(data.len());
    let end = start.saturating_add(count as usize).min(data.len());
    &data[start..end]
}
