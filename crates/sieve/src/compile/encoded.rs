//! The "encoded-character" extension (RFC 5228 §2.4.2.4): `${hex:…}` and `${unicode:…}`
//! in strings, decoded once at compile time.

use crate::error::{Error, Position};

/// Decodes every well-formed `${hex:…}` / `${unicode:…}` in `s`. Malformed sequences stay
/// as written (RFC 5228 §2.4.2.4); a code point outside Unicode, a surrogate, or hex
/// octets that are not UTF-8 are errors.
pub(crate) fn decode(s: &str, pos: Position) -> Result<String, Error> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let decoded = after.find('}').and_then(|end| {
            let inner = &after[..end];
            let (kind, body) = inner.split_once(':')?;
            let kind = kind.to_ascii_lowercase();
            if kind != "hex" && kind != "unicode" {
                return None;
            }
            let items = hex_items(body)?;
            Some((kind, items, end))
        });
        match decoded {
            Some((kind, items, end)) => {
                out.push_str(&expand(&kind, &items, pos)?);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The blank-separated hex numbers of a sequence, or `None` if it is not one.
fn hex_items(body: &str) -> Option<Vec<u32>> {
    let mut items = Vec::new();
    for word in body
        .split([' ', '\t', '\r', '\n'])
        .filter(|w| !w.is_empty())
    {
        if !word.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let trimmed = word.trim_start_matches('0');
        if trimmed.len() > 8 {
            items.push(u32::MAX);
            continue;
        }
        items.push(u32::from_str_radix(if trimmed.is_empty() { "0" } else { trimmed }, 16).ok()?);
    }
    Some(items)
}

fn expand(kind: &str, items: &[u32], pos: Position) -> Result<String, Error> {
    if kind == "unicode" {
        return items
            .iter()
            .map(|&cp| {
                char::from_u32(cp).ok_or_else(|| {
                    Error::syntax(
                        pos,
                        format!("${{unicode:{cp:X}}} is not a Unicode character"),
                    )
                })
            })
            .collect();
    }
    let mut bytes = Vec::with_capacity(items.len());
    for &item in items {
        let byte = u8::try_from(item)
            .map_err(|_| Error::syntax(pos, "a ${hex:…} item is more than one octet"))?;
        bytes.push(byte);
    }
    String::from_utf8(bytes).map_err(|_| Error::syntax(pos, "${hex:…} octets are not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        let p = Position::default();
        assert_eq!(decode("${hex:40}", p).unwrap(), "@");
        assert_eq!(decode("${HEX: 40 }", p).unwrap(), "@");
        assert_eq!(decode("${hex:40", p).unwrap(), "${hex:40");
        assert!(decode("${hex:400}", p).is_err());
        assert_eq!(decode("${hex:4${hex:30}}", p).unwrap(), "${hex:40}");
        assert_eq!(decode("${unicode:40}", p).unwrap(), "@");
        assert_eq!(decode("${ unicode:40}", p).unwrap(), "${ unicode:40}");
        assert_eq!(decode("${UNICODE:0040}", p).unwrap(), "@");
        assert_eq!(decode("${UnICoDE:0000040}", p).unwrap(), "@");
        assert_eq!(decode("${Unicode:40}", p).unwrap(), "@");
        assert_eq!(decode("${Unicode:Cool}", p).unwrap(), "${Unicode:Cool}");
        assert!(decode("${unicode:D800}", p).is_err());
        assert!(decode("${unicode:110000}", p).is_err());
        assert_eq!(
            decode("${hex:eb b3 b4 ea b3 a0 ec 84 9c}", p).unwrap(),
            "보고서"
        );
        assert_eq!(decode("${unicode:bcf4 ace0 c11c}", p).unwrap(), "보고서");
    }
}
