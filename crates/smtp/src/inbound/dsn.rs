//! Delivery status notifications for local delivery (RFC 3461, RFC 3464).
//!
//! A recipient that asked for `NOTIFY=SUCCESS` gets its sender a "delivered" report once the
//! message is in the recipient's mailbox. Failures of local recipients are refused during
//! the SMTP dialogue (RCPT), where the sender hears them directly, so no failure report is
//! needed for them. Reports go out with the null sender, so they never cause reports.

use crate::outbound::report::{self, Report, ReportKind, ReportRecipient};

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
    let recipients: Vec<ReportRecipient> = delivered
        .iter()
        .map(|d| ReportRecipient {
            address: d.recipient.clone(),
            original: d.original_recipient.clone(),
            status: "2.0.0".into(),
            remote_mta: None,
            diagnostic: None,
        })
        .collect();
    report::build(&Report {
        kind: ReportKind::Delivered,
        hostname,
        sender,
        envid,
        arrival: now,
        now,
        recipients: &recipients,
        message: original_headers,
        headers_only: true,
        expires: None,
    })
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
    use crate::outbound::report::tests::parsed_report;

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
        parsed_report(&raw, "Delivered: your message to kim@test.go.kr");
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
