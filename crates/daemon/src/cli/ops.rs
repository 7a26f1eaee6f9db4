//! `certmail backup|restore|audit|stats`: the operator's data commands.
//!
//! - `backup DIR` asks the running daemon to write a consistent snapshot (the store pauses
//!   its writers while it copies; see certmail-store's `backup.rs`), or writes it from the
//!   store itself when the daemon is stopped. The daemon's user writes DIR.
//! - `restore DIR` runs only with the daemon stopped, into an empty store (`--force` moves
//!   a non-empty one aside), with the installation's key file, which must be the one the
//!   backup was written with.
//! - `audit tail [-f] [-n N]`, `audit search …`, `stats`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::admin::{Request, Response};
use crate::cli::args::{AuditCommand, Output};
use crate::cli::link::{AdminLink, daemon_answers};
use crate::cli::output::EXIT_NOT_RUNNING;

/// `certmail backup DIR`.
pub fn backup(config_path: &Path, dir: &Path, out: Output) -> anyhow::Result<u8> {
    if let Some(refusal) = on_postgres(config_path, "backup")? {
        return Ok(finish(&refusal, out.json));
    }
    let dir = absolute(dir)?;
    let resp = crate::cli::client::dispatch(
        config_path,
        Request::Backup {
            dir: dir.display().to_string(),
        },
    )?;
    Ok(finish(&resp, out.json))
}

/// `certmail restore DIR [--force]`: into the stopped installation of `config_path`.
pub fn restore(config_path: &Path, dir: &Path, force: bool, out: Output) -> anyhow::Result<u8> {
    if let Some(refusal) = on_postgres(config_path, "restore")? {
        return Ok(finish(&refusal, out.json));
    }
    let config = crate::config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let socket = config.server.admin_socket();
    if daemon_answers(&socket)? {
        let resp = Response::fail(
            "daemon_running",
            "the daemon is running: stop it first (systemctl stop certmail), restore, start it",
        );
        finish(&resp, out.json);
        return Ok(EXIT_NOT_RUNNING);
    }
    let resp = restore_stopped(&config, dir, force)?;
    Ok(finish(&resp, out.json))
}

/// The refusal of `certmail backup|restore` when the store is PostgreSQL: those commands
/// copy sled's files; a database is backed up and restored with PostgreSQL's own tools.
fn on_postgres(config_path: &Path, what: &str) -> anyhow::Result<Option<Response>> {
    let config = crate::config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if config.store.backend != crate::config::StoreBackend::Postgres {
        return Ok(None);
    }
    Ok(Some(Response::fail(
        "postgres_store",
        format!(
            "certmail {what} works on the embedded (sled) store only; this installation's mail \
             is in PostgreSQL ([store] backend = \"postgres\"): use pg_dump/pg_restore, or base \
             backups with WAL archiving for point-in-time recovery (PITR), and keep a copy of \
             the [server] key_file with them"
        ),
    )))
}

fn restore_stopped(
    config: &crate::config::Config,
    dir: &Path,
    force: bool,
) -> anyhow::Result<Response> {
    use certmail_store::{SledStore, StoreError};
    let key_path = config.server.key_file();
    if !key_path.exists() {
        return Ok(Response::fail(
            "no_key",
            format!(
                "no store key file at {}: copy the key file of the installation the backup \
                 came from there (mode 0600) and run restore again",
                key_path.display()
            ),
        ));
    }
    let key = certmail_store::KeyFile::load(&key_path)?;
    std::fs::create_dir_all(&config.server.data_dir)?;
    let target = config.server.data_dir.join("store");
    let mut moved = None;
    if !SledStore::is_empty_store(&target)? {
        if !force {
            return Ok(Response::fail(
                "not_empty",
                format!(
                    "{} already holds mail; restore refuses to replace it (--force moves it aside)",
                    target.display()
                ),
            ));
        }
        let aside = config
            .server
            .data_dir
            .join(format!("store.before-restore-{}", certmail_auth::now()));
        std::fs::rename(&target, &aside)?;
        moved = Some(aside);
    }
    match SledStore::restore(dir, &target, key) {
        Ok(m) => {
            let mut msg = format!(
                "restored {} accounts, {} mailboxes, {} messages, {} queued, {} audit events \
                 from the backup of {}",
                m.counts.accounts,
                m.counts.mailboxes,
                m.counts.messages,
                m.counts.queue,
                m.counts.audit_events,
                crate::dates::rfc3339_ms(m.created_at * 1000)
            );
            if let Some(aside) = &moved {
                msg.push_str(&format!("; the previous store is in {}", aside.display()));
            }
            Ok(Response::ok(
                msg,
                json!({ "manifest": m, "previous_store": moved }),
            ))
        }
        Err(StoreError::WrongKey { key_id } | StoreError::UnknownKeyId(key_id)) => {
            Ok(Response::fail(
                "wrong_key",
                format!(
                    "the key file {} does not open this backup (key id {key_id}): the backup's \
                     mail is encrypted with the store key of the installation it came from; put \
                     that key file there and run restore again. Nothing was written.",
                    key_path.display()
                ),
            ))
        }
        Err(e @ (StoreError::Backup(_) | StoreError::FormatVersion { .. })) => {
            Ok(Response::fail("bad_backup", e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// `certmail audit …`
pub fn audit(config_path: &Path, cmd: AuditCommand) -> anyhow::Result<u8> {
    match cmd {
        AuditCommand::Tail { lines, follow, out } => tail(config_path, lines, follow, out.json),
        AuditCommand::Search {
            account,
            ip,
            since,
            until,
            limit,
            out,
        } => {
            let now_ms = certmail_auth::now() * 1000;
            let parse = |t: Option<String>| -> Result<Option<i64>, String> {
                t.map(|t| crate::dates::parse_time(&t, now_ms)).transpose()
            };
            let (since_ms, until_ms) = match (parse(since), parse(until)) {
                (Ok(s), Ok(u)) => (s, u),
                (Err(bad), _) | (_, Err(bad)) => {
                    let resp = Response::fail(
                        "invalid",
                        format!(
                            "`{bad}` is not a time: write 2026-11-22, 2026-11-22T09:00:00Z, \
                             Unix seconds, or an age like 12h"
                        ),
                    );
                    finish(&resp, out.json);
                    return Ok(2);
                }
            };
            let req = Request::AuditQuery {
                account,
                ip,
                since_ms,
                until_ms,
                limit,
            };
            let resp = crate::cli::client::dispatch(config_path, req)?;
            Ok(finish(&resp, out.json))
        }
    }
}

fn tail(config_path: &Path, lines: usize, follow: bool, json: bool) -> anyhow::Result<u8> {
    let config = crate::config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut link = AdminLink::open(&config)?;
    if follow && !link.daemon_running() {
        let resp = Response::fail(
            "not_running",
            "audit tail -f follows the running daemon's log; it is not running",
        );
        finish(&resp, json);
        return Ok(EXIT_NOT_RUNNING);
    }
    let query = |since_ms| Request::AuditQuery {
        account: None,
        ip: None,
        since_ms,
        until_ms: None,
        limit: if since_ms.is_some() { 10_000 } else { lines },
    };
    let resp = link.call(query(None))?;
    if !follow || !resp.ok {
        return Ok(finish(&resp, json));
    }
    // Follow: print what is there one event per line, then poll for newer events. Events
    // of the last printed millisecond are remembered so none prints twice. (An event stored
    // in that same millisecond between the first two queries is taken as already seen.)
    let mut last: (i64, Vec<Value>) = (i64::MIN, Vec::new());
    let mut stdout = std::io::stdout().lock();
    let mut resp = resp;
    let mut first = true;
    loop {
        for e in events(&resp.data) {
            let t = e["time_ms"].as_i64().unwrap_or(0);
            if t < last.0 || (t == last.0 && last.1.contains(e)) {
                continue;
            }
            if t > last.0 {
                last = (t, Vec::new());
            }
            last.1.push(e.clone());
            let line = if json {
                serde_json::to_string(e)?
            } else {
                event_line(e)
            };
            if writeln!(stdout, "{line}")
                .and_then(|_| stdout.flush())
                .is_err()
            {
                return Ok(0); // the reader went away (e.g. `| head`)
            }
        }
        if first {
            // Events of the newest printed millisecond that `-n` left out are older than
            // the ones printed (they sort before them): mark them seen, not new.
            first = false;
            resp = link.call(query(Some(last.0.max(0))))?;
            let boundary = last.0;
            last.1.extend(
                events(&resp.data)
                    .iter()
                    .filter(|e| e["time_ms"].as_i64() == Some(boundary))
                    .cloned(),
            );
            continue;
        }
        std::thread::sleep(Duration::from_millis(500));
        resp = link.call(query(Some(last.0.max(0))))?;
        if !resp.ok {
            return Ok(finish(&resp, json));
        }
    }
}

/// `certmail stats` (the store's size, `store_bytes`, comes from the store itself: sled's
/// files or the PostgreSQL database).
pub fn stats(config_path: &Path, out: Output) -> anyhow::Result<u8> {
    let resp = crate::cli::client::dispatch(config_path, Request::Stats)?;
    Ok(finish(&resp, out.json))
}

/// Prints the answer (JSON, or the message and the tables of this module's data) and
/// returns the exit code.
fn finish(resp: &Response, json: bool) -> u8 {
    if json {
        println!("{}", serde_json::to_string_pretty(resp).unwrap_or_default());
    } else if resp.ok {
        println!("{}", resp.message);
        for e in events(&resp.data) {
            println!("{}", event_line(e));
        }
        if let Some(stats) = resp.data.get("stats").and_then(Value::as_object) {
            for (k, v) in stats {
                println!("  {k:<24} {}", readable(v));
            }
        }
    } else {
        match &resp.code {
            Some(code) => eprintln!("refused ({code}): {}", resp.message),
            None => eprintln!("failed: {}", resp.message),
        }
    }
    crate::cli::output::exit_code(resp)
}

fn events(data: &Value) -> &[Value] {
    data.get("events")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `2026-11-22T09:00:01.250Z  login.ok  hong  192.0.2.7  key=value …`
fn event_line(e: &Value) -> String {
    let text = |k: &str| e[k].as_str().unwrap_or("-").to_string();
    let fields = e["fields"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", compact(v)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    format!(
        "{}  {:<18} {:<12} {:<15} {fields}",
        crate::dates::rfc3339_ms(e["time_ms"].as_i64().unwrap_or(0)),
        text("kind"),
        text("account"),
        text("ip"),
    )
}

/// A stats value for a person: nested objects as `key value, …` (`active 2, pending
/// approval 1`), never JSON.
fn readable(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => "-".into(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k} {}", readable(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => compact(other),
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// `p` made absolute against the current directory (the daemon resolves no relative path).
pub(crate) fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}
