//! Header work on accepted messages: the trace header, and for submissions the Message-ID
//! and Date a client left out (RFC 6409 §8), and the From: addresses for the spoofing check.

use std::net::SocketAddr;

use mail_parser::{HeaderName, MessageParser};

/// The addresses in the From: header, lowercased (empty when there is none or it does not
/// parse).
pub fn header_from_addresses(message: &[u8]) -> Vec<String> {
    let Some(parsed) = MessageParser::new().parse_headers(message) else {
        return Vec::new();
    };
    let Some(from) = parsed.from() else {
        return Vec::new();
    };
    from.iter()
        .filter_map(|a| a.address())
        .map(|a| a.to_lowercase())
        .collect()
}

/// The message as it is stored: a Received header first; for a submission also
/// Message-ID and Date when missing.
pub fn prepare(
    message: &[u8],
    hostname: &str,
    peer: SocketAddr,
    account: Option<&str>,
    tls: bool,
    now: i64,
) -> Vec<u8> {
    let date = rfc5322_date(now);
    let with = match (account.is_some(), tls) {
        (true, _) => "ESMTPSA",
        (false, true) => "ESMTPS",
        (false, false) => "ESMTP",
    };
    let mut out = Vec::with_capacity(message.len() + 512);
    // RFC 5321 §4.4: the trace header. Never the account's password or certificate details.
    out.extend_from_slice(
        format!(
            "Received: from [{}]\r\n\tby {hostname} (certmail) with {with};\r\n\t{date}\r\n",
            peer.ip()
        )
        .as_bytes(),
    );
    if account.is_some() {
        let (has_id, has_date) = present_headers(message);
        if !has_id {
            out.extend_from_slice(
                format!("Message-ID: <{}@{hostname}>\r\n", unique_id(now)).as_bytes(),
            );
        }
        if !has_date {
            out.extend_from_slice(format!("Date: {date}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(message);
    out
}

fn present_headers(message: &[u8]) -> (bool, bool) {
    match MessageParser::new().parse_headers(message) {
        Some(m) => (
            m.headers().iter().any(|h| h.name == HeaderName::MessageId),
            m.headers().iter().any(|h| h.name == HeaderName::Date),
        ),
        None => (false, false),
    }
}

fn unique_id(now: i64) -> String {
    use ring::rand::SecureRandom as _;
    let mut r = [0u8; 12];
    let _ = ring::rand::SystemRandom::new().fill(&mut r);
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    format!("{now:x}.{hex}")
}

/// RFC 5322 §3.3 date-time in UTC, e.g. `Sun, 22 Nov 2026 06:20:11 +0000`.
pub fn rfc5322_date(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {d} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc5322() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_795_335_611),
            "Sun, 22 Nov 2026 08:20:11 +0000"
        );
    }

    #[test]
    fn submission_gets_message_id_and_date_once() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().expect("literal");
        let bare =
            b"From: =?UTF-8?B?7ZmN6ri464+Z?= <hong@test.go.kr>\r\nSubject: x\r\n\r\nbody\r\n";
        let out = String::from_utf8(prepare(
            bare,
            "mail.test.go.kr",
            peer,
            Some("hong"),
            true,
            0,
        ))
        .expect("utf-8");
        assert!(
            out.starts_with(
                "Received: from [127.0.0.1]\r\n\tby mail.test.go.kr (certmail) with ESMTPSA;"
            ),
            "{out}"
        );
        assert_eq!(out.matches("\r\nMessage-ID: <").count(), 1, "{out}");
        assert_eq!(out.matches("\r\nDate: ").count(), 1, "{out}");
        assert!(out.ends_with("\r\n\r\nbody\r\n"));

        let full = b"Message-ID: <a@b>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: hong@test.go.kr\r\n\r\nx\r\n";
        let out =
            String::from_utf8(prepare(full, "h", peer, Some("hong"), true, 0)).expect("utf-8");
        assert_eq!(out.matches("Message-ID:").count(), 1);
        assert_eq!(out.matches("Date:").count(), 1);
        // Mail from other servers keeps its own headers; only the trace is added.
        let out = String::from_utf8(prepare(b"Subject: x\r\n\r\ny", "h", peer, None, false, 0))
            .expect("utf-8");
        assert!(!out.contains("Message-ID") && out.contains("with ESMTP;"));
    }

    #[test]
    fn from_addresses() {
        let m = b"From: \"=?UTF-8?B?7ZmN6ri464+Z?=\" <Hong@Test.go.kr>, kim@test.go.kr\r\n\r\n";
        assert_eq!(
            header_from_addresses(m),
            vec!["hong@test.go.kr", "kim@test.go.kr"]
        );
        assert!(header_from_addresses(b"Subject: none\r\n\r\n").is_empty());
    }
}
