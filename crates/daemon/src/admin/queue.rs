//! Admin requests about the outbound queue (`certmail queue list|show|retry|hold|release|
//! delete`), on the running daemon or on a stopped daemon's store.
//!
//! Edits here and the running queue runner both rewrite entries, one at a time (the
//! runner's queue-edit lock): a hold made while the entry is being delivered lets that
//! attempt finish and record its result, and applies to every later attempt.

use certmail_smtp::outbound::meta;
use certmail_store::{QueueEntry, StoreError};
use serde_json::{Value, json};

use super::context::{AdminContext, counted};
use super::{QueueAction, Response};

fn entry_json(e: &QueueEntry) -> Value {
    json!({
        "id": e.id,
        "from": e.from,
        "created_at": e.created_at,
        "next_attempt": e.next_attempt,
        "held": meta::is_held(e),
        "requiretls": meta::requires_tls(e),
        "envid": e.envelope_meta.get(meta::ENVID),
        "recipients": e.recipients.iter().map(|r| json!({
            "address": r.address,
            "status": format!("{:?}", r.status).to_lowercase(),
            "attempts": r.attempts,
            "last_error": r.last_error,
            "notify": r.notify,
        })).collect::<Vec<_>>(),
    })
}

/// Executes a queue request on the store.
pub async fn run(
    ctx: &AdminContext,
    action: QueueAction,
    id: Option<u64>,
) -> anyhow::Result<Response> {
    let store = &ctx.store;
    if matches!(action, QueueAction::TlsReport | QueueAction::TlsReportSend) {
        return tls_report(ctx, action == QueueAction::TlsReportSend).await;
    }
    if action == QueueAction::List {
        let list: Vec<Value> = store.queue_list().await?.iter().map(entry_json).collect();
        return Ok(Response::ok(
            counted(list.len() as u64, "queued message", "queued messages"),
            json!({ "queue": list }),
        ));
    }
    let Some(id) = id else {
        return Ok(Response::fail("bad_request", "name the queue id"));
    };
    // Read and write the entry under the runner's lock, so neither loses the other's edit.
    let signals = &ctx.queue;
    let _edits = signals.lock_queue_edits().await;
    let Some(mut entry) = store.queue_get(id).await? else {
        return Ok(Response::fail(
            "not_found",
            format!("no queued message {id}"),
        ));
    };
    let message = match action {
        QueueAction::List
        | QueueAction::Show
        | QueueAction::TlsReport
        | QueueAction::TlsReportSend => {
            return Ok(Response::ok(
                format!("queued message {id}"),
                json!({ "queue": [entry_json(&entry)] }),
            ));
        }
        QueueAction::Delete => {
            match store.queue_remove(id).await {
                Ok(()) | Err(StoreError::QueueEntryNotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
            tracing::info!(id, "queued message deleted by an administrator");
            return Ok(Response::ok(
                format!("queued message {id} deleted"),
                Value::Null,
            ));
        }
        QueueAction::Retry => {
            meta::set_flag(&mut entry, meta::HELD, false);
            entry.next_attempt = certmail_auth::now();
            "will be tried now"
        }
        QueueAction::Hold => {
            meta::set_flag(&mut entry, meta::HELD, true);
            "held"
        }
        QueueAction::Release => {
            meta::set_flag(&mut entry, meta::HELD, false);
            "released"
        }
    };
    store.queue_update(entry.clone()).await?;
    signals.queue_changed();
    tracing::info!(id, ?action, "queue changed by an administrator");
    Ok(Response::ok(
        format!("queued message {id} {message}"),
        json!({ "queue": [entry_json(&entry)] }),
    ))
}

/// `certmail queue tls-report [--send]`: needs the running daemon (its relay settings and
/// DNS).
async fn tls_report(ctx: &AdminContext, send: bool) -> anyhow::Result<Response> {
    let Some(daemon) = &ctx.daemon else {
        return Ok(Response::fail(
            "not_running",
            "TLS reports are kept and sent by the running daemon; start it first",
        ));
    };
    match daemon.tls_reports(send).await {
        Ok(data) if send => {
            let sent = data["sent"].as_u64().unwrap_or(0);
            tracing::info!(sent, "TLS reports sent by an administrator");
            Ok(Response::ok(
                counted(sent, "TLS report sent", "TLS reports sent"),
                data,
            ))
        }
        Ok(data) => Ok(Response::ok("TLS report counts recorded so far", data)),
        Err(e) => Ok(Response::fail("tls_report", format!("{e:#}"))),
    }
}
