//! Reports of the queue runner: which recipients get which notice, and delivering the
//! report to the sender (a local one through their Sieve script) or queueing it to them
//! from the null sender.

use certmail_store::{QueueEntry, QueueRecipient, RecipientStatus, notify};

use super::QueueRunner;
use crate::notice::Sent;
use crate::outbound::meta;
use crate::outbound::reply::RemoteReply;
use crate::outbound::report::{self, Report, ReportKind, ReportRecipient};

impl QueueRunner {
    pub(super) fn delay_due(&self, entry: &QueueEntry, now: i64) -> bool {
        let Some(after) = self.live().settings.delay_notice_after else {
            return false;
        };
        !entry.from.is_empty()
            && !entry.envelope_meta.contains_key(meta::DELAY_NOTIFIED)
            && now >= entry.created_at + after as i64
            && entry
                .recipients
                .iter()
                .any(|r| r.status == RecipientStatus::Pending && wants_delay_notice(r.notify))
    }

    /// Builds and stores one report to the entry's sender (none to the null sender).
    pub(super) async fn notify(
        &self,
        entry: &QueueEntry,
        kind: ReportKind,
        recipients: &[ReportRecipient],
        body: &[u8],
        now: i64,
    ) {
        // RFC 5321 §6.1 / RFC 3461 §6.2: never report on a report.
        if recipients.is_empty() || entry.from.is_empty() {
            return;
        }
        let live = self.live();
        let headers_only = kind != ReportKind::Failed
            || meta::requires_tls(entry)
            || meta::ret(entry) == Some(crate::outbound::client::Ret::Headers);
        let report = Report {
            kind,
            hostname: &live.settings.hostname,
            sender: &entry.from,
            envid: entry.envelope_meta.get(meta::ENVID).map(String::as_str),
            arrival: entry.created_at,
            now,
            recipients,
            message: body,
            headers_only,
            expires: (kind == ReportKind::Delayed)
                .then(|| entry.created_at + live.settings.expire_after as i64),
        };
        let bytes = match report::build(&report) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "building a delivery report failed");
                return;
            }
        };
        match self.deliver_report(&entry.from, bytes, now).await {
            Ok(()) if kind == ReportKind::Failed => {
                self.counters.count(crate::stats::Event::Bounced)
            }
            Ok(()) => {}
            Err(e) => {
                tracing::error!(error = %e, sender = %entry.from, "storing a delivery report failed")
            }
        }
    }

    /// To the sender when local (through their Sieve script: INBOX unless it files the
    /// report elsewhere), else queued to them from the null sender.
    async fn deliver_report(
        &self,
        sender: &str,
        report: Vec<u8>,
        now: i64,
    ) -> Result<(), certmail_store::StoreError> {
        let live = self.live();
        let postbox = crate::notice::Postbox {
            store: self.store.as_ref(),
            hub: self.hub.as_ref(),
            hostname: &live.settings.hostname,
            local_domains: &live.settings.local_domains,
            sieve: &live.settings.sieve,
        };
        match crate::notice::to_address(&postbox, sender, report, now).await? {
            Sent::Queued => self.wake(),
            Sent::Local => {}
            Sent::NoMailbox => {
                tracing::warn!(%sender, "delivery report dropped: the sender address has no mailbox");
            }
        }
        Ok(())
    }
}

pub(super) fn report_line(
    r: &QueueRecipient,
    entry: &QueueEntry,
    reply: &RemoteReply,
    remote: &Option<String>,
) -> ReportRecipient {
    ReportRecipient {
        address: r.address.clone(),
        original: meta::orcpt(entry, &r.address),
        status: reply.status(),
        remote_mta: remote.clone(),
        diagnostic: Some(reply.to_string()),
    }
}

/// RFC 3461 §4.1: without NOTIFY, failures are reported; NEVER reports nothing.
pub(super) fn wants_failure_notice(bits: u8) -> bool {
    bits & notify::NEVER == 0 && (bits == 0 || bits & notify::FAILURE != 0)
}

/// Delay notices: asked for with DELAY, or at our discretion without NOTIFY (§4.1).
pub(super) fn wants_delay_notice(bits: u8) -> bool {
    bits & notify::NEVER == 0 && (bits == 0 || bits & notify::DELAY != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_bits_decide_reports() {
        assert!(wants_failure_notice(0) && wants_delay_notice(0));
        assert!(!wants_failure_notice(notify::NEVER));
        assert!(!wants_failure_notice(notify::SUCCESS));
        assert!(wants_delay_notice(notify::DELAY | notify::FAILURE));
        assert!(!wants_delay_notice(notify::FAILURE));
    }
}
