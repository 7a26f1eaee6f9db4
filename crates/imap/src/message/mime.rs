//! The MIME tree of a raw message, as byte ranges: what BODYSTRUCTURE, `BODY[section]` and
//! RFC822.SIZE are computed from.
//!
//! We walk the raw bytes ourselves rather than using mail-parser's part offsets: IMAP needs
//! exact octet ranges (the CRLF before a boundary belongs to the boundary, RFC 2046 §5.1.1)
//! and undecoded header values, while mail-parser decodes on parse and keeps offsets of
//! nested messages relative to different buffers.

use std::ops::Range;

use super::header::{HeaderBlock, MimeValue, Params};

/// Nesting deeper than this is treated as an opaque leaf (bounds recursion on hostile input).
const MAX_DEPTH: usize = 32;

/// One MIME entity: its header, its body and what the body contains.
#[derive(Debug, Clone)]
pub struct MimePart {
    /// The entity's header block (for a message: the RFC 5322 header), with its empty line.
    pub header: HeaderBlock,
    /// The body octets, in transfer encoding.
    pub body: Range<usize>,
    /// Media type and subtype as sent, or the RFC 2045 §5.2 / RFC 2046 §5.1.5 default.
    pub media_type: Vec<u8>,
    /// See `media_type`.
    pub media_subtype: Vec<u8>,
    /// Content-Type parameters as sent.
    pub params: Params,
    /// What the body holds.
    pub kind: PartKind,
}

/// What a MIME entity's body holds.
#[derive(Debug, Clone)]
pub enum PartKind {
    /// A leaf (text, image, ...).
    Leaf,
    /// A multipart with at least one child.
    Multipart(Vec<MimePart>),
    /// A message/rfc822 entity: the encapsulated message.
    Message(Box<MimePart>),
}

impl MimePart {
    /// Parses the entity at `range` of `raw`. `in_digest` selects the multipart/digest
    /// default type (RFC 2046 §5.1.5).
    pub fn parse(raw: &[u8], range: Range<usize>, in_digest: bool) -> MimePart {
        parse_entity(raw, range, in_digest, 0)
    }

    /// True for `text/*` entities.
    pub fn is_text(&self) -> bool {
        self.media_type.eq_ignore_ascii_case(b"text")
    }

    /// The Content-Transfer-Encoding value, if any.
    pub fn transfer_encoding(&self, raw: &[u8]) -> Option<Vec<u8>> {
        self.header.first_unfolded(raw, "Content-Transfer-Encoding")
    }

    /// The entity's charset parameter, if any.
    pub fn charset(&self) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(b"charset"))
            .map(|(_, v)| v.as_slice())
    }
}

fn parse_entity(raw: &[u8], range: Range<usize>, in_digest: bool, depth: usize) -> MimePart {
    let header = HeaderBlock::parse(raw, range.start, range.end);
    let body = header.range.end..range.end;
    let content_type = header
        .first_unfolded(raw, "Content-Type")
        .map(|v| MimeValue::parse(&v));
    let (media_type, media_subtype, params) = match content_type
        .as_ref()
        .and_then(|ct| ct.type_subtype().map(|ts| (ts, ct)))
    {
        Some(((ty, sub), ct)) => (ty, sub, ct.params.clone()),
        None if in_digest && content_type.is_none() => {
            (b"message".to_vec(), b"rfc822".to_vec(), Vec::new())
        }
        // RFC 2045 §5.2: no (or an unusable) Content-Type means text/plain us-ascii.
        None => default_text_plain(),
    };
    let mut part = MimePart {
        header,
        body,
        media_type,
        media_subtype,
        params,
        kind: PartKind::Leaf,
    };
    if depth >= MAX_DEPTH {
        return part;
    }
    if part.media_type.eq_ignore_ascii_case(b"multipart") {
        let children = part
            .params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(b"boundary"))
            .filter(|(_, b)| !b.is_empty())
            .map(|(_, b)| split_multipart(raw, part.body.clone(), b))
            .unwrap_or_default();
        if children.is_empty() {
            // A multipart without a boundary or without any body part cannot be split:
            // RFC 2045 §5.2 treats it as plain text.
            (part.media_type, part.media_subtype, part.params) = default_text_plain();
        } else {
            let digest = part.media_subtype.eq_ignore_ascii_case(b"digest");
            let parts = children
                .into_iter()
                .map(|r| parse_entity(raw, r, digest, depth + 1));
            part.kind = PartKind::Multipart(parts.collect());
        }
    } else if is_encapsulated_message(&part, raw) {
        let inner = parse_entity(raw, part.body.clone(), false, depth + 1);
        part.kind = PartKind::Message(Box::new(inner));
    }
    part
}

fn default_text_plain() -> (Vec<u8>, Vec<u8>, Params) {
    (
        b"text".to_vec(),
        b"plain".to_vec(),
        vec![(b"charset".to_vec(), b"us-ascii".to_vec())],
    )
}

/// message/rfc822 whose body is not base64/QP encoded (RFC 2046 §5.2.1 allows only 7bit,
/// 8bit and binary): then the body is a message. (message/global stays a leaf: the encoder
/// writes every encapsulated message as "MESSAGE" "RFC822".)
fn is_encapsulated_message(part: &MimePart, raw: &[u8]) -> bool {
    let is_message = part.media_type.eq_ignore_ascii_case(b"message")
        && part.media_subtype.eq_ignore_ascii_case(b"rfc822");
    let identity = match part.transfer_encoding(raw) {
        None => true,
        Some(cte) => [&b"7bit"[..], b"8bit", b"binary"]
            .iter()
            .any(|e| cte.eq_ignore_ascii_case(e)),
    };
    is_message && identity
}

/// The body-part ranges of a multipart body (RFC 2046 §5.1.1): the octets between each
/// delimiter line and the line break before the next one. A missing close delimiter ends the
/// last part at the end of the body.
fn split_multipart(raw: &[u8], body: Range<usize>, boundary: &[u8]) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut current_start: Option<usize> = None;
    let mut pos = body.start;
    while pos < body.end {
        let line_end = raw[pos..body.end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.end, |i| pos + i + 1);
        if let Some(is_close) = delimiter_kind(&raw[pos..line_end], boundary) {
            if let Some(start) = current_start.take() {
                parts.push(start..line_break_start(raw, start, pos));
            }
            if is_close {
                return parts;
            }
            current_start = Some(line_end);
        }
        pos = line_end;
    }
    if let Some(start) = current_start {
        parts.push(start..body.end);
    }
    parts
}

/// Where the line break that ends right before `delimiter_pos` starts (never before `start`).
fn line_break_start(raw: &[u8], start: usize, delimiter_pos: usize) -> usize {
    let mut end = delimiter_pos;
    if end > start && raw[end - 1] == b'\n' {
        end -= 1;
        if end > start && raw[end - 1] == b'\r' {
            end -= 1;
        }
    }
    end
}

/// `Some(false)` for `--boundary`, `Some(true)` for `--boundary--`, `None` otherwise.
/// Trailing whitespace (transport padding) is allowed (RFC 2046 §5.1.1).
fn delimiter_kind(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (is_close, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    rest.iter()
        .all(|b| b" \t\r\n".contains(b))
        .then_some(is_close)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parts_exclude_the_crlf_before_the_delimiter() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n--b\r\n\r\none\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>two</p>\r\n--b--\r\nepilogue\r\n";
        let root = MimePart::parse(raw, 0..raw.len(), false);
        let PartKind::Multipart(children) = &root.kind else {
            panic!("multipart expected")
        };
        assert_eq!(children.len(), 2);
        assert_eq!(&raw[children[0].body.clone()], b"one");
        assert_eq!(&raw[children[1].body.clone()], b"<p>two</p>");
        assert_eq!(children[1].media_subtype, b"html");
        assert_eq!(
            children[0].params,
            vec![(b"charset".to_vec(), b"us-ascii".to_vec())]
        );
    }

    #[test]
    fn boundary_prefix_of_longer_line_is_not_a_delimiter() {
        assert_eq!(delimiter_kind(b"--bb\r\n", b"b"), None);
        assert_eq!(delimiter_kind(b"--b  \r\n", b"b"), Some(false));
        assert_eq!(delimiter_kind(b"--b--", b"b"), Some(true));
    }

    #[test]
    fn multipart_without_boundary_is_text_plain() {
        let raw = b"Content-Type: multipart/mixed\r\n\r\nhello\r\n";
        let root = MimePart::parse(raw, 0..raw.len(), false);
        assert!(matches!(root.kind, PartKind::Leaf));
        assert_eq!(
            (root.media_type.as_slice(), root.media_subtype.as_slice()),
            (&b"text"[..], &b"plain"[..])
        );
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut raw = Vec::new();
        for _ in 0..200 {
            raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        }
        raw.extend_from_slice(b"end");
        let root = MimePart::parse(&raw, 0..raw.len(), false);
        let mut depth = 0;
        let mut part = &root;
        while let PartKind::Message(inner) = &part.kind {
            part = inner;
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
    }
}
