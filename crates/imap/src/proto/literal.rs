//! Literal memory accounting across connections, and the small scanner that finds literal
//! announcements (`{n}` / `{n+}` at the end of a line, RFC 3501 §4.3, RFC 7888) in the bytes
//! a client sends, before imap-next buffers them.

/// A budget of literal octets shared by every connection of the daemon: imap-next buffers
/// each literal whole, so this caps the memory clients can make us hold at once.
pub use certmail_session::budget::MemoryBudget as LiteralPool;

/// A literal announced at the end of a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement {
    /// Announced length in octets.
    pub length: u32,
    /// True for `{n+}` (LITERAL+, RFC 7888): the client sends it without waiting.
    pub non_sync: bool,
}

/// The literal announced at the end of `line` (which ends with LF), if any.
pub fn announcement(line: &[u8]) -> Option<Announcement> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let (digits, non_sync) = match inner[open + 1..].strip_suffix(b"+") {
        Some(d) => (d, true),
        None => (&inner[open + 1..], false),
    };
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let length = std::str::from_utf8(digits).ok()?.parse::<u32>().ok()?;
    Some(Announcement { length, non_sync })
}

/// Checks that `command` is framed as the driver frames it: lines ended by LF, each
/// literal announced at a line's end (as [`announcement`] reads it, the one reader of
/// literal announcements) followed by exactly its octets, and nothing after the last line.
/// Every line must end with CRLF: imap-next refuses a bare LF (RFC 9051 §2.2), so our own
/// parser refuses it too (found by fuzzing: `a1 SEARCH TEXT {5}\n $\r\n` was once read
/// as a command with `$` while the driver waited for the literal's octets).
pub fn check_framing(command: &[u8]) -> Result<(), &'static str> {
    let mut rest = command;
    loop {
        let lf = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("a command ends with CRLF")?;
        let (line, after) = rest.split_at(lf + 1);
        if !line.ends_with(b"\r\n") {
            return Err("a line ends with CRLF, not a bare LF");
        }
        match announcement(line) {
            None if after.is_empty() => return Ok(()),
            None => return Err("octets after the end of the command"),
            Some(a) => {
                let length = usize::try_from(a.length).map_err(|_| "literal too long")?;
                rest = after
                    .get(length..)
                    .ok_or("literal longer than the command")?;
            }
        }
    }
}

/// The tag at the start of a command line (RFC 3501 §9 `tag`), if it looks like one: the
/// first word, ended by a space or the line break.
pub fn line_tag(line: &[u8]) -> Option<&[u8]> {
    let end = line
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')?;
    let tag = &line[..end];
    let valid = !tag.is_empty()
        && tag
            .iter()
            .all(|&b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(&b));
    valid.then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements() {
        assert_eq!(
            announcement(b"a APPEND INBOX {310}\r\n"),
            Some(Announcement {
                length: 310,
                non_sync: false
            })
        );
        assert_eq!(
            announcement(b"a APPEND INBOX {5+}\n"),
            Some(Announcement {
                length: 5,
                non_sync: true
            })
        );
        assert_eq!(announcement(b"a NOOP\r\n"), None);
        assert_eq!(announcement(b"a X {}\r\n"), None);
        assert_eq!(announcement(b"a X {99999999999}\r\n"), None);
        assert_eq!(announcement(b"a X {12}"), None, "no line end yet");
    }

    #[test]
    fn framing() {
        assert_eq!(check_framing(b"a SEARCH TEXT {3}\r\n$ x\r\n"), Ok(()));
        assert_eq!(check_framing(b"a SEARCH TEXT {3+}\r\n$ x ALL\r\n"), Ok(()));
        // The imap_ext_parse fuzz input 0a 35 7d 0a 20 24 behind its SEARCH TEXT head.
        assert!(check_framing(b"a1 SEARCH TEXT {5}\n $\r\n").is_err());
        assert!(check_framing(b"a1 SEARCH TEXT {1}\nx $\r\n").is_err());
        assert!(check_framing(b"a NOOP\n").is_err());
        assert!(check_framing(b"a NOOP\r\nb NOOP\r\n").is_err());
        assert!(check_framing(b"a X {9}\r\nabc\r\n").is_err());
    }

    #[test]
    fn tags() {
        assert_eq!(line_tag(b"A001 APPEND"), Some(&b"A001"[..]));
        assert_eq!(line_tag(b"+ x"), None);
        assert_eq!(line_tag(b"b1\r\n"), Some(&b"b1"[..]));
        assert_eq!(line_tag(b"unterminated"), None);
    }
}
