//! Replies from a remote SMTP server, parsed without I/O (RFC 5321 §4.2).
//!
//! The client side of the protocol layer: [`ReplyParser`] takes bytes as they arrive and
//! hands out whole (possibly multi-line) replies; [`Capabilities`] reads an EHLO reply.
//! Every limit is bounded: a line longer than [`MAX_LINE`] or a reply of more than
//! [`MAX_LINES`] lines is a protocol error, not a growing buffer.

use std::fmt;

/// Longest reply line we accept, CRLF included (RFC 5321 §4.5.3.1.5 says 512; servers
/// send longer EHLO lines in practice).
pub const MAX_LINE: usize = 4096;
/// Most lines in one reply.
pub const MAX_LINES: usize = 200;

/// One reply: the code, the enhanced status code if given (RFC 3463), and the text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteReply {
    /// The three-digit reply code.
    pub code: u16,
    /// The enhanced status code of the first line, e.g. `5.1.1`.
    pub enhanced: Option<String>,
    /// The text of each line, without code, separator and enhanced code.
    pub lines: Vec<String>,
}

impl RemoteReply {
    /// A reply made up locally (a connection failure, a policy refusal), in the same shape
    /// as a remote one so that DSNs and logs treat both alike.
    pub fn local(code: u16, enhanced: &str, text: impl Into<String>) -> Self {
        Self {
            code,
            enhanced: Some(enhanced.to_string()),
            lines: vec![text.into()],
        }
    }

    /// 2xx: accepted.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx: go on (354 after DATA).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 5xx: permanent failure (RFC 5321 §4.2.1). Everything else that is not positive is
    /// treated as temporary, including codes outside the standard ranges.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The RFC 3464 `Status:` value: the enhanced code, or one derived from the class.
    pub fn status(&self) -> String {
        match &self.enhanced {
            Some(e) => e.clone(),
            None if self.is_positive() => "2.0.0".into(),
            None if self.is_permanent() => "5.0.0".into(),
            None => "4.0.0".into(),
        }
    }

    /// The text on one line (lines joined with a space).
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

impl fmt::Display for RemoteReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.enhanced {
            Some(e) => write!(f, "{} {} {}", self.code, e, self.text()),
            None => write!(f, "{} {}", self.code, self.text()),
        }
    }
}

/// Why bytes from the server are not a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// A line does not start with three digits and a space or hyphen.
    Malformed(String),
    /// A line or the whole reply is over the limits.
    TooLong,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::Malformed(line) => write!(f, "malformed reply line {line:?}"),
            ReplyError::TooLong => write!(f, "reply over the size limits"),
        }
    }
}

/// Collects bytes into replies.
#[derive(Debug, Default)]
pub struct ReplyParser {
    buffer: Vec<u8>,
}

impl ReplyParser {
    /// Adds bytes read from the server.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole reply, if the buffer holds one.
    pub fn next_reply(&mut self) -> Result<Option<RemoteReply>, ReplyError> {
        let mut start = 0;
        let mut code = None;
        let mut lines = Vec::new();
        let mut enhanced = None;
        loop {
            let Some(rel) = self.buffer[start..].iter().position(|&b| b == b'\n') else {
                if self.buffer.len() - start > MAX_LINE {
                    return Err(ReplyError::TooLong);
                }
                return Ok(None);
            };
            let raw = &self.buffer[start..start + rel];
            start += rel + 1;
            if raw.len() > MAX_LINE {
                return Err(ReplyError::TooLong);
            }
            let line = String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw));
            let (this_code, last, text) = split_line(&line)?;
            if *code.get_or_insert(this_code) != this_code {
                return Err(ReplyError::Malformed(line.into_owned()));
            }
            let (e, text) = split_enhanced(text, this_code);
            if lines.is_empty() {
                enhanced = e;
            }
            lines.push(text.to_string());
            if lines.len() > MAX_LINES {
                return Err(ReplyError::TooLong);
            }
            if last {
                self.buffer.drain(..start);
                return Ok(Some(RemoteReply {
                    code: this_code,
                    enhanced,
                    lines,
                }));
            }
        }
    }

    /// Whether bytes are waiting that are not yet a whole reply.
    pub fn has_pending(&self) -> bool {
        !self.buffer.is_empty()
    }
}

/// `250-text` → (250, false, "text"); `250 text` or `250` → (250, true, "text").
fn split_line(line: &str) -> Result<(u16, bool, &str), ReplyError> {
    let bad = || ReplyError::Malformed(line.chars().take(100).collect());
    let digits = line.get(..3).ok_or_else(bad)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let code: u16 = digits.parse().map_err(|_| bad())?;
    if !(200..600).contains(&code) {
        return Err(bad());
    }
    match line.as_bytes().get(3) {
        None => Ok((code, true, "")),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        Some(_) => Err(bad()),
    }
}

/// An RFC 3463 code whose class matches the reply's first digit, then the rest.
fn split_enhanced(text: &str, code: u16) -> (Option<String>, &str) {
    let (first, rest) = text.split_once(' ').unwrap_or((text, ""));
    let parts: Vec<&str> = first.split('.').collect();
    let class_ok = parts
        .first()
        .and_then(|c| c.parse::<u16>().ok())
        .is_some_and(|c| c == code / 100 && c != 3);
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
    if class_ok && numeric {
        (Some(first.to_string()), rest)
    } else {
        (None, text)
    }
}

/// What the server offered in its EHLO reply (RFC 5321 §4.1.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// STARTTLS (RFC 3207).
    pub starttls: bool,
    /// SIZE (RFC 1870), with the limit if given (0 = no limit stated).
    pub size: Option<u64>,
    /// 8BITMIME (RFC 6152).
    pub eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// DSN (RFC 3461).
    pub dsn: bool,
    /// PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// REQUIRETLS (RFC 8689).
    pub requiretls: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034).
    pub enhanced_status_codes: bool,
}

impl Capabilities {
    /// Reads the keywords of an EHLO reply (the first line is the greeting name).
    pub fn from_ehlo(reply: &RemoteReply) -> Self {
        let mut caps = Capabilities::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "STARTTLS" => caps.starttls = true,
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "DSN" => caps.dsn = true,
                "PIPELINING" => caps.pipelining = true,
                "REQUIRETLS" => caps.requiretls = true,
                "ENHANCEDSTATUSCODES" => caps.enhanced_status_codes = true,
                _ => {}
            }
        }
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8]) -> Vec<RemoteReply> {
        let mut p = ReplyParser::default();
        p.feed(bytes);
        let mut out = Vec::new();
        while let Some(r) = p.next_reply().expect("valid") {
            out.push(r);
        }
        out
    }

    #[test]
    fn multi_line_reply_split_at_every_byte_gives_the_same_reply() {
        let bytes = b"250-mx.example.kr\r\n250-SIZE 1000\r\n250-STARTTLS\r\n250 DSN\r\n550 5.1.1 No such user\r\n";
        let whole = parse_all(bytes);
        assert_eq!(whole.len(), 2);
        for cut in 0..bytes.len() {
            let mut p = ReplyParser::default();
            let mut got = Vec::new();
            for part in [&bytes[..cut], &bytes[cut..]] {
                p.feed(part);
                while let Some(r) = p.next_reply().expect("valid") {
                    got.push(r);
                }
            }
            assert_eq!(got, whole, "cut at {cut}");
        }
        let caps = Capabilities::from_ehlo(&whole[0]);
        assert!(caps.starttls && caps.dsn && !caps.smtputf8);
        assert_eq!(caps.size, Some(1000));
        assert_eq!(whole[1].enhanced.as_deref(), Some("5.1.1"));
        assert_eq!(whole[1].to_string(), "550 5.1.1 No such user");
        assert!(whole[1].is_permanent());
    }

    #[test]
    fn enhanced_code_must_match_the_class() {
        let r = &parse_all(b"451 5.1.1 odd\r\n")[0];
        assert_eq!(r.enhanced, None);
        assert_eq!(r.status(), "4.0.0");
        let r = &parse_all(b"250\r\n")[0];
        assert!(r.is_positive());
    }

    #[test]
    fn garbage_and_endless_lines_are_errors() {
        let mut p = ReplyParser::default();
        p.feed(b"hello\r\n");
        assert!(matches!(p.next_reply(), Err(ReplyError::Malformed(_))));
        let mut p = ReplyParser::default();
        p.feed(&vec![b'2'; MAX_LINE + 10]);
        assert_eq!(p.next_reply(), Err(ReplyError::TooLong));
        let mut p = ReplyParser::default();
        p.feed(b"250-a\r\n550 b\r\n");
        assert!(matches!(p.next_reply(), Err(ReplyError::Malformed(_))));
    }
}
