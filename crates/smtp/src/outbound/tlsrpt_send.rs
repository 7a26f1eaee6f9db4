//! Sending TLS reports (RFC 8460 §3, §5.3): for each recorded domain and day, the
//! `_smtp._tls.<domain>` TXT record `v=TLSRPTv1; rua=mailto:…` names where the report
//! goes; the JSON report, gzipped, is the `application/tlsrpt+gzip` part of a
//! `multipart/report; report-type="tlsrpt"` message with the `TLS-Report-Domain` and
//! `TLS-Report-Submitter` headers, queued like any mail (DKIM-signed by the relay when
//! it has a key for the host's domain). `https:` destinations are not supported (logged
//! and skipped); a domain without a TLSRPT record gets no report and is forgotten.

use std::io::Write as _;

use certmail_session::ChangeHub;
use certmail_store::Store;
use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;

use super::route::Resolver;
use super::tlsrpt::{ReportHeader, TlsReportBook, day_of, report_json};
use crate::notice::{self, Sent};

/// Where reports are delivered from and to.
pub struct ReportTargets<'a> {
    /// The store (reports are queued, or put into a local INBOX).
    pub store: &'a dyn Store,
    /// The change hub, so a local rua mailbox's IDLE wakes.
    pub hub: Option<&'a ChangeHub>,
    /// The local domains.
    pub local_domains: &'a [String],
    /// `[sieve]`: the bounds of a local rua mailbox owner's script.
    pub sieve: &'a crate::inbound::filter::SieveSettings,
    /// The resolver for `_smtp._tls` TXT records.
    pub resolver: &'a dyn Resolver,
    /// Our host name (submitter).
    pub hostname: &'a str,
}

/// What a round of sending did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SendSummary {
    /// Reports queued or delivered (one per domain, day and mailto address).
    pub sent: usize,
    /// Domain-days dropped because the domain publishes no TLSRPT record.
    pub no_record: usize,
    /// Domain-days kept for a later try (DNS or the store failed).
    pub kept: usize,
}

/// The `mailto:` addresses of a domain's TLSRPT record (`None`: no valid record).
pub fn rua_mailboxes(records: &[String]) -> Option<Vec<String>> {
    let record = records
        .iter()
        .find(|r| r.trim_start().starts_with("v=TLSRPTv1"))?;
    let rua = record
        .split(';')
        .filter_map(|f| f.trim().strip_prefix("rua="))
        .next()?;
    Some(
        rua.split(',')
            .filter_map(|uri| {
                let uri = uri.trim();
                match uri.strip_prefix("mailto:") {
                    Some(addr) => Some(addr.to_string()),
                    None => {
                        tracing::info!(uri, "TLS report: only mailto: destinations are supported");
                        None
                    }
                }
            })
            .collect(),
    )
}

/// Sends the reports of every recorded day up to `last_day` (the daily run: yesterday;
/// `certmail queue tls-report --send`: today too), forgetting what was sent.
pub async fn send_reports(
    book: &TlsReportBook,
    to: &ReportTargets<'_>,
    last_day: &str,
    now: i64,
) -> SendSummary {
    let mut summary = SendSummary::default();
    for (day, domains) in book.days_through(last_day) {
        for (domain, results) in domains {
            let records = match to.resolver.txt(&format!("_smtp._tls.{domain}")).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(%domain, error = %e.0, "TLS report: TXT lookup failed; kept for the next run");
                    summary.kept += 1;
                    continue;
                }
            };
            let Some(mailboxes) = rua_mailboxes(&records) else {
                summary.no_record += 1;
                book.forget(&day, &domain);
                continue;
            };
            let header = ReportHeader {
                hostname: to.hostname,
                domain: &domain,
                day: &day,
            };
            let json = report_json(&header, &results);
            let mut all_sent = true;
            for mailbox in &mailboxes {
                match deliver(to, &header, &json, mailbox, now).await {
                    Ok(()) => summary.sent += 1,
                    Err(e) => {
                        all_sent = false;
                        tracing::error!(%domain, %mailbox, error = %e, "TLS report not sent");
                    }
                }
            }
            if all_sent {
                book.forget(&day, &domain);
            } else {
                summary.kept += 1;
            }
        }
    }
    summary
}

/// Today's UTC day, the last day `--send` includes.
pub fn today(now: i64) -> String {
    day_of(now)
}

/// Yesterday's UTC day, the last day the daily run includes.
pub fn yesterday(now: i64) -> String {
    day_of(now - 86_400)
}

async fn deliver(
    to: &ReportTargets<'_>,
    header: &ReportHeader<'_>,
    json: &serde_json::Value,
    mailbox: &str,
    now: i64,
) -> Result<(), String> {
    let message = message(header, json, mailbox, now).map_err(|e| e.to_string())?;
    let postbox = notice::Postbox {
        store: to.store,
        hub: to.hub,
        hostname: to.hostname,
        local_domains: to.local_domains,
        sieve: to.sieve,
    };
    let sent = notice::to_address(&postbox, mailbox, message, now);
    match sent.await.map_err(|e| e.to_string())? {
        Sent::NoMailbox => Err(format!("{mailbox} is a local address without a mailbox")),
        Sent::Local | Sent::Queued => Ok(()),
    }
}

/// The report message (RFC 8460 §5.3).
pub fn message(
    header: &ReportHeader<'_>,
    json: &serde_json::Value,
    mailbox: &str,
    now: i64,
) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(json).map_err(std::io::Error::other)?)?;
    let gzipped = gz.finish()?;
    let id = header.report_id();
    let filename = format!(
        "{}!{}!{}!{}.json.gz",
        header.hostname,
        header.domain,
        day_start(header.day),
        day_start(header.day) + 86_399
    );
    let text = format!(
        "This is an aggregate TLS report (RFC 8460) from {} for {} on {}.\r\n",
        header.hostname, header.domain, header.day
    );
    let body = MimePart::new(
        "multipart/report; report-type=\"tlsrpt\"",
        vec![
            MimePart::new("text/plain; charset=utf-8", text),
            MimePart::new("application/tlsrpt+gzip", gzipped).attachment(filename),
        ],
    );
    MessageBuilder::new()
        .from((
            "TLS reports".to_string(),
            format!("postmaster@{}", header.hostname),
        ))
        .to(mailbox.to_string())
        .subject(format!(
            "Report Domain: {} Submitter: {} Report-ID: <{id}>",
            header.domain, header.hostname
        ))
        .header("TLS-Report-Domain", Raw::new(header.domain.to_string()))
        .header(
            "TLS-Report-Submitter",
            Raw::new(header.hostname.to_string()),
        )
        .header("Auto-Submitted", Raw::new("auto-generated"))
        .date(now)
        .body(body)
        .write_to_vec()
}

fn day_start(day: &str) -> i64 {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |t| t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rua_takes_the_mailto_destinations_of_a_tlsrpt_record() {
        let records = vec![
            "v=spf1 -all".to_string(),
            "v=TLSRPTv1; rua=mailto:tls@dane.test,https://r.dane.test/x".to_string(),
        ];
        assert_eq!(
            rua_mailboxes(&records),
            Some(vec!["tls@dane.test".to_string()])
        );
        assert_eq!(rua_mailboxes(&["v=spf1".to_string()]), None);
    }
}
