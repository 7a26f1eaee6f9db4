//! `certmail queue list|show|retry|hold|release|delete`: the outbound queue, on the running
//! daemon (over the admin socket) or on a stopped daemon's store.
//!
//! Edits here and the running queue runner both rewrite entries, one at a time (the
//! runner's queue-edit lock): a hold made while the entry is being delivered lets that
//! attempt finish and record its result, and applies to every later attempt.

use std::path::Path;

use certmail_smtp::outbound::meta;
use certmail_store::{QueueEntry, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::service::AdminContext;
use super::{Request, Response};

/// What to do with the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueAction {
    /// Every entry.
    List,
    /// One entry with its recipients.
    Show,
    /// Try now (and release if held).
    Retry,
    /// Stop delivering it until released.
    Hold,
    /// Deliver it again on its schedule.
    Release,
    /// Remove it without delivering or reporting.
    Delete,
}

/// `certmail queue …`
#[derive(Debug, clap::Subcommand)]
pub enum QueueCommand {
    /// List queued messages: id, sender, recipients, attempts, next try, held.
    List {
        #[command(flatten)]
        out: crate::cli::Output,
    },
    /// Show one queued message with each recipient's last error.
    Show {
        /// The queue id.
        id: u64,
        #[command(flatten)]
        out: crate::cli::Output,
    },
    /// Try to deliver one queued message now (a held one is released).
    Retry {
        /// The queue id.
        id: u64,
        #[command(flatten)]
        out: crate::cli::Output,
    },
    /// Hold a queued message: it is not delivered until released.
    Hold {
        /// The queue id.
        id: u64,
        #[command(flatten)]
        out: crate::cli::Output,
    },
    /// Release a held message.
    Release {
        /// The queue id.
        id: u64,
        #[command(flatten)]
        out: crate::cli::Output,
    },
    /// Delete a queued message: it is neither delivered nor reported to the sender.
    Delete {
        /// The queue id.
        id: u64,
        #[command(flatten)]
        out: crate::cli::Output,
    },
}

/// Runs a queue subcommand; returns the process exit code.
pub fn command(config_path: &Path, cmd: QueueCommand) -> anyhow::Result<u8> {
    let (action, id, json) = match cmd {
        QueueCommand::List { out } => (QueueAction::List, None, out.json),
        QueueCommand::Show { id, out } => (QueueAction::Show, Some(id), out.json),
        QueueCommand::Retry { id, out } => (QueueAction::Retry, Some(id), out.json),
        QueueCommand::Hold { id, out } => (QueueAction::Hold, Some(id), out.json),
        QueueCommand::Release { id, out } => (QueueAction::Release, Some(id), out.json),
        QueueCommand::Delete { id, out } => (QueueAction::Delete, Some(id), out.json),
    };
    let resp = crate::admin_cmd::dispatch(config_path, Request::Queue { action, id })?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&resp).unwrap_or_default()
        );
    } else if resp.ok {
        println!("{}", resp.message);
        print_table(&resp.data);
    } else {
        eprintln!(
            "refused ({}): {}",
            resp.code.as_deref().unwrap_or("error"),
            resp.message
        );
    }
    Ok(if resp.ok {
        0
    } else {
        crate::admin_cmd::EXIT_REFUSED
    })
}

fn print_table(data: &Value) {
    let Some(list) = data.get("queue").and_then(Value::as_array) else {
        return;
    };
    println!(
        "{:<8} {:<28} {:<6} {:<22} RECIPIENTS (attempts, last error)",
        "ID", "FROM", "HELD", "NEXT ATTEMPT"
    );
    for e in list {
        let from = e["from"].as_str().filter(|f| !f.is_empty()).unwrap_or("<>");
        let next = e["next_attempt"].as_i64().unwrap_or(0);
        let next = mail_parser::DateTime::from_timestamp(next).to_rfc3339();
        let held = if e["held"].as_bool() == Some(true) {
            "yes"
        } else {
            ""
        };
        println!("{:<8} {from:<28} {held:<6} {next:<22}", e["id"]);
        for r in e["recipients"].as_array().into_iter().flatten() {
            println!(
                "         {} ({}, {})",
                r["address"].as_str().unwrap_or(""),
                r["attempts"],
                r["last_error"].as_str().unwrap_or("-")
            );
        }
    }
}

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
    if action == QueueAction::List {
        let list: Vec<Value> = store.queue_list().await?.iter().map(entry_json).collect();
        return Ok(Response::ok(
            format!("{} queued messages", list.len()),
            json!({ "queue": list }),
        ));
    }
    let Some(id) = id else {
        return Ok(Response::fail("bad_request", "name the queue id"));
    };
    // Read and write the entry under the runner's lock, so neither loses the other's edit.
    // (A stopped daemon's store has no runner to race with: a lock of its own then.)
    let signals = ctx
        .daemon
        .as_ref()
        .map(|d| std::sync::Arc::clone(&d.queue))
        .unwrap_or_default();
    let _edits = signals.lock_queue_edits().await;
    let Some(mut entry) = store.queue_get(id).await? else {
        return Ok(Response::fail(
            "not_found",
            format!("no queued message {id}"),
        ));
    };
    let message = match action {
        QueueAction::List | QueueAction::Show => {
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
