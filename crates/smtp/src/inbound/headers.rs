//! What is added to an accepted message before it is stored, using the pure helpers in
//! [`crate::message`]: the Received trace header always, and for a submission the
//! Message-ID and Date a client left out (RFC 6409 §8).

use std::net::SocketAddr;

use crate::message::{ReceivedInfo, add_missing_headers, prepend_received, with_protocol};

/// Who sent a message, for its trace header.
pub struct Origin<'a> {
    /// The client's address.
    pub peer: SocketAddr,
    /// The name the client gave in EHLO/HELO.
    pub client_name: &'a str,
    /// The signed-in account, for submissions.
    pub account: Option<&'a str>,
    /// Whether the connection was TLS.
    pub tls: bool,
    /// Whether the client used SMTPUTF8.
    pub smtputf8: bool,
}

/// The message as it is stored; `id` is its [`unique_id`] (in the Received header, and the
/// Message-ID of a submission that lacks one).
pub fn prepare(message: &[u8], hostname: &str, origin: &Origin<'_>, now: i64, id: &str) -> Vec<u8> {
    let message = match origin.account {
        Some(_) => add_missing_headers(message, hostname, now, id),
        None => message.to_vec(),
    };
    let info = ReceivedInfo {
        client_name: origin.client_name,
        client_ip: origin.peer.ip(),
        hostname,
        protocol: with_protocol(origin.tls, origin.account.is_some(), origin.smtputf8),
        id,
        recipient: None,
        tls: origin.tls.then_some("TLS 1.2 or later"),
        timestamp: now,
    };
    prepend_received(&message, &info)
}

/// A queue/message id unique across restarts: the time and 96 random bits.
pub fn unique_id(now: i64) -> String {
    use ring::rand::SecureRandom as _;
    let mut r = [0u8; 12];
    // A failing system RNG leaves zeros; the time part still distinguishes messages.
    let _ = ring::rand::SystemRandom::new().fill(&mut r);
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    format!("{now:x}.{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(account: Option<&str>) -> Origin<'_> {
        Origin {
            peer: "127.0.0.1:5000".parse().expect("literal"),
            client_name: "pc.test",
            account,
            tls: true,
            smtputf8: false,
        }
    }

    #[test]
    fn submission_gets_message_id_and_date_once() {
        let bare =
            b"From: =?UTF-8?B?7ZmN6ri464+Z?= <hong@test.go.kr>\r\nSubject: x\r\n\r\nbody\r\n";
        let out = String::from_utf8(prepare(
            bare,
            "mail.test.go.kr",
            &origin(Some("hong")),
            0,
            "1.ab",
        ))
        .expect("utf-8");
        assert!(out.starts_with("Received: from pc.test ([127.0.0.1])\r\n\tby mail.test.go.kr (certmail) with ESMTPSA"), "{out}");
        assert_eq!(out.matches("\r\nMessage-ID: <").count(), 1, "{out}");
        assert_eq!(out.matches("\r\nDate: ").count(), 1, "{out}");
        assert!(out.ends_with("\r\n\r\nbody\r\n"));

        let full = b"Message-ID: <a@b>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: hong@test.go.kr\r\n\r\nx\r\n";
        let out =
            String::from_utf8(prepare(full, "h", &origin(Some("hong")), 0, "2.cd")).expect("utf-8");
        assert_eq!(out.matches("Message-ID:").count(), 1);
        assert_eq!(out.matches("Date:").count(), 1);
    }

    #[test]
    fn mail_from_other_servers_gets_only_the_trace() {
        let mut o = origin(None);
        o.tls = false;
        let out =
            String::from_utf8(prepare(b"Subject: x\r\n\r\ny", "h", &o, 0, "3.ef")).expect("utf-8");
        assert!(
            !out.contains("Message-ID") && out.contains("with ESMTP id"),
            "{out}"
        );
    }
}
