//! Delivery status notifications (RFC 3464): failed, delayed, relayed (the relay's), and
//! delivered (local delivery with NOTIFY=SUCCESS, built by `inbound::dsn`).
//!
//! A report is a `multipart/report; report-type=delivery-status` with a human part, the
//! `message/delivery-status` part (per-message fields, then one block per recipient), and
//! the returned message: whole (`message/rfc822`) unless RET=HDRS asked for headers only
//! (`text/rfc822-headers`); delay and relay reports and REQUIRETLS mail (RFC 8689 §5)
//! return headers only. Reports go out from the null sender so they never cause reports.

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;

use crate::inbound::dsn::header_section;

/// What happened to the recipients of one report (RFC 3464 §2.3.3 `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// `failed`: permanent failure or expiry.
    Failed,
    /// `delayed`: still trying.
    Delayed,
    /// `relayed`: handed to a server that does not do DSN (RFC 3461 §6.2.2.2).
    Relayed,
    /// `delivered`: stored in a local mailbox.
    Delivered,
}

impl ReportKind {
    fn action(self) -> &'static str {
        match self {
            ReportKind::Failed => "failed",
            ReportKind::Delayed => "delayed",
            ReportKind::Relayed => "relayed",
            ReportKind::Delivered => "delivered",
        }
    }
}

/// One recipient in a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRecipient {
    /// The address we tried (`Final-Recipient`).
    pub address: String,
    /// The ORCPT value as `type;address`, if the sender gave one.
    pub original: Option<String>,
    /// RFC 3463 status, e.g. `5.1.1`.
    pub status: String,
    /// The remote host that answered, if one did.
    pub remote_mta: Option<String>,
    /// The reply or local reason (`Diagnostic-Code: smtp; …`).
    pub diagnostic: Option<String>,
}

/// Everything one report says.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// Failed, delayed or relayed.
    pub kind: ReportKind,
    /// Our host name (`Reporting-MTA`, the report's From: domain).
    pub hostname: &'a str,
    /// Who gets the report: the original envelope sender.
    pub sender: &'a str,
    /// RFC 3461 ENVID.
    pub envid: Option<&'a str>,
    /// When the message was queued, unix seconds.
    pub arrival: i64,
    /// Now, unix seconds (`Date`, `Last-Attempt-Date`).
    pub now: i64,
    /// The recipients this report is about.
    pub recipients: &'a [ReportRecipient],
    /// The original message.
    pub message: &'a [u8],
    /// Return the headers only (RET=HDRS, REQUIRETLS, delay and relay reports).
    pub headers_only: bool,
    /// For delay reports: when we will give up, unix seconds.
    pub expires: Option<i64>,
}

fn date(t: i64) -> String {
    mail_parser::DateTime::from_timestamp(t).to_rfc822()
}

/// Builds the report message.
pub fn build(report: &Report<'_>) -> std::io::Result<Vec<u8>> {
    let names: Vec<&str> = report
        .recipients
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    let (subject, human) = human_text(report, &names);
    // RFC 3464 §2.2: per-message fields.
    let mut status = format!("Reporting-MTA: dns; {}\r\n", report.hostname);
    if let Some(id) = report.envid {
        status.push_str(&format!("Original-Envelope-Id: {id}\r\n"));
    }
    status.push_str(&format!("Arrival-Date: {}\r\n", date(report.arrival)));
    // RFC 3464 §2.3: one block per recipient.
    for r in report.recipients {
        status.push_str("\r\n");
        if let Some(o) = &r.original {
            let (kind, addr) = o.split_once(';').unwrap_or(("rfc822", o));
            status.push_str(&format!("Original-Recipient: {kind}; {addr}\r\n"));
        }
        status.push_str(&format!(
            "Final-Recipient: rfc822; {}\r\nAction: {}\r\nStatus: {}\r\n",
            r.address,
            report.kind.action(),
            r.status
        ));
        if let Some(m) = &r.remote_mta {
            status.push_str(&format!("Remote-MTA: dns; {m}\r\n"));
        }
        if let Some(d) = &r.diagnostic {
            status.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", one_line(d)));
        }
        status.push_str(&format!("Last-Attempt-Date: {}\r\n", date(report.now)));
        if let Some(until) = report.expires {
            status.push_str(&format!("Will-Retry-Until: {}\r\n", date(until)));
        }
    }
    let returned = if report.headers_only {
        MimePart::new(
            "text/rfc822-headers",
            String::from_utf8_lossy(header_section(report.message)).into_owned(),
        )
    } else {
        MimePart::new("message/rfc822", report.message.to_vec())
    };
    let body = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        vec![
            MimePart::new("text/plain", human),
            MimePart::new("message/delivery-status", status),
            returned,
        ],
    );
    MessageBuilder::new()
        .from((
            "Mail Delivery System".to_string(),
            format!("postmaster@{}", report.hostname),
        ))
        .to(report.sender.to_string())
        .subject(subject)
        .header("Auto-Submitted", Raw::new("auto-replied")) // RFC 3834 §5
        .date(report.now)
        .body(body)
        .write_to_vec()
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Why a success report was sent.
const SUCCESS_ASKED: &str =
    "This notice was sent because delivery confirmation (DSN NOTIFY=SUCCESS) was requested.\r\n";

fn human_text(report: &Report<'_>, names: &[&str]) -> (String, String) {
    let list = names.join(", ");
    let details: String = report
        .recipients
        .iter()
        .map(|r| {
            format!(
                "  {}\r\n    {}\r\n",
                r.address,
                r.diagnostic.as_deref().map(one_line).unwrap_or_default()
            )
        })
        .collect();
    match report.kind {
        ReportKind::Failed => (
            format!("Undelivered Mail Returned to Sender: {list}"),
            format!(
                "Your message could not be delivered to the following recipients. It will not be retried.\r\n\r\n{details}\r\nThe original message is attached.\r\n"
            ),
        ),
        ReportKind::Delayed => (
            format!("Delayed Mail (still being retried): {list}"),
            format!(
                "Your message has not been delivered yet to the following recipients. We keep trying until {}; you need not send it again.\r\n\r\n{details}",
                report.expires.map(date).unwrap_or_default()
            ),
        ),
        ReportKind::Relayed => (
            format!("Relayed: your message to {list}"),
            format!(
                "Your message was handed to the recipients' mail server, which does not send delivery confirmations itself:\r\n\r\n{details}\r\n{SUCCESS_ASKED}"
            ),
        ),
        ReportKind::Delivered => (
            format!("Delivered: your message to {list}"),
            format!(
                "Your message was delivered to the mailbox of:\r\n\r\n  {}\r\n\r\n{SUCCESS_ASKED}",
                names.join("\r\n  ")
            ),
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use mail_parser::MimeHeaders as _;

    /// `raw` parsed, after checking it is a delivery-status report with `subject`.
    pub(crate) fn parsed_report<'x>(raw: &'x [u8], subject: &str) -> mail_parser::Message<'x> {
        let m = mail_parser::MessageParser::default()
            .parse(raw)
            .expect("parses");
        assert_eq!(m.subject(), Some(subject));
        let ct = m.root_part().content_type().expect("content type");
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        m
    }

    #[test]
    fn failure_report_parses_back_with_every_field() {
        let original = "From: 홍길동 <hong@test.go.kr>\r\nSubject: 회의\r\n\r\n본문\r\n";
        let recipients = [ReportRecipient {
            address: "kim@remote.kr".into(),
            original: Some("rfc822;kim@remote.kr".into()),
            status: "5.1.1".into(),
            remote_mta: Some("mx.remote.kr".into()),
            diagnostic: Some("550 5.1.1 No such user".into()),
        }];
        let raw = build(&Report {
            kind: ReportKind::Failed,
            hostname: "mail.test.go.kr",
            sender: "hong@test.go.kr",
            envid: Some("env-7"),
            arrival: 1_795_305_600,
            now: 1_795_305_700,
            recipients: &recipients,
            message: original.as_bytes(),
            headers_only: false,
            expires: None,
        })
        .expect("builds");
        let m = parsed_report(&raw, "Undelivered Mail Returned to Sender: kim@remote.kr");
        let status = m.part(2).expect("status part");
        let st = status.content_type().expect("ct");
        assert_eq!(
            (st.ctype(), st.subtype()),
            ("message", Some("delivery-status"))
        );
        let text = String::from_utf8_lossy(&raw);
        for line in [
            "Reporting-MTA: dns; mail.test.go.kr",
            "Original-Envelope-Id: env-7",
            "Original-Recipient: rfc822; kim@remote.kr",
            "Final-Recipient: rfc822; kim@remote.kr",
            "Action: failed",
            "Status: 5.1.1",
            "Remote-MTA: dns; mx.remote.kr",
            "Diagnostic-Code: smtp; 550 5.1.1 No such user",
        ] {
            assert!(text.contains(line), "missing {line:?} in {text}");
        }
        let inner = m
            .part(3)
            .and_then(|p| p.message())
            .expect("message/rfc822 part");
        assert_eq!(inner.subject(), Some("회의"));
    }

    #[test]
    fn delay_report_returns_headers_only() {
        let recipients = [ReportRecipient {
            address: "kim@remote.kr".into(),
            original: None,
            status: "4.4.1".into(),
            remote_mta: None,
            diagnostic: Some("421 4.4.2 connection refused".into()),
        }];
        let raw = build(&Report {
            kind: ReportKind::Delayed,
            hostname: "mail.test.go.kr",
            sender: "hong@test.go.kr",
            envid: None,
            arrival: 1_795_305_600,
            now: 1_795_320_000,
            recipients: &recipients,
            message: b"Subject: x\r\n\r\nsecret body\r\n",
            headers_only: true,
            expires: Some(1_795_737_600),
        })
        .expect("builds");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("Action: delayed") && text.contains("Will-Retry-Until:"));
        assert!(text.contains("text/rfc822-headers") && !text.contains("secret body"));
    }
}
