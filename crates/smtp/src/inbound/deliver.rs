//! Storing an accepted message: headers, local copies and queue entries in one
//! transaction, the change hub, and success DSNs.

use std::sync::Arc;

use certmail_store::{Account, Delivery, QueueEntry, QueueRecipient, RecipientStatus};

use super::SmtpContext;
use super::recipients::{self, Target};
use super::state::State;
use crate::proto::{Envelope, Reply};

/// Stores an accepted message: checks its From: and (port 25) its authentication, adds
/// the trace headers, then stores the local copies and queue entries in one transaction.
/// The reply for the end of DATA / BDAT LAST.
pub(super) async fn deliver(state: &mut State, envelope: Envelope, body: Vec<u8>) -> Reply {
    let ctx = Arc::clone(&state.ctx);
    let now = certmail_auth::now();
    let from_check = match &state.account {
        Some(account) if ctx.settings.enforce_from_header => check_from_header(account, &body),
        _ => Ok(()),
    };
    if let Err(reply) = from_check {
        return reply;
    }
    let verdict = match super::authenticate::verify(state, &envelope.mail_from, &body).await {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    let by_account = state.account.as_ref().map(|a| a.id.as_str());
    let origin = super::headers::Origin {
        peer: state.peer,
        client_name: &state.client_name,
        account: by_account,
        tls: state.tls,
        smtputf8: envelope.params.smtputf8,
    };
    let body = super::headers::prepare(&body, &ctx.settings.hostname, &origin, now);
    let body = match &verdict {
        Some(v) => super::authenticate::with_results(v, &ctx.settings.hostname, &body),
        None => body,
    };
    let (mut local, remote) = split_targets(&state.targets, &envelope);
    let junk = verdict.is_some_and(|v| v.disposition == crate::mailauth::Disposition::Junk);
    if junk && let Err(e) = super::authenticate::to_junk(ctx.store.as_ref(), &mut local).await {
        tracing::error!(error = %e, "finding the Junk mailbox failed");
        return Reply::new(
            451,
            (4, 3, 0),
            "Temporary problem storing the message; try again later",
        );
    }
    let success = success_notices(&state.targets, &envelope);
    let report_headers = (!success.is_empty() && !envelope.mail_from.is_empty())
        .then(|| super::dsn::header_section(&body).to_vec());
    let queue = queue_entry(&envelope, remote, by_account, now)
        .into_iter()
        .collect();
    // A session replaced while the body arrived stores nothing (the read loop then says why).
    if let Some(reason) = state.guard.as_ref().and_then(|g| g.kick_reason()) {
        return Reply::new(421, (4, 7, 0), reason.smtp_reply());
    }
    let delivery = Delivery {
        body,
        internal_date: now,
        recipients: local,
        queue,
    };
    match ctx.store.deliver(delivery).await {
        Ok(receipt) => {
            announce(&ctx, &envelope, &receipt);
            if let Some(headers) = report_headers {
                send_success_report(&ctx, &envelope, &success, &headers, now).await;
            }
            Reply::new(250, (2, 0, 0), "Message accepted for delivery")
        }
        Err(e) => {
            tracing::error!(error = %e, "storing a message failed");
            Reply::new(
                451,
                (4, 3, 0),
                "Temporary problem storing the message; try again later",
            )
        }
    }
}

/// The local copies to store (each account once, to its INBOX) and the remote recipients
/// to queue, from the recipients' targets.
#[allow(clippy::type_complexity)] // the shape `Delivery::recipients` takes
fn split_targets(
    targets: &[Target],
    envelope: &Envelope,
) -> (Vec<(String, String, Vec<String>)>, Vec<QueueRecipient>) {
    let mut local: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut remote = Vec::new();
    for (t, rcpt) in targets.iter().zip(&envelope.rcpts) {
        match t {
            Target::Local(accounts) => {
                for a in accounts {
                    if !local.iter().any(|(x, _, _)| x == a) {
                        local.push((a.clone(), "INBOX".to_string(), Vec::new()));
                    }
                }
            }
            Target::Remote(addr) => remote.push(QueueRecipient {
                address: addr.clone(),
                status: RecipientStatus::Pending,
                attempts: 0,
                last_error: None,
                notify: notify_bits(&rcpt.notify),
            }),
        }
    }
    (local, remote)
}

/// RFC 3461 NOTIFY=SUCCESS for local recipients: who to report once they are stored.
fn success_notices(targets: &[Target], envelope: &Envelope) -> Vec<super::dsn::Delivered> {
    targets
        .iter()
        .zip(&envelope.rcpts)
        .filter(|(t, r)| matches!(t, Target::Local(_)) && r.notify.success)
        .map(|(_, r)| super::dsn::Delivered {
            recipient: r.address.clone(),
            original_recipient: r.orcpt.clone(),
        })
        .collect()
}

/// The queue entry for the remote recipients (none without any), with the envelope data
/// the runner and its reports need.
fn queue_entry(
    envelope: &Envelope,
    remote: Vec<QueueRecipient>,
    by_account: Option<&str>,
    now: i64,
) -> Option<QueueEntry> {
    if remote.is_empty() {
        return None;
    }
    let mut meta = std::collections::BTreeMap::new();
    if let Some(envid) = &envelope.params.envid {
        meta.insert("envid".to_string(), envid.clone());
    }
    if let Some(a) = by_account {
        meta.insert("auth".to_string(), a.to_string());
    }
    crate::outbound::meta::record_envelope(&mut meta, envelope);
    Some(QueueEntry {
        id: 0,
        from: envelope.mail_from.clone(),
        recipients: remote,
        blob: certmail_store::BlobId([0; 32]),
        created_at: now,
        next_attempt: now,
        envelope_meta: meta,
    })
}

/// After a stored delivery: wakes IDLE on the new copies and the queue runners on the new
/// entries, logs and counts it.
fn announce(ctx: &SmtpContext, envelope: &Envelope, receipt: &certmail_store::DeliveryReceipt) {
    crate::wake::new_copies(&ctx.hub, receipt);
    tracing::info!(from = %envelope.mail_from, local = receipt.stored.len(), queued = receipt.queued.len(), "message accepted");
    ctx.counters
        .count_accepted(receipt.stored.len(), receipt.queued.len());
    if !receipt.queued.is_empty() {
        ctx.queue.queue_changed();
    }
}

/// Delivers a success DSN to the envelope sender: to their INBOX when they are local, else
/// through the outbound queue with the null sender. Best effort: the message itself is
/// already stored, so a failure here is logged, not reported to the client.
async fn send_success_report(
    ctx: &SmtpContext,
    envelope: &Envelope,
    success: &[super::dsn::Delivered],
    headers: &[u8],
    now: i64,
) {
    let s = &ctx.settings;
    let report = match super::dsn::success_report(
        &s.hostname,
        &envelope.mail_from,
        envelope.params.envid.as_deref(),
        success,
        headers,
        now,
    ) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "building a delivery report failed");
            return;
        }
    };
    let sender = envelope.mail_from.to_lowercase();
    let local = match recipients::resolve(ctx.store.as_ref(), &s.local_domains, &sender, true).await
    {
        Ok(Ok(Target::Local(accounts))) => accounts,
        Ok(_) => Vec::new(),
        Err(e) => {
            tracing::error!(error = %e, "looking up the report's recipient failed");
            return;
        }
    };
    let remote = local.is_empty().then_some(sender);
    let store = ctx.store.as_ref();
    let to = (local, remote);
    if let Err(e) =
        crate::outbound::report::store_report(store, Some(&ctx.hub), report, to, now).await
    {
        tracing::error!(error = %e, "storing a delivery report failed");
    }
}

fn notify_bits(n: &crate::proto::Notify) -> u8 {
    use certmail_store::notify::*;
    let mut b = 0;
    if n.success {
        b |= SUCCESS;
    }
    if n.failure {
        b |= FAILURE;
    }
    if n.delay {
        b |= DELAY;
    }
    if n.never {
        b |= NEVER;
    }
    b
}

/// The From: header of a submission must name only the account's own addresses.
fn check_from_header(account: &Account, body: &[u8]) -> Result<(), Reply> {
    let from = crate::message::header_from_addresses(body);
    let own = |a: &String| account.addresses.iter().any(|x| x.eq_ignore_ascii_case(a));
    if !from.is_empty() && from.iter().all(own) {
        return Ok(());
    }
    Err(Reply::new(
        550,
        (5, 7, 1),
        format!(
            "The From: header must be your own address ({}); the message was not sent",
            account.addresses.join(", ")
        ),
    ))
}
