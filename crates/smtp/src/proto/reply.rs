//! SMTP replies: our own formatter (smtp-proto's writers cannot write multi-line replies,
//! replies without an enhanced status code, or a greeting of our choosing).
//!
//! A [`Reply`] is a code, an optional enhanced status code (RFC 3463) and one or more lines
//! of text. [`Reply::write_to`] frames it as RFC 5321 §4.2.1 asks: every line but the last
//! is `code-text`, the last is `code SP text`, each ends in CRLF. Text can never break the
//! framing: CR, LF and other control characters in a line are replaced by spaces.

use std::fmt;

/// An enhanced status code `class.subject.detail` (RFC 3463), e.g. `(5, 7, 1)` for `5.7.1`.
pub type EnhancedCode = (u8, u16, u16);

/// One SMTP reply, possibly multi-line.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code (RFC 5321 §4.2). A code outside 200..=599 is written as
    /// `451` so a caller's mistake cannot break the protocol.
    pub code: u16,
    /// The enhanced status code written after the reply code on every line (RFC 2034 §4),
    /// or `None` for replies that carry none (the greeting, EHLO, `334` continuations).
    pub enhanced: Option<EnhancedCode>,
    /// The text lines. An empty vector is written as a single line with empty text.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply with an enhanced status code.
    pub fn new(code: u16, enhanced: EnhancedCode, text: impl Into<String>) -> Self {
        Self {
            code,
            enhanced: Some(enhanced),
            lines: vec![text.into()],
        }
    }

    /// A one-line reply without an enhanced status code (greeting, HELO, `334`).
    pub fn plain(code: u16, text: impl Into<String>) -> Self {
        Self {
            code,
            enhanced: None,
            lines: vec![text.into()],
        }
    }

    /// Adds one more line of text (the reply becomes multi-line).
    pub fn with_line(mut self, text: impl Into<String>) -> Self {
        self.lines.push(text.into());
        self
    }

    /// True for 2xx and 3xx replies.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// True for 4xx replies (the client may try again later).
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// True for 5xx replies.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// Appends the wire form of this reply to `out`.
    // RFC 5321 §4.2.1: multi-line replies use "code-" on all lines but the last.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let code = if (200..=599).contains(&self.code) {
            self.code
        } else {
            451
        };
        let empty = [String::new()];
        let lines: &[String] = if self.lines.is_empty() {
            &empty
        } else {
            &self.lines
        };
        for (index, line) in lines.iter().enumerate() {
            let separator = if index + 1 == lines.len() { ' ' } else { '-' };
            out.extend_from_slice(format!("{code}{separator}").as_bytes());
            if let Some((class, subject, detail)) = self.enhanced {
                out.extend_from_slice(format!("{class}.{subject}.{detail}").as_bytes());
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            write_sanitized(line, out);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The wire form of this reply.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

/// Copies text, replacing every control character (CR and LF included) by a space so the
/// text cannot end the reply line early or inject a second reply.
fn write_sanitized(text: &str, out: &mut Vec<u8>) {
    for ch in text.chars() {
        if ch.is_control() {
            out.push(b' ');
        } else {
            let mut utf8 = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
        }
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reply({:?})", String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wire = self.to_bytes();
        f.write_str(String::from_utf8_lossy(&wire).trim_end())
    }
}

/// What a server offers in its EHLO reply. Built by the session from its configuration and
/// the connection's state (TLS active or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The SIZE limit in octets (RFC 1870).
    pub max_message_size: usize,
    /// Offer STARTTLS (RFC 3207): only before TLS and only where TLS is configured.
    pub starttls: bool,
    /// SASL mechanisms to offer with AUTH (RFC 4954), e.g. `["EXTERNAL", "PLAIN", "LOGIN"]`.
    /// Empty means no AUTH line.
    pub auth_mechanisms: Vec<&'static str>,
    /// Offer REQUIRETLS (RFC 8689 §4.1): only over TLS.
    pub requiretls: bool,
}

/// The EHLO reply: our hostname on the first line, then one capability per line
/// (RFC 5321 §4.1.1.1). It carries no enhanced status code.
pub fn ehlo_reply(hostname: &str, capabilities: &Capabilities) -> Reply {
    let mut reply = Reply::plain(250, hostname);
    reply.lines.push("PIPELINING".into()); // RFC 2920
    reply.lines.push("8BITMIME".into()); // RFC 6152
    reply.lines.push("SMTPUTF8".into()); // RFC 6531
    reply
        .lines
        .push(format!("SIZE {}", capabilities.max_message_size)); // RFC 1870
    reply.lines.push("ENHANCEDSTATUSCODES".into()); // RFC 2034
    reply.lines.push("CHUNKING".into()); // RFC 3030
    reply.lines.push("DSN".into()); // RFC 3461
    if capabilities.requiretls {
        reply.lines.push("REQUIRETLS".into()); // RFC 8689 §4.1
    }
    if capabilities.starttls {
        reply.lines.push("STARTTLS".into()); // RFC 3207
    }
    if !capabilities.auth_mechanisms.is_empty() {
        reply
            .lines
            .push(format!("AUTH {}", capabilities.auth_mechanisms.join(" "))); // RFC 4954
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(reply: &Reply) -> String {
        String::from_utf8(reply.to_bytes()).expect("replies are UTF-8")
    }

    #[test]
    fn single_line_with_enhanced_code() {
        let reply = Reply::new(550, (5, 7, 1), "Sender not allowed");
        assert_eq!(wire(&reply), "550 5.7.1 Sender not allowed\r\n");
    }

    #[test]
    fn single_line_without_enhanced_code() {
        assert_eq!(
            wire(&Reply::plain(220, "mail.example ESMTP")),
            "220 mail.example ESMTP\r\n"
        );
    }

    #[test]
    fn multi_line_uses_dash_on_all_but_the_last_line() {
        let reply = Reply::new(214, (2, 0, 0), "one")
            .with_line("two")
            .with_line("three");
        assert_eq!(
            wire(&reply),
            "214-2.0.0 one\r\n214-2.0.0 two\r\n214 2.0.0 three\r\n"
        );
    }

    #[test]
    fn empty_text_continuation() {
        assert_eq!(wire(&Reply::plain(334, "")), "334 \r\n");
        let no_lines = Reply {
            code: 334,
            enhanced: None,
            lines: Vec::new(),
        };
        assert_eq!(wire(&no_lines), "334 \r\n");
    }

    #[test]
    fn crlf_in_text_cannot_break_framing() {
        let reply = Reply::new(250, (2, 1, 0), "홍길동\r\n250 injected\nx\ry");
        assert_eq!(wire(&reply), "250 2.1.0 홍길동  250 injected x y\r\n");
    }

    #[test]
    fn out_of_range_code_is_written_as_451() {
        let reply = Reply::new(99, (4, 3, 0), "oops");
        assert_eq!(wire(&reply), "451 4.3.0 oops\r\n");
    }

    #[test]
    fn ehlo_before_tls_offers_starttls_and_no_auth() {
        let capabilities = Capabilities {
            max_message_size: 52_428_800,
            starttls: true,
            auth_mechanisms: Vec::new(),
            requiretls: false,
        };
        assert_eq!(
            wire(&ehlo_reply("mail.example.kr", &capabilities)),
            "250-mail.example.kr\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
             250-SIZE 52428800\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250-DSN\r\n\
             250 STARTTLS\r\n"
        );
    }

    #[test]
    fn ehlo_after_tls_offers_auth_last() {
        let capabilities = Capabilities {
            max_message_size: 1000,
            starttls: false,
            auth_mechanisms: vec!["EXTERNAL", "PLAIN", "LOGIN"],
            requiretls: true,
        };
        let text = wire(&ehlo_reply("mx", &capabilities));
        assert!(
            text.ends_with("250-DSN\r\n250-REQUIRETLS\r\n250 AUTH EXTERNAL PLAIN LOGIN\r\n"),
            "{text}"
        );
        assert!(!text.contains("STARTTLS"));
    }
}
