//! IMAP4rev2 quoted strings with UTF-8 (RFC 9051 §4.3, ABNF `QUOTED-CHAR =/ UTF8-2 /
//! UTF8-3 / UTF8-4`), for the commands imap-codec parses: its `quoted` takes 7-bit only,
//! but every place a quoted string may stand also takes a literal (`astring`, `string`,
//! `list-mailbox`), so the driver rewrites a quoted string holding 8-bit octets into the
//! non-synchronizing literal with the same content before imap-codec sees the line.
//! In an IMAP4rev1 session the driver does not call this, and such a line stays a BAD.

/// `line` (one command line up to and including its CRLF, or the tail of one after a
/// literal) with every quoted string that holds an octet ≥ 0x80 written as `{n+}` CRLF
/// and its unescaped content; `None` when there is none, or the line is not well formed
/// enough to rewrite safely (an unterminated quote: imap-codec answers it).
pub fn quoted_to_literals(line: &[u8]) -> Option<Vec<u8>> {
    if !line.iter().any(|&b| b >= 0x80) {
        return None;
    }
    let mut out = Vec::with_capacity(line.len() + 16);
    let mut changed = false;
    let mut i = 0;
    while i < line.len() {
        if line[i] != b'"' {
            out.push(line[i]);
            i += 1;
            continue;
        }
        let (content, end) = read_quoted(line, i + 1)?;
        if content.iter().any(|&b| b >= 0x80) {
            out.extend_from_slice(format!("{{{}+}}\r\n", content.len()).as_bytes());
            out.extend_from_slice(&content);
            changed = true;
        } else {
            out.extend_from_slice(&line[i..end]);
        }
        i = end;
    }
    changed.then_some(out)
}

/// A whole command (its lines and the literals they announce, as our own parser collects
/// it) with [`quoted_to_literals`] applied to each line; literal contents stay as they are.
pub fn command_quoted_to_literals(command: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(command.len() + 16);
    let mut rest = command;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| p + 1);
        let (line, tail) = rest.split_at(end);
        match quoted_to_literals(line) {
            Some(rewritten) => out.extend_from_slice(&rewritten),
            None => out.extend_from_slice(line),
        }
        let literal = super::literal::announcement(line)
            .map_or(0, |a| usize::try_from(a.length).unwrap_or(usize::MAX))
            .min(tail.len());
        out.extend_from_slice(&tail[..literal]);
        rest = &tail[literal..];
    }
    out
}

/// The unescaped content of the quoted string whose first content octet is at `start`,
/// and the index after its closing quote.
fn read_quoted(line: &[u8], start: usize) -> Option<(Vec<u8>, usize)> {
    let mut content = Vec::new();
    let mut i = start;
    while i < line.len() {
        match line[i] {
            b'"' => return Some((content, i + 1)),
            b'\\' => {
                // RFC 9051 §9 quoted-specials: only `"` and `\` may be escaped.
                let next = *line.get(i + 1)?;
                if next != b'"' && next != b'\\' {
                    return None;
                }
                content.push(next);
                i += 2;
            }
            b'\r' | b'\n' => return None,
            b => {
                content.push(b);
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{command_quoted_to_literals, quoted_to_literals};

    #[test]
    fn a_whole_command_is_rewritten_line_by_line_and_literals_are_kept() {
        // The literal holds a quote and 8-bit octets: it is data, never rewritten.
        let command = "a SEARCH SUBJECT {7+}\r\n\"회의 FROM \"홍길동\" $\r\n".as_bytes();
        assert_eq!(
            command_quoted_to_literals(command),
            "a SEARCH SUBJECT {7+}\r\n\"회의 FROM {9+}\r\n홍길동 $\r\n".as_bytes()
        );
        let plain = b"a SEARCH SUBJECT {3}\r\nabc ALL\r\n";
        assert_eq!(command_quoted_to_literals(plain), plain);
    }

    #[test]
    fn korean_mailbox_becomes_a_literal() {
        let line = "a SELECT \"보낸편지함\"\r\n".as_bytes();
        let got = quoted_to_literals(line).expect("rewritten");
        assert_eq!(got, "a SELECT {15+}\r\n보낸편지함\r\n".as_bytes());
    }

    #[test]
    fn ascii_quotes_and_escapes_are_kept_or_unescaped() {
        let line = "a RENAME \"a\\\"b\" \"홍\\\\길동\"\r\n".as_bytes();
        let got = quoted_to_literals(line).expect("rewritten");
        assert_eq!(got, "a RENAME \"a\\\"b\" {10+}\r\n홍\\길동\r\n".as_bytes());
        assert_eq!(quoted_to_literals(b"a SELECT \"INBOX\"\r\n"), None);
    }

    #[test]
    fn unterminated_quote_is_left_to_the_parser() {
        assert_eq!(quoted_to_literals("a SELECT \"보낸\r\n".as_bytes()), None);
    }
}
