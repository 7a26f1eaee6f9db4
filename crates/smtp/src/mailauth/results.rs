//! Pure helpers for the `Authentication-Results:` header field (RFC 8601): removing forged
//! copies that claim to be ours, and adding ours at the top.

/// Removes every `Authentication-Results:` header field whose authserv-id is
/// `authserv_id` (case-insensitive) from the header section of `message`.
///
/// RFC 8601 §5: an MTA MUST delete any instance of the field that claims, by its
/// authserv-id, to come from within its trust boundary but did not come from a trusted
/// MTA. Mail on port 25 comes from outside, so every such field in it is forged.
pub fn strip_forged(message: &[u8], authserv_id: &str) -> Vec<u8> {
    crate::message::remove_fields(message, |line| claims(line, authserv_id))
}

/// Whether a header line starts an `Authentication-Results:` field naming `authserv_id`.
fn claims(line: &[u8], authserv_id: &str) -> bool {
    const NAME: &[u8] = b"authentication-results:";
    let Some(head) = line.get(..NAME.len()) else {
        return false;
    };
    if !head.eq_ignore_ascii_case(NAME) {
        return false;
    }
    // RFC 8601 §2.2: authserv-id is the first token, ended by `;` or white space (a
    // version number may follow it).
    let value = String::from_utf8_lossy(&line[NAME.len()..]);
    let id = value
        .trim_start()
        .split(|c: char| c == ';' || c.is_whitespace())
        .next()
        .unwrap_or("");
    id.eq_ignore_ascii_case(authserv_id)
}

/// `header` (a CRLF-terminated field) followed by `message`.
pub fn prepend(header: &str, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + message.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(message);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_results_claiming_our_name_are_removed_with_their_folded_lines() {
        let message = b"Received: from x\r\n\
Authentication-Results: MAIL.test.go.kr; dkim=pass\r\n\
\theader.d=test.go.kr\r\n\
Authentication-Results: mx.partner.kr; spf=pass\r\n\
Subject: =?UTF-8?B?7ZmN6ri464+Z?=\r\n\
\r\n\
Authentication-Results: mail.test.go.kr; body text stays\r\n";
        let out = String::from_utf8(strip_forged(message, "mail.test.go.kr")).expect("utf-8");
        assert_eq!(
            out,
            "Received: from x\r\n\
Authentication-Results: mx.partner.kr; spf=pass\r\n\
Subject: =?UTF-8?B?7ZmN6ri464+Z?=\r\n\
\r\n\
Authentication-Results: mail.test.go.kr; body text stays\r\n"
        );
    }

    #[test]
    fn a_name_that_only_starts_like_ours_is_kept() {
        let message = b"Authentication-Results: mail.test.go.kr.evil.kr; none\r\n\r\nx";
        assert_eq!(strip_forged(message, "mail.test.go.kr"), message.to_vec());
        let versioned = b"Authentication-Results: mail.test.go.kr 1; none\r\nA: b\r\n\r\nx";
        assert_eq!(
            strip_forged(versioned, "mail.test.go.kr"),
            b"A: b\r\n\r\nx".to_vec()
        );
    }

    #[test]
    fn prepend_puts_the_header_first() {
        assert_eq!(
            prepend("Authentication-Results: h; none\r\n", b"A: b\r\n\r\nx"),
            b"Authentication-Results: h; none\r\nA: b\r\n\r\nx".to_vec()
        );
    }
}
