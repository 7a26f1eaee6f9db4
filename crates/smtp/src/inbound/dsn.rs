//! Delivery status notifications for local delivery (RFC 3461, RFC 3464).
//!
//! A recipient that asked for `NOTIFY=SUCCESS` gets its sender a "delivered" report once the
//! message is in the recipient's mailbox. Failures of local recipients are refused during
//! the SMTP dialogue (RCPT), where the sender hears them directly, so no failure report is
//! needed for them. Reports go out with the null sender, so they never cause reports.

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;

/// One delivered recipient to report.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The recipient address as given in RCPT TO.
    pub recipient: String,
    /// The ORCPT parameter, if the client gave one.
    pub original_recipient: Option<String>,
}

/// The report to `sender` that `delivered` received the message whose header section is
/// `original_headers` (RET=HDRS is the only content returned for successes).
pub fn success_report(
    hostname: &str,
    sender: &str,
    envid: Option<&str>,
    delivered: &[Delivered],
    original_headers: &[u8],
    now: i64,
) -> std::io::Result<Vec<u8>> {
    let names: Vec<&str> = delivered.iter().map(|d| d.recipient.as_str()).collect();
    let human = format!(
        "Your message was delivered to the mailbox of:\r\n\r\n  {}\r\n\r\nThis notice was sent because delivery confirmation (DSN NOTIFY=SUCCESS) was requested.\r\n",
        names.join("\r\n  ")
    );
    // RFC 3464 §2.2: per-message fields, then one block per recipient.
    let mut status = format!("Reporting-MTA: dns; {hostname}\r\n");
    if let Some(id) = envid {
        status.push_str(&format!("Original-Envelope-Id: {id}\r\n"));
    }
    status.push_str(&format!(
        "Arrival-Date: {}\r\n",
        mail_parser::DateTime::from_timestamp(now).to_rfc822()
    ));
    for d in delivered {
        status.push_str("\r\n");
        if let Some(o) = &d.original_recipient {
            status.push_str(&format!("Original-Recipient: rfc822; {o}\r\n"));
        }
        status.push_str(&format!(
            "Final-Recipient: rfc822; {}\r\nAction: delivered\r\nStatus: 2.0.0\r\n",
            d.recipient
        ));
    }
    let headers = String::from_utf8_lossy(original_headers).into_owned();
    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        vec![
            MimePart::new("text/plain", human),
            MimePart::new("message/delivery-status", status),
            MimePart::new("text/rfc822-headers", headers),
        ],
    );
    MessageBuilder::new()
        .from((
            "Mail Delivery System".to_string(),
            format!("postmaster@{hostname}"),
        ))
        .to(sender.to_string())
        .subject(format!("Delivered: your message to {}", names.join(", ")))
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-replied"),
        )
        .date(now)
        .body(report)
        .write_to_vec()
}

/// The header section of a message (up to the first empty line).
pub fn header_section(message: &[u8]) -> &[u8] {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 2);
    let end = end.or_else(|| message.windows(2).position(|w| w == b"\n\n").map(|i| i + 1));
    &message[..end.unwrap_or(message.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MimeHeaders as _;

    #[test]
    fn success_report_parses_back() {
        let original = b"From: hong@test.go.kr\r\nSubject: =?UTF-8?B?7ZqM7J2Y?=\r\n\r\nbody";
        let raw = success_report(
            "mail.test.go.kr",
            "hong@test.go.kr",
            Some("env-1"),
            &[Delivered {
                recipient: "kim@test.go.kr".into(),
                original_recipient: Some("kim@test.go.kr".into()),
            }],
            header_section(original),
            1_795_305_600,
        )
        .expect("builds");
        let m = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("parses");
        assert_eq!(
            m.subject(),
            Some("Delivered: your message to kim@test.go.kr")
        );
        let ct = m.root_part().content_type().expect("content type");
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        let text = String::from_utf8_lossy(&raw);
        assert!(
            text.contains("Final-Recipient: rfc822; kim@test.go.kr"),
            "{text}"
        );
        assert!(text.contains("Action: delivered") && text.contains("Status: 2.0.0"));
        assert!(text.contains("Original-Envelope-Id: env-1"));
        assert!(text.contains("Auto-Submitted: auto-replied"));
        assert!(!text.contains("\r\nbody"), "RET=HDRS: headers only");
    }
}
