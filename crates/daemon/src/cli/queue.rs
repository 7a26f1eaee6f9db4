//! `certmail queue list|show|retry|hold|release|delete|tls-report`: the clap command and the table of
//! queued messages; the requests go to the running daemon or a stopped daemon's store.

use std::path::Path;

use serde_json::Value;

use crate::admin::{QueueAction, Request};
use crate::cli::args::QueueCommand;

/// Runs a queue subcommand; returns the process exit code.
pub fn command(config_path: &Path, cmd: QueueCommand) -> anyhow::Result<u8> {
    let (action, id, json) = match cmd {
        QueueCommand::List(out) => (QueueAction::List, None, out.json),
        QueueCommand::Show { id, out } => (QueueAction::Show, Some(id), out.json),
        QueueCommand::Retry { id, out } => (QueueAction::Retry, Some(id), out.json),
        QueueCommand::Hold { id, out } => (QueueAction::Hold, Some(id), out.json),
        QueueCommand::Release { id, out } => (QueueAction::Release, Some(id), out.json),
        QueueCommand::Delete { id, out } => (QueueAction::Delete, Some(id), out.json),
        QueueCommand::TlsReport { send: true, out } => (QueueAction::TlsReportSend, None, out.json),
        QueueCommand::TlsReport { send: false, out } => (QueueAction::TlsReport, None, out.json),
    };
    let resp = crate::cli::client::dispatch(config_path, Request::Queue { action, id })?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&resp).unwrap_or_default()
        );
    } else if resp.ok {
        println!("{}", resp.message);
        if resp.data.get("queue").is_some() {
            print_table(&resp.data);
        } else if !resp.data.is_null() {
            // tls-report: the counts (or what was sent), as JSON.
            println!(
                "{}",
                serde_json::to_string_pretty(&resp.data).unwrap_or_default()
            );
        }
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
        crate::cli::output::EXIT_REFUSED
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
