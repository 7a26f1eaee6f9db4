//! Executes admin [`Request`]s against the store and PKI. Shared by the socket server
//! (daemon running) and the direct path (daemon stopped): [`execute`] audits every
//! request that changes something; [`dispatch`] hands each request to the handler of its
//! family.

use certmail_store::AccountState;

use super::context::AdminContext;
use super::{
    Request, Response, account_delete, accounts, aliases, certs, control, devices, mailboxes, ops,
    queue, sessions, vacation,
};

/// Executes one request. Never panics on bad input; every failure is a [`Response`].
pub async fn execute(ctx: &AdminContext, req: Request) -> Response {
    let value = serde_json::to_value(&req).unwrap_or_default();
    let op = value.get("op").and_then(|o| o.as_str()).map(str::to_string);
    let mutating = is_mutating(&req);
    let subject = subject(&req);
    let response = match dispatch(ctx, req).await {
        Ok(r) => r,
        Err(e) => Response::fail("internal", format!("{e:#}")),
    };
    if mutating {
        audit(ctx, op, subject, audit_args(&value), &response).await;
    }
    response
}

/// Whether a request changes something (and is audited).
fn is_mutating(req: &Request) -> bool {
    !matches!(
        req,
        Request::AccountShow { .. }
            | Request::AccountList
            | Request::CertList { .. }
            | Request::CertInspect { .. }
            | Request::SessionList
            | Request::AliasList
            | Request::DeviceList { .. }
            | Request::AuditQuery { .. }
            | Request::Stats
            // One audit event per imported message would bury the log.
            | Request::ImportMessage { .. }
    )
}

/// The account a request is about, for its audit event.
fn subject(req: &Request) -> Option<String> {
    match req {
        Request::AccountAdd(super::NewAccount { id, .. })
        | Request::AccountApprove { id }
        | Request::AccountDisable { id }
        | Request::AccountDelete { id, .. }
        | Request::AccountPasswd { id, .. }
        | Request::AccountLock { id }
        | Request::AccountUnlock { id }
        | Request::AccountNetworks { id, .. }
        | Request::AccountRole { id, .. }
        | Request::AccountTotp { id, .. }
        | Request::AccountVacation { id, .. } => Some(id.clone()),
        Request::DeviceForget { account, .. } => Some(account.clone()),
        Request::CertBind { account, .. }
        | Request::CertUnbind { account, .. }
        | Request::SessionKick { account } => Some(account.clone()),
        Request::MailboxShare { target, .. } => {
            target.split_once('/').map(|(a, _)| a.to_lowercase())
        }
        _ => None,
    }
}

/// Records an admin action in the audit log and the daemon's log: who asked (`actor`),
/// what (`op` and `args`, never a password or a certificate's bytes) and the outcome
/// (`ok`, `code`).
async fn audit(
    ctx: &AdminContext,
    op: Option<String>,
    subject: Option<String>,
    args: String,
    response: &Response,
) {
    let op = op.unwrap_or_default();
    let code = response.code.clone().unwrap_or_default();
    if response.ok {
        tracing::info!(actor = %ctx.actor, %op, %args, "admin request done");
    } else {
        tracing::warn!(actor = %ctx.actor, %op, %args, %code, reason = %response.message, "admin request refused");
    }
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("actor".to_string(), ctx.actor.clone());
    fields.insert("op".to_string(), op);
    fields.insert("args".to_string(), args);
    fields.insert("ok".to_string(), response.ok.to_string());
    if !code.is_empty() {
        fields.insert("code".to_string(), code);
    }
    let event = certmail_store::AuditEvent {
        time: certmail_auth::now() * 1000,
        account: subject,
        kind: "admin".to_string(),
        ip: None,
        fields,
    };
    if let Err(e) = ctx.store.append_audit(event).await {
        tracing::error!(error = %e, "could not write the audit log");
    }
}

/// A request's arguments for the audit log, as compact JSON without `op`: a password is
/// only said to be given, a certificate or message body only by its size.
fn audit_args(request: &serde_json::Value) -> String {
    let Some(map) = request.as_object() else {
        return String::new();
    };
    let shown: serde_json::Map<String, serde_json::Value> = map
        .iter()
        .filter(|(k, _)| k.as_str() != "op")
        .map(|(k, v)| {
            let v = match (k.as_str(), v) {
                ("password", serde_json::Value::Null) => v.clone(),
                ("password", _) => "(given)".into(),
                (k, serde_json::Value::String(b)) if k.ends_with("_b64") => {
                    format!("({} bytes)", b.len() / 4 * 3).into()
                }
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    serde_json::Value::Object(shown).to_string()
}

/// Hands a request to the handler of its family.
async fn dispatch(ctx: &AdminContext, req: Request) -> anyhow::Result<Response> {
    match req {
        Request::AccountAdd(new) => accounts::add(ctx, new).await,
        Request::AccountApprove { id } => accounts::set_state(ctx, &id, AccountState::Active).await,
        Request::AccountDisable { id } => {
            accounts::set_state(ctx, &id, AccountState::Disabled).await
        }
        Request::AccountDelete { id, keep_mail } => {
            account_delete::delete(ctx, &id, keep_mail.as_deref()).await
        }
        Request::AccountLock { id } => accounts::set_state(ctx, &id, AccountState::Locked).await,
        Request::AccountUnlock { id } => accounts::unlock(ctx, &id).await,
        Request::AccountNetworks { id, cidrs } => accounts::set_networks(ctx, &id, cidrs).await,
        Request::AccountRole { id, organisation } => {
            accounts::set_role(ctx, &id, organisation.as_deref()).await
        }
        Request::AccountPasswd { id, password } => accounts::passwd(ctx, &id, password).await,
        Request::AccountShow { id } => accounts::show(ctx, &id).await,
        Request::AccountList => accounts::list(ctx).await,
        Request::AccountTotp { id, action } => devices::totp(ctx, &id, &action).await,
        Request::DeviceList { account } => devices::list(ctx, &account).await,
        Request::DeviceForget { account, device } => {
            devices::forget(ctx, &account, device.as_deref()).await
        }
        Request::CertBind { account, cert_b64 } => certs::bind(ctx, &account, &cert_b64).await,
        Request::CertUnbind {
            account,
            spki_sha256,
        } => certs::unbind(ctx, &account, &spki_sha256).await,
        Request::CertList { account } => certs::list(ctx, account.as_deref()).await,
        Request::CertInspect { cert_b64, account } => {
            certs::inspect(ctx, &cert_b64, account.as_deref()).await
        }
        Request::AliasSet { address, members } => aliases::set(ctx, &address, &members).await,
        Request::AliasRemove { address } => aliases::remove(ctx, &address).await,
        Request::AliasList => aliases::list(ctx).await,
        Request::AccountVacation { id, vacation } => vacation::set(ctx, &id, vacation).await,
        Request::MailboxShare {
            target,
            to,
            rights,
            revoke,
        } => mailboxes::share(ctx, &target, &to, &rights, revoke).await,
        req @ (Request::Backup { .. }
        | Request::ImportMessage { .. }
        | Request::AuditQuery { .. }
        | Request::Stats) => ops::run(ctx, req).await,
        Request::Reload => control::reload(ctx).await,
        Request::ReloadCrls => control::reload_crls(ctx).await,
        Request::Queue { action, id } => queue::run(ctx, action, id).await,
        Request::SessionList => sessions::list(ctx).await,
        Request::SessionKick { account } => sessions::kick(ctx, &account).await,
    }
}

#[cfg(test)]
mod tests {
    use super::audit_args;
    use crate::admin::{NewAccount, Request};

    /// The audit log names the arguments but never a password or a certificate's bytes.
    #[test]
    fn audit_args_hide_passwords_and_bodies() {
        let add = Request::AccountAdd(NewAccount {
            id: "kim".into(),
            name: "김철수".into(),
            organisation: "행정안전부".into(),
            addresses: vec!["kim@example.go.kr".into()],
            foreign: false,
            approve: true,
            kind: Default::default(),
            password: Some("Secret-Pass-2026!".into()),
        });
        let args = audit_args(&serde_json::to_value(&add).expect("serialises"));
        assert!(!args.contains("Secret-Pass"), "{args}");
        assert!(args.contains("\"password\":\"(given)\""), "{args}");
        assert!(
            args.contains("김철수") && !args.contains("\"op\""),
            "{args}"
        );
        let bind = Request::CertBind {
            account: "kim".into(),
            cert_b64: "QUJD".repeat(100),
        };
        let args = audit_args(&serde_json::to_value(&bind).expect("serialises"));
        assert!(
            args.contains("(300 bytes)") && !args.contains("QUJD"),
            "{args}"
        );
    }
}
