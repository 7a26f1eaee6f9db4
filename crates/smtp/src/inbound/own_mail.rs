//! The server's own mail to local accounts (the relay's delivery reports, the notices of
//! [`crate::notice`]) through each recipient's active Sieve script, by the plan SMTP
//! delivery makes ([`super::filter::plan`]), stored in one delivery transaction; and what
//! follows a stored plan for both ([`after_filters`]).
//!
//! Such mail comes from the null sender and carries `Auto-Submitted:` (`auto-replied` on
//! a delivery report, `auto-generated` on a notice; RFC 3834 §5), so nothing goes back: `vacation` keeps quiet (RFC 5230
//! §4.5, RFC 3834 §2: the interpreter checks both) and a `reject` is not reported (never
//! to the null sender; the copy is simply not stored). `fileinto`, flags, `discard` and
//! `redirect` (queued from the null sender) work as at SMTP delivery.

use std::collections::HashMap;

use certmail_store::{AuditEvent, Delivery, DeliveryReceipt, StoreError};

use super::filter::{self, Failure, Inputs, Plan};
use crate::notice::Postbox;

/// Stores `delivery` (the server's own message, its local copies in `recipients`) after
/// each local recipient's script decided where its copy goes; `rcpt_of` names the address
/// each account was reached by. Then records the redirects and reports failed scripts.
pub async fn deliver(
    postbox: &Postbox<'_>,
    mut delivery: Delivery,
    rcpt_of: &HashMap<String, String>,
) -> Result<DeliveryReceipt, StoreError> {
    let (store, now) = (postbox.store, delivery.internal_date);
    if delivery.recipients.is_empty() {
        return crate::notice::deliver(store, postbox.hub, delivery).await;
    }
    let plan = through_filters(
        store,
        postbox.sieve,
        postbox.local_domains,
        &mut delivery,
        rcpt_of,
    )
    .await?;
    if delivery.recipients.is_empty() && delivery.queue.is_empty() {
        // Every copy discarded or refused by its owner's filter.
        return Ok(DeliveryReceipt::default());
    }
    let receipt = crate::notice::deliver(store, postbox.hub, delivery).await?;
    after_filters(postbox, &plan, now).await;
    Ok(receipt)
}

/// Runs each local recipient's active script on `delivery` (mail from the null sender:
/// the server's own, or a vacation reply or rejection report to a local sender) before it
/// is stored, and applies the plan to it: the copies go where the scripts filed them,
/// redirects join its queue entries (from the null sender), discarded and refused copies
/// go. The plan's redirects and failures are for [`after_filters`] once it is stored.
pub(super) async fn through_filters(
    store: &dyn certmail_store::Store,
    sieve: &filter::SieveSettings,
    local_domains: &[String],
    delivery: &mut Delivery,
    rcpt_of: &HashMap<String, String>,
) -> Result<Plan, StoreError> {
    let now = delivery.internal_date;
    let local = std::mem::take(&mut delivery.recipients);
    let inputs = Inputs {
        mail_from: "",
        rcpt_of,
        body: &delivery.body,
        now,
        local_domains,
    };
    let plan = filter::plan(store, sieve, local, &inputs).await?;
    if !plan.rejections.is_empty() || !plan.vacations.is_empty() {
        tracing::info!(
            rejections = plan.rejections.len(),
            "a message from the null sender: no rejection report or vacation reply"
        );
    }
    delivery.recipients = plan.copies.clone();
    let redirected = plan.remote.iter().map(|(_, to)| to.clone());
    delivery
        .queue
        .extend(redirected.map(|to| crate::notice::queued_to(to, now)));
    delivery.body =
        filter::mark_redirected(std::mem::take(&mut delivery.body), &plan.redirected_by);
    Ok(plan)
}

/// After a stored delivery: audits each redirect (the daily cap counts these), and for
/// each script that failed, switches it off and tells its owner once, in their INBOX.
pub(super) async fn after_filters(postbox: &Postbox<'_>, plan: &Plan, now: i64) {
    let store = postbox.store;
    for (account, address) in &plan.redirects {
        let event = AuditEvent {
            time: now * 1000,
            account: Some(account.clone()),
            kind: filter::REDIRECT_EVENT.into(),
            ip: None,
            fields: [("to".to_string(), address.clone())].into(),
        };
        if let Err(e) = store.append_audit(event).await {
            tracing::error!(error = %e, "recording a Sieve redirect failed");
        }
    }
    for failure in &plan.failures {
        if let Err(e) = report_failure(postbox, failure, now).await {
            tracing::error!(account = %failure.account, error = %e, "reporting a failed Sieve script failed");
        }
    }
}

/// Switches the failed script off and delivers a notice saying why to its owner's INBOX
/// (past the filters: the script that failed is off, and no other runs meanwhile).
async fn report_failure(
    postbox: &Postbox<'_>,
    failure: &Failure,
    now: i64,
) -> Result<(), StoreError> {
    let store = postbox.store;
    store.set_active_script(&failure.account, None).await?;
    let to = match store.account(&failure.account).await? {
        Some(a) => crate::notice::address_of(&a),
        None => return Ok(()),
    };
    let body = format!(
        "메일 필터 \"{name}\"을(를) 실행하지 못해 받은 메일을 받은편지함에 두었고, \
         필터를 껐습니다. 고친 뒤 다시 켜 주세요.\r\n\r\n\
         Your mail filter \"{name}\" could not run, so the message was kept in your INBOX \
         and the filter was switched off. Fix it and activate it again.\r\n\r\n{error}\r\n",
        name = failure.script,
        error = failure.error,
    );
    let notice = crate::notice::Notice {
        hostname: postbox.hostname,
        to: &to,
        subject: "메일 필터를 껐습니다 / Your mail filter was switched off",
        body: &body,
        now,
    };
    let message = notice
        .message()
        .map_err(|e| StoreError::Task(e.to_string()))?;
    let delivery = crate::notice::inbox_delivery(&failure.account, message, now);
    crate::notice::deliver(store, postbox.hub, delivery).await?;
    let event = AuditEvent {
        time: now * 1000,
        account: Some(failure.account.clone()),
        kind: "sieve.failed".into(),
        ip: None,
        fields: [
            ("script".to_string(), failure.script.clone()),
            ("error".to_string(), failure.error.clone()),
        ]
        .into(),
    };
    store.append_audit(event).await
}
