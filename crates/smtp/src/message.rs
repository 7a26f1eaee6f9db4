//! Pure helpers for the headers of a received message: the Received trace header
//! (RFC 5321 §4.4), Message-ID and Date for submissions that lack them (RFC 6409 §8), and
//! the From: addresses to check against the signed-in account.
//!
//! No clock: the time is passed in as seconds since the Unix epoch (UTC). For a message
//! spooled to disk, write [`received_header`] and [`missing_headers`] before the body; for
//! one in memory, [`prepend_received`] and [`add_missing_headers`] do it in one step.

use std::net::IpAddr;

use mail_parser::{DateTime, HeaderName, MessageParser};

/// What the Received header records about one SMTP transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedInfo<'a> {
    /// The name the client gave in EHLO or HELO.
    pub client_name: &'a str,
    /// The client's IP address.
    pub client_ip: IpAddr,
    /// Our host name.
    pub hostname: &'a str,
    /// The WITH protocol, e.g. from [`with_protocol`].
    pub protocol: &'static str,
    /// Our identifier for the message (queue or store id).
    pub id: &'a str,
    /// The recipient for the FOR clause; pass one only when the message has exactly one
    /// recipient, so a copy does not reveal the others (RFC 5321 §7.2).
    pub recipient: Option<&'a str>,
    /// The TLS version and cipher suite, written as a comment, when TLS was used.
    pub tls: Option<&'a str>,
    /// When the message was received, in seconds since the Unix epoch (UTC).
    pub timestamp: i64,
}

/// The WITH protocol name for a Received header (RFC 3848, RFC 6531 §3.7.4):
/// `ESMTP`, `ESMTPS` (TLS), `ESMTPA` (signed in), `ESMTPSA`, or the `UTF8SMTP…` forms
/// when the transaction used SMTPUTF8.
pub fn with_protocol(tls: bool, authenticated: bool, smtputf8: bool) -> &'static str {
    match (smtputf8, tls, authenticated) {
        (false, false, false) => "ESMTP",
        (false, true, false) => "ESMTPS",
        (false, false, true) => "ESMTPA",
        (false, true, true) => "ESMTPSA",
        (true, false, false) => "UTF8SMTP",
        (true, true, false) => "UTF8SMTPS",
        (true, false, true) => "UTF8SMTPA",
        (true, true, true) => "UTF8SMTPSA",
    }
}

/// The Received header field, folded, ending in CRLF.
// RFC 5321 §4.4: "from" domain and address literal, "by" domain, "with", "id", "for", date.
pub fn received_header(info: &ReceivedInfo<'_>) -> String {
    let address = match info.client_ip {
        IpAddr::V4(ip) => format!("[{ip}]"),
        IpAddr::V6(ip) => format!("[IPv6:{ip}]"),
    };
    let mut header = format!(
        "Received: from {} ({address})\r\n\tby {} (certmail) with {} id {}",
        token(info.client_name),
        token(info.hostname),
        info.protocol,
        token(info.id)
    );
    if let Some(tls) = info.tls {
        header.push_str(&format!("\r\n\t({})", comment(tls)));
    }
    if let Some(recipient) = info.recipient {
        header.push_str(&format!("\r\n\tfor <{}>", token(recipient)));
    }
    let date = DateTime::from_timestamp(info.timestamp).to_rfc822();
    header.push_str(&format!(";\r\n\t{date}\r\n"));
    header
}

/// The message with a Received header in front.
pub fn prepend_received(message: &[u8], info: &ReceivedInfo<'_>) -> Vec<u8> {
    let header = received_header(info);
    let mut out = Vec::with_capacity(header.len() + message.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(message);
    out
}

/// `message` without the header fields whose first line `drop` picks (their folded
/// continuation lines go with them); the body is copied as it is.
pub fn remove_fields(message: &[u8], drop: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut rest = message;
    let mut dropping = false;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        if line == b"\r\n" || line == b"\n" {
            // End of the header section: the body is copied as it is.
            out.extend_from_slice(rest);
            return out;
        }
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation {
            dropping = drop(line);
        }
        if !dropping {
            out.extend_from_slice(line);
        }
        rest = tail;
    }
    out
}

/// The Date and Message-ID header fields a submitted message lacks, ready to write in
/// front of it (RFC 6409 §8.2, §8.3). Empty when it has both. `unique` must be unique per
/// message (e.g. the store id); the Message-ID is `<unique@hostname>`.
pub fn missing_headers(message: &[u8], hostname: &str, timestamp: i64, unique: &str) -> String {
    let (mut has_date, mut has_message_id) = (false, false);
    if let Some(parsed) = MessageParser::default().parse_headers(message) {
        for header in parsed.headers() {
            match header.name {
                HeaderName::Date => has_date = true,
                HeaderName::MessageId => has_message_id = true,
                _ => {}
            }
        }
    }
    let mut headers = String::new();
    if !has_date {
        let date = DateTime::from_timestamp(timestamp).to_rfc822();
        headers.push_str(&format!("Date: {date}\r\n"));
    }
    if !has_message_id {
        headers.push_str(&format!(
            "Message-ID: <{}@{}>\r\n",
            token(unique),
            token(hostname)
        ));
    }
    headers
}

/// The message with the Date and Message-ID it lacked added in front.
pub fn add_missing_headers(
    message: &[u8],
    hostname: &str,
    timestamp: i64,
    unique: &str,
) -> Vec<u8> {
    let headers = missing_headers(message, hostname, timestamp, unique);
    let mut out = Vec::with_capacity(headers.len() + message.len());
    out.extend_from_slice(headers.as_bytes());
    out.extend_from_slice(message);
    out
}

/// Every address in every From: header of the message, as written. Anti-spoofing checks
/// must refuse a message when this is empty (no From:, or one without an address) and
/// when any address is not the account's: a second From: header or a second mailbox in
/// one header must not slip through.
pub fn header_from_addresses(message: &[u8]) -> Vec<String> {
    let Some(parsed) = MessageParser::default().parse_headers(message) else {
        return Vec::new();
    };
    parsed
        .header_values(HeaderName::From)
        .filter_map(|value| value.as_address())
        .flat_map(|address| address.iter())
        .filter_map(|addr| addr.address())
        .map(str::to_string)
        .collect()
}

/// Text safe inside a header token: whitespace, control characters and the characters that
/// would end a comment, an address or the clause are replaced by `_`.
fn token(text: &str) -> String {
    text.chars()
        .map(|ch| {
            if ch.is_control() || ch.is_whitespace() || "()<>;\\\"".contains(ch) {
                '_'
            } else {
                ch
            }
        })
        .collect()
}

/// Text safe inside a header comment: control characters, parentheses and backslashes are
/// replaced by `_`; spaces are kept.
fn comment(text: &str) -> String {
    text.chars()
        .map(|ch| {
            if ch.is_control() || "()\\".contains(ch) {
                '_'
            } else {
                ch
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const NOV_22_2026_06_20_30: i64 = 1_795_328_430;

    fn info<'a>() -> ReceivedInfo<'a> {
        ReceivedInfo {
            client_name: "client.example.kr",
            client_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
            hostname: "mail.example.kr",
            protocol: with_protocol(true, true, false),
            id: "01HX7",
            recipient: Some("kim@example.kr"),
            tls: Some("TLSv1.3 TLS13_AES_256_GCM_SHA384"),
            timestamp: NOV_22_2026_06_20_30,
        }
    }

    #[test]
    fn received_header_has_every_clause() {
        assert_eq!(
            received_header(&info()),
            "Received: from client.example.kr ([192.0.2.7])\r\n\
             \tby mail.example.kr (certmail) with ESMTPSA id 01HX7\r\n\
             \t(TLSv1.3 TLS13_AES_256_GCM_SHA384)\r\n\
             \tfor <kim@example.kr>;\r\n\
             \tSun, 22 Nov 2026 06:20:30 +0000\r\n"
        );
    }

    #[test]
    fn received_header_ipv6_and_no_optional_clauses() {
        let mut info = info();
        info.client_ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
        info.tls = None;
        info.recipient = None;
        info.protocol = with_protocol(false, false, true);
        assert_eq!(
            received_header(&info),
            "Received: from client.example.kr ([IPv6:::1])\r\n\
             \tby mail.example.kr (certmail) with UTF8SMTP id 01HX7;\r\n\
             \tSun, 22 Nov 2026 06:20:30 +0000\r\n"
        );
    }

    #[test]
    fn hostile_ehlo_name_cannot_inject_a_header() {
        let mut info = info();
        info.client_name = "evil\r\nX-Injected: yes (";
        let header = received_header(&info);
        assert!(!header.contains("\r\nX-Injected"), "{header}");
        assert!(header.starts_with("Received: from evil__X-Injected:_yes__ ([192.0.2.7])"));
    }

    #[test]
    fn prepend_received_puts_it_first() {
        let message = b"Subject: hi\r\n\r\nbody\r\n";
        let out = prepend_received(message, &info());
        assert!(out.starts_with(b"Received: from client.example.kr"));
        assert!(out.ends_with(message));
    }

    #[test]
    fn date_and_message_id_added_only_when_missing() {
        let bare = "From: 홍길동 <hong@example.kr>\r\nSubject: 안녕\r\n\r\nbody\r\n".as_bytes();
        assert_eq!(
            missing_headers(bare, "mail.example.kr", NOV_22_2026_06_20_30, "abc123"),
            "Date: Sun, 22 Nov 2026 06:20:30 +0000\r\nMessage-ID: <abc123@mail.example.kr>\r\n"
        );
        let complete = b"Date: Mon, 1 Jan 2024 00:00:00 +0900\r\nMessage-ID: <x@y>\r\n\r\nb\r\n";
        assert_eq!(missing_headers(complete, "h", 0, "u"), "");
        let only_id = b"message-id: <x@y>\r\n\r\nb\r\n";
        assert_eq!(
            missing_headers(only_id, "h", 0, "u"),
            "Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        let out = add_missing_headers(bare, "mail.example.kr", 0, "abc");
        assert!(out.starts_with(b"Date: "));
        assert!(out.ends_with(bare));
    }

    #[test]
    fn from_addresses_of_every_from_header() {
        let message = "From: 홍길동 <hong@example.kr>, kim@example.kr\r\n\
                       From: \"Boss\" <boss@evil.com>\r\nTo: a@b\r\n\r\nFrom: not@header.kr\r\n"
            .as_bytes();
        assert_eq!(
            header_from_addresses(message),
            ["hong@example.kr", "kim@example.kr", "boss@evil.com"]
        );
    }

    #[test]
    fn from_addresses_of_a_group_and_of_nothing() {
        let group = b"From: team: hong@example.kr, kim@example.kr;\r\n\r\n";
        assert_eq!(
            header_from_addresses(group),
            ["hong@example.kr", "kim@example.kr"]
        );
        assert!(header_from_addresses(b"Subject: no from\r\n\r\nbody").is_empty());
        assert!(header_from_addresses(b"").is_empty());
        assert!(header_from_addresses(b"From: just a name\r\n\r\n").is_empty());
    }
}
