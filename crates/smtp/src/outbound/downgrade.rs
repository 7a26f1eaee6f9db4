//! 8-bit to 7-bit conversion for servers without 8BITMIME (RFC 6152 §3: "the client must
//! either convert the message to 7 bits, or return it as undeliverable").
//!
//! Pure bytes in, bytes out. The MIME tree is walked (multipart parts and message/rfc822
//! bodies recursively, at most [`MAX_DEPTH`] levels); each leaf part with 8-bit bytes is
//! re-encoded with a transfer encoding: quoted-printable for text that is mostly ASCII,
//! base64 for everything else (Korean text is mostly 8-bit: base64 is shorter). 8-bit
//! header values become RFC 2047 encoded words. The result decodes to the same content.
//! DKIM signing happens on the result, never before (a signature over the 8-bit form would
//! break). Whatever cannot be made 7-bit (an 8-bit address, a part already declaring
//! base64) makes [`for_peer`] return a permanent failure instead of sending 8-bit bytes.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::reply::RemoteReply;

/// Deepest MIME nesting converted.
pub const MAX_DEPTH: usize = 20;

/// Longest encoded line (RFC 2045 §6.7 and §6.8).
const LINE: usize = 76;

/// Whether `message` holds a byte outside 7-bit ASCII.
pub fn is_eight_bit(message: &[u8]) -> bool {
    message.iter().any(|b| *b >= 0x80)
}

/// The message to send to a peer: unchanged when the peer takes 8-bit content (or the
/// message is 7-bit already), else converted to 7-bit; or the permanent failure when it
/// cannot be (RFC 3463: 5.6.3, conversion required but not possible).
pub fn for_peer(message: &[u8], peer_takes_8bit: bool) -> Result<Cow<'_, [u8]>, RemoteReply> {
    if peer_takes_8bit || !is_eight_bit(message) {
        return Ok(Cow::Borrowed(message));
    }
    seven_bit(message).map(Cow::Owned).ok_or_else(|| {
        RemoteReply::local(
            554,
            "5.6.3",
            "the receiving server does not accept 8-bit mail (no 8BITMIME) and the message \
             could not be converted to 7-bit (8-bit bytes in an address or in an already \
             encoded part)",
        )
    })
}

/// The message converted to 7-bit, or `None` if some 8-bit byte could not be encoded.
pub fn seven_bit(message: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(message.len() * 4 / 3 + 256);
    entity(message, 0, &mut out);
    (!is_eight_bit(&out)).then_some(out)
}

/// One MIME entity (headers, blank line, body) into `out`.
fn entity(raw: &[u8], depth: usize, out: &mut Vec<u8>) {
    let (head, body) = split_head(raw);
    let fields = fields(head);
    let content_type = field(&fields, "content-type").map(|v| v.to_ascii_lowercase());
    let media = content_type
        .as_deref()
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_string())
        .unwrap_or_else(|| "text/plain".into());
    let boundary = field(&fields, "content-type").and_then(boundary_of);
    if !is_eight_bit(body) || depth >= MAX_DEPTH {
        write_fields(&fields, None, out);
        out.extend_from_slice(body);
        return;
    }
    if let (true, Some(boundary)) = (media.starts_with("multipart/"), boundary) {
        write_fields(&fields, None, out);
        multipart(body, &boundary, depth, out);
    } else if media == "message/rfc822" || media == "message/global" {
        write_fields(&fields, None, out);
        entity(body, depth + 1, out);
    } else {
        let declared = field(&fields, "content-transfer-encoding")
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if declared == "base64" || declared == "quoted-printable" {
            // Already "encoded" yet 8-bit: re-encoding would change the content.
            write_fields(&fields, None, out);
            out.extend_from_slice(body);
            return;
        }
        let use_qp = media.starts_with("text/") && mostly_ascii(body);
        let mut extra = Vec::new();
        if depth == 0 && field(&fields, "mime-version").is_none() {
            extra.push("MIME-Version: 1.0".to_string());
        }
        if content_type.is_none() && std::str::from_utf8(body).is_ok() {
            extra.push("Content-Type: text/plain; charset=utf-8".to_string());
        }
        let cte = if use_qp { "quoted-printable" } else { "base64" };
        extra.push(format!("Content-Transfer-Encoding: {cte}"));
        write_fields(&fields, Some(&extra), out);
        if use_qp {
            quoted_printable(body, out);
        } else {
            base64_lines(body, out);
        }
    }
}

/// The header section (without the blank line) and the body.
fn split_head(raw: &[u8]) -> (&[u8], &[u8]) {
    if raw.starts_with(b"\r\n") {
        return (&[], &raw[2..]);
    }
    match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&raw[..i + 2], &raw[i + 4..]),
        None => (raw, &[]),
    }
}

/// Header fields as (name, raw value with its folding, without the final CRLF).
fn fields(head: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in head.split_inclusive(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r\n").unwrap_or(line);
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            if let Some((_, value)) = out.last_mut() {
                value.extend_from_slice(b"\r\n");
                value.extend_from_slice(line);
            }
            continue;
        }
        match line.iter().position(|b| *b == b':') {
            Some(colon) => out.push((
                String::from_utf8_lossy(&line[..colon]).into_owned(),
                line[colon + 1..].to_vec(),
            )),
            None if !line.is_empty() => out.push((String::new(), line.to_vec())),
            None => {}
        }
    }
    out
}

/// The first field named `name` (case-insensitive), as text.
fn field(fields: &[(String, Vec<u8>)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
}

/// The `boundary` parameter of a Content-Type value.
fn boundary_of(content_type: String) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    let at = lower.find("boundary=")? + "boundary=".len();
    let rest = content_type[at..].trim_start();
    let value = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?,
        None => rest.split(|c: char| c == ';' || c.is_whitespace()).next()?,
    };
    (!value.is_empty()).then(|| value.to_string())
}

/// Writes the fields (8-bit values as encoded words), with the transfer-encoding field
/// replaced by `extra` when given, then the blank line.
fn write_fields(fields: &[(String, Vec<u8>)], extra: Option<&[String]>, out: &mut Vec<u8>) {
    for (name, value) in fields {
        if extra.is_some() && name.eq_ignore_ascii_case("content-transfer-encoding") {
            continue;
        }
        if !name.is_empty() {
            out.extend_from_slice(name.as_bytes());
            out.push(b':');
        }
        let has_params = name.eq_ignore_ascii_case("content-type")
            || name.eq_ignore_ascii_case("content-disposition");
        if is_eight_bit(value) && has_params {
            rfc2231_params(value, out);
        } else if is_eight_bit(value) {
            encoded_words(value, out);
        } else {
            out.extend_from_slice(value);
        }
        out.extend_from_slice(b"\r\n");
    }
    for line in extra.unwrap_or(&[]) {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// RFC 2047: a header value whose runs of 8-bit words become `=?UTF-8?B?…?=` words (one
/// run, spaces included, per group of words so no space is lost on decoding). Words with
/// `@` stay as they are: an 8-bit address cannot be encoded (RFC 2047 §5), and
/// [`seven_bit`] then reports failure.
fn encoded_words(value: &[u8], out: &mut Vec<u8>) {
    let unfolded: Vec<u8> = value
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    let Ok(text) = std::str::from_utf8(&unfolded) else {
        // RFC 1428: raw 8-bit bytes of an unknown charset, the whole value in words.
        out.push(b' ');
        encode_run(&unfolded, "UNKNOWN-8BIT", out);
        return;
    };
    let words: Vec<&str> = text.split(' ').collect();
    let encodable = |w: &str| !w.is_ascii() && !w.contains('@');
    let mut i = 0;
    let mut first = true;
    while i < words.len() {
        if !first {
            out.push(b' ');
        }
        first = false;
        if !encodable(words[i]) {
            out.extend_from_slice(words[i].as_bytes());
            i += 1;
            continue;
        }
        let start = i;
        while i < words.len() && encodable(words[i]) {
            i += 1;
        }
        let run = words[start..i].join(" ");
        encode_run(run.trim_matches('"').as_bytes(), "UTF-8", out);
    }
}

/// RFC 2231 §4: a parameter value with 8-bit bytes (a file name) as
/// `name*=utf-8''percent-encoded`; encoded words are not allowed there (RFC 2047 §5).
fn rfc2231_params(value: &[u8], out: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(value);
    let mut first = true;
    for piece in text.split(';') {
        if !first {
            out.push(b';');
        }
        first = false;
        let Some((name, raw)) = piece.split_once('=').filter(|_| !piece.is_ascii()) else {
            out.extend_from_slice(piece.as_bytes());
            continue;
        };
        let raw = raw.trim().trim_matches('"');
        out.extend_from_slice(format!("{}*=utf-8''", name.trim_end()).as_bytes());
        for b in raw.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                out.push(b);
            } else {
                out.extend_from_slice(format!("%{b:02X}").as_bytes());
            }
        }
    }
}

/// `raw` as B-encoded words of at most 75 characters, split at character boundaries and
/// folded between words.
fn encode_run(raw: &[u8], charset: &str, out: &mut Vec<u8>) {
    const CHUNK: usize = 42; // 42 bytes → 56 base64 characters + the =?UTF-8?B??= frame
    let mut start = 0;
    while start < raw.len() {
        let mut end = (start + CHUNK).min(raw.len());
        // Never split a UTF-8 sequence: back up to a lead byte.
        while end < raw.len() && end > start + 1 && (raw[end] & 0xC0) == 0x80 {
            end -= 1;
        }
        if start > 0 {
            out.extend_from_slice(b"\r\n ");
        }
        out.extend_from_slice(format!("=?{charset}?B?").as_bytes());
        out.extend_from_slice(STANDARD.encode(&raw[start..end]).as_bytes());
        out.extend_from_slice(b"?=");
        start = end;
    }
}

/// The parts of a multipart body converted one by one; delimiter lines, and the CRLF
/// before each (RFC 2046 §5.1.1: it belongs to the delimiter), are kept as they are.
fn multipart(body: &[u8], boundary: &str, depth: usize, out: &mut Vec<u8>) {
    let open = format!("--{boundary}");
    let mut segment_start = 0;
    let mut in_parts = false;
    let mut pos = 0;
    for line in body.split_inclusive(|b| *b == b'\n') {
        let text = line.trim_ascii_end();
        let is_delimiter =
            text.starts_with(open.as_bytes()) && matches!(&text[open.len()..], b"" | b"--");
        if is_delimiter {
            let segment = &body[segment_start..pos];
            let (content, newline) = match segment.strip_suffix(b"\r\n") {
                Some(c) => (c, &b"\r\n"[..]),
                None => (segment, &b""[..]),
            };
            if in_parts {
                entity(content, depth + 1, out);
            } else {
                ascii_only(content, out); // the preamble is not shown to anyone
            }
            out.extend_from_slice(newline);
            out.extend_from_slice(line);
            in_parts = text.len() == open.len();
            segment_start = pos + line.len();
        }
        pos += line.len();
    }
    let rest = &body[segment_start..];
    if in_parts {
        entity(rest, depth + 1, out); // no closing delimiter: the last part runs to the end
    } else {
        ascii_only(rest, out); // the epilogue
    }
}

/// Preamble and epilogue text, which readers ignore: 8-bit bytes become `?`.
fn ascii_only(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend(bytes.iter().map(|b| if *b >= 0x80 { b'?' } else { *b }));
}

/// At most one byte in eight is 8-bit (quoted-printable stays readable and short).
fn mostly_ascii(body: &[u8]) -> bool {
    body.iter().filter(|b| **b >= 0x80).count() * 8 <= body.len()
}

/// RFC 2045 §6.8: base64 in lines of 76 characters.
fn base64_lines(body: &[u8], out: &mut Vec<u8>) {
    let encoded = STANDARD.encode(body);
    for line in encoded.as_bytes().chunks(LINE) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

/// RFC 2045 §6.7: quoted-printable, line breaks kept as CRLF, soft breaks before 76.
fn quoted_printable(body: &[u8], out: &mut Vec<u8>) {
    let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
    let last = lines.len() - 1;
    for (n, line) in lines.iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut width = 0;
        for (i, &b) in line.iter().enumerate() {
            let at_end = i + 1 == line.len();
            let literal =
                (b == b' ' || b == b'\t') && !at_end || (33..=126).contains(&b) && b != b'=';
            let piece = if literal {
                vec![b]
            } else {
                format!("={b:02X}").into_bytes()
            };
            if width + piece.len() > LINE - 1 {
                out.extend_from_slice(b"=\r\n"); // rule 5: soft line break
                width = 0;
            }
            width += piece.len();
            out.extend_from_slice(&piece);
        }
        if n != last {
            out.extend_from_slice(b"\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    const KOREAN: &str = "안녕하세요, 홍길동입니다.\r\n내일 회의는 10시입니다.\r\n";

    fn assert_seven_bit(out: &[u8]) {
        assert!(!is_eight_bit(out), "{}", String::from_utf8_lossy(out));
        for line in out.split(|b| *b == b'\n') {
            assert!(line.len() <= 998, "RFC 5322 §2.1.1 line limit");
        }
    }

    #[test]
    fn a_plain_korean_message_becomes_base64_that_decodes_to_the_text() {
        let msg = format!("From: 홍길동 <hong@test.go.kr>\r\nSubject: 회의 안내\r\n\r\n{KOREAN}");
        let out = seven_bit(msg.as_bytes()).expect("convertible");
        assert_seven_bit(&out);
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains("Content-Transfer-Encoding: base64\r\n"),
            "{text}"
        );
        assert!(text.contains("MIME-Version: 1.0\r\n"), "{text}");
        let parsed = MessageParser::default().parse(&out).expect("parses");
        assert_eq!(parsed.subject(), Some("회의 안내"));
        let from = parsed.from().and_then(|a| a.first()).expect("From");
        assert_eq!(from.name(), Some("홍길동"));
        assert_eq!(from.address(), Some("hong@test.go.kr"));
        assert_eq!(parsed.body_text(0).as_deref(), Some(KOREAN));
    }

    #[test]
    fn multipart_leaves_become_qp_or_base64_and_ascii_parts_stay() {
        let msg = format!(
            "Subject: plain\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
             preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
             Mostly ASCII text with one word: 김철수 = kim, and a long line {long}\r\n\
             --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{KOREAN}\r\n\
             --b1\r\nContent-Type: text/plain\r\n\r\nascii only\r\n--b1--\r\n",
            long = "x".repeat(120)
        );
        let out = seven_bit(msg.as_bytes()).expect("convertible");
        assert_seven_bit(&out);
        let text = String::from_utf8_lossy(&out);
        assert_eq!(text.matches("quoted-printable").count(), 1, "{text}");
        assert_eq!(text.matches("base64").count(), 1, "{text}");
        assert!(
            !text.contains(": 8bit"),
            "the 8bit declaration is replaced: {text}"
        );
        assert!(text.contains("\r\nascii only\r\n--b1--\r\n"), "{text}");
        let parsed = MessageParser::default().parse(&out).expect("parses");
        let first = parsed.body_text(0).expect("part 1");
        assert!(first.contains("김철수 = kim"), "{first}");
        assert!(first.ends_with(&"x".repeat(120)), "{first}");
        assert_eq!(parsed.body_text(1).as_deref(), Some(KOREAN));
        assert_eq!(parsed.body_text(2).as_deref(), Some("ascii only"));
    }

    #[test]
    fn an_eight_bit_address_cannot_be_converted() {
        let msg = "From: 홍길동@test.go.kr\r\n\r\nhello\r\n";
        assert_eq!(seven_bit(msg.as_bytes()), None);
        let err = for_peer(msg.as_bytes(), false).expect_err("refused");
        assert_eq!((err.code, err.status()), (554, "5.6.3".to_string()));
        assert!(err.text().contains("8BITMIME"), "{}", err.text());
        assert!(matches!(
            for_peer(msg.as_bytes(), true),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn seven_bit_messages_pass_unchanged() {
        let msg = b"Subject: hi\r\n\r\nhello\r\n";
        assert!(matches!(for_peer(msg, false), Ok(Cow::Borrowed(m)) if m == msg));
    }
}
