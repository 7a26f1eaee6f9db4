//! What the scripts' `reject`/`ereject` and `vacation` send (see `filter.rs` for the
//! rules): the refusal at the end of DATA, or the rejection report and the vacation
//! replies as [`Outgoing`] messages stored in the delivery's transaction.

use certmail_sieve::Vacation;
use certmail_store::{Delivery, Outgoing, ReplyMark, Store, StoreError};
use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;

use super::filter::{Plan, Rejection};
use super::recipients::Target;
use crate::proto::{Envelope, Reply};

/// Longest reason an SMTP refusal carries, in bytes: with `550 5.7.1 ` and the lead-in,
/// the reply line stays within RFC 5321 §4.5.3.1.5's 512 octets.
pub const MAX_REASON_BYTES: usize = 400;

/// The lead-in of a refusal's text, before the script's reason.
const REFUSED: &str = "The recipient's mail filter refused this message: ";

/// The `550 5.7.1` that ends the transaction when a script refused the message of a
/// transaction with one recipient (RFC 5429 §2.1), whose every account refused it. `None`
/// where the refusal goes by report instead: several recipients, a copy someone else
/// keeps, or a non-ASCII reason without SMTPUTF8 (the report carries it whole).
pub(super) fn smtp_refusal(plan: &Plan, targets: &[Target], envelope: &Envelope) -> Option<Reply> {
    let [Target::Local(accounts)] = targets else {
        return None;
    };
    if envelope.rcpts.len() != 1 || !plan.copies.is_empty() || !plan.redirects.is_empty() {
        return None;
    }
    let reasons: Vec<&Rejection> = accounts
        .iter()
        .map(|a| plan.rejections.iter().find(|r| r.account == *a))
        .collect::<Option<_>>()?;
    let reason = one_line(&reasons.first()?.reason);
    if !reason.is_ascii() && !envelope.params.smtputf8 {
        return None;
    }
    Some(Reply::new(550, (5, 7, 1), format!("{REFUSED}{reason}")))
}

/// `reason` on one line: control characters and runs of white space become one space,
/// cut at a character boundary to [`MAX_REASON_BYTES`].
pub(super) fn one_line(reason: &str) -> String {
    let mut out = String::new();
    for word in reason.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        let sep = usize::from(!out.is_empty());
        if out.len() + sep + word.len() > MAX_REASON_BYTES {
            for c in word.chars() {
                if out.len() + sep + c.len_utf8() > MAX_REASON_BYTES {
                    break;
                }
                if sep == 1 && !out.ends_with(' ') {
                    out.push(' ');
                }
                out.push(c);
            }
            break;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// What one delivery needs to build its outgoing messages.
pub(super) struct Context<'a> {
    /// The store (to find whether the sender is local).
    pub store: &'a dyn Store,
    /// `[server] hostname`.
    pub hostname: &'a str,
    /// `[server] local_domains`.
    pub local_domains: &'a [String],
    /// `[sieve]`: the bounds a local sender's script runs under on a reply to them.
    pub sieve: &'a super::filter::SieveSettings,
    /// The envelope.
    pub envelope: &'a Envelope,
    /// The RCPT address each local account was reached by.
    pub rcpt_of: &'a std::collections::HashMap<String, String>,
    /// The message as received (headers returned in reports).
    pub body: &'a [u8],
    /// Now, Unix seconds.
    pub now: i64,
}

/// The rejection reports and vacation replies of `plan` (into `plan.outgoing`), each
/// routed to the envelope sender: a local sender's copy through their active script, as
/// any mail to them (see [`routed`]), else the queue from the null sender.
pub(super) async fn outgoing(cx: &Context<'_>, plan: &mut Plan) -> Result<(), StoreError> {
    let mut replies = Plan::default();
    let out = replies_of(cx, plan, &mut replies).await?;
    plan.outgoing = out;
    // The sender's script's failures, for after the delivery is stored (its redirects
    // travel in the replies, decided by the store with them).
    plan.failures.append(&mut replies.failures);
    Ok(())
}

async fn replies_of(
    cx: &Context<'_>,
    plan: &Plan,
    replies: &mut Plan,
) -> Result<Vec<Outgoing>, StoreError> {
    let mut out = Vec::new();
    let sender = &cx.envelope.mail_from;
    if !plan.rejections.is_empty() && sender.is_empty() {
        tracing::info!("Sieve rejection not reported: the message has the null sender");
    } else if !plan.rejections.is_empty() {
        let report = rejection_report(cx, &plan.rejections).map_err(task)?;
        if let Some(message) = routed(cx, report, replies).await? {
            out.push(Outgoing {
                message,
                once: None,
            });
        }
    }
    for (account, vacation) in &plan.vacations {
        let from = match &vacation.from {
            Some(from) => from.clone(),
            None => cx.rcpt_of.get(account).cloned().unwrap_or_default(),
        };
        let reply = vacation_reply(vacation, &from, cx.hostname, cx.now).map_err(task)?;
        let Some(message) = routed(cx, reply, replies).await? else {
            continue;
        };
        let days = i64::try_from(vacation.days).unwrap_or(i64::MAX / 86_400);
        out.push(Outgoing {
            message,
            once: Some(ReplyMark {
                account: account.clone(),
                handle: vacation.handle.clone(),
                sender: vacation.to.to_lowercase(),
                sent_at: cx.now,
                until: cx.now.saturating_add(days.saturating_mul(86_400)),
            }),
        });
    }
    Ok(out)
}

fn task(e: std::io::Error) -> StoreError {
    StoreError::Task(e.to_string())
}

/// `message` to the envelope sender, or `None` (logged) where it cannot go. A local
/// sender's active script runs on it here, before the delivery transaction that stores it
/// with the message that caused it, so it is filed once even when sled retries that
/// transaction (with its redirects, which the store decides in that transaction); its
/// plan's failures go into `replies`.
async fn routed(
    cx: &Context<'_>,
    message: Vec<u8>,
    replies: &mut Plan,
) -> Result<Option<Delivery>, StoreError> {
    let sender = &cx.envelope.mail_from;
    let (delivery, _) =
        crate::notice::routed(cx.store, cx.local_domains, sender, message, cx.now).await?;
    let Some(mut delivery) = delivery else {
        tracing::warn!(to = %sender, "Sieve reply not sent: the sender's address has no mailbox here");
        return Ok(None);
    };
    if delivery.recipients.is_empty() {
        return Ok(Some(delivery));
    }
    let rcpt_of = delivery
        .recipients
        .iter()
        .map(|(account, _, _)| (account.clone(), sender.to_lowercase()))
        .collect();
    let (store, domains) = (cx.store, cx.local_domains);
    let mut plan =
        super::own_mail::through_filters(store, cx.sieve, domains, &mut delivery, &rcpt_of).await?;
    replies.failures.append(&mut plan.failures);
    if delivery.stores_nothing() {
        tracing::info!(to = %sender, "Sieve reply discarded by the sender's own filter");
        return Ok(None);
    }
    Ok(Some(delivery))
}

/// The report that the rejecting recipients refused the message (RFC 5429 §2.1.1, as an
/// RFC 3464 failure report with status 5.7.1; the original's headers returned).
fn rejection_report(cx: &Context<'_>, rejections: &[Rejection]) -> std::io::Result<Vec<u8>> {
    use crate::outbound::report::{Report, ReportKind, ReportRecipient, build};
    let recipients: Vec<ReportRecipient> = rejections
        .iter()
        .map(|r| ReportRecipient {
            address: cx.rcpt_of.get(&r.account).cloned().unwrap_or_default(),
            original: None,
            status: "5.7.1".into(),
            remote_mta: None,
            diagnostic: Some(format!("550 5.7.1 {REFUSED}{}", one_line(&r.reason))),
        })
        .collect();
    build(&Report {
        kind: ReportKind::Failed,
        hostname: cx.hostname,
        sender: &cx.envelope.mail_from,
        envid: cx.envelope.params.envid.as_deref(),
        arrival: cx.now,
        now: cx.now,
        recipients: &recipients,
        message: cx.body,
        headers_only: true,
        expires: None,
    })
}

/// The vacation reply (RFC 5230 §5, RFC 3834 §3): from `from`, to the envelope sender,
/// `Auto-Submitted: auto-replied`, In-Reply-To and References the original's Message-ID.
fn vacation_reply(v: &Vacation, from: &str, hostname: &str, now: i64) -> std::io::Result<Vec<u8>> {
    let mut builder = MessageBuilder::new()
        .from(from.to_owned())
        .to(v.to.clone())
        .subject(one_line(&v.subject))
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .message_id(format!(
            "{}.vacation@{hostname}",
            crate::inbound::headers::unique_id(now)
        ))
        .date(now);
    if let Some(id) = v
        .in_reply_to
        .as_deref()
        .map(one_line)
        .filter(|i| !i.is_empty())
    {
        builder = builder
            .header("In-Reply-To", Raw::new(id.clone()))
            .header("References", Raw::new(id));
    }
    let builder = if v.mime {
        // `:mime`: the reason is a whole MIME entity, headers and body (RFC 5230 §5.7).
        builder.body(MimePart::raw(crlf(&v.reason)))
    } else {
        builder.text_body(crlf(&v.reason))
    };
    builder.write_to_vec()
}

/// `text` with every line ending as CRLF.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vacation(mime: bool, reason: &str) -> Vacation {
        Vacation {
            to: "lee@example.com".into(),
            from: None,
            subject: "Auto: 회의 안내".into(),
            reason: reason.into(),
            mime,
            days: 7,
            handle: "h".into(),
            addresses: vec![],
            in_reply_to: Some("<abc@example.com>".into()),
        }
    }

    fn parsed(raw: &[u8]) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(raw)
            .expect("parses")
    }

    #[test]
    fn a_reply_threads_and_says_it_is_automatic() {
        let raw = vacation_reply(
            &vacation(false, "휴가 중입니다.\n12월 20일에 돌아옵니다."),
            "hong@example.kr",
            "mail.example.kr",
            1_700_000_000,
        )
        .unwrap();
        let m = parsed(&raw);
        assert_eq!(m.subject(), Some("Auto: 회의 안내"));
        assert_eq!(m.in_reply_to().as_text(), Some("abc@example.com"));
        assert_eq!(m.references().as_text(), Some("abc@example.com"));
        assert_eq!(
            m.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
        assert_eq!(
            m.body_text(0).as_deref(),
            Some("휴가 중입니다.\r\n12월 20일에 돌아옵니다.")
        );
    }

    #[test]
    fn a_mime_reason_is_the_body_entity() {
        let entity = "Content-Type: text/plain; charset=utf-8\r\n\r\n부재중입니다.\r\n";
        let raw = vacation_reply(&vacation(true, entity), "hong@example.kr", "h", 1).unwrap();
        let m = parsed(&raw);
        assert_eq!(m.body_text(0).as_deref(), Some("부재중입니다.\r\n"));
    }

    #[test]
    fn reasons_become_one_bounded_line() {
        assert_eq!(one_line("  no\r\nthanks\t\u{7}please "), "no thanks please");
        let long = "가".repeat(300);
        let cut = one_line(&long);
        assert!(cut.len() <= MAX_REASON_BYTES && cut.len() > MAX_REASON_BYTES - 3);
        assert!(cut.chars().all(|c| c == '가'));
        let words = "word ".repeat(200);
        assert!(one_line(&words).len() <= MAX_REASON_BYTES);
    }
}
