//! Mailbox names on the wire: modified UTF-7 (RFC 3501 §5.1.3) to and from the UTF-8 names
//! the store keeps, and LIST pattern matching with `*` and `%` (RFC 3501 §6.3.8).

use certmail_store::{INBOX, MAILBOX_DELIMITER};
use imap_codec::imap_types::mailbox::Mailbox;

/// The store's name of a mailbox the client named: INBOX in any case is `INBOX`; other
/// names are decoded from modified UTF-7. `None` if the name is not valid modified UTF-7
/// or is not a usable name (empty parts, leading or trailing delimiter).
pub fn from_wire(mailbox: &Mailbox<'_>) -> Option<String> {
    let bytes: &[u8] = match mailbox {
        Mailbox::Inbox => return Some(INBOX.to_owned()),
        Mailbox::Other(other) => other.as_ref(),
    };
    let name = decode_utf7(bytes)?;
    if name.eq_ignore_ascii_case(INBOX) {
        return Some(INBOX.to_owned());
    }
    let usable = !name.is_empty()
        && name
            .split(MAILBOX_DELIMITER)
            .all(|part| !part.is_empty() && !part.chars().any(char::is_control));
    usable.then_some(name)
}

/// The wire form of a store name (modified UTF-7).
pub fn to_wire(name: &str) -> Mailbox<'static> {
    if name == INBOX {
        return Mailbox::Inbox;
    }
    let encoded = encode_utf7(name);
    Mailbox::try_from(encoded).unwrap_or(Mailbox::Inbox)
}

/// Modified UTF-7 encoding (RFC 3501 §5.1.3): printable ASCII as is (`&` as `&-`), other
/// characters as UTF-16 in modified base64 between `&` and `-`.
pub fn encode_utf7(name: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush_utf16(&mut out, &mut pending);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush_utf16(&mut out, &mut pending);
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn flush_utf16(out: &mut String, pending: &mut Vec<u16>) {
    if pending.is_empty() {
        return;
    }
    let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out.push('-');
    pending.clear();
}

/// Modified UTF-7 decoding; `None` on malformed input.
pub fn decode_utf7(input: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'&' {
            if !(0x20..=0x7e).contains(&b) {
                // Not modified UTF-7: accept raw UTF-8 (RFC 9051 clients may send it).
                return std::str::from_utf8(input).ok().map(str::to_owned);
            }
            out.push(b as char);
            i += 1;
            continue;
        }
        let end = i + 1 + input[i + 1..].iter().position(|&c| c == b'-')?;
        let encoded = &input[i + 1..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            out.push_str(&decode_b64_utf16(encoded)?);
        }
        i = end + 1;
    }
    Some(out)
}

fn decode_b64_utf16(encoded: &[u8]) -> Option<String> {
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut bytes = Vec::new();
    for &c in encoded {
        let v = B64.iter().position(|&x| x == c)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    if bytes.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

/// Whether `name` matches the LIST pattern (RFC 3501 §6.3.8): `*` matches anything, `%`
/// anything but the hierarchy delimiter. INBOX matches case-insensitively.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (pattern, name) = if name == INBOX && pattern.len() >= 5 {
        // RFC 3501 §5.1: INBOX is case-insensitive, so is a pattern naming it.
        (normalise_inbox(pattern), name.to_owned())
    } else {
        (pattern.to_owned(), name.to_owned())
    };
    glob(pattern.as_bytes(), name.as_bytes())
}

fn normalise_inbox(pattern: &str) -> String {
    if pattern.len() >= 5 && pattern[..5].eq_ignore_ascii_case(INBOX) {
        format!("{INBOX}{}", &pattern[5..])
    } else {
        pattern.to_owned()
    }
}

fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| glob(rest, &name[i..])),
        Some((b'%', rest)) => (0..=name.len())
            .take_while(|&i| i == 0 || name[i - 1] != MAILBOX_DELIMITER as u8)
            .any(|i| glob(rest, &name[i..])),
        Some((c, rest)) => name.first() == Some(c) && glob(rest, &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_names_round_trip_through_modified_utf7() {
        // RFC 3501 §5.1.3's example, and a Korean folder name.
        assert_eq!(
            encode_utf7("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        for name in ["받은 편지함/업무", "A&B", "Sent", "결재/2026년"] {
            let wire = encode_utf7(name);
            assert!(wire.is_ascii());
            assert_eq!(decode_utf7(wire.as_bytes()).as_deref(), Some(name));
        }
        assert_eq!(decode_utf7(b"&-"), Some("&".into()));
        assert_eq!(decode_utf7(b"&U,B"), None, "unterminated");
    }

    #[test]
    fn list_patterns() {
        assert!(matches("*", "Archive/2026"));
        assert!(matches("%", "Archive"));
        assert!(!matches("%", "Archive/2026"));
        assert!(matches("Archive/%", "Archive/2026"));
        assert!(matches("inbox", "INBOX"));
        assert!(!matches("Sent", "Sent/old"));
        assert!(matches("S*", "Sent/old"));
    }
}
