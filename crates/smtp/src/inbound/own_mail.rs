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

use certmail_store::{AuditEvent, Delivery, DeliveryReceipt, RedirectOutcome, StoreError};

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
    if delivery.stores_nothing() {
        // Every copy discarded or refused by its owner's filter.
        return Ok(DeliveryReceipt::default());
    }
    let receipt = crate::notice::deliver(store, postbox.hub, delivery).await?;
    after_filters(postbox, &plan.failures, &receipt, now).await;
    Ok(receipt)
}

/// Runs each local recipient's active script on `delivery` (mail from the null sender:
/// the server's own, or a vacation reply or rejection report to a local sender) before it
/// is stored, and applies the plan to it: the copies go where the scripts filed them,
/// redirects go with it for the store to decide (queued from the null sender), discarded
/// and refused copies go. The plan's failures are for [`after_filters`] once it is stored.
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
    delivery.redirects = plan.store_redirects(|to| crate::notice::queued_to(to.to_owned(), now));
    delivery.body =
        filter::mark_redirected(std::mem::take(&mut delivery.body), &plan.redirected_by);
    Ok(plan)
}

/// After a stored delivery: audits each redirect carried out; tells the owner of an
/// account whose redirects reached the daily cap (once a day: the store marks the first
/// refusal); and for each script that failed, switches it off and tells its owner once, in
/// their INBOX.
pub(super) async fn after_filters(
    postbox: &Postbox<'_>,
    failures: &[Failure],
    receipt: &DeliveryReceipt,
    now: i64,
) {
    for outcome in &receipt.redirects {
        if let Err(e) = after_redirect(postbox, outcome, now).await {
            tracing::error!(account = %outcome.account, error = %e, "recording a Sieve redirect failed");
        }
    }
    for failure in failures {
        if let Err(e) = report_failure(postbox, failure, now).await {
            tracing::error!(account = %failure.account, error = %e, "reporting a failed Sieve script failed");
        }
    }
}

/// Audits a redirect carried out; logs one refused, and tells its owner of the first
/// refusal of the day.
async fn after_redirect(
    postbox: &Postbox<'_>,
    outcome: &RedirectOutcome,
    now: i64,
) -> Result<(), StoreError> {
    let (account, to) = (&outcome.account, &outcome.address);
    if outcome.carried_out {
        let fields = [("to".to_string(), to.clone())].into();
        return audit(postbox.store, account, filter::REDIRECT_EVENT, fields, now).await;
    }
    let why = filter::CAP_REACHED;
    tracing::warn!(account = %account, to = %to, why, "Sieve redirect refused; message kept");
    if !outcome.tell {
        return Ok(());
    }
    let cap = postbox.sieve.max_redirects_per_day;
    let body = format!(
        "메일 필터가 오늘 전달(redirect)할 수 있는 {cap}통을 모두 전달했습니다. 오늘(UTC 기준) \
         받는 메일은 더 전달하지 않고, 전달하지 않았다면 두었을 편지함에 둡니다. 내일 \
         다시 전달합니다.\r\n\r\n\
         Your mail filter has redirected {cap} messages today, the most it may per day. \
         Until the day ends (UTC), the messages it would redirect are kept where they would \
         have gone without the redirect, and not redirected. Redirecting resumes \
         tomorrow.\r\n"
    );
    let subject = "오늘 메일 전달 한도에 이르렀습니다 / Your daily redirect limit is reached";
    notify_owner(postbox, account, subject, &body, now).await?;
    let fields = [("to".to_string(), to.clone())].into();
    audit(postbox.store, account, "sieve.redirect_cap", fields, now).await
}

/// Switches the failed script off and delivers a notice saying why to its owner's INBOX
/// (past the filters: the script that failed is off, and no other runs meanwhile).
async fn report_failure(
    postbox: &Postbox<'_>,
    failure: &Failure,
    now: i64,
) -> Result<(), StoreError> {
    postbox
        .store
        .set_active_script(&failure.account, None)
        .await?;
    let body = format!(
        "메일 필터 \"{name}\"을(를) 실행하지 못해 받은 메일을 받은편지함에 두었고, \
         필터를 껐습니다. 고친 뒤 다시 켜 주세요.\r\n\r\n\
         Your mail filter \"{name}\" could not run, so the message was kept in your INBOX \
         and the filter was switched off. Fix it and activate it again.\r\n\r\n{error}\r\n",
        name = failure.script,
        error = failure.error,
    );
    let subject = "메일 필터를 껐습니다 / Your mail filter was switched off";
    if !notify_owner(postbox, &failure.account, subject, &body, now).await? {
        return Ok(());
    }
    let fields = [
        ("script".to_string(), failure.script.clone()),
        ("error".to_string(), failure.error.clone()),
    ]
    .into();
    audit(postbox.store, &failure.account, "sieve.failed", fields, now).await
}

/// Delivers a notice to `account`'s INBOX, past its filters; `false` if the account is
/// gone.
async fn notify_owner(
    postbox: &Postbox<'_>,
    account: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let store = postbox.store;
    let to = match store.account(account).await? {
        Some(a) => crate::notice::address_of(&a),
        None => return Ok(false),
    };
    let notice = crate::notice::Notice {
        hostname: postbox.hostname,
        to: &to,
        subject,
        body,
        now,
    };
    let message = notice
        .message()
        .map_err(|e| StoreError::Task(e.to_string()))?;
    let delivery = crate::notice::inbox_delivery(account, message, now);
    crate::notice::deliver(store, postbox.hub, delivery).await?;
    Ok(true)
}

/// Appends an audit event of `account`.
async fn audit(
    store: &dyn certmail_store::Store,
    account: &str,
    kind: &str,
    fields: std::collections::BTreeMap<String, String>,
    now: i64,
) -> Result<(), StoreError> {
    let event = AuditEvent {
        time: now * 1000,
        account: Some(account.to_owned()),
        kind: kind.into(),
        ip: None,
        fields,
    };
    store.append_audit(event).await
}
