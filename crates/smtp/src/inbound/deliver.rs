//! Storing an accepted message: headers, local copies and queue entries in one
//! transaction, the change hub, and success DSNs.

use std::sync::Arc;

use certmail_store::{
    Account, Delivery, MailQuota, QueueEntry, QueueRecipient, RecipientStatus, StoreError,
};

use super::SmtpContext;
use super::recipients::Target;
use super::state::State;
use crate::proto::{Envelope, Reply};

/// Stores an accepted message: checks its From: and (port 25) its authentication, adds
/// the trace headers, then stores the local copies and queue entries in one transaction.
/// The reply for the end of DATA / BDAT LAST.
pub(super) async fn deliver(state: &mut State, envelope: Envelope, body: Vec<u8>) -> Reply {
    let ctx = Arc::clone(&state.ctx);
    let now = certmail_auth::now();
    let (body, junk) = match checked(state, &envelope, body, now).await {
        Ok(checked) => checked,
        Err(reply) => return reply,
    };
    let by_account = state.account.as_ref().map(|a| a.id.as_str());
    let (mut local, remote) = split_targets(&state.targets, &envelope);
    if junk && let Err(e) = super::authenticate::to_junk(ctx.store.as_ref(), &mut local).await {
        tracing::error!(error = %e, "finding the Junk mailbox failed");
        return Reply::new(
            451,
            (4, 3, 0),
            "Temporary problem storing the message; try again later",
        );
    }
    let (local, remote, body, mut plan) =
        match run_filters(&ctx, &state.targets, &envelope, (local, remote), body, now).await {
            Ok(filtered) => filtered,
            Err(reply) => return reply,
        };
    let success = success_notices(&state.targets, &envelope);
    let report_headers = (!success.is_empty() && !envelope.mail_from.is_empty())
        .then(|| super::dsn::header_section(&body).to_vec());
    let queue = (!remote.is_empty())
        .then(|| queue_entry(&envelope, remote, by_account, now))
        .into_iter()
        .collect();
    let redirects =
        plan.store_redirects(|to| queue_entry(&envelope, vec![redirected_to(to)], by_account, now));
    // A session replaced while the body arrived stores nothing (the read loop then says why).
    if let Some(reason) = state.guard.as_ref().and_then(|g| g.kick_reason()) {
        return Reply::new(421, (4, 7, 0), reason.smtp_reply());
    }
    let delivery = Delivery {
        body,
        internal_date: now,
        recipients: local,
        queue,
        outgoing: std::mem::take(&mut plan.outgoing),
        quota: MailQuota::from_config(ctx.settings.quota_bytes),
        redirects,
    };
    if delivery.stores_nothing() {
        // Every copy discarded by its owner's filter: accepted, nothing to store.
        return Reply::new(250, (2, 0, 0), "Message accepted for delivery");
    }
    match ctx.store.deliver(delivery).await {
        Ok(receipt) => {
            if !receipt.held_back.is_empty() {
                tracing::info!(from = %envelope.mail_from, held_back = receipt.held_back.len(), "vacation reply already sent to this sender within its period");
            }
            announce(&ctx, &envelope, &receipt);
            super::own_mail::after_filters(&ctx.postbox(), &plan.failures, &receipt, now).await;
            if let Some(headers) = report_headers {
                send_success_report(&ctx, &envelope, &success, &headers, now).await;
            }
            Reply::new(250, (2, 0, 0), "Message accepted for delivery")
        }
        // Full since RCPT (another message got there first, perhaps on another node):
        // nothing was stored; a retry is refused at RCPT for that recipient alone.
        Err(StoreError::OverQuota { account }) => {
            let address = address_of(&state.targets, &envelope, &account);
            Reply::new(
                452,
                (4, 2, 2),
                format!(
                    "The mailbox of <{address}> became full while the message arrived; \
                     nothing was delivered, try again later"
                ),
            )
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

/// The recipient address that led to local `account`.
fn address_of<'a>(targets: &[Target], envelope: &'a Envelope, account: &'a str) -> &'a str {
    targets
        .iter()
        .zip(&envelope.rcpts)
        .find(|(t, _)| matches!(t, Target::Local(accounts) if accounts.iter().any(|a| a.eq_ignore_ascii_case(account))))
        .map_or(account, |(_, rcpt)| rcpt.address.as_str())
}

/// The message as it will be stored, after every check that may refuse it: the From: of a
/// submission, SPF/DKIM/DMARC (port 25), then the spam filter; with the trace headers and
/// the checks' results on top. `true`: its local copies go to Junk.
async fn checked(
    state: &State,
    envelope: &Envelope,
    body: Vec<u8>,
    now: i64,
) -> Result<(Vec<u8>, bool), Reply> {
    let hostname = &state.ctx.settings.hostname;
    if let Some(account) = &state.account
        && state.ctx.settings.enforce_from_header
    {
        check_from_header(account, &body)?;
    }
    let verdict = super::authenticate::verify(state, &envelope.mail_from, &body).await?;
    let origin = super::headers::Origin {
        peer: state.peer,
        client_name: &state.client_name,
        account: state.account.as_ref().map(|a| a.id.as_str()),
        tls: state.tls,
        smtputf8: envelope.params.smtputf8,
    };
    let id = super::headers::unique_id(now);
    let body = super::headers::prepare(&body, hostname, &origin, now, &id);
    let body = match &verdict {
        Some(v) => super::authenticate::with_results(v, hostname, &body),
        None => body,
    };
    let quarantined = verdict.is_some_and(|v| v.disposition == crate::mailauth::Disposition::Junk);
    let scanned = super::spam::scan(state, envelope, &id, body).await?;
    Ok((scanned.message, quarantined || scanned.junk))
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

/// Copies, remote recipients and body after the local recipients' Sieve scripts ran
/// (`filter.rs`), with the plan for what follows the delivery.
async fn run_filters(
    ctx: &SmtpContext,
    targets: &[Target],
    envelope: &Envelope,
    (local, remote): (Vec<super::filter::LocalCopy>, Vec<QueueRecipient>),
    body: Vec<u8>,
    now: i64,
) -> Result<Filtered, Reply> {
    let rcpt_of = rcpt_of_accounts(targets, envelope);
    let inputs = super::filter::Inputs {
        mail_from: &envelope.mail_from,
        rcpt_of: &rcpt_of,
        body: &body,
        now,
        local_domains: &ctx.settings.local_domains,
    };
    let store = ctx.store.as_ref();
    let failed = |e: certmail_store::StoreError| {
        tracing::error!(error = %e, "running Sieve filters failed");
        Reply::new(
            451,
            (4, 3, 0),
            "Temporary problem storing the message; try again later",
        )
    };
    let mut plan = super::filter::plan(store, &ctx.settings.sieve, local, &inputs)
        .await
        .map_err(failed)?;
    if let Some(refusal) = super::autoreply::smtp_refusal(&plan, targets, envelope) {
        return Err(refusal);
    }
    let cx = super::autoreply::Context {
        store,
        hostname: &ctx.settings.hostname,
        local_domains: &ctx.settings.local_domains,
        sieve: &ctx.settings.sieve,
        envelope,
        rcpt_of: &rcpt_of,
        body: &body,
        now,
    };
    super::autoreply::outgoing(&cx, &mut plan)
        .await
        .map_err(failed)?;
    let body = super::filter::mark_redirected(body, &plan.redirected_by);
    Ok((plan.copies.clone(), remote, body, plan))
}

/// What [`run_filters`] returns.
type Filtered = (
    Vec<super::filter::LocalCopy>,
    Vec<QueueRecipient>,
    Vec<u8>,
    super::filter::Plan,
);

/// The RCPT address each local account was reached by (the first, if several).
fn rcpt_of_accounts(
    targets: &[Target],
    envelope: &Envelope,
) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for (t, rcpt) in targets.iter().zip(&envelope.rcpts) {
        if let Target::Local(accounts) = t {
            for a in accounts {
                out.entry(a.clone()).or_insert_with(|| rcpt.address.clone());
            }
        }
    }
    out
}

/// A remote recipient added by a Sieve `redirect` (failure reports only, as for mail
/// sent without NOTIFY).
fn redirected_to(address: &str) -> QueueRecipient {
    QueueRecipient {
        address: address.to_owned(),
        status: RecipientStatus::Pending,
        attempts: 0,
        last_error: None,
        notify: certmail_store::notify::FAILURE,
    }
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

/// The queue entry for remote recipients, with the envelope data the runner and its
/// reports need.
fn queue_entry(
    envelope: &Envelope,
    remote: Vec<QueueRecipient>,
    by_account: Option<&str>,
    now: i64,
) -> QueueEntry {
    let mut meta = std::collections::BTreeMap::new();
    if let Some(envid) = &envelope.params.envid {
        meta.insert("envid".to_string(), envid.clone());
    }
    if let Some(a) = by_account {
        meta.insert("auth".to_string(), a.to_string());
    }
    crate::outbound::meta::record_envelope(&mut meta, envelope);
    QueueEntry {
        id: 0,
        from: envelope.mail_from.clone(),
        recipients: remote,
        blob: certmail_store::BlobId([0; 32]),
        created_at: now,
        next_attempt: now,
        envelope_meta: meta,
    }
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

/// Delivers a success DSN to the envelope sender: to them when they are local (through
/// their Sieve script, as the server's own mail), else through the outbound queue with the
/// null sender. Best effort: the message itself is
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
    match crate::notice::to_address(&ctx.postbox(), &sender, report, now).await {
        Ok(crate::notice::Sent::Queued) => ctx.queue.queue_changed(),
        Ok(crate::notice::Sent::Local) => {}
        Ok(crate::notice::Sent::NoMailbox) => {
            tracing::warn!(%sender, "delivery report dropped: the sender address has no mailbox");
        }
        Err(e) => tracing::error!(error = %e, "storing a delivery report failed"),
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
