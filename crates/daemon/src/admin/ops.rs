//! Admin requests for data and operations: `certmail backup`, `import-maildir` (one
//! message per request), `audit tail|search` and `stats`.

use base64::Engine as _;
use serde_json::json;

use super::accounts::not_found;
use super::context::{AdminContext, counted};
use super::{Request, Response};

/// Most events one audit query returns (a search filters within this many, newest first).
pub const AUDIT_SCAN_LIMIT: usize = 100_000;

/// The folders the IMAP server gives an account at its first sign-in (as in
/// `certmail_imap`'s sign-in), with their RFC 6154 special use.
const DEFAULT_MAILBOXES: [(&str, certmail_store::SpecialUse); 5] = [
    ("Sent", certmail_store::SpecialUse::Sent),
    ("Drafts", certmail_store::SpecialUse::Drafts),
    ("Trash", certmail_store::SpecialUse::Trash),
    ("Junk", certmail_store::SpecialUse::Junk),
    ("Archive", certmail_store::SpecialUse::Archive),
];

/// Executes the requests of this module; other requests are a programming error.
pub(super) async fn run(ctx: &AdminContext, req: Request) -> anyhow::Result<Response> {
    match req {
        Request::Backup { dir } => backup(ctx, &dir).await,
        Request::ImportMessage {
            account,
            mailbox,
            special_use,
            flags,
            internal_date,
            body_b64,
        } => {
            let body = base64::engine::general_purpose::STANDARD.decode(body_b64)?;
            let target = ImportTarget {
                account: &account,
                mailbox: &mailbox,
                special_use: special_use.as_deref(),
            };
            import_message(ctx, target, flags, internal_date, body).await
        }
        Request::AuditQuery {
            account,
            ip,
            since_ms,
            until_ms,
            limit,
        } => audit(ctx, account, ip, since_ms, until_ms, limit).await,
        Request::Stats => stats(ctx).await,
        other => anyhow::bail!("{other:?} is not an operations request"),
    }
}

async fn backup(ctx: &AdminContext, dir: &str) -> anyhow::Result<Response> {
    let path = std::path::Path::new(dir);
    if !path.is_absolute() {
        return Ok(Response::fail(
            "invalid",
            "the backup directory must be an absolute path",
        ));
    }
    match ctx.store.backup(path).await {
        Ok(m) => Ok(Response::ok(
            format!(
                "backup written to {dir}: {} accounts, {} mailboxes, {} messages ({} bodies), \
                 {} queued, {} audit events; {} bytes, SHA-256 {}",
                m.counts.accounts,
                m.counts.mailboxes,
                m.counts.messages,
                m.counts.bodies,
                m.counts.queue,
                m.counts.audit_events,
                m.bytes,
                m.sha256
            ),
            json!({ "dir": dir, "manifest": m }),
        )),
        Err(e @ certmail_store::StoreError::Backup(_)) => {
            Ok(Response::fail("backup_failed", e.to_string()))
        }
        Err(e @ certmail_store::StoreError::Io { .. }) => Ok(Response::fail(
            "backup_failed",
            format!(
                "{e} (the daemon writes the backup: the directory must be writable by its user)"
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Where an imported message goes.
struct ImportTarget<'a> {
    account: &'a str,
    mailbox: &'a str,
    /// RFC 6154 special use (`\Sent`…): the account's mailbox with it is used if it has one.
    special_use: Option<&'a str>,
}

async fn import_message(
    ctx: &AdminContext,
    target: ImportTarget<'_>,
    flags: Vec<String>,
    internal_date: i64,
    body: Vec<u8>,
) -> anyhow::Result<Response> {
    let store = &ctx.store;
    if store.account(target.account).await?.is_none() {
        return Ok(not_found(target.account));
    }
    let mailbox = match resolve_mailbox(ctx, &target).await? {
        Ok(name) => name,
        Err(r) => return Ok(r),
    };
    let message = certmail_store::NewMessage {
        body,
        flags,
        internal_date,
    };
    let (_, uid, _) = store.append(target.account, &mailbox, message).await?;
    if let Some(hub) = &ctx.hub {
        // Connections of the account that have the mailbox open see the new message.
        hub.publish(
            target.account,
            None,
            certmail_session::Change::Exists {
                mailbox: mailbox.clone(),
                uid,
            },
        );
    }
    Ok(Response::ok(
        format!("stored in {mailbox} as UID {uid}"),
        json!({ "mailbox": mailbox, "uid": uid }),
    ))
}

/// The mailbox an import goes to: the account's mailbox with the special use if any, else
/// the named one, created (subscribed, with the special use) when missing.
async fn resolve_mailbox(
    ctx: &AdminContext,
    target: &ImportTarget<'_>,
) -> anyhow::Result<Result<String, Response>> {
    let store = &ctx.store;
    let special = match target.special_use.map(parse_special_use) {
        Some(None) => {
            return Ok(Err(Response::fail(
                "invalid",
                "special use must be \\Sent, \\Drafts, \\Trash, \\Junk or \\Archive",
            )));
        }
        Some(Some(s)) => Some(s),
        None => None,
    };
    let mut boxes = store.list_mailboxes(target.account).await?;
    if boxes.iter().all(|m| m.name == "INBOX") {
        // The first IMAP sign-in creates these only for an account that has nothing but
        // INBOX: an import must not leave the account without them.
        for (name, special_use) in DEFAULT_MAILBOXES {
            store
                .create_mailbox(target.account, name, Some(special_use))
                .await?;
            store.set_subscribed(target.account, name, true).await?;
        }
        store.set_subscribed(target.account, "INBOX", true).await?;
        boxes = store.list_mailboxes(target.account).await?;
    }
    if let Some(s) = special
        && let Some(m) = boxes.iter().find(|m| m.special_use == Some(s))
    {
        return Ok(Ok(m.name.clone()));
    }
    if boxes.iter().any(|m| m.name == target.mailbox) {
        return Ok(Ok(target.mailbox.to_string()));
    }
    match store
        .create_mailbox(target.account, target.mailbox, special)
        .await
    {
        Ok(m) => {
            store.set_subscribed(target.account, &m.name, true).await?;
            Ok(Ok(m.name))
        }
        Err(e) if e.is_user_error() => Ok(Err(Response::fail("invalid", e.to_string()))),
        Err(e) => Err(e.into()),
    }
}

fn parse_special_use(s: &str) -> Option<certmail_store::SpecialUse> {
    use certmail_store::SpecialUse::*;
    Some(match s.to_ascii_lowercase().as_str() {
        "\\sent" => Sent,
        "\\drafts" => Drafts,
        "\\trash" => Trash,
        "\\junk" => Junk,
        "\\archive" => Archive,
        _ => return None,
    })
}

async fn audit(
    ctx: &AdminContext,
    account: Option<String>,
    ip: Option<String>,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    limit: usize,
) -> anyhow::Result<Response> {
    let from = since_ms.unwrap_or(i64::MIN);
    let to = until_ms.unwrap_or(i64::MAX);
    let account = account.map(|a| a.to_lowercase());
    let events = ctx.store.audit_newest(from, to, AUDIT_SCAN_LIMIT).await?;
    let mut list: Vec<_> = events
        .into_iter()
        .filter(|e| account.is_none() || e.account.as_deref() == account.as_deref())
        .filter(|e| ip.is_none() || e.ip.as_deref() == ip.as_deref())
        .take(limit)
        .map(|e| {
            json!({
                "time_ms": e.time, "kind": e.kind, "account": e.account, "ip": e.ip,
                "fields": e.fields,
            })
        })
        .collect();
    // Oldest first, as a log reads.
    list.reverse();
    Ok(Response::ok(
        counted(list.len() as u64, "audit event", "audit events"),
        json!({ "events": list }),
    ))
}

async fn stats(ctx: &AdminContext) -> anyhow::Result<Response> {
    let store = &ctx.store;
    let accounts = store.list_accounts().await?;
    let mut by_state = std::collections::BTreeMap::<String, u64>::new();
    let (mut mailboxes, mut messages, mut bytes) = (0u64, 0u64, 0u64);
    for a in &accounts {
        let state = super::accounts::state_word(&a.state).to_string();
        *by_state.entry(state).or_default() += 1;
        for m in store.list_mailboxes(&a.id).await? {
            mailboxes += 1;
            messages += u64::from(m.exists);
            bytes += m.size;
        }
    }
    let queue = store.queue_list().await?;
    let now = certmail_auth::now();
    let oldest = queue.iter().map(|q| q.created_at).min();
    let sessions = match &ctx.sessions {
        Some(r) => {
            let list = r.list().await;
            let connections: usize = list.iter().map(|s| s.connections).sum();
            json!({ "live": list.len(), "connections": connections })
        }
        None => serde_json::Value::Null,
    };
    let writes = store.stats();
    Ok(Response::ok(
        format!(
            "{}, {} in {}, {} queued",
            counted(accounts.len() as u64, "account", "accounts"),
            counted(messages, "message", "messages"),
            counted(mailboxes, "mailbox", "mailboxes"),
            queue.len()
        ),
        json!({ "stats": {
            "daemon_running": ctx.daemon.is_some(),
            "accounts": accounts.len(),
            "accounts_by_state": by_state,
            "mailboxes": mailboxes,
            "messages": messages,
            "message_bytes": bytes,
            "queue_depth": queue.len(),
            "queue_oldest_age_secs": oldest.map(|t| (now - t).max(0)),
            "sessions": sessions,
            "store_bytes": store.size_bytes().await?,
            "store_writes": writes.writes,
            "store_flushes": writes.flushes,
        }}),
    ))
}
