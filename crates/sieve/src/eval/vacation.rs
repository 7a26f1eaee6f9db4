//! Resolving `vacation` (RFC 5230) into a [`Vacation`] reply, or deciding not to reply.

use super::{Frame, Machine};
use crate::action::Vacation;
use crate::ast::VacationCommand;
use crate::error::Error;

/// Headers whose presence marks list or bulk mail (RFC 5230 §4.6, RFC 2369, RFC 2919).
const LIST_HEADERS: &[&str] = &[
    "list-id",
    "list-help",
    "list-subscribe",
    "list-unsubscribe",
    "list-post",
    "list-owner",
    "list-archive",
];

/// Recipient headers in which the user must appear (RFC 5230 §4.5).
const RECIPIENT_HEADERS: &[&str] = &["to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"];

impl Machine<'_> {
    /// The reply for a `vacation` command, or `None` when the rules say not to reply.
    pub(super) fn vacation(
        &mut self,
        frame: &mut Frame,
        args: &VacationCommand,
    ) -> Result<Option<Vacation>, Error> {
        let reason = self.expand(frame, &args.reason)?;
        let subject_arg = match &args.subject {
            Some(s) => Some(self.expand(frame, s)?),
            None => None,
        };
        let from = match &args.from {
            Some(s) => Some(self.expand(frame, s)?),
            None => None,
        };
        let handle = match &args.handle {
            Some(s) => Some(self.expand(frame, s)?),
            None => None,
        };
        let mut addresses = self.context.user_addresses.clone();
        for a in &args.addresses {
            addresses.push(self.expand(frame, a)?);
        }
        if !self.should_reply(&addresses) {
            return Ok(None);
        }
        let original = self
            .message
            .header("subject")
            .next()
            .map(|h| h.decoded.clone());
        let subject = match &subject_arg {
            Some(s) => s.clone(),
            None => format!("Auto: {}", original.unwrap_or_default())
                .trim_end()
                .to_owned(),
        };
        // RFC 5230 §4.2: without :handle, replies with the same arguments share a handle.
        let handle = handle.unwrap_or_else(|| {
            let key = format!(
                "{}\0{}\0{}\0{}",
                subject_arg.unwrap_or_default(),
                from.clone().unwrap_or_default(),
                args.mime,
                reason
            );
            format!("{:016x}", fnv1a(key.as_bytes()))
        });
        let days = args.days.unwrap_or(7).clamp(
            self.limits.min_vacation_days,
            self.limits
                .max_vacation_days
                .max(self.limits.min_vacation_days),
        );
        Ok(Some(Vacation {
            to: self.context.envelope.from.clone(),
            from,
            subject,
            reason,
            mime: args.mime,
            days,
            handle,
            addresses,
            in_reply_to: self
                .message
                .header("message-id")
                .next()
                .map(|h| h.raw.clone()),
        }))
    }

    /// The rules of RFC 5230 §4.5–§4.6 and RFC 3834 §2 that depend on the message alone.
    fn should_reply(&self, addresses: &[String]) -> bool {
        let sender = self.context.envelope.from.to_ascii_lowercase();
        if sender.is_empty() || addresses.iter().any(|a| a.eq_ignore_ascii_case(&sender)) {
            return false;
        }
        let local = sender.split('@').next().unwrap_or_default();
        if local.starts_with("owner-")
            || local.ends_with("-request")
            || local == "mailer-daemon"
            || local.starts_with("bounce")
        {
            return false;
        }
        let header = |name: &str| {
            self.message
                .header(name)
                .next()
                .map(|h| h.decoded.to_ascii_lowercase())
        };
        if header("auto-submitted").is_some_and(|v| v.trim() != "no") {
            return false;
        }
        if header("precedence").is_some_and(|v| matches!(v.trim(), "bulk" | "list" | "junk")) {
            return false;
        }
        if LIST_HEADERS
            .iter()
            .any(|h| self.message.header(h).next().is_some())
        {
            return false;
        }
        // §4.5: the user must be a visible recipient (To/Cc/Bcc and their Resent- forms).
        RECIPIENT_HEADERS.iter().any(|name| {
            self.message.header(name).any(|field| {
                super::tests::parse_addresses(&field.raw)
                    .iter()
                    .any(|r| addresses.iter().any(|a| a.eq_ignore_ascii_case(r)))
            })
        })
    }
}

/// FNV-1a, 64 bits: a stable, dependency-free digest for derived handles.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
