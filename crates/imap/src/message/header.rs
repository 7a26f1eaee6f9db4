//! Raw RFC 5322 header blocks: where they end, their fields (kept byte-exact for
//! `BODY[HEADER.FIELDS]`), unfolded values, and MIME `type/subtype; name=value` parameters.
//!
//! Nothing here decodes RFC 2047 encoded-words or RFC 2231 parameters: RFC 3501 §7.4.2
//! sends envelope and body-structure strings as they appear in the message.

use std::ops::Range;

/// One header field of a header block, as byte ranges into the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The whole field: name, colon, value, folded lines and the final line break.
    pub raw: Range<usize>,
    /// The field name (without the colon).
    pub name: Range<usize>,
    /// The value after the colon up to (not including) the final line break.
    pub value: Range<usize>,
}

/// A parsed header block: its fields and where the block ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderBlock {
    /// The header bytes including the empty line that ends them (if there is one).
    pub range: Range<usize>,
    /// The fields in order.
    pub fields: Vec<Field>,
}

/// Where the line that starts at `pos` ends: (end of content, start of next line).
fn line_at(raw: &[u8], pos: usize, end: usize) -> (usize, usize) {
    match raw[pos..end].iter().position(|&b| b == b'\n') {
        Some(i) => {
            let lf = pos + i;
            let content_end = if lf > pos && raw[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            (content_end, lf + 1)
        }
        None => (end, end),
    }
}

impl HeaderBlock {
    /// Parses the header block that starts at `start` and may extend to `end`.
    ///
    /// The block ends after the first empty line (RFC 5322 §2.1). Lines that are neither a
    /// field nor a continuation are skipped, so broken headers still give a usable block.
    pub fn parse(raw: &[u8], start: usize, end: usize) -> HeaderBlock {
        let mut fields: Vec<Field> = Vec::new();
        let mut pos = start;
        while pos < end {
            let (content_end, next) = line_at(raw, pos, end);
            if content_end == pos {
                // The empty line: the header ends here, the line belongs to it.
                return HeaderBlock {
                    range: start..next,
                    fields,
                };
            }
            let first = raw[pos];
            if first == b' ' || first == b'\t' {
                // A continuation line (RFC 5322 §2.2.3 folding).
                if let Some(last) = fields.last_mut() {
                    last.value.end = content_end;
                    last.raw.end = next;
                }
            } else if let Some(colon) = raw[pos..content_end].iter().position(|&b| b == b':') {
                let name_end = pos + colon;
                let name = pos..trim_end(raw, pos, name_end);
                if !name.is_empty() {
                    fields.push(Field {
                        raw: pos..next,
                        name,
                        value: name_end + 1..content_end,
                    });
                }
            }
            pos = next;
        }
        HeaderBlock {
            range: start..end,
            fields,
        }
    }

    /// The first field called `name` (case-insensitive), if any.
    pub fn first<'r>(&self, raw: &'r [u8], name: &str) -> Option<&'r [u8]> {
        self.fields
            .iter()
            .find(|f| raw[f.name.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| &raw[f.value.clone()])
    }

    /// The first field called `name`, unfolded and trimmed; `None` when absent or empty.
    pub fn first_unfolded(&self, raw: &[u8], name: &str) -> Option<Vec<u8>> {
        self.first(raw, name).map(unfold).filter(|v| !v.is_empty())
    }

    /// Every field called `name`, unfolded and trimmed, in order.
    pub fn all_unfolded(&self, raw: &[u8], name: &str) -> Vec<Vec<u8>> {
        self.fields
            .iter()
            .filter(|f| raw[f.name.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| unfold(&raw[f.value.clone()]))
            .collect()
    }
}

fn trim_end(raw: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && (raw[end - 1] == b' ' || raw[end - 1] == b'\t') {
        end -= 1;
    }
    end
}

/// Removes folding line breaks (RFC 5322 §2.2.3) and trims surrounding whitespace.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let unfolded: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    trim(&unfolded).to_vec()
}

/// Trims ASCII spaces and tabs on both ends.
pub fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// MIME parameters: (name, value) pairs as sent.
pub type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// A MIME header value of the form `token[/token] *(; name=value)` (RFC 2045 §5.1,
/// RFC 2183 §2): Content-Type and Content-Disposition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MimeValue {
    /// The leading token(s): `text/plain` or `attachment`, as sent.
    pub value: Vec<u8>,
    /// Parameters in order, names and values as sent (quotes removed, RFC 2231 forms
    /// such as `filename*` kept undecoded).
    pub params: Params,
}

impl MimeValue {
    /// Parses `value; a=b; c="d e"`, skipping RFC 822 comments.
    pub fn parse(input: &[u8]) -> MimeValue {
        let cleaned = strip_comments(input);
        let mut parts = split_unquoted(&cleaned, b';').into_iter();
        let value = parts.next().map(|v| trim(&v).to_vec()).unwrap_or_default();
        let params = parts.filter_map(|p| parse_param(&p)).collect();
        MimeValue { value, params }
    }

    /// Splits `type/subtype`; `None` when the value is not of that form (RFC 2045 §5.2
    /// then says to treat the part as `text/plain; charset=us-ascii`).
    pub fn type_subtype(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let slash = self.value.iter().position(|&b| b == b'/')?;
        let ty = trim(&self.value[..slash]);
        let sub = trim(&self.value[slash + 1..]);
        let is_token =
            |t: &[u8]| !t.is_empty() && t.iter().all(|&b| b.is_ascii_graphic() && b != b'/');
        (is_token(ty) && is_token(sub)).then(|| (ty.to_vec(), sub.to_vec()))
    }

    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }
}

fn parse_param(part: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let eq = part.iter().position(|&b| b == b'=')?;
    let name = trim(&part[..eq]);
    if name.is_empty() {
        return None;
    }
    let value = trim(&part[eq + 1..]);
    let value = if value.first() == Some(&b'"') {
        unquote(value)
    } else {
        value.to_vec()
    };
    Some((name.to_vec(), value))
}

/// Removes the quotes of a quoted-string and its backslash escapes (RFC 5322 §3.2.4).
/// A missing closing quote takes the rest of the input.
pub fn unquote(quoted: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(quoted.len());
    let mut bytes = quoted.iter().skip(1);
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => {
                if let Some(&escaped) = bytes.next() {
                    out.push(escaped);
                }
            }
            b'"' => break,
            _ => out.push(b),
        }
    }
    out
}

/// Splits on `sep` outside quoted strings.
fn split_unquoted(input: &[u8], sep: u8) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    let mut in_quotes = false;
    let mut escaped = false;
    for &b in input {
        let current = out
            .last_mut()
            .expect("out always holds at least one element");
        if escaped {
            escaped = false;
            current.push(b);
            continue;
        }
        match b {
            b'\\' if in_quotes => {
                escaped = true;
                current.push(b);
            }
            b'"' => {
                in_quotes = !in_quotes;
                current.push(b);
            }
            _ if b == sep && !in_quotes => out.push(Vec::new()),
            _ => current.push(b),
        }
    }
    out
}

/// Removes `( ... )` comments (nested, RFC 5322 §3.2.2) outside quoted strings.
fn strip_comments(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let (mut depth, mut in_quotes, mut escaped) = (0usize, false, false);
    for &b in input {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(b);
            }
            continue;
        }
        match b {
            b'\\' if in_quotes || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(b);
                }
            }
            b'"' if depth == 0 => {
                in_quotes = !in_quotes;
                out.push(b);
            }
            b'(' if !in_quotes => depth += 1,
            b')' if !in_quotes && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(b),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_block_ends_after_empty_line_and_keeps_folding() {
        let raw = b"Subject: a\r\n b\r\nX-Y:z\r\n\r\nbody";
        let block = HeaderBlock::parse(raw, 0, raw.len());
        assert_eq!(block.range, 0..25);
        assert_eq!(block.fields.len(), 2);
        assert_eq!(&raw[block.fields[0].raw.clone()], b"Subject: a\r\n b\r\n");
        assert_eq!(
            block.first_unfolded(raw, "subject").as_deref(),
            Some(&b"a b"[..])
        );
        assert_eq!(block.first_unfolded(raw, "x-y").as_deref(), Some(&b"z"[..]));
    }

    #[test]
    fn header_without_body_runs_to_end() {
        let raw = b"From: a@b\n";
        let block = HeaderBlock::parse(raw, 0, raw.len());
        assert_eq!(block.range, 0..raw.len());
    }

    #[test]
    fn mime_value_with_quotes_comments_and_rfc2231() {
        let v = MimeValue::parse(
            b"multipart/mixed (comment; x=y); boundary=\"a;b\\\"c\"; filename*=UTF-8''%ED%99%8D",
        );
        assert_eq!(
            v.type_subtype(),
            Some((b"multipart".to_vec(), b"mixed".to_vec()))
        );
        assert_eq!(v.param("BOUNDARY"), Some(&b"a;b\"c"[..]));
        assert_eq!(v.param("filename*"), Some(&b"UTF-8''%ED%99%8D"[..]));
    }

    #[test]
    fn invalid_type_has_no_subtype() {
        assert_eq!(MimeValue::parse(b"text").type_subtype(), None);
        assert_eq!(MimeValue::parse(b"text/").type_subtype(), None);
    }
}
