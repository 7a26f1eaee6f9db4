//! Mailbox names: the wire form is modified UTF-7 (RFC 3501 §5.1.3), which imap-codec does
//! not convert; we store UTF-8 names with `/` as the hierarchy delimiter. Also LIST pattern
//! matching (`*` and `%`, RFC 3501 §6.3.8).

use imap_codec::imap_types::mailbox::{Mailbox, MailboxOther};

/// The hierarchy delimiter.
pub const DELIMITER: char = '/';

/// Why a mailbox name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxNameError {
    /// The modified UTF-7 is malformed (RFC 3501 §5.1.3).
    #[error("mailbox name is not valid modified UTF-7")]
    BadUtf7,
    /// Empty, an empty level (`a//b`, leading or trailing `/`), a control character, or a
    /// LIST wildcard in a name to be created.
    #[error("mailbox name is not allowed: {0}")]
    NotAllowed(&'static str),
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Encodes a UTF-8 name as modified UTF-7.
pub fn encode_utf7(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush_base64(&mut out, &mut pending);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush_base64(&mut out, &mut pending);
    out
}

fn flush_base64(out: &mut String, units: &mut Vec<u16>) {
    if units.is_empty() {
        return;
    }
    let bytes: Vec<u8> = units.drain(..).flat_map(u16::to_be_bytes).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out.push('-');
}

/// Decodes modified UTF-7 into UTF-8.
pub fn decode_utf7(wire: &[u8]) -> Result<String, MailboxNameError> {
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    while i < wire.len() {
        let b = wire[i];
        if b != b'&' {
            if !(0x20..=0x7e).contains(&b) {
                return Err(MailboxNameError::BadUtf7);
            }
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let end = wire[i + 1..]
            .iter()
            .position(|&c| c == b'-')
            .ok_or(MailboxNameError::BadUtf7)?
            + i
            + 1;
        let run = &wire[i + 1..end];
        if run.is_empty() {
            out.push('&');
        } else {
            out.push_str(&decode_run(run)?);
        }
        i = end + 1;
    }
    Ok(out)
}

fn decode_run(run: &[u8]) -> Result<String, MailboxNameError> {
    let mut bits = 0u32;
    let mut nbits = 0u32;
    let mut bytes = Vec::with_capacity(run.len());
    for &c in run {
        let v = B64
            .iter()
            .position(|&x| x == c)
            .ok_or(MailboxNameError::BadUtf7)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    // Leftover bits must be zero padding; UTF-16 needs whole code units.
    if bits != 0 || bytes.len() % 2 != 0 {
        return Err(MailboxNameError::BadUtf7);
    }
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    let text = String::from_utf16(&units).map_err(|_| MailboxNameError::BadUtf7)?;
    // RFC 3501 §5.1.3: printable US-ASCII must not be base64-encoded.
    if text.chars().any(|c| (' '..='~').contains(&c)) {
        return Err(MailboxNameError::BadUtf7);
    }
    Ok(text)
}

/// A name from the wire: modified UTF-7 when it is ASCII (RFC 3501 §5.1.3), UTF-8 as it
/// stands otherwise (RFC 9051 §5.1: IMAP4rev2 names are UTF-8, sent here in literals).
pub fn decode_wire(wire: &[u8]) -> Result<String, MailboxNameError> {
    if wire.is_ascii() {
        decode_utf7(wire)
    } else {
        std::str::from_utf8(wire)
            .map(str::to_owned)
            .map_err(|_| MailboxNameError::BadUtf7)
    }
}

/// The UTF-8 name of a mailbox from the wire (`INBOX` in any case is `INBOX`).
pub fn decode_mailbox(mailbox: &Mailbox<'_>) -> Result<String, MailboxNameError> {
    match mailbox {
        Mailbox::Inbox => Ok("INBOX".to_string()),
        Mailbox::Other(other) => {
            let name = decode_wire(other.as_ref())?;
            check_name(&name)?;
            Ok(name)
        }
    }
}

/// The wire form of a stored UTF-8 name.
pub fn encode_mailbox(name: &str) -> Mailbox<'static> {
    if name.eq_ignore_ascii_case("INBOX") {
        return Mailbox::Inbox;
    }
    let wire = encode_utf7(name);
    match MailboxOther::try_from(wire) {
        Ok(other) => Mailbox::Other(other),
        // Only NUL/CR/LF are refused, and stored names never contain them.
        Err(_) => Mailbox::Other(MailboxOther::try_from("_").expect("'_' is a valid mailbox")),
    }
}

/// The wire form of a stored name for a client that enabled IMAP4rev2: UTF-8 (RFC 9051
/// §5.1), which imap-codec writes as a literal when it is not ASCII.
pub fn encode_mailbox_utf8(name: &str) -> Mailbox<'static> {
    if name.is_ascii() && !name.contains('&') {
        return encode_mailbox(name);
    }
    match MailboxOther::try_from(name.to_owned()) {
        Ok(other) => Mailbox::Other(other),
        Err(_) => encode_mailbox(name),
    }
}

/// Checks a name to be created or renamed to.
pub fn check_name(name: &str) -> Result<(), MailboxNameError> {
    if name.is_empty() {
        return Err(MailboxNameError::NotAllowed("empty name"));
    }
    if name.chars().any(char::is_control) {
        return Err(MailboxNameError::NotAllowed("control character"));
    }
    if name.contains(['*', '%']) {
        return Err(MailboxNameError::NotAllowed(
            "'*' and '%' are LIST wildcards",
        ));
    }
    if name.split(DELIMITER).any(str::is_empty) {
        return Err(MailboxNameError::NotAllowed("empty hierarchy level"));
    }
    Ok(())
}

/// Whether `name` matches a LIST pattern (RFC 3501 §6.3.8): `*` matches anything, `%`
/// anything but the delimiter. INBOX matches case-insensitively.
pub fn list_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = normalise_inbox(name).chars().collect();
    let p_norm: Vec<char> = normalise_inbox(&p.iter().collect::<String>())
        .chars()
        .collect();
    wildcard(&p_norm, &n)
}

fn normalise_inbox(name: &str) -> String {
    match name.get(..5) {
        Some(head)
            if head.eq_ignore_ascii_case("INBOX")
                && matches!(name[5..].chars().next(), None | Some('/')) =>
        {
            format!("INBOX{}", &name[5..])
        }
        _ => name.to_string(),
    }
}

fn wildcard(p: &[char], n: &[char]) -> bool {
    // Iterative matcher with memo-free backtracking bounded by len(p) * len(n).
    let mut table = vec![vec![false; n.len() + 1]; p.len() + 1];
    table[p.len()][n.len()] = true;
    for i in (0..p.len()).rev() {
        for j in (0..=n.len()).rev() {
            table[i][j] = match p[i] {
                '*' => table[i + 1][j] || (j < n.len() && table[i][j + 1]),
                '%' => table[i + 1][j] || (j < n.len() && n[j] != DELIMITER && table[i][j + 1]),
                c => j < n.len() && n[j] == c && table[i + 1][j + 1],
            };
        }
    }
    table[0][0]
}

/// The LIST search pattern from a reference and a mailbox pattern (RFC 3501 §6.3.8):
/// the reference is a prefix, joined with the delimiter when needed.
pub fn list_pattern(reference: &str, pattern: &str) -> String {
    if reference.is_empty() || pattern.starts_with(DELIMITER) {
        pattern.to_string()
    } else if reference.ends_with(DELIMITER) {
        format!("{reference}{pattern}")
    } else {
        format!("{reference}{DELIMITER}{pattern}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf7_round_trips() {
        // RFC 3501 §5.1.3 example, and Korean names.
        assert_eq!(
            encode_utf7("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(
            decode_utf7(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(),
            Ok("~peter/mail/台北/日本語")
        );
        for name in [
            "보낸 편지함",
            "받은편지함/2026",
            "A&B",
            "임시 보관함 😀",
            "Sent",
        ] {
            assert_eq!(
                decode_utf7(encode_utf7(name).as_bytes()).as_deref(),
                Ok(name)
            );
        }
        assert_eq!(encode_utf7("A&B"), "A&-B");
    }

    #[test]
    fn bad_utf7_is_refused() {
        assert_eq!(
            decode_utf7(b"&U,BTFw"),
            Err(MailboxNameError::BadUtf7),
            "unterminated"
        );
        assert_eq!(
            decode_utf7(b"&AGE-"),
            Err(MailboxNameError::BadUtf7),
            "ASCII 'a' encoded"
        );
        assert_eq!(
            decode_utf7("보낸".as_bytes()),
            Err(MailboxNameError::BadUtf7),
            "raw 8-bit"
        );
        assert_eq!(
            decode_utf7(b"&U,B-"),
            Err(MailboxNameError::BadUtf7),
            "partial unit"
        );
    }

    #[test]
    fn wire_mailboxes() {
        let inbox = Mailbox::try_from("inbox").expect("valid");
        assert_eq!(decode_mailbox(&inbox).as_deref(), Ok("INBOX"));
        let wire = encode_utf7("보낸 편지함");
        let korean = Mailbox::try_from(wire.as_str()).expect("valid");
        assert_eq!(decode_mailbox(&korean).as_deref(), Ok("보낸 편지함"));
        assert_eq!(encode_mailbox("Inbox"), Mailbox::Inbox);
        assert_eq!(
            decode_mailbox(&encode_mailbox("Archive/2026/보고서")).as_deref(),
            Ok("Archive/2026/보고서")
        );
        let bad = Mailbox::try_from("a//b").expect("valid on the wire");
        assert!(decode_mailbox(&bad).is_err());
    }

    #[test]
    fn list_wildcards() {
        assert!(list_matches("*", "Archive/2026"));
        assert!(list_matches("%", "Archive"));
        assert!(!list_matches("%", "Archive/2026"));
        assert!(list_matches("Archive/%", "Archive/2026"));
        assert!(list_matches("inbox", "INBOX"));
        assert!(list_matches("INBOX/%", "INBOX/sub"));
        assert!(!list_matches("Sent", "Sent Items"));
        assert!(list_matches("보낸*", "보낸 편지함"));
        assert_eq!(list_pattern("Archive", "%"), "Archive/%");
        assert_eq!(list_pattern("", "*"), "*");
    }
}
